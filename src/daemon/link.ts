/**
 * One VRRP link: the socket the instances on one interface and transport share, kept in step
 * with the interface as the kernel reports it (net/kernel-monitor.ts), its gratuitous-ARP
 * sender, and the timers of its routers.
 *
 * Contract:
 * - The link hands each packet to the router whose VRID is in byte 1 of the VRRP header; packets
 *   for other VRIDs are counted (`onForeign`), not logged.
 * - Whether the interface can carry the election is router/interface-state.ts's verdict, made
 *   again on every kernel event about the interface. Not usable (absent, down, no address of its
 *   own): routers that track their interface (the default) are held in FAULT (`interface`
 *   cause); an interface that is gone or has no address also closes the socket, and routers that
 *   do not track it are held for `socket`. Usable again: the socket is (re)opened from the
 *   current primary address and the holds clear. A new primary address reopens the socket from
 *   it and tells the routers (`setSource`).
 * - Socket errors go through router/link-health.ts: reopen at once, FAULT (`socket`) and a
 *   backoff when it keeps failing. Every error is logged with its errno and counted.
 * - An address removed from the interface is reported to the routers whose VIP it is
 *   (`vipsMissing`); their cores decide whether to put it back.
 * - Renamed under us: our VIPs stay on the renamed interface, where no plan would find them, so
 *   the link removes them there.
 * - Its routers' deadlines share one timer (`timers`, ports/timer-heap.ts). When it fires, what
 *   the socket already holds is read first: after a stall (a spawn, GC, a held machine) the
 *   master's adverts may be waiting, and a master-down deadline must not be decided before them.
 */
import type { Logger } from '../log.js';
import { Garp } from '../actions/garp.js';
import type { Announcer } from '../actions/runner.js';
import { removeVips } from '../actions/vip.js';
import type { TransportKind } from '../config/instance.js';
import type { AddressFamily } from '../net/address.js';
import type { KernelEvent, KernelMonitor } from '../net/kernel-monitor.js';
import type { InterfaceAddress } from '../net/interface.js';
import { RawTransport } from '../net/transport-raw.js';
import { UdpTransport } from '../net/transport-udp.js';
import { TransportError, type InboundPacket, type Transport } from '../net/transport.js';
import type { TimerClock } from '../ports/clock.js';
import { TimerHeap } from '../ports/timer-heap.js';
import { interfaceVerdict } from '../router/interface-state.js';
import {
  HEALTHY,
  linkHealthStep,
  type LinkHealth,
  type LinkHealthAction,
  type LinkHealthEvent,
} from '../router/link-health.js';
import type { LinkStatus } from '../router/status.js';
import type { AdvertSender, VirtualRouter } from './router.js';

export interface LinkKey {
  ifname: string;
  /** IPv4 and IPv6 elections never share a socket (RFC 5798 5.2.3: separate VRID spaces). */
  family: AddressFamily;
  transport: TransportKind;
  udpPort: number;
}

export interface LinkDeps {
  monitor: KernelMonitor;
  clock: TimerClock;
  log: Logger;
  /** Every VIP of the running config: the primary address is none of them. */
  vips: () => ReadonlySet<string>;
  onForeign: () => void;
  /** Called before each open of the socket: per-interface settings (once per index is theirs). */
  onOpen: (ifname: string, index: number) => Promise<void>;
}

/** The source while the interface cannot be used: nothing is sent from it (FAULT). */
const UNSPECIFIED: Record<AddressFamily, InterfaceAddress> = {
  4: { family: 4, address: '0.0.0.0', prefix: 32, secondary: false, tentative: false },
  6: { family: 6, address: '::', prefix: 128, secondary: false, tentative: false },
};

export function linkKeyOf(k: LinkKey): string {
  return `${k.ifname}|${k.family}|${k.transport}|${k.transport === 'udp' ? k.udpPort : ''}`;
}

