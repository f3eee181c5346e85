/**
 * Time for the imperative shell. The state machine never reads a clock: the shell passes `now()`
 * into it and arms one timer at the deadline the machine asks for. Monotonic time is used so a
 * wall-clock jump (NTP step, operator `date -s`) can never fire or postpone a failover.
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /**
   * Run `fn` at time `at` (or at once if that has passed); returns a cancel function. A real
   * clock runs `fn` only after the I/O that is already waiting has been handled.
   */
  schedule(at: number, fn: () => void): () => void;
}

export const monotonicClock: Clock = {
  now: () => performance.now(),
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
      Math.max(0, at - performance.now()),
    );
    return () => {
      clearTimeout(handle);
      if (immediate !== undefined) clearImmediate(immediate);
    };
  },
};
