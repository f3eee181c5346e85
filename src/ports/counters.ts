/**
 * Counts troubles (rejected packets, failed sends) by reason and logs them without flooding: the first occurrence of a
 * reason is logged at once, later ones at most once per window with the number suppressed. A
 * hostile or misconfigured neighbour sending thousands of bad packets per second must not turn
 * the log into the outage.
 */
import type { Logger } from '../log.js';
import type { Clock } from './clock.js';

export class TroubleCounter {
  private readonly counts = new Map<string, number>();
  private readonly lastLogged = new Map<string, { at: number; count: number }>();

  constructor(
    private readonly log: Logger,
    private readonly clock: Clock,
    private readonly event: 'packet-rejected' | 'send-failed',
    private readonly windowMs = 10_000,
  ) {}

  record(reason: string, detail: string, peer: string): void {
    const count = (this.counts.get(reason) ?? 0) + 1;
    this.counts.set(reason, count);
    const last = this.lastLogged.get(reason);
    const now = this.clock.now();
    if (last !== undefined && now - last.at < this.windowMs) return;
    const suppressed = last === undefined ? 0 : count - last.count - 1;
    this.lastLogged.set(reason, { at: now, count });
    this.log.warn(
      { event: this.event, reason, detail, peer, total: count, suppressed },
      `${this.event} (${peer}): ${reason}`,
    );
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
