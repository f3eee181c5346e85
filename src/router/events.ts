/**
 * What a router tells the world besides its log: one typed event per thing worth counting
 * (transitions, rejected packets, split brains, plan steps, fault causes), for the
 * metrics endpoint, sync groups and anything else that watches a running daemon.
 */
import type { Step } from '../actions/plan.js';
import type { VrrpState } from '../vrrp/fsm.js';
import type { FaultCause } from './faults.js';

export type DaemonEvent =
  | { type: 'transition'; instance: string; from: VrrpState; to: VrrpState; reason: string }
  | { type: 'rejected'; instance: string; reason: string }
  | { type: 'split-brain'; instance: string }
  | { type: 'step'; instance: string; kind: Step['kind']; ok: boolean; ms: number }
  /** The causes holding an instance in FAULT changed (empty: none left). */
  | { type: 'faults'; instance: string; causes: FaultCause[] };
