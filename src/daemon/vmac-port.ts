/**
 * A router's virtual MAC (its `vmac` key; RFC 5798 section 7.3): the macvlan that carries its
 * VIPs and from which, as master, it sends its adverts, gratuitous ARP and unsolicited neighbour
 * advertisements. Every frame of the master then carries the virtual MAC, so the LAN's switches
 * learn it on the master's port and clients never have to re-resolve a VIP. Receiving stays on
 * the router's link (the parent interface), where every backup listens.
 *
 * Contract:
 * - `open()` makes the macvlan (net/vmac.ts: created, or a leftover reused or replaced) in
 *   protodown; it throws a VmacError the daemon reports: a router cannot serve without it.
 * - `setCarrier()` is the plans' `vmac` step: carrier on before a master's VIPs go on the
 *   macvlan, off (protodown) once a releasing plan took them off, so a backup's macvlan sends
 *   nothing (not even the MLD reports a routing box's IPv6 macvlan sends) from the virtual MAC.
 * - `send()`: with the carrier on, through a send-only raw socket on the macvlan, opened on first
 *   use from the link's current source address and reopened when that changes (IPv6: the
 *   parent's link-local, which the macvlan also carries, as keepalived does, so the source is
 *   the one the peers know); with it off (the new master's first advert leaves before its plan
 *   runs; a backup's yield notice), through the link. A failure rejects that send with a
 *   TransportError, as the link's own sends do.
 * - `close(remove)`: closes the sockets; `remove` (a graceful stop, an instance removed by a
 *   reload) also deletes the macvlan. A crash leaves it for the next run to reuse.
 */
import type { InstanceConfig } from '../config/instance.js';
import { Garp } from '../actions/garp.js';
import type { Announcer, CarrierSwitch } from '../actions/runner.js';
import type { Logger } from '../log.js';
import type { InterfaceAddress } from '../net/interface.js';
import { RawTransport } from '../net/transport-raw.js';
import type { Transport } from '../net/transport.js';
import { ensureVmac, removeVmac, setVmacProtodown, type VmacSpec } from '../net/vmac.js';
import type { AdvertSender } from './router.js';

export class VmacPort implements AdvertSender, Announcer, CarrierSwitch {
  /** The send socket, opened (or opening) for the source address it sends from. */
  private socket: { transport: Promise<Transport>; source: string } | undefined;
  private garp: Garp | undefined;
  private carrier = false;
  private readonly name: string;
  private readonly mac: string;

  constructor(
    private readonly cfg: InstanceConfig & { vmac: { name: string; mac: string } },
    /** The router's link: its source address, and the sends made while the carrier is off. */
    private readonly link: AdvertSender & { readonly primary: InterfaceAddress },
    private readonly log: Logger,
  ) {
    this.name = cfg.vmac.name;
    this.mac = cfg.vmac.mac;
  }

  async open(): Promise<void> {
    const result = await ensureVmac(this.spec(), { protodown: true });
    this.carrier = false;
    this.log.info(
      { event: 'vmac', interface: this.name, mac: this.mac, action: result.action },
      `virtual MAC ${this.mac} on ${this.name} (${result.action}${result.detail === undefined ? '' : `: ${result.detail}`})`,
    );
    this.garp = Garp.open(this.name, this.mac);
  }

  send(dst: string, payload: Buffer): Promise<void> {
    if (!this.carrier) return this.link.send(dst, payload);
    return this.transport().then((t) => t.send(dst, payload));
  }

  async setCarrier(on: boolean): Promise<void> {
    await setVmacProtodown(this.name, this.mac, !on);
    this.carrier = on;
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

  private spec(): VmacSpec {
    return { name: this.name, parent: this.cfg.interface, mac: this.mac, family: this.cfg.family };
  }

  private transport(): Promise<Transport> {
    const source = this.link.primary.address;
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
    // The carrier is on (only a master sends from here): the protodown option keeps it so.
    if (this.cfg.family === 6)
      await ensureVmac(this.spec(), { protodown: false, linkLocal: source });
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