export class VrrpLink implements AdvertSender, Announcer {
  readonly routers = new Map<number, VirtualRouter>();
  /** The clock the routers on this link schedule their deadlines with. */
  readonly timers: TimerHeap;
  /** The open socket, with the interface index and primary address it was opened for. */
  private socket: { transport: Transport; index: number; primary: InterfaceAddress } | undefined;
  private garp: { sender: Garp; index: number; mac: string } | undefined;
  private source: InterfaceAddress;
  /** Why the interface cannot be used now, or undefined when it can. */
  private unusable: string | undefined;
  /** The `socket` hold's detail while it is raised. */
  private socketHold: string | undefined;
  private health: LinkHealth = HEALTHY;
  private retry: (() => void) | undefined;
  /** Bumped on every (re)open and close: an open that finishes late for an older one is dropped. */
  private generation = 0;
  /** Removed VIPs not yet reported, with the interface they were removed from. */
  private missing: { address: string; ifname: string | undefined }[] = [];
  private readonly unsubscribe: () => void;
  private readonly errors: Record<string, number> = {};
  private reopens = 0;
  private closed = false;
  private opening = false;
  /** The open under way (or the last one, ended): it never rejects, failures are holds. */
  private opened: Promise<void> = Promise.resolve();

  constructor(
    readonly key: LinkKey,
    private readonly deps: LinkDeps,
  ) {
    this.source = UNSPECIFIED[key.family];
    this.timers = new TimerHeap(deps.clock, (run) => this.readQueued(run));
    this.unsubscribe = deps.monitor.subscribe((e) => this.onKernel(e));
    this.evaluate();
  }

  /** The address adverts leave from (0.0.0.0 or :: while the interface cannot be used). */
  get primary(): InterfaceAddress {
    return this.source;
  }

  /** The interface's own MAC, as the kernel reports it now. */
  get mac(): string | undefined {
    return this.deps.monitor.link(this.key.ifname)?.mac;
  }

  /**
   * Resolves when the open under way has ended, opened or failed (a failure is a hold on the
   * routers). A router started before would send its first advert (an owner's, at once) into a
   * socket still opening, and lose it: the next one leaves an interval later.
   */
  settled(): Promise<void> {
    return this.opened;
  }

  /** Registers a router for its VRID's packets and puts it under the link's current holds. */
  attach(router: VirtualRouter): void {
    this.routers.set(router.cfg.vrid, router);
    if (this.unusable !== undefined) this.holdFor(router, this.unusable);
    if (this.socketHold !== undefined) {
      router.raiseFault({ kind: 'socket', name: this.key.ifname }, this.socketHold);
    }
  }

  detach(vrid: number): void {
    this.routers.delete(vrid);
  }

  status(): LinkStatus {
    return {
      interface: this.key.ifname,
      family: this.key.family,
      transport: this.key.transport,
      source: this.source.address,
      state: this.socket !== undefined ? 'open' : this.state(),
      errors: { ...this.errors },
      reopens: this.reopens,
    };
  }

  send(dst: string, payload: Buffer): Promise<void> {
    const socket = this.socket;
    if (socket === undefined) {
      return Promise.reject(
        new TransportError(`no socket on ${this.key.ifname}: ${this.state()}`, 'send', undefined),
      );
    }
    return socket.transport.send(dst, payload).then(
      () => this.carried(),
      (err: unknown) => {
        if (err instanceof TransportError) this.failed(err, this.socket === socket);
        throw err;
      },
    );
  }

  announce(
    addresses: readonly string[],
    opts: { count: number; intervalMs: number },
    signal?: AbortSignal,
  ): Promise<unknown> {
    if (this.garp === undefined) {
      return Promise.reject(new Error(`cannot announce on ${this.key.ifname}: ${this.state()}`));
    }
    return this.garp.sender.announce(addresses, opts, signal);
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.retry?.();
    this.closeSocket();
    this.garp?.sender.close();
    this.garp = undefined;
    this.timers.close();
  }

