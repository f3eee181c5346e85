/**
 * Adds and removes virtual addresses on an interface, through rtnetlink (net/netlink.ts). Every
 * call is idempotent: adding replaces the address if it is there; removing reads what the
 * kernel has and deletes only our VIPs that are present (whatever prefix a crashed run left them
 * with).
 *
 * One queue per interface: one run at a time, and every request made while a run is under way
 * (or before the first run starts: it waits for the microtasks queued ahead of it, so routers
 * whose deadlines fell due together, in lockstep, all join it) is folded into the next, so 128 routers
 * changing state together cost one read of the interface, not 128. A read never joins a run
 * that started before it was asked for, and a read asked for after a change waits until that
 * change is done, so a caller always sees its own earlier changes. Each request still gets its
 * own outcome: its changes' errors, or what it removed.
 *
 * Removing never takes an address the caller did not name (issue 13). The kernel makes an
 * address a secondary of the first one it has in the same subnet with the same prefix length (256
 * VIPs in a /16 outside the interface's /24: the first VIP is the /16's primary, 255 are its
 * secondaries), and deleting a primary deletes its secondaries too unless the interface has
 * promote_secondaries (the daemon sets it, but it may be off: a container, the operator's
 * choice). So a run removes secondaries before primaries, and when a primary it removed had
 * other secondaries, reads the interface again and puts back any the kernel took with it. A
 * removal that finds its address already gone (EADDRNOTAVAIL: the cascade, a hand, another tool)
 * counts as released: what the caller wanted is what the kernel has.
 *
 * IPv6 VIPs go through the same queue (a list may mix families). They are added with IFA_F_NODAD:
 * a new master answers for them at once (RFC 5798), where duplicate address detection would
 * keep them tentative, unusable, for a second or more (and fail on a backup's stale copy). IPv6
 * has no secondaries, so removing one takes nothing with it: the ordering and putting back
 * above are IPv4's. `readAddresses` lists both families.
 *
 * A run that only adds (a takeover) takes the interface's index from the daemon's kernel monitor
 * when it has one (`takeIndexesFrom`), not from an RTM_GETLINK round trip (0.3 ms on the
 * failover's path). A name the monitor does not know yet (a macvlan just made) is asked for, and
 * an add the kernel refuses with ENODEV (the interface made again under its name before the
 * monitor read the news) is tried once more with the kernel's index. Runs that read or remove
 * always ask the kernel: they filter a dump by the index, and a stale one would find nothing.
 */
import type { Vip } from '../config/instance.js';
import type { Logger } from '../log.js';
import { addressFamily, ipv4ToUint32 } from '../net/address.js';
import { type InterfaceAddress } from '../net/interface.js';
import {
  changeAddresses,
  linkAddresses,
  linkByName,
  NetlinkError,
  type AddressChange,
  type ChangeOutcome,
  type LinkRef,
} from '../net/netlink.js';

export class VipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VipError';
  }
}

/** An interface's index by name, as the daemon's kernel monitor last saw it. */
export type IndexLookup = (ifname: string) => number | undefined;

let knownIndex: IndexLookup | undefined;

/** Additions take the index from `lookup` until the returned function is called. */
export function takeIndexesFrom(lookup: IndexLookup): () => void {
  knownIndex = lookup;
  return () => {
    if (knownIndex === lookup) knownIndex = undefined;
  };
}

/**
 * Our VIPs that are on the interface, with the prefix they actually have there: every entry of
 * the address (a ucarp-style script may have added VIP/24 next to vipd's VIP/32).
 */
export function vipsPresent(vips: readonly Vip[], present: readonly InterfaceAddress[]): Vip[] {
  const ours = new Set(vips.map((v) => v.address));
  return present
    .filter((a) => ours.has(a.address))
    .map((a) => ({ address: a.address, prefix: a.prefix }));
}

const same = (a: Vip, b: Vip): boolean => a.address === b.address && a.prefix === b.prefix;

/** The kernel's entry for this address and prefix, if it has one. */
function entryOf(vip: Vip, present: readonly InterfaceAddress[]): InterfaceAddress | undefined {
  return present.find((a) => same(a, vip));
}

