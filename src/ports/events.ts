/**
 * What the daemon tells the world besides its log: one typed event per thing worth counting
 * (transitions, adverts, rejected packets, split brains, plan steps), for the metrics endpoint
 * and anything else that watches a running daemon. Observers are called synchronously and must
 * not throw or block: the event loop also carries the adverts.
 */
import type { Step } from '../actions/plan.js';
import type { VrrpState } from '../vrrp/fsm.js';

export type DaemonEvent =
  | { type: 'transition'; instance: string; from: VrrpState; to: VrrpState; reason: string }
  | { type: 'advert-sent'; instance: string }
  | { type: 'advert-received'; instance: string }
  | { type: 'rejected'; instance: string; reason: string }
  | { type: 'split-brain'; instance: string }
  | { type: 'step'; instance: string; kind: Step['kind']; ok: boolean; ms: number }
  /** The causes holding an instance in FAULT changed (empty: none left). */
  | { type: 'faults'; instance: string; causes: string[] };

export type Observer = (event: DaemonEvent) => void;

/** Fans events out to the observers registered so far. */
export class Observers {
  private readonly list: Observer[] = [];

  add(observer: Observer): void {
    this.list.push(observer);
  }

  readonly emit = (event: DaemonEvent): void => {
    for (const observer of this.list) observer(event);
  };
}
