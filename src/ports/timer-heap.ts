/**
 * A Clock whose timers share one one-shot timer (ports/clock.ts OneShotTimer): the deadlines wait
 * in a heap (ports/deadline-heap.ts) and the timer is armed at the earliest. A link gives one to
 * the routers on it (daemon/link.ts): one timer and one wake-up per distinct deadline, however
 * many routers.
 *
 * Contract:
 * - `schedule(at, fn)` runs `fn` once, never before `at` by `now()`; its cancel function stops it
 *   any time before it runs, from inside another callback of the same firing too.
 * - When the timer fires, `beforeDue(run)` is called first: it handles the I/O already waiting
 *   (the link reads its socket, so no deadline is decided ahead of an advert that has arrived),
 *   then calls `run`, which runs every entry due by then in deadline order (equal deadlines in the
 *   order scheduled) and arms the timer at the next deadline, once for the lot.
 * - After close() nothing runs and schedule() queues nothing.
 */
import type { Clock, OneShotTimer, TimerClock } from './clock.js';
import { DeadlineHeap, type DeadlineEntry } from './deadline-heap.js';

/** A scheduled callback; `live` turns false when it ran or was cancelled. */
interface Job {
  readonly fn: () => void;
  live: boolean;
}

export class TimerHeap implements Clock {
  private readonly heap = new DeadlineHeap<Job>();
  private readonly timer: OneShotTimer;
  /** The deadline the timer is armed at; undefined before the first and once it fired. */
  private armedAt: number | undefined;
  /** Due jobs are running: they may schedule and cancel, the timer is armed once after them. */
  private running = false;
  private closed = false;

  constructor(
    private readonly clock: TimerClock,
    private readonly beforeDue: (run: () => void) => void,
  ) {
    this.timer = clock.timer(() => {
      this.armedAt = undefined;
      this.beforeDue(() => this.runDue());
    });
  }

  now(): number {
    return this.clock.now();
  }

  schedule(at: number, fn: () => void): () => void {
    if (this.closed) return () => undefined;
    const job: Job = { fn, live: true };
    const entry = this.heap.push(at, job);
    this.rearm();
    return () => this.cancel(entry);
  }

  close(): void {
    this.closed = true;
    this.timer.close();
  }

  private cancel(entry: DeadlineEntry<Job>): void {
    entry.value.live = false;
    if (this.heap.remove(entry)) this.rearm();
  }

  private runDue(): void {
    if (this.closed) return;
    const now = this.clock.now();
    const due: Job[] = [];
    while ((this.heap.peek() ?? Infinity) <= now) {
      due.push((this.heap.pop() as DeadlineEntry<Job>).value);
    }
    this.running = true;
    try {
      for (const job of due) {
        if (!job.live) continue;
        job.live = false;
        job.fn();
      }
    } finally {
      this.running = false;
      this.rearm();
    }
  }

  private rearm(): void {
    if (this.running || this.closed) return;
    const next = this.heap.peek();
    // An empty heap leaves the timer as it is: a router cancels its deadline just before it
    // schedules the next (a backup on every advert it hears), so disarming would be a wasted
    // system call each time; a firing with nothing due costs one wake-up, and nothing runs.
    if (next === undefined || next === this.armedAt) return;
    this.armedAt = next;
    this.timer.arm(next);
  }
}