const isIpv6 = (v: Vip): boolean => addressFamily(v.address) === 6;

/**
 * Whether removing `vip` may delete other addresses with it: an IPv4 primary (its subnet's
 * secondaries go too without promote_secondaries). An IPv6 address never does.
 */
function cascades(vip: Vip, present: readonly InterfaceAddress[]): boolean {
  return !isIpv6(vip) && entryOf(vip, present)?.secondary === false;
}

/**
 * The order removals go to the kernel in: every secondary first, then the primaries, so no
 * removal of ours deletes another that is still to be made (or reported). An address the kernel
 * does not list counts as a secondary, and so does every IPv6 address: removing it takes nothing
 * with it.
 */
export function removalOrder<T extends Vip>(
  vips: readonly T[],
  present: readonly InterfaceAddress[],
): { secondaries: T[]; primaries: T[] } {
  const primary = (v: T): boolean => cascades(v, present);
  return { secondaries: vips.filter((v) => !primary(v)), primaries: vips.filter(primary) };
}

function subnet(v: Vip): number {
  const mask = v.prefix === 0 ? 0 : (0xffffffff << (32 - v.prefix)) >>> 0;
  return (ipv4ToUint32(v.address) & mask) >>> 0;
}

/**
 * What the kernel deletes along with `removed` when the interface lacks promote_secondaries: the
 * secondaries of each removed primary (same prefix length, same subnet), less those removed too.
 */
export function takenWith(
  removed: readonly Vip[],
  present: readonly InterfaceAddress[],
): InterfaceAddress[] {
  const primaries = removed.filter((r) => cascades(r, present));
  return present.filter(
    (a) =>
      a.family === 4 &&
      a.secondary &&
      !removed.some((r) => same(r, a)) &&
      primaries.some((p) => p.prefix === a.prefix && subnet(p) === subnet(a)),
  );
}

/** The families of `vips`, IPv4 first. */
function familiesOf(vips: readonly Vip[]): (4 | 6)[] {
  const ipv6 = vips.filter(isIpv6).length;
  return [...(ipv6 < vips.length ? [4 as const] : []), ...(ipv6 > 0 ? [6 as const] : [])];
}

/** A log line must stay readable with 256 addresses: the first few, then a count. */
function some(vips: readonly Vip[]): string {
  const shown = vips.slice(0, 3).map((v) => `${v.address}/${v.prefix}`);
  return `${shown.join(' ')}${vips.length > 3 ? ` (+${vips.length - 3} more)` : ''}`;
}

type Op = AddressChange['op'];

interface Request<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

interface ReadRequest extends Request<InterfaceAddress[]> {
  kind: 'read';
}

interface EditRequest extends Request<Vip[]> {
  kind: 'edit';
  op: Op;
  vips: readonly Vip[];
  signal: AbortSignal | undefined;
  log: Logger | undefined;
}

type Pending = ReadRequest | EditRequest;

/** What one request changes: all of an add; of a removal, only what is there. */
interface Change {
  request: EditRequest;
  vips: Vip[];
}

class InterfaceQueue {
  private pending: Pending[] = [];
  private running = false;

  constructor(private readonly ifname: string) {}

