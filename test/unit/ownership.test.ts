/**
 * The cluster's ownership rules: every number has exactly one home, the priorities rank the
 * boxes in the preference order (so the VRRP election converges to `converged`), and a dead
 * box's numbers spread over the survivors within one of each other, moving nothing else.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  converged,
  homeBox,
  homeNumbers,
  ownedBy,
  preferenceOrder,
  priorityFor,
  type ClusterShape,
} from '../../src/cluster/ownership.js';

const shapes = fc
  .integer({ min: 1, max: 16 })
  .chain((boxes) =>
    fc.record({ boxes: fc.constant(boxes), totalNodes: fc.integer({ min: boxes, max: 32 }) }),
  );

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

describe('cluster ownership', () => {
  it('three boxes, six numbers: homes, fallbacks and the spread of a dead box', () => {
    const shape: ClusterShape = { boxes: 3, totalNodes: 6 };
    expect(range(3).map((b) => homeNumbers(b, shape))).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
    expect(preferenceOrder(2, shape)).toEqual([2, 3, 1]);
    expect(preferenceOrder(5, shape)).toEqual([2, 1, 3]);
    expect(range(3).map((b) => priorityFor(2, b, shape))).toEqual([240, 250, 245]);
    const without2 = new Set([1, 3]);
    expect(ownedBy(1, without2, shape)).toEqual([1, 4, 5]);
    expect(ownedBy(3, without2, shape)).toEqual([2, 3, 6]);
  });

  it('every number has one home; all alive, every box owns exactly its home numbers', () => {
    fc.assert(
      fc.property(shapes, (shape) => {
        const homes = range(shape.boxes).flatMap((b) => homeNumbers(b, shape));
        expect(homes.sort((a, b) => a - b)).toEqual(range(shape.totalNodes));
        const all = new Set(range(shape.boxes));
        for (let b = 1; b <= shape.boxes; b += 1) {
          expect(homeNumbers(b, shape).length).toBeGreaterThan(0);
          expect(ownedBy(b, all, shape)).toEqual(homeNumbers(b, shape));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('priorities are distinct per number, inside 1..254, and rank boxes in preference order', () => {
    fc.assert(
      fc.property(shapes, (shape) => {
        for (let n = 1; n <= shape.totalNodes; n += 1) {
          const order = preferenceOrder(n, shape);
          expect([...order].sort((a, b) => a - b)).toEqual(range(shape.boxes));
          expect(order[0]).toBe(homeBox(n, shape));
          const prios = order.map((b) => priorityFor(n, b, shape));
          for (const p of prios) expect(p >= 1 && p <= 254).toBe(true);
          expect([...prios].sort((a, b) => b - a)).toEqual(prios);
          expect(new Set(prios).size).toBe(prios.length);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('with any boxes dead, each number goes to its highest-priority live box (what VRRP elects)', () => {
    fc.assert(
      fc.property(
        shapes.chain((shape) =>
          fc.tuple(fc.constant(shape), fc.subarray(range(shape.boxes), { minLength: 1 })),
        ),
        ([shape, alive]) => {
          const live = new Set(alive);
          for (const [n, owner] of converged(live, shape)) {
            const best = alive.reduce((a, b) =>
              priorityFor(n, a, shape) >= priorityFor(n, b, shape) ? a : b,
            );
            expect(owner).toBe(best);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('one dead box: only its numbers move, spread over the survivors within one of each other', () => {
    fc.assert(
      fc.property(
        shapes
          .filter((s) => s.boxes >= 2)
          .chain((shape) => fc.tuple(fc.constant(shape), fc.integer({ min: 1, max: shape.boxes }))),
        ([shape, dead]) => {
          const alive = new Set(range(shape.boxes).filter((b) => b !== dead));
          const inherited = new Map<number, number>();
          for (const [n, owner] of converged(alive, shape)) {
            expect(owner).toBeDefined();
            if (homeBox(n, shape) !== dead) expect(owner).toBe(homeBox(n, shape));
            else inherited.set(owner ?? 0, (inherited.get(owner ?? 0) ?? 0) + 1);
          }
          const counts = [...alive].map((b) => inherited.get(b) ?? 0);
          expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 500 },
    );
  });
});
