/**
 * The kernel's view of the interfaces and their IPv4 and IPv6 addresses, kept current from
 * rtnetlink events: ONE per daemon (every router reads it, nobody spawns `ip monitor`).
 *
 * Contract:
 * - `open` subscribes (RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR) THEN dumps the
 *   links and the addresses of both families (net/netlink.ts), so nothing happening in between
 *   is missed: events read during a dump are applied on top of it, in order (each event states
 *   its object's whole state, so replaying one the dump already shows changes nothing).
 * - Listeners get every change of the view, after the view holds it: `link` (new, or its state,
 *   MAC or name changed: `previousName`), `link-gone` (after the `address-removed` of what it
 *   still had), `address-added` (new, or an address whose flags changed: a secondary promoted to
 *   primary, a tentative IPv6 address that passed duplicate address detection),
 *   `address-removed`. A kernel notification that changes nothing emits nothing (an IPv6
 *   lifetime refresh).
 * - A receive-buffer overrun (ENOBUFS: events were lost) or any socket error is logged once (warn,
 *   with the errno) and counted; after an error other than ENOBUFS the socket is closed and
 *   reopened first, with a bounded backoff. Then links and addresses are dumped again, the new
 *   view is diffed against the old, the differences are emitted as the events above, then
 *   `resynced`. A dump that fails is tried again with the same backoff. Nothing here throws out
 *   of the addon's callbacks or rejects unheld, and a listener that throws is logged, not fatal.
 * - `up` is operationally up: IF_OPER_UP, or IF_OPER_UNKNOWN with IFF_LOWER_UP (dummy, some
 *   tunnels), what sysfs's operstate and carrier say. Bridge-port reports (AF_BRIDGE) are not
 *   the link's state and are ignored.
 * - Addresses are listed in the kernel's order, IPv4 before IPv6 (as the two dumps list them):
 *   IPv4 primaries (in the order the kernel keeps them) before secondaries; IPv6 by scope,
 *   global before link-local, the newest first within a scope. IPv6 addresses are RFC 5952 text
 *   (net/address.ts), as the config keeps VIPs. `tentative`: IFA_F_TENTATIVE or IFA_F_DADFAILED,
 *   an address the kernel does not send from (yet, or ever); `secondary` is IPv4's alone. The
 *   kernel announces an address added by hand at once (tentative) and again once DAD is over;
 *   one it makes itself (the link-local address, when the link comes up) only once DAD is over
 *   or failed: until then only a dump shows it.
 */
import type { Logger } from '../log.js';
import {
  errnoCode,
  loadNative,
  type NativeCallError,
  type NativeSocket,
  type NetlinkSocketOptions,
} from '../native.js';
import { addresses as dumpAddresses, links as dumpLinks } from './netlink.js';
import {
  addressOf,
  addressSecondary,
  addressTentative,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  decodeDatagram,
  linkAdminUp,
  linkOperUp,
  RTMGRP_IPV4_IFADDR,
  RTMGRP_IPV6_IFADDR,
  RTMGRP_LINK,
  type AddressFamily,
  type AddressMessage,
  type LinkMessage,
} from './rtnetlink.js';

export interface LinkView {
  index: number;
  name: string;
  /** Operationally up (see the contract). */
  up: boolean;
  /** IFF_UP: the administrator's `ip link set up`. */
  adminUp: boolean;
  mac: string;
}

export interface AddressView {
  ifindex: number;
  family: 4 | 6;
  address: string;
  prefix: number;
  /** An IPv4 secondary (IPv6 has none). */
  secondary: boolean;
  /** Duplicate address detection under way or failed: nothing is sent from it (IPv6). */
  tentative: boolean;
}

export type KernelEvent =
  | { type: 'link'; link: LinkView; previousName?: string }
  | { type: 'link-gone'; link: LinkView }
  | { type: 'address-added'; address: AddressView }
  | { type: 'address-removed'; address: AddressView }
  | { type: 'resynced'; reason: string };

export class KernelMonitorError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KernelMonitorError';
  }
}

/** What the monitor runs on: the addon and the request socket, or a test's stand-ins. */
export interface MonitorDeps {
  openSocket(
    options: NetlinkSocketOptions,
    onBatch: (batch: Buffer[]) => void,
    onError: (err: NativeCallError) => void,
  ): NativeSocket;
  links(): Promise<LinkMessage[]>;
  addresses(family: AddressFamily): Promise<AddressMessage[]>;
  /** Reopen and re-dump backoff: the first delay, doubled up to the last. */
  backoffMs?: { first: number; max: number };
}

const GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
/**
 * 8 MiB (the kernel doubles it for its bookkeeping): 5,000 address notifications (about 1 KiB of
 * buffer each) fit while the loop is busy elsewhere; beyond that the overrun path resyncs.
 */
const MONITOR_RCVBUF = 8 << 20;
const BACKOFF = { first: 100, max: 5_000 };

const defaultDeps: MonitorDeps = {
  openSocket: (options, onBatch, onError) => loadNative().netlinkSocket(options, onBatch, onError),
  links: dumpLinks,
  addresses: dumpAddresses,
};

interface AddressEntry {
  view: AddressView;
  /** RT_SCOPE_*: where the kernel inserts a new address depends on it. */
  scope: number;
}

/** The view's entry for an address message; undefined for a family vipd does not read. */
function entryOf(m: AddressMessage): AddressEntry | undefined {
  const address = addressOf(m);
  const family = m.family === AF_INET ? 4 : m.family === AF_INET6 ? 6 : undefined;
  if (address === undefined || family === undefined) return undefined;
  const view: AddressView = {
    ifindex: m.index,
    family,
    address,
    prefix: m.prefix,
    secondary: addressSecondary(m),
    tentative: addressTentative(m),
  };
  return { view, scope: m.scope };
}

/** The whole view: links by index, and each link's addresses in the kernel's order. */
class View {
  readonly links = new Map<number, LinkView>();
  readonly byName = new Map<string, number>();
  readonly addresses = new Map<number, AddressEntry[]>();

  setLink(link: LinkView, previousName?: string): void {
    if (previousName !== undefined && this.byName.get(previousName) === link.index) {
      this.byName.delete(previousName);
    }
    this.links.set(link.index, link);
    this.byName.set(link.name, link.index);
  }

  deleteLink(link: LinkView): void {
    this.links.delete(link.index);
    this.addresses.delete(link.index);
    if (this.byName.get(link.name) === link.index) this.byName.delete(link.name);
  }

  /**
   * Where the kernel puts an address in the interface's list (IPv4's entries before IPv6's).
   * IPv4: a secondary at the end; a primary after the last primary whose scope is at least its
   * own (net/ipv4/devinet.c, __inet_insert_ifa), so primaries stay before secondaries. IPv6:
   * before the first address of the same or a narrower scope (net/ipv6/addrconf.c,
   * ipv6_link_dev_addr; a narrower scope is a larger RT_SCOPE_*).
   */
  insertAddress(entry: AddressEntry): void {
    const list = this.addresses.get(entry.view.ifindex) ?? [];
    this.addresses.set(entry.view.ifindex, list);
    const ipv6From = list.findIndex((e) => e.view.family === 6);
    const end4 = ipv6From < 0 ? list.length : ipv6From;
    let at: number;
    if (entry.view.family === 6) {
      at = list.findIndex((e) => e.view.family === 6 && entry.scope <= e.scope);
      if (at < 0) at = list.length;
    } else if (entry.view.secondary) {
      at = end4;
    } else {
      at = 0;
      list.forEach((e, i) => {
        if (e.view.family === 4 && !e.view.secondary && entry.scope <= e.scope) at = i + 1;
      });
    }
    list.splice(at, 0, entry);
  }

  findAddress(ifindex: number, address: string, prefix: number): number {
    const list = this.addresses.get(ifindex) ?? [];
    return list.findIndex((e) => e.view.address === address && e.view.prefix === prefix);
  }

  /** Applies one notification; `emit` hears each change after the view holds it. */
  apply(m: LinkMessage | AddressMessage, emit: (e: KernelEvent) => void): void {
    if (m.kind === 'link') this.applyLink(m, emit);
    else this.applyAddress(m, emit);
  }

