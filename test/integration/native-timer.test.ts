// The addon's one-shot timer (native/timer.cc) and the deadline heap on it (ports/timer-heap.ts
// over monotonicClock), on the real kernel: a callback never runs before its deadline and runs
// within a bound a loaded 2-core machine keeps; due callbacks run in deadline order; a cancelled
// one never runs; re-arming replaces the deadline (even one already expired but not yet
// delivered); the timer may be closed from its own callback and refuses to arm afterwards; an armed timer keeps a process alive and an idle
// one does not. No namespace: a timerfd needs neither root nor a network.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { monotonicClock } from '../../src/ports/clock.js';
import { TimerHeap } from '../../src/ports/timer-heap.js';
import { loadNative, type NativeCallError } from '../../src/native.js';
import { packageRoot } from '../../src/runtime/package.js';

/** Late past a deadline by at most this much, on a loaded machine (the bench has the figures). */
const BOUND_MS = 250;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

describe('timer heap on the native timer', () => {
  it('runs every callback at or after its deadline, in deadline order, within the bound', async () => {
    const timers = new TimerHeap(monotonicClock, (run) => run());
    const start = monotonicClock.now();
    const ran: { at: number; now: number }[] = [];
    const deadlines = Array.from({ length: 60 }, (_, i) => start + 5 + ((i * 7919) % 300) / 10);
    await new Promise<void>((done) => {
      for (const at of deadlines) {
        timers.schedule(at, () => {
          ran.push({ at, now: monotonicClock.now() });
          if (ran.length === deadlines.length) done();
        });
      }
    });
    timers.close();
    const late = ran.map((r) => r.now - r.at).sort((a, b) => a - b);
    console.log(
      `[measure] native timer heap: ${late.length} deadlines late by min ${late[0]?.toFixed(3)} / median ${percentile(late, 50).toFixed(3)} / p99 ${percentile(late, 99).toFixed(3)} ms`,
    );
    expect(late[0]).toBeGreaterThanOrEqual(0);
    expect(late.at(-1)).toBeLessThan(BOUND_MS);
    expect(ran.map((r) => r.at)).toEqual([...deadlines].sort((a, b) => a - b));
  });

  it('never runs a cancelled callback', async () => {
    const timers = new TimerHeap(monotonicClock, (run) => run());
    const ran: string[] = [];
    const now = monotonicClock.now();
    const cancel = timers.schedule(now + 10, () => ran.push('cancelled'));
    timers.schedule(now + 20, () => ran.push('kept'));
    cancel();
    await sleep(80);
    timers.close();
    expect(ran).toEqual(['kept']);
  });
});

describe('native timer', () => {
  it('fires once per arm, re-arming replaces, close works from onFire', async () => {
    const fired: number[] = [];
    const timer = loadNative().timer(() => fired.push(monotonicClock.now()));
    const at = monotonicClock.now() + 15;
    timer.arm(at - 10);
    timer.arm(at);
    await sleep(60);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(at);
    // Expired, and replaced before the loop could deliver it: only the new deadline fires.
    const busyUntil = monotonicClock.now() + 10;
    timer.arm(monotonicClock.now() + 1);
    while (monotonicClock.now() < busyUntil);
    const later = monotonicClock.now() + 30;
    timer.arm(later);
    await sleep(15);
    expect(fired).toHaveLength(1);
    await sleep(60);
    expect(fired).toHaveLength(2);
    expect(fired[1]).toBeGreaterThanOrEqual(later);
    // A deadline already past fires on the loop's next turn.
    const closed = new Promise<void>((resolve) => {
      const self = loadNative().timer(() => {
        self.close();
        self.close();
        resolve();
      });
      self.arm(0);
    });
    await closed;
    timer.close();
    let err: NativeCallError | undefined;
    try {
      timer.arm(monotonicClock.now() + 1);
    } catch (e) {
      err = e as NativeCallError;
    }
    expect(err?.syscall).toBe('timerfd_settime');
    expect(err?.errno).toBe(9);
  });

  it('keeps its process alive while armed, and only then', async () => {
    const addon = join(packageRoot(), 'build/Release/vipd_native.node');
    const script = (arm: boolean): string =>
      `const t = require(${JSON.stringify(addon)}).timer(() => console.log('fired'));` +
      (arm ? 't.arm(Number(process.hrtime.bigint()) / 1e6 + 100);' : '');
    const run = promisify(execFile);
    const armed = await run(process.execPath, ['-e', script(true)]);
    expect(armed.stdout).toBe('fired\n');
    const idle = await run(process.execPath, ['-e', script(false)], { timeout: 10_000 });
    expect(idle.stdout).toBe('');
  });
});
