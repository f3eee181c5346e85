/**
 * The cluster's ownership as the real state machine elects it, in simulated time: one simulator
 * per node number (its routers are the boxes, with the priorities of ownership.ts), all driven by
 * the same random crashes, restarts and partitions. After the chaos stops and one master-down
 * interval (+ an advert and the delay) passes, every number has exactly one master and it is the
 * owner `converged` predicts for the live boxes; with preemption off a returning box takes
 * nothing back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { uint32ToIpv4 } from '../../src/net/address.js';
import {
  converged,
  homeNumbers,
  priorityFor,
  type ClusterShape,
} from '../../src/cluster/ownership.js';
import { masterDownIntervalMs, type FsmConfig } from '../../src/vrrp/fsm.js';
import { Simulator } from '../support/sim.js';

const INTERVAL_CS = 100;
const DELAY_MS = 5;

/** One simulator per number; router index b - 1 is box b. */
function cluster(shape: ClusterShape, preempt: boolean, seed: number): Simulator[] {
  return Array.from({ length: shape.totalNodes }, (_, i) => {
    const configs: FsmConfig[] = Array.from({ length: shape.boxes }, (_, b) => ({
      version: 3,
      priority: priorityFor(i + 1, b + 1, shape),
      advertIntervalCs: INTERVAL_CS,
      preempt,
      preemptDelayMs: 0,
      accept: false,
      primaryAddress: uint32ToIpv4(0x0a630001 + b),
      reassertOnLower: true,
    }));
    return new Simulator(configs, { seed: seed + i, delayMs: { min: 1, max: DELAY_MS } });
  });
}

/** Each number's masters, as box numbers. */
function masters(sims: Simulator[]): number[][] {
  return sims.map((s) => s.masters().map((r) => r + 1));
}

const settleMs = (shape: ClusterShape): number =>
  Math.max(
    ...Array.from({ length: shape.boxes }, (_, b) =>
      masterDownIntervalMs(
        {
          version: 3,
          priority: priorityFor(1, b + 1, shape),
          advertIntervalCs: INTERVAL_CS,
          preempt: true,
          preemptDelayMs: 0,
          accept: false,
          primaryAddress: '0.0.0.0',
          reassertOnLower: true,
        },
        INTERVAL_CS,
      ),
    ),
  ) +
  INTERVAL_CS * 10 +
  DELAY_MS;

type Op =
  | { kind: 'crash' | 'restart'; box: number }
  | { kind: 'partition'; side: number[] }
  | { kind: 'heal' };

describe('cluster election in simulated time', () => {
  it('after any chaos, each number has exactly the predicted owner among the live boxes', () => {
    const arb = fc.integer({ min: 2, max: 5 }).chain((boxes) =>
      fc.record({
        shape: fc.record({
          boxes: fc.constant(boxes),
          totalNodes: fc.integer({ min: boxes, max: 2 * boxes }),
        }),
        seed: fc.nat(),
        ops: fc.array(
          fc.oneof(
            fc.record({
              kind: fc.constantFrom<'crash' | 'restart'>('crash', 'restart'),
              box: fc.integer({ min: 1, max: boxes }),
            }),
            fc.record({
              kind: fc.constant<'partition'>('partition'),
              side: fc.subarray(Array.from({ length: boxes }, (_, i) => i + 1)),
            }),
            fc.record({ kind: fc.constant<'heal'>('heal') }),
          ),
          { maxLength: 12 },
        ),
        gapsMs: fc.array(fc.integer({ min: 0, max: 4000 }), { minLength: 12, maxLength: 12 }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ shape, seed, ops, gapsMs }) => {
        const sims = cluster(shape, true, seed);
        const alive = new Set<number>();
        const all = Array.from({ length: shape.boxes }, (_, i) => i + 1);
        for (const b of all) {
          alive.add(b);
          for (const s of sims) s.start(b - 1);
        }
        ops.forEach((op: Op, i) => {
          for (const s of sims) s.runFor(gapsMs[i] ?? 0);
          if (op.kind === 'crash' && alive.has(op.box)) {
            alive.delete(op.box);
            for (const s of sims) s.crash(op.box - 1);
          } else if (op.kind === 'restart' && !alive.has(op.box)) {
            alive.add(op.box);
            for (const s of sims) s.start(op.box - 1);
          } else if (op.kind === 'partition') {
            const other = all.filter((b) => !op.side.includes(b));
            for (const s of sims) s.partition([op.side.map((b) => b - 1), other.map((b) => b - 1)]);
          } else if (op.kind === 'heal') {
            for (const s of sims) s.heal();
          }
        });
        for (const s of sims) {
          s.heal();
          s.runFor(settleMs(shape));
        }
        const want = converged(alive, shape);
        expect(masters(sims)).toEqual(
          [...want.values()].map((owner) => (owner === undefined ? [] : [owner])),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('preemption off: a returning box takes none of its numbers back', () => {
    const shape = { boxes: 3, totalNodes: 6 };
    const sims = cluster(shape, false, 42);
    for (const b of [1, 2, 3]) for (const s of sims) s.start(b - 1);
    for (const s of sims) s.runFor(settleMs(shape));
    expect(masters(sims)).toEqual([[1], [2], [3], [1], [2], [3]]);
    for (const s of sims) s.crash(1);
    for (const s of sims) s.runFor(settleMs(shape));
    const without2 = converged(new Set([1, 3]), shape);
    expect(masters(sims)).toEqual([...without2.values()].map((o) => [o]));
    for (const s of sims) s.start(1);
    for (const s of sims) s.runFor(5 * settleMs(shape));
    expect(masters(sims)).toEqual([...without2.values()].map((o) => [o]));
    expect(homeNumbers(2, shape).every((n) => masters(sims)[n - 1]?.[0] !== 2)).toBe(true);
  });
});
