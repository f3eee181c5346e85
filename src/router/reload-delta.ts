/**
 * What a reload changes, decided before anything is touched: per instance kept, updated in place
 * (keys a running router can take without leaving the election), replaced (keys the RFC ties to
 * a router: VRID, interface, transport, VIPs...), added or removed; and the settings only a
 * restart applies. Pure: the daemon carries the delta out as one transaction.
 */
import type { VipdConfig } from '../config/config.js';
import type { InstanceConfig } from '../config/instance.js';
import type { ReloadReport } from './status.js';

/** Instance keys a running router can take over without leaving the election. */
const IN_PLACE: readonly (keyof InstanceConfig)[] = [
  'priority',
  'preempt',
  'preemptDelayMs',
  'advertIntervalCs',
  'holdDownMs',
  'quorum',
  'track',
  'hooks',
  'garp',
  'stepTimeoutMs',
  'faultRecoveryMs',
  'hmac',
  // CARP's skew, interval and password: a master advertises the new ones at once.
  'carp',
];

/** Keys computed from others (the file's vips, vmac, interface): a report names those instead. */
const DERIVED: readonly (keyof InstanceConfig)[] = ['family', 'vipInterface'];

export interface ReloadDelta {
  report: ReloadReport;
  inPlace: InstanceConfig[];
  replace: InstanceConfig[];
  add: InstanceConfig[];
  remove: string[];
}

export type DeltaOutcome = { ok: true; delta: ReloadDelta } | { ok: false; reason: string };

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function reloadDelta(before: VipdConfig, after: VipdConfig): DeltaOutcome {
  if (!same(before.cluster, after.cluster)) {
    return { ok: false, reason: 'the cluster section changed: restart vipd to apply it' };
  }
  const delta: ReloadDelta = {
    report: { kept: [], updated: [], replaced: [], added: [], removed: [], needsRestart: [] },
    inPlace: [],
    replace: [],
    add: [],
    remove: [],
  };
  const { report } = delta;
  for (const key of ['control', 'metrics', 'node'] as const) {
    if (!same(before[key], after[key])) report.needsRestart.push(key);
  }
  const next = new Map(after.instances.map((i) => [i.name, i]));
  for (const old of before.instances) {
    const cfg = next.get(old.name);
    if (cfg === undefined) {
      delta.remove.push(old.name);
      report.removed.push(old.name);
      continue;
    }
    const changed = (Object.keys(cfg) as (keyof InstanceConfig)[]).filter(
      (k) => !same(old[k], cfg[k]) && !DERIVED.includes(k),
    );
    if (changed.length === 0) report.kept.push(old.name);
    else if (changed.every((k) => IN_PLACE.includes(k))) {
      delta.inPlace.push(cfg);
      report.updated.push(`${cfg.name} (${changed.join(', ')})`);
    } else {
      delta.replace.push(cfg);
      report.replaced.push(`${cfg.name} (${changed.join(', ')})`);
    }
  }
  const known = new Set(before.instances.map((i) => i.name));
  for (const cfg of after.instances.filter((i) => !known.has(i.name))) {
    delta.add.push(cfg);
    report.added.push(cfg.name);
  }
  return { ok: true, delta };
}