  /** Hands the routers what the socket holds, then `run`s the deadlines that are due. */
  private readQueued(run: () => void): void {
    const transport = this.socket?.transport;
    if (transport !== undefined && transport.readQueued === undefined) {
      // udp cannot be read on demand: its reads come in this turn's I/O, before the check phase.
      setImmediate(run);
      return;
    }
    transport?.readQueued?.();
    run();
  }

  /** Why there is no socket now. */
  private state(): string {
    return this.unusable ?? this.socketHold ?? 'the socket is being reopened';
  }

  private onKernel(e: KernelEvent): void {
    if (this.closed) return;
    const name = this.key.ifname;
    switch (e.type) {
      case 'link':
        if (e.previousName === name && e.link.name !== name) this.renamed(e.link.name);
        if (e.link.name === name || e.previousName === name) this.evaluate();
        return;
      case 'link-gone':
        if (e.link.name === name) this.evaluate();
        return;
      case 'address-added':
      case 'address-removed': {
        // A VIP is never the source, so it cannot change the verdict: a plan adding 1,000 of
        // them makes no evaluation. Only its removal matters, to the routers it belongs to
        // (on this interface, or on a router's virtual-MAC macvlan).
        if (this.deps.vips().has(e.address.address)) {
          if (e.type === 'address-removed') {
            const from = this.deps.monitor.linkByIndex(e.address.ifindex)?.name;
            this.removed(e.address.address, from);
          }
          return;
        }
        // The other family's addresses never make this link's source.
        const here = e.address.ifindex === this.deps.monitor.link(name)?.index;
        if (here && e.address.family === this.key.family) this.evaluate();
        return;
      }
      case 'resynced':
        this.evaluate();
        return;
    }
  }

  /** Removals arrive one event per address: a flush of 256 VIPs reaches the routers as one batch. */
  private removed(address: string, ifname: string | undefined): void {
    this.missing.push({ address, ifname });
    if (this.missing.length > 1) return;
    setImmediate(() => {
      const gone = this.missing;
      this.missing = [];
      for (const router of this.routers.values()) {
        const mine = new Set(router.cfg.vips.map((v) => v.address));
        const lost = gone
          .filter((g) => g.ifname === router.cfg.vipInterface && mine.has(g.address))
          .map((g) => g.address);
        if (lost.length > 0) router.vipsMissing(lost);
      }
    });
  }

  private renamed(to: string): void {
    const vips = [...this.routers.values()].flatMap((r) => r.cfg.vips);
    this.deps.log.warn(
      { event: 'interface-renamed', interface: this.key.ifname, to },
      `interface ${this.key.ifname} was renamed to ${to}: removing our VIPs from it (vipd runs on ${this.key.ifname} only)`,
    );
    removeVips(to, vips, undefined, this.deps.log).catch((err: unknown) =>
      this.deps.log.error(
        { event: 'renamed-vips-left', interface: to, err: (err as Error).message },
        `could not remove our VIPs from ${to}: ${(err as Error).message}`,
      ),
    );
  }

