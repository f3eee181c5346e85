/**
 * Adds and removes virtual addresses on an interface, through rtnetlink (net/netlink.ts). Every
 * call is idempotent: adding replaces the address if it is there; removing reads what the
 * kernel has and deletes only our VIPs that are present (whatever prefix a crashed run left them
 * with).
 *
 * One queue per interface: one run at a time, and every request made while a run is under way
 * (or in the same turn of the loop as the first) is folded into the next, so 128 routers
 * changing state together cost one read of the interface, not 128. A read never joins a run
 * that started before it was asked for, and a read asked for after a change waits until that
 * change is done, so a caller always sees its own earlier changes. Each request still gets its
 * own outcome: its changes' errors, or what it removed.
 */
import type { Vip } from '../config/instance.js';
import { type InterfaceAddress } from '../net/interface.js';
import { changeAddresses, ipv4Addresses, linkByName, type AddressChange } from '../net/netlink.js';

export class VipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VipError';
  }
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

  edit(op: Op, vips: readonly Vip[], signal: AbortSignal | undefined): Promise<Vip[]> {
    return new Promise((resolve, reject) =>
      this.enqueue({ kind: 'edit', op, vips, signal, resolve, reject }),
    );
  }

  private enqueue(request: Pending): void {
    this.pending.push(request);
    if (this.running) return;
    this.running = true;
    // Requests made in this turn of the loop join the first run too.
    setImmediate(() => void this.drain());
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
    let present: InterfaceAddress[] | undefined;
    let link;
    try {
      link = await linkByName(this.ifname);
      if (reads.length > 0 || removals.length > 0) present = await ipv4Addresses(link);
      for (const r of reads) r.resolve(present ?? []);
    } catch (err) {
      for (const r of [...reads, ...edits]) r.reject(err);
      return;
    }
    const changes = edits.map((request): Change => ({
      request,
      vips: request.op === 'add' ? [...request.vips] : vipsPresent(request.vips, present ?? []),
    }));
    const flat = changes.flatMap((c) =>
      c.vips.map((v): AddressChange => ({
        op: c.request.op,
        address: v.address,
        prefix: v.prefix,
      })),
    );
    const errors = await changeAddresses(link, flat);
    let at = 0;
    for (const c of changes) {
      const mine = errors.slice(at, at + c.vips.length).filter((e) => e !== undefined);
      at += c.vips.length;
      if (mine.length === 0) c.request.resolve(c.vips);
      else c.request.reject(new VipError(`could not ${mine.join('; ')}`));
    }
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

/** The interface's IPv4 addresses, read after every change requested before this call. */
export function readAddresses(ifname: string): Promise<InterfaceAddress[]> {
  return queueFor(ifname).read();
}

export async function addVips(
  ifname: string,
  vips: readonly Vip[],
  signal?: AbortSignal,
): Promise<void> {
  if (vips.length > 0) await queueFor(ifname).edit('add', vips, signal);
}

/** Removes our VIPs from the interface; returns the ones that were there. */
export function removeVips(
  ifname: string,
  vips: readonly Vip[],
  signal?: AbortSignal,
): Promise<Vip[]> {
  return vips.length > 0 ? queueFor(ifname).edit('del', vips, signal) : Promise.resolve([]);
}