  private applyLink(m: LinkMessage, emit: (e: KernelEvent) => void): void {
    // AF_BRIDGE: a bridge port's own report (its STP state...), not the link's; a port leaving
    // its bridge is an RTM_DELLINK of that family while the interface lives on.
    if (m.family !== AF_UNSPEC) return;
    const prev = this.links.get(m.index);
    if (m.deleted) {
      if (prev === undefined) return;
      for (const e of this.addresses.get(m.index) ?? []) {
        emit({ type: 'address-removed', address: e.view });
      }
      this.deleteLink(prev);
      emit({ type: 'link-gone', link: prev });
      return;
    }
    const next: LinkView = {
      index: m.index,
      name: m.name ?? prev?.name ?? `if${m.index}`,
      up: linkOperUp(m),
      adminUp: linkAdminUp(m),
      mac: m.mac ?? prev?.mac ?? '',
    };
    if (prev !== undefined && sameLink(prev, next)) return;
    const renamed = prev !== undefined && prev.name !== next.name ? prev.name : undefined;
    this.setLink(next, renamed);
    emit(
      renamed === undefined
        ? { type: 'link', link: next }
        : { type: 'link', link: next, previousName: renamed },
    );
  }

  private applyAddress(m: AddressMessage, emit: (e: KernelEvent) => void): void {
    const entry = entryOf(m);
    if (entry === undefined) return;
    const at = this.findAddress(m.index, entry.view.address, m.prefix);
    const list = this.addresses.get(m.index) ?? [];
    if (m.deleted) {
      const gone = list[at];
      if (gone === undefined) return;
      list.splice(at, 1);
      if (list.length === 0) this.addresses.delete(m.index);
      emit({ type: 'address-removed', address: gone.view });
      return;
    }
    const old = list[at];
    if (old !== undefined) {
      if (sameFlags(old.view, entry.view) && old.scope === entry.scope) return;
      if (entry.view.family === 6) {
        // DAD done (or failed): the kernel keeps it where it is.
        list[at] = entry;
        emit({ type: 'address-added', address: entry.view });
        return;
      }
      // Promoted (or demoted): the kernel moves it among the primaries.
      list.splice(at, 1);
    }
    this.insertAddress(entry);
    emit({ type: 'address-added', address: entry.view });
  }

  static fromDump(links: readonly LinkMessage[], addresses: readonly AddressMessage[]): View {
    const view = new View();
    for (const l of links) view.apply(l, noop);
    // Appended in dump order (IPv4's dump, then IPv6's): the kernel's list order already.
    for (const a of addresses) {
      const entry = entryOf(a);
      if (entry === undefined) continue;
      const list = view.addresses.get(a.index) ?? [];
      view.addresses.set(a.index, list);
      if (view.findAddress(a.index, entry.view.address, a.prefix) >= 0) continue;
      list.push(entry);
    }
    return view;
  }
}

const noop = (): void => undefined;

function sameLink(a: LinkView, b: LinkView): boolean {
  return a.name === b.name && a.up === b.up && a.adminUp === b.adminUp && a.mac === b.mac;
}

/** The flags a listener cares about are the same (the address and prefix are, by key). */
function sameFlags(a: AddressView, b: AddressView): boolean {
  return a.secondary === b.secondary && a.tentative === b.tentative;
}

const addressKey = (a: AddressView): string => `${a.ifindex} ${a.address}/${a.prefix}`;

/** The events that turn `old` into `fresh`: removals, links gone, links, additions. */
function diff(old: View, fresh: View): KernelEvent[] {
  const removed: KernelEvent[] = [];
  const added: KernelEvent[] = [];
  const flat = (v: View): Map<string, AddressView> =>
    new Map([...v.addresses.values()].flat().map((e) => [addressKey(e.view), e.view]));
  const before = flat(old);
  const after = flat(fresh);
  for (const [key, a] of before) {
    if (!after.has(key)) removed.push({ type: 'address-removed', address: a });
  }
  for (const [key, a] of after) {
    const was = before.get(key);
    if (was === undefined || !sameFlags(was, a)) {
      added.push({ type: 'address-added', address: a });
    }
  }
  const gone: KernelEvent[] = [];
  const changed: KernelEvent[] = [];
  for (const [index, link] of old.links) {
    if (!fresh.links.has(index)) gone.push({ type: 'link-gone', link });
  }
  for (const [index, link] of fresh.links) {
    const was = old.links.get(index);
    if (was !== undefined && sameLink(was, link)) continue;
    changed.push(
      was !== undefined && was.name !== link.name
        ? { type: 'link', link, previousName: was.name }
        : { type: 'link', link },
    );
  }
  return [...removed, ...gone, ...changed, ...added];
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms).unref());