  /** The interface as the kernel reports it now: open, reopen or close to match. */
  private evaluate(): void {
    const { monitor } = this.deps;
    const name = this.key.ifname;
    const link = monitor.link(name);
    const verdict = interfaceVerdict(
      name,
      link,
      link === undefined ? [] : monitor.addresses(link.index),
      this.deps.vips(),
      this.key.family,
    );
    if (!verdict.ok) {
      // Down but present: a router that does not track the interface keeps its socket and
      // learns from its sends whether it can still speak.
      const keepSocket = link !== undefined && !link.up && this.socket !== undefined;
      this.setUnusable(verdict.reason, !keepSocket);
      return;
    }
    const { primary, link: up } = verdict;
    if (this.garp === undefined || this.garp.index !== up.index || this.garp.mac !== up.mac) {
      this.openGarp(up.index, up.mac);
    }
    if (primary.address !== this.source.address || primary.prefix !== this.source.prefix) {
      const was = this.source.address;
      this.source = primary;
      if (was !== UNSPECIFIED[this.key.family].address) {
        this.deps.log.info(
          { event: 'source-changed', interface: name, from: was, to: primary.address },
          `${name}: primary address ${was} -> ${primary.address}: adverts leave from it`,
        );
      }
      for (const router of this.routers.values()) router.setSource(primary);
    }
    const stale =
      this.socket === undefined ||
      this.socket.index !== up.index ||
      this.socket.primary.address !== primary.address;
    // The holds clear once the socket is open (open() evaluates again).
    if (!stale) this.setUnusable(undefined, false);
    else if (this.retry === undefined && !this.opening) this.opened = this.open();
  }

  private setUnusable(reason: string | undefined, closeSocket: boolean): void {
    if (closeSocket && this.socket !== undefined) {
      this.retry?.();
      this.retry = undefined;
      this.closeSocket();
      this.health = HEALTHY;
    }
    const closedHold = closeSocket ? reason : undefined;
    if (reason === this.unusable) {
      if (closedHold !== undefined) this.holdSocket(closedHold, true);
      return;
    }
    const was = this.unusable;
    this.unusable = reason;
    if (reason !== undefined) {
      this.deps.log.warn(
        { event: 'interface-unusable', interface: this.key.ifname, reason },
        `${reason}: instances tracking it are held in FAULT`,
      );
      for (const router of this.routers.values()) this.holdFor(router, reason);
      if (closedHold !== undefined) this.holdSocket(closedHold, true);
      return;
    }
    this.deps.log.info(
      { event: 'interface-usable', interface: this.key.ifname, was },
      `interface ${this.key.ifname} is usable again (was: ${was ?? '?'})`,
    );
    for (const router of this.routers.values()) {
      router.clearFault({ kind: 'interface', name: this.key.ifname });
    }
  }

  private holdFor(router: VirtualRouter, reason: string): void {
    if (!router.cfg.trackInterface) return;
    router.raiseFault({ kind: 'interface', name: this.key.ifname }, reason);
  }

  /**
   * The `socket` hold: on every router that does not track the interface when the interface
   * took the socket away (`byInterface`: tracking routers are held for `interface` already), on
   * every router when the socket itself keeps failing.
   */
  private holdSocket(detail: string | undefined, byInterface: boolean): void {
    const cause = { kind: 'socket', name: this.key.ifname } as const;
    this.socketHold = detail;
    for (const router of this.routers.values()) {
      if (detail === undefined) router.clearFault(cause);
      else if (!byInterface || !router.cfg.trackInterface) router.raiseFault(cause, detail);
    }
  }

  private async open(): Promise<void> {
    this.closeSocket();
    const generation = this.generation;
    const index = this.deps.monitor.link(this.key.ifname)?.index;
    const primary = this.source;
    if (index === undefined || primary === UNSPECIFIED[this.key.family]) return;
    this.opening = true;
    try {
      await this.deps.onOpen(this.key.ifname, index);
      const transport = await this.openTransport(primary);
      if (generation !== this.generation || this.closed) {
        transport.close();
        return;
      }
      this.socket = { transport, index, primary };
      this.deps.log.info(
        {
          event: 'link-open',
          interface: this.key.ifname,
          family: this.key.family,
          transport: this.key.transport,
          source: primary.address,
        },
        `listening on ${this.key.ifname} (IPv${this.key.family}, ${this.key.transport}) from ${primary.address}`,
      );
      this.feed({ type: 'reopened' });
      if (this.socketHold !== undefined) this.holdSocket(undefined, false);
    } catch (err) {
      if (generation !== this.generation || this.closed) return;
      this.failed(
        err instanceof TransportError
          ? err
          : new TransportError((err as Error).message, 'open', undefined),
      );
      return;
    } finally {
      this.opening = false;
    }
    // What changed while it opened (and the interface holds, now that there is a socket).
    this.evaluate();
  }

