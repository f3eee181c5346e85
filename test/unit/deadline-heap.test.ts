/**
 * The deadline heap (ports/deadline-heap.ts) against a sorted-array model, and the clock built on
 * it (ports/timer-heap.ts) on a fake one-shot timer: due callbacks run in deadline order after
 * `beforeDue`, never before their deadline, cancellation holds from anywhere, and the timer is
 * armed at the earliest deadline, once per change.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OneShotTimer, TimerClock } from '../../src/ports/clock.js';
import { DeadlineHeap, type DeadlineEntry } from '../../src/ports/deadline-heap.js';
import { TimerHeap } from '../../src/ports/timer-heap.js';

type Op = { op: 'push'; at: number } | { op: 'pop' } | { op: 'remove'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  // Few distinct deadlines, so ties (first pushed, first out) are common.
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('push'), at: fc.integer({ min: 0, max: 20 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pop') }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove'), pick: fc.nat() }) },
) as fc.Arbitrary<Op>;

describe('DeadlineHeap', () => {
  it('pops earliest first, equal deadlines in push order, and removes from anywhere', () => {
    const heap = new DeadlineHeap<string>();
    const c = heap.push(5, 'c');
    heap.push(1, 'a');
    heap.push(5, 'd');
    heap.push(3, 'b');
    expect(heap.peek()).toBe(1);
    expect(heap.remove(c)).toBe(true);
    expect(heap.remove(c)).toBe(false);
    expect([heap.pop(), heap.pop(), heap.pop()].map((e) => e?.value)).toEqual(['a', 'b', 'd']);
    expect(heap.pop()).toBeUndefined();
    expect(heap.peek()).toBeUndefined();
  });

  it('behaves as a sorted array under any sequence of push, pop and remove', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const heap = new DeadlineHeap<number>();
        let model: { at: number; id: number }[] = [];
        const handles: DeadlineEntry<number>[] = [];
        let id = 0;
        for (const o of ops) {
          if (o.op === 'push') {
            handles.push(heap.push(o.at, id));
            model.push({ at: o.at, id });
            // Stable: a tie keeps the earlier push first.
            model.sort((a, b) => a.at - b.at);
            id += 1;
          } else if (o.op === 'pop') {
            expect(heap.pop()?.value).toBe(model.shift()?.id);
          } else if (handles.length > 0) {
            const handle = handles[o.pick % handles.length] as DeadlineEntry<number>;
            const queued = model.some((m) => m.id === handle.value);
            expect(heap.remove(handle)).toBe(queued);
            model = model.filter((m) => m.id !== handle.value);
          }
          expect(heap.size).toBe(model.length);
          expect(heap.peek()).toBe(model[0]?.at);
        }
        const rest: number[] = [];
        for (let e = heap.pop(); e !== undefined; e = heap.pop()) rest.push(e.value);
        expect(rest).toEqual(model.map((m) => m.id));
      }),
      { numRuns: 500 },
    );
  });
});

/** A clock whose time the test sets, and its one timer, fired by hand. */
class FakeClock implements TimerClock {
  t = 0;
  armed: number | undefined;
  arms = 0;
  closed = false;
  private onFire: () => void = () => undefined;

  now(): number {
    return this.t;
  }

  schedule(): () => void {
    throw new Error('the heap schedules through its own timer');
  }

  timer(onFire: () => void): OneShotTimer {
    this.onFire = onFire;
    return {
      arm: (at) => {
        this.armed = at;
        this.arms += 1;
      },
      close: () => (this.closed = true),
    };
  }

  /** Time moves to `t` and the timer fires (as a real one would once armed at or before `t`). */
  fire(t: number): void {
    this.t = t;
    this.armed = undefined;
    this.onFire();
  }
}

describe('TimerHeap', () => {
  function setup() {
    const clock = new FakeClock();
    const log: string[] = [];
    const timers = new TimerHeap(clock, (run) => {
      log.push('read queued');
      run();
    });
    return { clock, log, timers };
  }

  it('arms one timer at the earliest deadline and runs what is due, in order, after beforeDue', () => {
    const { clock, log, timers } = setup();
    timers.schedule(30, () => log.push('c'));
    timers.schedule(10, () => log.push('a'));
    timers.schedule(10, () => log.push('b'));
    timers.schedule(50, () => log.push('late'));
    expect(clock.armed).toBe(10);
    clock.fire(30.5);
    expect(log).toEqual(['read queued', 'a', 'b', 'c']);
    expect(clock.armed).toBe(50);
  });

  it('never runs a callback before its deadline: an early firing re-arms', () => {
    const { clock, log, timers } = setup();
    timers.schedule(10, () => log.push('a'));
    clock.fire(9.999);
    expect(log).toEqual(['read queued']);
    expect(clock.armed).toBe(10);
    clock.fire(10);
    expect(log).toEqual(['read queued', 'read queued', 'a']);
    expect(clock.armed).toBeUndefined();
  });

  it('leaves the timer armed when the heap empties: a firing with nothing due runs nothing', () => {
    const { clock, log, timers } = setup();
    const cancel = timers.schedule(10, () => log.push('a'));
    cancel();
    expect(clock.armed).toBe(10);
    // What a backup does on each advert: cancel, then schedule later; one arm, not two calls.
    const arms = clock.arms;
    timers.schedule(20, () => log.push('b'))();
    timers.schedule(30, () => log.push('c'));
    expect([clock.arms - arms, clock.armed]).toEqual([2, 30]);
    clock.fire(25);
    expect(log).toEqual(['read queued']);
    expect(clock.armed).toBe(30);
  });

  it('cancels before the firing, from beforeDue, and from an earlier callback of the same firing', () => {
    const clock = new FakeClock();
    const log: string[] = [];
    let cancelFromRead: () => void = () => undefined;
    const timers = new TimerHeap(clock, (run) => {
      // An advert read here cancels the master-down deadline that was about to run.
      cancelFromRead();
      run();
    });
    const cancelA = timers.schedule(5, () => log.push('a'));
    cancelFromRead = timers.schedule(10, () => log.push('b'));
    let cancelD: () => void = () => undefined;
    timers.schedule(11, () => {
      log.push('c');
      cancelD();
    });
    cancelD = timers.schedule(12, () => log.push('d'));
    cancelA();
    expect(clock.armed).toBe(10);
    clock.fire(20);
    expect(log).toEqual(['c']);
  });

  it('arms once per firing however much the callbacks re-schedule, and runs a re-armed past deadline next time', () => {
    const { clock, log, timers } = setup();
    for (let i = 0; i < 100; i++) {
      timers.schedule(10, () => {
        log.push(`r${i}`);
        timers.schedule(clock.now() + 100, () => log.push(`next r${i}`));
      });
    }
    const armsBefore = clock.arms;
    clock.fire(10);
    expect(log).toHaveLength(101);
    expect(clock.arms - armsBefore).toBe(1);
    expect(clock.armed).toBe(110);
    // A deadline already past when scheduled from a callback waits for the next firing.
    timers.schedule(50, () => timers.schedule(0, () => log.push('past')));
    clock.fire(60);
    expect(log.at(-1)).toBe('read queued');
    expect(clock.armed).toBe(0);
    clock.fire(60);
    expect(log.at(-1)).toBe('past');
  });

  it('runs nothing and queues nothing once closed', () => {
    const { clock, log, timers } = setup();
    timers.schedule(10, () => log.push('a'));
    timers.close();
    expect(clock.closed).toBe(true);
    timers.schedule(20, () => log.push('b'));
    clock.fire(30);
    expect(log).toEqual(['read queued']);
  });
});