export class KernelMonitor {
  readonly counters = { overruns: 0, resyncs: 0, errors: 0, malformed: 0 };
  private view = new View();
  private readonly listeners = new Set<(e: KernelEvent) => void>();
  private socket: NativeSocket | undefined;
  private closed = false;
  /** A dump is under way: notifications wait in `buffered`, to be applied on top of it. */
  private syncing = false;
  private buffered: (LinkMessage | AddressMessage)[] = [];
  /** The recovery loop runs; what it still has to do, and why. */
  private recovering = false;
  private needReopen = false;
  private needResync = false;
  private reasons: string[] = [];
  private readonly backoff: { first: number; max: number };

  private constructor(
    private readonly log: Logger,
    private readonly deps: MonitorDeps,
  ) {
    this.backoff = deps.backoffMs ?? BACKOFF;
  }

  /**
   * Subscribes, then reads every link and address. Rejects with a KernelMonitorError when
   * the socket cannot be opened or the first dump fails (the daemon cannot start blind).
   */
  static async open(log: Logger, deps: MonitorDeps = defaultDeps): Promise<KernelMonitor> {
    const monitor = new KernelMonitor(log, deps);
    // Whatever fails during the first dump is handled once it is done.
    monitor.recovering = true;
    try {
      monitor.openSocket();
      await monitor.sync();
    } catch (err) {
      monitor.close();
      throw new KernelMonitorError(
        `cannot watch the interfaces (rtnetlink): ${(err as Error).message}`,
        { cause: err },
      );
    }
    monitor.recovering = false;
    if (monitor.needReopen || monitor.needResync) monitor.startRecovery();
    return monitor;
  }

  link(name: string): LinkView | undefined {
    const index = this.view.byName.get(name);
    return index === undefined ? undefined : this.view.links.get(index);
  }

  linkByIndex(index: number): LinkView | undefined {
    return this.view.links.get(index);
  }

  /** The link's addresses in the kernel's order: primaries before their secondaries. */
  addresses(ifindex: number): AddressView[] {
    return (this.view.addresses.get(ifindex) ?? []).map((e) => e.view);
  }

  /** Every link known (for status and tests). */
  allLinks(): LinkView[] {
    return [...this.view.links.values()];
  }

  subscribe(listener: (e: KernelEvent) => void): () => void {
    // A wrapper of its own, so the same function subscribed twice is two subscriptions.
    const entry = (e: KernelEvent): void => listener(e);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  close(): void {
    this.closed = true;
    this.closeSocket();
    this.listeners.clear();
    this.buffered = [];
  }

  private openSocket(): void {
    const socket: NativeSocket = this.deps.openSocket(
      { groups: GROUPS, rcvbuf: MONITOR_RCVBUF },
      (batch) => this.onBatch(socket, batch),
      (err) => this.onError(socket, err),
    );
    this.socket = socket;
  }

  private closeSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    try {
      socket?.close();
    } catch {
      // Closed already: the point was to be rid of it.
    }
  }

  private emit(e: KernelEvent): void {
    for (const listener of [...this.listeners]) {
      if (this.closed) return;
      try {
        listener(e);
      } catch (err) {
        this.log.error(
          { event: 'kernel-monitor-listener-failed', kernelEvent: e.type, err },
          `a listener of kernel events threw on ${e.type}: ${(err as Error).message} (the monitor goes on)`,
        );
      }
    }
  }

  private onBatch(socket: NativeSocket, batch: Buffer[]): void {
    // Called by the addon: nothing may escape.
    try {
      for (const datagram of batch) {
        for (const m of decodeDatagram(datagram)) {
          if (socket !== this.socket || this.closed) return;
          if (m.kind === 'malformed') {
            this.counters.malformed++;
            this.log.debug(
              { event: 'kernel-monitor-malformed', reason: m.reason },
              `unreadable rtnetlink notification skipped: ${m.reason}`,
            );
          } else if (m.kind === 'link' || m.kind === 'address') {
            if (this.syncing) this.buffered.push(m);
            else this.view.apply(m, (e) => this.emit(e));
          }
        }
      }
    } catch (err) {
      // A bug of ours, not the kernel's: the view may be off, so read it again.
      this.counters.errors++;
      this.log.error({ event: 'kernel-monitor-failed', err }, 'kernel event handling failed');
      this.recover(`event handling failed: ${(err as Error).message}`, false);
    }
  }

