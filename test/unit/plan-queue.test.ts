/**
 * The plan queue (runtime/plan-queue.ts): plans run one after another in issue order; a cancelled
 * plan stops through its signal if running, never starts if queued, and every plan reports once.
 */
import { describe, expect, it } from 'vitest';
import { PlanQueue, type PlanOutcome } from '../../src/runtime/plan-queue.js';

/** A plan that runs until its signal aborts or `release` is called. */
function controllable(log: string[], name: string) {
  let release: () => void = () => undefined;
  const run = (signal: AbortSignal): Promise<PlanOutcome> => {
    log.push(`start ${name}`);
    return new Promise((resolve) => {
      release = () => resolve({ ok: true, cancelled: false });
      signal.addEventListener('abort', () => resolve({ ok: false, cancelled: true }));
    });
  };
  return { run, release: () => release() };
}

describe('PlanQueue', () => {
  it('runs plans in order, one at a time, each reporting once', async () => {
    const queue = new PlanQueue();
    const log: string[] = [];
    const a = controllable(log, 'a');
    const b = controllable(log, 'b');
    queue.enqueue(1, a.run, (o) => log.push(`done a ${o.ok}`));
    queue.enqueue(2, b.run, (o) => log.push(`done b ${o.ok}`));
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['start a']);
    a.release();
    await new Promise((r) => setImmediate(r));
    b.release();
    await queue.idle();
    expect(log).toEqual(['start a', 'done a true', 'start b', 'done b true']);
  });

  it('cancel stops a running plan and skips a queued one', async () => {
    const queue = new PlanQueue();
    const log: string[] = [];
    const outcomes: PlanOutcome[] = [];
    const a = controllable(log, 'a');
    const b = controllable(log, 'b');
    const c = controllable(log, 'c');
    queue.enqueue(1, a.run, (o) => outcomes.push(o));
    queue.enqueue(2, b.run, (o) => outcomes.push(o));
    queue.enqueue(3, c.run, (o) => outcomes.push(o));
    await new Promise((r) => setImmediate(r));
    queue.cancel(1, 'left master');
    queue.cancel(2, 'superseded');
    await new Promise((r) => setImmediate(r));
    c.release();
    await queue.idle();
    expect(log).toEqual(['start a', 'start c']);
    expect(outcomes).toEqual([
      { ok: false, cancelled: true },
      { ok: false, cancelled: true },
      { ok: true, cancelled: false },
    ]);
  });

  it('a plan that throws reports a failure with the reason and the queue goes on', async () => {
    const queue = new PlanQueue();
    const outcomes: PlanOutcome[] = [];
    queue.enqueue(
      1,
      () => Promise.reject(new Error('netlink socket closed')),
      (o) => outcomes.push(o),
    );
    queue.enqueue(
      2,
      () => Promise.resolve({ ok: true, cancelled: false }),
      (o) => outcomes.push(o),
    );
    await queue.idle();
    expect(outcomes).toEqual([
      { ok: false, cancelled: false, detail: 'netlink socket closed' },
      { ok: true, cancelled: false },
    ]);
  });
});
