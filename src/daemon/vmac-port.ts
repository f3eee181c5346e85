/**
 * A router's virtual MAC (its `vmac` key; RFC 5798 section 7.3): the macvlan that carries its
 * VIPs and from which, as master, it sends its adverts, gratuitous ARP and unsolicited neighbour
 * advertisements. Every frame of the master then carries the virtual MAC, so the LAN's switches
 * learn it on the master's port and clients never have to re-resolve a VIP. Receiving stays on
 * the router's link (the parent interface), where every backup listens.
 *
 * Contract:
 * - `open()` makes the macvlan (net/vmac.ts: created, or a leftover reused or replaced); it
 *   throws a VmacError the daemon reports: a router cannot serve without it.
 * - `send()` goes through a send-only raw socket on the macvlan, opened on first use from the
 *   link's current source address and reopened when that changes (IPv6: the parent's link-local,
 *   which the macvlan also carries, as keepalived does, so the source is the one the peers know).
 *   A failure rejects that send with a TransportError, as the link's own sends do.
 * - `close(remove)`: closes the sockets; `remove` (a graceful stop, an instance removed by a
 *   reload) also deletes the macvlan. A crash leaves it for the next run to reuse.
 */
import type { InstanceConfig } from '../config/instance.js';
import { Garp } from '../actions/garp.js';
import type { Announcer } from '../actions/runner.js';
import type { Logger } from '../log.js';
import type { InterfaceAddress } from '../net/interface.js';
import { RawTransport } from '../net/transport-raw.js';
import type { Transport } from '../net/transport.js';
import { addVmacLinkLocal, ensureVmac, removeVmac } from '../net/vmac.js';
import type { AdvertSender } from './router.js';

export class VmacPort implements AdvertSender, Announcer {
  /** The send socket, opened (or opening) for the source address it sends from. */
  private socket: { transport: Promise<Transport>; source: string } | undefined;
  private garp: Garp | undefined;
  private readonly name: string;
  private readonly mac: string;

  constructor(
    private readonly cfg: InstanceConfig & { vmac: { name: string; mac: string } },
    /** The link's source address now (the parent interface's primary or link-local). */
    private readonly source: () => InterfaceAddress,
    private readonly log: Logger,
  ) {
    this.name = cfg.vmac.name;
    this.mac = cfg.vmac.mac;
  }

  async open(): Promise<void> {
    const result = await ensureVmac({
      name: this.name,
      parent: this.cfg.interface,
      mac: this.mac,
      family: this.cfg.family,
    });
    this.log.info(
      { event: 'vmac', interface: this.name, mac: this.mac, action: result.action },
      `virtual MAC ${this.mac} on ${this.name} (${result.action}${result.detail === undefined ? '' : `: ${result.detail}`})`,
    );
    this.garp = Garp.open(this.name, this.mac);
  }

  send(dst: string, payload: Buffer): Promise<void> {
    return this.transport().then((t) => t.send(dst, payload));
  }

  announce(
    addresses: readonly string[],
    opts: { count: number; intervalMs: number },
    signal?: AbortSignal,
  ): Promise<unknown> {
    if (this.garp === undefined) {
      return Promise.reject(new Error(`the virtual MAC interface ${this.name} is not open`));
    }
    return this.garp.announce(addresses, opts, signal);
  }

  async close(remove: boolean): Promise<void> {
    this.dropSocket();
    this.garp?.close();
    this.garp = undefined;
    if (!remove) return;
    try {
      if (await removeVmac(this.name, this.mac)) {
        this.log.info({ event: 'vmac-removed', interface: this.name }, `removed ${this.name}`);
      }
    } catch (err) {
      this.log.warn(
        { event: 'vmac-remove-failed', interface: this.name, err: (err as Error).message },
        `could not remove ${this.name}: ${(err as Error).message}`,
      );
    }
  }

  private transport(): Promise<Transport> {
    const source = this.source().address;
    if (this.socket?.source === source) return this.socket.transport;
    this.dropSocket();
    const transport = this.openTransport(source);
    const socket = { transport, source };
    this.socket = socket;
    // A failed open is tried again by the next send.
    transport.catch(() => {
      if (this.socket === socket) this.socket = undefined;
    });
    return transport;
  }

  private dropSocket(): void {
    this.socket?.transport.then(
      (t) => t.close(),
      () => undefined,
    );
    this.socket = undefined;
  }

  private async openTransport(source: string): Promise<Transport> {
    if (this.cfg.family === 6) await addVmacLinkLocal(this.name, source);
    return new RawTransport({
      ifname: this.name,
      family: this.cfg.family,
      localAddress: source,
      listen: false,
      onPacket: () => undefined,
      onIpReject: () => undefined,
      onError: (err) =>
        this.log.warn(
          { event: 'socket-error', interface: this.name, op: err.op, errno: err.code },
          `${this.name}: ${err.message}`,
        ),
    });
  }
}
