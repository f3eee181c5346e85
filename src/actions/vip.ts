/**
 * Adds and removes virtual addresses on an interface. Every call is idempotent: adding uses
 * `addr replace`, which succeeds whether or not the address is there; removing reads what the
 * kernel has and deletes only our VIPs that are present (whatever prefix a crashed run left them
 * with).
 *
 * Why a queue per interface: spawning a process blocks Node's event loop for 10-25 ms (fork of
 * a large process), so 128 routers changing state together, each spawning its own `ip`, held
 * the loop for seconds, their peers' adverts waited behind expired timers, and every spurious
 * takeover spawned more. So at most one `ip` runs per interface at a time, and every request
 * made while it runs is folded into the next run: one read of the interface for all that need
 * it, then ONE `ip -batch` for all the changes (1,000 VIPs or 128 routers cost one process). A
 * read never joins a run that started before it was asked for, and a read asked for after a
 * change waits until that change is done, so a caller always sees its own earlier changes. If a
 * shared batch fails, each request is retried alone, so each gets its own error.
 */
import { execa } from 'execa';
import type { Vip } from '../config/instance.js';
import { readInterface, type InterfaceAddress } from '../net/interface.js';

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

type Op = 'replace' | 'del';

function script(ifname: string, ops: readonly { op: Op; vips: readonly Vip[] }[]): string {
  return ops
    .flatMap(({ op, vips }) =>
      vips.map((v) => `addr ${op} ${v.address}/${v.prefix} dev ${ifname}\n`),
    )
    .join('');
}

async function batch(
  ifname: string,
  ops: readonly { op: Op; vips: readonly Vip[] }[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const result = await execa('ip', ['-batch', '-'], {
    input: script(ifname, ops),
    reject: false,
    cancelSignal: signal,
  });
  if (result.exitCode !== 0) {
    const what = [...new Set(ops.map((o) => o.op))].join('/');
    const why = result.isCanceled ? 'killed at its timeout' : result.stderr.trim();
    throw new VipError(`ip -batch (${what}) on ${ifname} failed: ${why}`);
  }
}

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
  op: Op;
  vips: Vip[];
}

/** Aborted once every one of the signals has (a signal-less request never gives up). */
function allAborted(signals: readonly (AbortSignal | undefined)[]): AbortSignal {
  const controller = new AbortController();
  let left = signals.length;
  for (const s of signals) {
    if (s === undefined) continue;
    s.addEventListener(
      'abort',
      () => {
        if (--left === 0) controller.abort(s.reason);
      },
      { once: true },
    );
  }
  return controller.signal;
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
    if (reads.length > 0 || removals.length > 0) {
      try {
        present = (await readInterface(this.ifname)).addresses;
        for (const r of reads) r.resolve(present);
      } catch (err) {
        for (const r of [...reads, ...removals]) r.reject(err);
      }
    }
    const changes = edits.flatMap((e): Change[] => {
      if (e.op === 'replace') return [{ request: e, op: e.op, vips: [...e.vips] }];
      if (present === undefined) return [];
      return [{ request: e, op: e.op, vips: vipsPresent(e.vips, present) }];
    });
    const work = changes.filter((c) => c.vips.length > 0);
    try {
      if (work.length > 0) {
        await batch(this.ifname, work, allAborted(work.map((c) => c.request.signal)));
      }
      for (const c of changes) c.request.resolve(c.vips);
    } catch (err) {
      if (work.length === 1) {
        for (const c of changes) {
          if (c === work[0]) c.request.reject(err);
          else c.request.resolve(c.vips);
        }
        return;
      }
      // Who failed is not in ip's message: each alone, so each gets its own answer.
      for (const c of changes) await this.alone(c.request);
    }
  }

  private async alone(e: EditRequest): Promise<void> {
    try {
      const vips =
        e.op === 'replace'
          ? [...e.vips]
          : vipsPresent(e.vips, (await readInterface(this.ifname)).addresses);
      if (vips.length > 0) await batch(this.ifname, [{ op: e.op, vips }], e.signal);
      e.resolve(vips);
    } catch (err) {
      e.reject(err);
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
  if (vips.length > 0) await queueFor(ifname).edit('replace', vips, signal);
}

/** Removes our VIPs from the interface; returns the ones that were there. */
export function removeVips(
  ifname: string,
  vips: readonly Vip[],
  signal?: AbortSignal,
): Promise<Vip[]> {
  return vips.length > 0 ? queueFor(ifname).edit('del', vips, signal) : Promise.resolve([]);
}