  read(): Promise<InterfaceAddress[]> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'read', resolve, reject }));
  }

  edit(
    op: Op,
    vips: readonly Vip[],
    signal: AbortSignal | undefined,
    log: Logger | undefined,
  ): Promise<Vip[]> {
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: 'edit', op, vips, signal, log, resolve, reject }),
    );
  }

  private enqueue(request: Pending): void {
    this.pending.push(request);
    if (this.running) return;
    this.running = true;
    // A microtask, not the next turn of the loop: on a takeover the VIPs must not wait for what
    // that turn holds (the transition's log line and event, daemon/router.ts).
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      // A read after a change waits for the next run: it must see that change.
      const firstLateRead = this.pending.findIndex(
        (r, i) => r.kind === 'read' && this.pending.slice(0, i).some((p) => p.kind === 'edit'),
      );
      const take = firstLateRead === -1 ? this.pending.length : firstLateRead;
      const run = this.pending.slice(0, take);
      this.pending = this.pending.slice(take);
      await this.run(run);
    }
    this.running = false;
  }

  /**
   * Removals first (secondaries, then primaries), then what the kernel took with them put back,
   * then additions. Reordering requests is safe: a VIP belongs to one router (the config refuses
   * it in two), and one router's requests follow each other (each awaited), so one run never
   * both adds and removes an address.
   */
  private async run(requests: readonly Pending[]): Promise<void> {
    const reads = requests.filter((r): r is ReadRequest => r.kind === 'read');
    const edits = requests
      .filter((r): r is EditRequest => r.kind === 'edit')
      .filter((r) => {
        if (r.signal?.aborted !== true) return true;
        r.reject(r.signal.reason);
        return false;
      });
    const removals = edits.filter((e) => e.op === 'del');
    let present: InterfaceAddress[] = [];
    // Known only to an add-only run (the contract above).
    const index = reads.length + removals.length === 0 ? knownIndex?.(this.ifname) : undefined;
    let link: LinkRef;
    try {
      link = index === undefined ? await linkByName(this.ifname) : { name: this.ifname, index };
      // A read lists both families; a removal needs only its VIPs' (a dump lists the namespace).
      const families: (4 | 6)[] =
        reads.length > 0 ? [4, 6] : familiesOf(removals.flatMap((r) => r.vips));
      if (families.length > 0) present = await linkAddresses(link, families);
      for (const r of reads) r.resolve(present);
    } catch (err) {
      if (!(err instanceof NetlinkError && err.absent)) {
        for (const r of [...reads, ...edits]) r.reject(err);
        return;
      }
      // No such interface (deleted, renamed): none of our VIPs is on it, so a removal has
      // released everything it was asked to; only an addition fails.
      for (const r of reads) r.resolve([]);
      for (const e of edits) {
        if (e.op === 'del') e.resolve([]);
        else e.reject(err);
      }
      return;
    }
    const changes = edits.map((request): Change => ({
      request,
      vips: request.op === 'add' ? [...request.vips] : vipsPresent(request.vips, present),
    }));
    const mine = (op: Op): { change: Change; vip: Vip }[] =>
      changes
        .filter((c) => c.request.op === op)
        .flatMap((c) => c.vips.map((vip) => ({ change: c, vip })));
    const outcomes = new Map<Change, { vip: Vip; outcome: ChangeOutcome }[]>(
      changes.map((c) => [c, []]),
    );
    const apply = async (op: Op, items: readonly { change: Change; vip: Vip }[]): Promise<void> => {
      if (items.length === 0) return;
      const wanted = items.map(({ vip }) => ({
        op,
        address: vip.address,
        prefix: vip.prefix,
        nodad: op === 'add' && isIpv6(vip),
      }));
      let results = await changeAddresses(link, wanted);
      if (index !== undefined && results.some((r) => r.kind === 'failed' && r.code === 'ENODEV')) {
        try {
          link = await linkByName(this.ifname);
          results = await changeAddresses(link, wanted);
        } catch {
          // No such interface after all: the ENODEV outcomes stand.
        }
      }
      items.forEach(({ change, vip }, i) =>
        outcomes.get(change)?.push({ vip, outcome: results[i] ?? { kind: 'done' } }),
      );
    };
    const order = removalOrder(
      mine('del').map((item) => ({ ...item.vip, item })),
      present,
    );
    const items = (vips: readonly { item: { change: Change; vip: Vip } }[]) =>
      vips.map((v) => v.item);
    // The primaries only once every secondary is acknowledged, not merely sent.
    await apply('del', items(order.secondaries));
    await apply('del', items(order.primaries));
    const restored = await this.putBack(link, changes, present);
    await apply('add', mine('add'));
    for (const c of changes) {
      const results = outcomes.get(c) ?? [];
      const failed = results.flatMap((r) => (r.outcome.kind === 'failed' ? [r.outcome.error] : []));
      const gone = results.filter((r) => r.outcome.kind === 'absent').map((r) => r.vip);
      if (gone.length > 0) {
        c.request.log?.debug(
          { event: 'vip-already-gone', interface: this.ifname, vips: gone.map((v) => v.address) },
          `${some(gone)} already gone from ${this.ifname}: counted as released`,
        );
      }
      const put = restored.get(c);
      if (put !== undefined) c.request.log?.[put.level](put.fields, put.message);
      if (failed.length === 0) c.request.resolve(c.vips);
      else c.request.reject(new VipError(`could not ${failed.join('; ')}`));
    }
  }

  /**
   * Puts back what the kernel deleted along with the primaries this run removed (none when the
   * interface has promote_secondaries: one was promoted and the rest stayed). One more read of
   * the interface, made only when a removed primary had other secondaries. Returns, per removal
   * that took something, the line to log: a removal did remove what it was asked to, so a failure
   * to put the others back is logged as an error, not reported as its own failure.
   */
  private async putBack(
    link: LinkRef,
    changes: readonly Change[],
    present: readonly InterfaceAddress[],
  ): Promise<Map<Change, { level: 'warn' | 'error'; fields: object; message: string }>> {
    const lines = new Map<Change, { level: 'warn' | 'error'; fields: object; message: string }>();
    const removals = changes.filter((c) => c.request.op === 'del');
    const removed = removals.flatMap((c) => c.vips);
    const mates = takenWith(removed, present);
    if (mates.length === 0) return lines;
    let missing: Vip[];
    let error: string | undefined;
    try {
      const now = await linkAddresses(link, [4]);
      missing = mates
        .filter((m) => !now.some((a) => same(a, m)))
        .map((m) => ({ address: m.address, prefix: m.prefix }));
      if (missing.length > 0) {
        const results = await changeAddresses(
          link,
          missing.map((m) => ({ op: 'add', address: m.address, prefix: m.prefix })),
        );
        const failed = results.flatMap((r) => (r.kind === 'failed' ? [r.error] : []));
        if (failed.length > 0) error = failed.join('; ');
      }
    } catch (err) {
      missing = mates;
      error = (err as Error).message;
    }
    if (missing.length === 0) return lines;
    for (const c of removals) {
      const took = takenWith(c.vips, present).filter((t) => missing.some((m) => same(m, t)));
      if (took.length === 0) continue;
      const fields = {
        event: error === undefined ? 'vips-put-back' : 'vips-put-back-failed',
        interface: this.ifname,
        removed: c.vips.filter((v) => cascades(v, present)).map((v) => v.address),
        count: took.length,
        ...(error === undefined ? {} : { err: error }),
      };
      const why = `removing the primary of their subnet deleted ${took.length} other address(es) (${some(took)}): promote_secondaries is off on ${this.ifname}`;
      lines.set(
        c,
        error === undefined
          ? { level: 'warn', fields, message: `${why}; put back` }
          : {
              level: 'error',
              fields,
              message: `${why}; putting them back FAILED: ${error}; they stay off ${this.ifname} until re-added (set net.ipv4.conf.${this.ifname}.promote_secondaries=1 to stop this)`,
            },
      );
    }
    return lines;
  }
}

const queues = new Map<string, InterfaceQueue>();

function queueFor(ifname: string): InterfaceQueue {
  let queue = queues.get(ifname);
  if (queue === undefined) {
    queue = new InterfaceQueue(ifname);
    queues.set(ifname, queue);
  }
  return queue;
}

/** The interface's addresses (both families), read after every change requested before this call. */
export function readAddresses(ifname: string): Promise<InterfaceAddress[]> {
  return queueFor(ifname).read();
}

export async function addVips(
  ifname: string,
  vips: readonly Vip[],
  signal?: AbortSignal,
  log?: Logger,
): Promise<void> {
  if (vips.length > 0) await queueFor(ifname).edit('add', vips, signal, log);
}

/**
 * Removes our VIPs from the interface; returns the ones that were there (those found already
 * gone by the time of their removal included: released either way). `log` gets the details
 * (debug: already gone; warn: other addresses the kernel took along, put back).
 */
export function removeVips(
  ifname: string,
  vips: readonly Vip[],
  signal?: AbortSignal,
  log?: Logger,
): Promise<Vip[]> {
  return vips.length > 0 ? queueFor(ifname).edit('del', vips, signal, log) : Promise.resolve([]);
}
