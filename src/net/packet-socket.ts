/**
 * Send-only raw Ethernet (AF_PACKET) sockets bound to one interface, through the project's own
 * addon (native/packet_socket.cc, built into build/Release/vipd_native.node by `npm ci`): no
 * maintained npm package sends raw frames on Linux. Needs CAP_NET_RAW. The addon is loaded on the
 * first `open`, so code that never sends frames (`vipd check`) runs without it. Every failure is a
 * PacketSocketError naming the interface, the kernel's reason and, when known, what to do.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

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

interface Addon {
  open(ifname: string): number;
  send(fd: number, frames: readonly Buffer[]): number;
  close(fd: number): void;
}

/** What the addon adds to the Errors it throws for a failed system call. */
interface AddonError extends Error {
  errno?: number;
  strerror?: string;
}

const HINTS: Readonly<Record<string, string>> = {
  EPERM: 'needs CAP_NET_RAW',
  EACCES: 'needs CAP_NET_RAW',
  ENODEV: 'no such interface in this network namespace',
  ENETDOWN: 'the interface is down',
  ENXIO: 'the interface has gone away',
};

function explain(err: unknown, ifname: string, what: string): PacketSocketError {
  const e = err as AddonError;
  const code = e.errno === undefined ? undefined : getSystemErrorName(-e.errno);
  const hint = code === undefined ? undefined : HINTS[code];
  const reason = `${e.strerror ?? e.message}${hint === undefined ? '' : ` (${hint})`}`;
  return new PacketSocketError(`${what} on ${ifname}: ${reason}`, ifname, code, { cause: err });
}

/** The nearest directory above this file with a package.json, from src/net/ or dist/src/net/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no package.json above the vipd sources');
    dir = parent;
  }
  return dir;
}

let addon: Addon | undefined;

function loadAddon(ifname: string): Addon {
  if (addon !== undefined) return addon;
  const path = join(packageRoot(), 'build', 'Release', 'vipd_native.node');
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
    return addon;
  } catch (err) {
    throw new PacketSocketError(
      `cannot open AF_PACKET socket on ${ifname}: the vipd_native addon did not load from ` +
        `${path} (\`npm ci\` builds it, with a C++ compiler, make and python3): ` +
        (err as Error).message,
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
    private readonly addon: Addon,
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
