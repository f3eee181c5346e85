/**
 * Why a router is held in FAULT: typed causes, so code that must tell them apart (a sync group
 * follows its members' own causes, never the holds it placed itself) matches on a kind instead
 * of parsing text. `faultKey` is the one text form, used in status, logs and metrics.
 */
import type { Role } from '../actions/plan.js';

export type FaultCause =
  /** The action plan for `role` failed: the box cannot serve; retried after faultRecovery. */
  | { kind: 'plan'; role: Role }
  /** A master that reaches no witness and no peer (cut off), until quorum returns. */
  | { kind: 'quorum' }
  /** The operator's `vipd demote`. */
  | { kind: 'demoted' }
  /** A tracked interface, script or file with weight 0 is down ("interface eth1"). */
  | { kind: 'track'; object: string }
  /** Another member of sync group `group` is in FAULT for a cause of its own. */
  | { kind: 'sync-group'; group: string; member: string }
  /**
   * The election interface is absent, down or has no address of its own to advertise from
   * (tracked by default, as keepalived does; `trackInterface: false` opts out).
   */
  | { kind: 'interface'; name: string }
  /** The link's VRRP socket cannot send or receive (failed twice running, or cannot be opened). */
  | { kind: 'socket'; name: string };

export interface Fault {
  cause: FaultCause;
  detail: string;
  /** When the cause clears itself (monotonic ms), or undefined until cleared. */
  until: number | undefined;
}

export function faultKey(cause: FaultCause): string {
  switch (cause.kind) {
    case 'plan':
    case 'quorum':
    case 'demoted':
      return cause.kind;
    case 'track':
      return `track ${cause.object}`;
    case 'sync-group':
      return `sync-group ${cause.group}: ${cause.member}`;
    case 'interface':
    case 'socket':
      return `${cause.kind} ${cause.name}`;
  }
}