  private openTransport(primary: InterfaceAddress): Promise<Transport> {
    const common = {
      ifname: this.key.ifname,
      localAddress: primary.address,
      onPacket: (packet: InboundPacket) => this.receive(packet),
      onError: (err: TransportError) => this.failed(err),
    };
    if (this.key.transport === 'udp') {
      return UdpTransport.open({ ...common, port: this.key.udpPort });
    }
    return Promise.resolve(
      new RawTransport({
        ...common,
        family: this.key.family,
        onIpReject: (reason) =>
          this.deps.log.debug({ event: 'ip-rejected', reason }, 'malformed IP packet'),
      }),
    );
  }

  private receive(packet: InboundPacket): void {
    this.carried();
    const router =
      packet.payload.length >= 2 ? this.routers.get(packet.payload.readUInt8(1)) : undefined;
    if (router === undefined) this.deps.onForeign();
    else router.receive(packet);
  }

  /**
   * Counts and logs every error. Only one of the socket open now, on an interface that should
   * carry it, moves the link's health: an interface that is down or gone explains its errors
   * (ENETDOWN, ENODEV) and already holds the routers.
   */
  private failed(err: TransportError, current = true): void {
    if (this.closed) return;
    const code = err.code ?? 'unknown';
    this.errors[code] = (this.errors[code] ?? 0) + 1;
    // (A router that does not track the interface learns from these whether it can speak.)
    const expected =
      this.unusable !== undefined && [...this.routers.values()].every((r) => r.cfg.trackInterface);
    this.deps.log[expected ? 'debug' : 'warn'](
      {
        event: 'socket-error',
        interface: this.key.ifname,
        op: err.op,
        errno: err.code,
        count: this.errors[code],
      },
      `${this.key.ifname}: ${err.message}`,
    );
    if (current && !expected) this.feed({ type: 'error', op: err.op, code: err.code }, err.message);
  }

  private feed(event: LinkHealthEvent, detail?: string): void {
    const { health, actions } = linkHealthStep(this.health, event);
    this.health = health;
    for (const action of actions) this.act(action, detail);
  }

  private act(action: LinkHealthAction, detail: string | undefined): void {
    switch (action.type) {
      case 'fault':
        this.holdSocket(`the VRRP socket keeps failing: ${detail ?? 'error'}`, false);
        return;
      case 'clear':
        this.holdSocket(undefined, false);
        return;
      case 'reopen':
        this.closeSocket();
        this.retry?.();
        this.reopens += 1;
        this.deps.log.info(
          { event: 'socket-reopen', interface: this.key.ifname, inMs: action.delayMs },
          `${this.key.ifname}: reopening the VRRP socket${action.delayMs > 0 ? ` in ${action.delayMs} ms` : ''}`,
        );
        this.retry = this.deps.clock.schedule(this.deps.clock.now() + action.delayMs, () => {
          this.retry = undefined;
          void this.open();
        });
        return;
    }
  }

  private closeSocket(): void {
    this.generation += 1;
    this.socket?.transport.close();
    this.socket = undefined;
  }

  /** A datagram went through: forgives earlier errors (a no-op on the common, healthy path). */
  private carried(): void {
    if (this.health.failures > 0) this.feed({ type: 'carried' });
  }

  private openGarp(index: number, mac: string): void {
    this.garp?.sender.close();
    this.garp = undefined;
    try {
      this.garp = { sender: Garp.open(this.key.ifname, mac), index, mac };
    } catch (err) {
      this.deps.log.error(
        { event: 'garp-open-failed', interface: this.key.ifname, err: (err as Error).message },
        `cannot send gratuitous ARP on ${this.key.ifname}: ${(err as Error).message}`,
      );
    }
  }
}
