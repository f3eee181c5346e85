/**
 * Time for the imperative shell. The state machine never reads a clock: the shell passes `now()`
 * into it and arms one timer at the deadline the machine asks for. Monotonic time is used so a
 * wall-clock jump (NTP step, operator `date -s`) can never fire or postpone a failover.
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Run `fn` at time `at` (or at once if that has passed); returns a cancel function. */
  schedule(at: number, fn: () => void): () => void;
}

export const monotonicClock: Clock = {
  now: () => performance.now(),
  schedule(at, fn) {
    const handle = setTimeout(fn, Math.max(0, at - performance.now()));
    return () => clearTimeout(handle);
  },
};
