/**
 * Send-only raw Ethernet (AF_PACKET) sockets bound to one interface, through the project's own
 * addon (native/packet_socket.cc, loaded through src/native.ts): no maintained npm package sends
 * raw frames on Linux. Needs CAP_NET_RAW. The addon is loaded on the first `open`, so code that
 * never sends frames (`vipd check`) runs without it. Every failure is a PacketSocketError naming
 * the interface, the kernel's reason and, when known, what to do.
 */
import { errnoCode, loadNative, type NativeAddon, type NativeCallError } from '../native.js';

export class PacketSocketError extends Error {
  constructor(
    message: string,
    readonly ifname: string,
    /** The errno name (`EPERM`, `ENODEV`...) when the kernel refused. */
    readonly code?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PacketSocketError';
  }
}

const HINTS: Readonly<Record<string, string>> = {
  EPERM: 'needs CAP_NET_RAW',
  EACCES: 'needs CAP_NET_RAW',
  ENODEV: 'no such interface in this network namespace',
  ENETDOWN: 'the interface is down',
  ENXIO: 'the interface has gone away',
};

function explain(err: unknown, ifname: string, what: string): PacketSocketError {
  const e = err as NativeCallError;
  const code = errnoCode(err);
  const hint = code === undefined ? undefined : HINTS[code];
  const reason = `${e.strerror ?? e.message}${hint === undefined ? '' : ` (${hint})`}`;
  return new PacketSocketError(`${what} on ${ifname}: ${reason}`, ifname, code, { cause: err });
}

function loadAddon(ifname: string): NativeAddon {
  try {
    return loadNative();
  } catch (err) {
    throw new PacketSocketError(
      `cannot open AF_PACKET socket on ${ifname}: ${(err as Error).message}`,
      ifname,
      undefined,
      { cause: err },
    );
  }
}

export class PacketSocket {
  private fd: number | undefined;

  private constructor(
    readonly ifname: string,
    private readonly addon: NativeAddon,
    fd: number,
  ) {
    this.fd = fd;
  }

  static open(ifname: string): PacketSocket {
    const native = loadAddon(ifname);
    try {
      return new PacketSocket(ifname, native, native.open(ifname));
    } catch (err) {
      throw explain(err, ifname, 'cannot open AF_PACKET socket');
    }
  }

  /**
   * Sends whole Ethernet frames in order and returns how many left. Fewer than `frames.length`
   * means the transmit queue is full for now: send the rest a moment later.
   */
  send(frames: readonly Buffer[]): number {
    if (this.fd === undefined) {
      throw new PacketSocketError(`cannot send on ${this.ifname}: socket is closed`, this.ifname);
    }
    try {
      return this.addon.send(this.fd, frames);
    } catch (err) {
      throw explain(err, this.ifname, 'cannot send frames');
    }
  }

  /** Idempotent; a closed socket refuses to send rather than write to a reused descriptor. */
  close(): void {
    if (this.fd === undefined) return;
    this.addon.close(this.fd);
    this.fd = undefined;
  }
}
