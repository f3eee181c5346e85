/**
 * What a running daemon reports about itself: per-router status and counters, the daemon's
 * status, and what a reload did. Plain data shared by the shell that produces it and the
 * control socket, metrics and CLI that show it.
 */
import type { VrrpState } from '../vrrp/fsm.js';
import type { CoreCounters } from './core.js';

/** The core's counters plus what only the shell sees (sends and their failures, rejections). */
export interface RouterStats extends CoreCounters {
  advertsSent: number;
  sendFailures: Record<string, number>;
  rejected: Record<string, number>;
}

export interface RouterStatus {
  name: string;
  interface: string;
  vrid: number;
  /** What the election speaks: VRRP, or CARP (ucarp's vhid in `vrid`). */
  protocol: 'vrrp' | 'carp';
  /** The election's address family (4: 224.0.0.18, 6: ff02::12). */
  family: 4 | 6;
  /** The MAC the VIPs answer with: the virtual MAC, or the interface's own (unknown while it is absent). */
  mac: string | undefined;
  /** The virtual MAC's macvlan, when the instance has one. */
  vmac: string | undefined;
  state: VrrpState;
  priority: number;
  effectivePriority: number;
  /** The master as this router knows it: itself, the master it hears, or nobody. */
  master: string | undefined;
  vips: string[];
  /** Why it is held in FAULT (empty otherwise). */
  faults: string[];
  lastTransition: { from: VrrpState; to: VrrpState; reason: string; at: string } | undefined;
  /**
   * How late the router's timer ran past its deadlines (master-down, advert due, a fault's
   * end...), in ms to the microsecond: the last firing, the worst since start, how many fired.
   */
  timerLateness: { lastMs: number | undefined; maxMs: number; fired: number };
  counters: RouterStats;
}

/** One VRRP socket shared by the instances on an interface (daemon/link.ts). */
export interface LinkStatus {
  interface: string;
  family: 4 | 6;
  transport: string;
  /** The address adverts leave from (0.0.0.0 while the interface cannot be used). */
  source: string;
  /** 'open', or why there is no socket now. */
  state: string;
  /** Socket errors by errno name since start. */
  errors: Record<string, number>;
  reopens: number;
}

/** The kernel monitor's own trouble: receive-buffer overruns and the re-reads they caused. */
export interface MonitorStatus {
  overruns: number;
  resyncs: number;
  errors: number;
  malformed: number;
}

export interface DaemonStatus {
  node: string;
  instances: RouterStatus[];
  foreignVrids: number;
  links: LinkStatus[];
  monitor: MonitorStatus;
  /** This box's place in the active-active cluster, if any: the node numbers its kernel answers. */
  cluster?: { name: string; box: string; owned: readonly number[] };
}

export interface ReloadReport {
  kept: string[];
  /** Changed in place (priority, preemption, timers, tracking, hooks...): no flap. */
  updated: string[];
  /** Changed where the RFC needs a new router (VRID, interface, VIPs...): stopped and started. */
  replaced: string[];
  added: string[];
  removed: string[];
  /** Settings that only a restart applies. */
  needsRestart: string[];
}

export type ReloadOutcome = { ok: true; report: ReloadReport } | { ok: false; error: string };

/** What a reload did, one `kind: names` entry per kind that happened (for logs and the CLI). */
export function reloadSummary(r: ReloadReport): string[] {
  return (
    [
      ['kept', r.kept],
      ['updated', r.updated],
      ['replaced', r.replaced],
      ['added', r.added],
      ['removed', r.removed],
      ['needs a restart', r.needsRestart],
    ] as const
  )
    .filter(([, list]) => list.length > 0)
    .map(([what, list]) => `${what}: ${list.join(', ')}`);
}

export class UnknownInstanceError extends Error {
  override name = 'UnknownInstanceError';
}