  private onError(socket: NativeSocket, err: NativeCallError): void {
    try {
      if (socket !== this.socket || this.closed) return;
      const code = errnoCode(err) ?? err.message;
      if (code === 'ENOBUFS') {
        this.counters.overruns++;
        this.recover('receive buffer overrun (ENOBUFS): events were lost', false);
      } else {
        this.counters.errors++;
        this.recover(`socket error ${code} (${err.syscall ?? 'netlink'})`, true);
      }
    } catch {
      // recover() does not throw; this only keeps a future bug out of the addon's callback.
    }
  }

  /** Asks the recovery loop for a resync (and a new socket first, when `reopen`). */
  private recover(reason: string, reopen: boolean): void {
    if (this.closed) return;
    this.needReopen ||= reopen;
    this.needResync = true;
    this.reasons.push(reason);
    if (this.recovering) return; // under way: it will do this too, and has logged already
    this.log.warn(
      { event: 'kernel-monitor-lost-events', reason },
      `kernel monitor: ${reason}; ${reopen ? 'reopening the socket and ' : ''}reading every link and address again`,
    );
    this.startRecovery();
  }

  private startRecovery(): void {
    this.recovering = true;
    this.recoveryLoop().catch((err: unknown) => {
      // The loop catches everything it does; this is the last word if it ever did not.
      this.recovering = false;
      this.log.error({ event: 'kernel-monitor-failed', err }, 'kernel monitor recovery failed');
    });
  }

  private async recoveryLoop(): Promise<void> {
    let delay = 0;
    while (!this.closed && (this.needReopen || this.needResync)) {
      if (delay > 0) await sleep(delay);
      if (this.closed) break;
      // Back off from the second try on: a kernel that keeps failing is not hammered.
      delay = Math.min(delay === 0 ? this.backoff.first : delay * 2, this.backoff.max);
      if (this.needReopen) {
        this.closeSocket();
        try {
          this.openSocket();
          this.needReopen = false;
        } catch (err) {
          this.counters.errors++;
          this.log.warn(
            { event: 'kernel-monitor-reopen-failed', errno: errnoCode(err), retryMs: delay },
            `kernel monitor: the socket did not reopen (${(err as Error).message}); again in ${delay} ms`,
          );
          continue;
        }
      }
      this.needResync = false;
      const reason = [...new Set(this.reasons)].join('; ');
      try {
        await this.sync(reason);
        this.reasons = [];
      } catch (err) {
        this.needResync = true;
        this.counters.errors++;
        this.log.warn(
          { event: 'kernel-monitor-resync-failed', err: (err as Error).message, retryMs: delay },
          `kernel monitor: reading the links and addresses failed (${(err as Error).message}); again in ${delay} ms`,
        );
      }
    }
    this.recovering = false;
  }

  /**
   * Dumps links and addresses into a fresh view, applies what arrived meanwhile, and swaps it
   * in. With a `reason` (a resync), the differences are emitted, then `resynced`.
   */
  private async sync(reason?: string): Promise<void> {
    const started = performance.now();
    this.syncing = true;
    // Notifications read before the dump is asked for are in it: only later ones matter.
    this.buffered = [];
    let fresh: View;
    try {
      const links = await this.deps.links();
      const ipv4 = await this.deps.addresses(AF_INET);
      const ipv6 = await this.deps.addresses(AF_INET6);
      fresh = View.fromDump(links, [...ipv4, ...ipv6]);
      for (const m of this.buffered) fresh.apply(m, noop);
    } finally {
      this.buffered = [];
      this.syncing = false;
    }
    if (this.closed) return;
    const old = this.view;
    this.view = fresh;
    if (reason === undefined) return;
    const changes = diff(old, fresh);
    for (const e of changes) this.emit(e);
    this.counters.resyncs++;
    this.log.info(
      {
        event: 'kernel-monitor-resynced',
        reason,
        changes: changes.length,
        ms: Math.round(performance.now() - started),
      },
      `kernel monitor resynced (${reason}): ${changes.length} change(s) found`,
    );
    this.emit({ type: 'resynced', reason });
  }
}
