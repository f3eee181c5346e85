/**
 * Time for the imperative shell. The state machine never reads a clock: the shell passes `now()`
 * into it and arms one timer at the deadline the machine asks for. Monotonic time is used so a
 * wall-clock jump (NTP step, operator `date -s`) can never fire or postpone a failover.
 */
import { loadNative } from '../native.js';

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /**
   * Run `fn` at time `at` (or at once if that has passed); returns a cancel function. A real
   * clock runs `fn` only after the I/O that is already waiting has been handled.
   */
  schedule(at: number, fn: () => void): () => void;
}

/** One deadline at a time, on the scale of the clock that made it: what a timer heap runs on. */
export interface OneShotTimer {
  /** Calls the timer's callback once at `at` (at once if that has passed); replaces the last. */
  arm(at: number): void;
  close(): void;
}

/** A clock that also makes one-shot timers on its own scale (ports/timer-heap.ts uses them). */
export interface TimerClock extends Clock {
  timer(onFire: () => void): OneShotTimer;
}

/** CLOCK_MONOTONIC in milliseconds, to the nanosecond: the scale the addon's timers take. */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const monotonicClock: TimerClock = {
  now: monotonicMs,
  schedule(at, fn) {
    // Node runs expired timers before it reads sockets. After the loop was held (a spawn, GC,
    // a loaded machine), a backup's master-down timer would fire while the master's advert
    // waits unread in the socket: a takeover from a master that never went away. Deferring to
    // setImmediate lets that advert be read first, and its handling cancels this timer.
    let immediate: NodeJS.Immediate | undefined;
    const handle = setTimeout(
      () => {
        immediate = setImmediate(fn);
      },
      Math.max(0, at - monotonicMs()),
    );
    return () => {
      clearTimeout(handle);
      if (immediate !== undefined) clearImmediate(immediate);
    };
  },
  // The addon's timerfd: a router's deadline met to the tens of microseconds, not to the loop's
  // millisecond (issue 17).
  timer: (onFire) => loadNative().timer(onFire),
};
