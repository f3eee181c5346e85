import type { DaemonStatus, RouterStatus } from '../router/status.js';
/**
 * `vipd status` for a person: a daemon's status as a table, one row per instance, then the
 * cluster line (when the box is in one) and one counters line per instance.
 *
 *   node fw1
 *   INSTANCE  STATE   PRIO     MASTER            VIPS            LAST TRANSITION ...
 *   VI_1      MASTER  150/150  10.99.0.1 (self)  10.99.0.100/24  master-down from backup, 12s ago
 *
 * with the FAULTS column (the causes holding an instance in FAULT) last.
 *
 * PRIO is effective/base. Pure: the same status and `now` give the same text (the ages are the
 * only thing that depends on the time, hence `now` as a parameter), so it is tested without a
 * daemon. The machine-readable form is `vipd status --json`, not this.
 */

/** VIPs shown per row; an instance with hundreds would bury the table. */
const VIPS_SHOWN = 2;

/** A compact age: 12s, 3m05s, 2h07m, 4d03h. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor(s / 3600) % 24)}h`;
}

/** `total` or `total (reason n, reason n)`, most frequent first. */
function byReason(counts: Record<string, number>): string {
  const entries = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  return entries.length === 0
    ? '0'
    : `${total} (${entries.map(([r, n]) => `${r} ${n}`).join(', ')})`;
}

function vips(list: readonly string[]): string {
  if (list.length === 0) return '-';
  const shown = list.slice(0, VIPS_SHOWN).join(',');
  return list.length > VIPS_SHOWN ? `${shown} +${list.length - VIPS_SHOWN} more` : shown;
}

function lastTransition(inst: RouterStatus, now: Date): string {
  const t = inst.lastTransition;
  if (t === undefined) return '-';
  return `${t.reason} from ${t.from}, ${formatAge(now.getTime() - Date.parse(t.at))} ago`;
}

function row(inst: RouterStatus, now: Date): string[] {
  const master =
    inst.master === undefined
      ? '-'
      : inst.state === 'master'
        ? `${inst.master} (self)`
        : inst.master;
  const speaks = inst.protocol === 'carp' ? ' CARP' : '';
  const link = `${inst.vmac ?? inst.interface} IPv${inst.family}${speaks} ${inst.mac ?? '-'}`;
  return [
    inst.name,
    inst.state.toUpperCase(),
    `${inst.effectivePriority}/${inst.priority}`,
    link,
    master,
    vips(inst.vips),
    lastTransition(inst, now),
    inst.faults.length === 0 ? '-' : inst.faults.join('; '),
  ];
}

/** Left-aligned columns two spaces apart; the last column is not padded. */
function table(rows: string[][]): string[] {
  const widths =
    rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

function counters(inst: RouterStatus): string {
  const c = inst.counters;
  return [
    `adverts sent ${c.advertsSent}, received ${c.advertsReceived}`,
    `rejected ${byReason(c.rejected)}`,
    `send failures ${byReason(c.sendFailures)}`,
    `split brains ${c.splitBrains}`,
    `one-way losses ${c.oneWayLosses}`,
    `quorum denied ${c.quorumDenied}, lost ${c.quorumLost}`,
    `stalls ${c.stalls}`,
    `VIPs put back ${c.vipsRestored}`,
  ].join('; ');
}

export function formatStatus(status: DaemonStatus, now: Date): string {
  const foreign =
    status.foreignVrids > 0
      ? ` (${status.foreignVrids} packets for VRIDs it does not run, ignored)`
      : '';
  const lines = [`node ${status.node}${foreign}`];
  if (status.instances.length === 0) lines.push('(no instances)');
  else {
    lines.push(
      ...table([
        ['INSTANCE', 'STATE', 'PRIO', 'LINK', 'MASTER', 'VIPS', 'LAST TRANSITION', 'FAULTS'],
        ...status.instances.map((i) => row(i, now)),
      ]),
    );
  }
  if (status.cluster !== undefined) {
    const { name, box, owned } = status.cluster;
    const nodes = owned.length === 0 ? 'no node number' : `node numbers ${owned.join(', ')}`;
    lines.push(`cluster ${name}: this box is ${box}, answering ${nodes}`);
  }
  // A link is worth a line when it is not open or has had socket errors; the monitor when it lost events.
  for (const l of status.links) {
    const errors = byReason(l.errors);
    if (l.state === 'open' && l.reopens === 0 && errors === '0') continue;
    lines.push(
      `link ${l.interface} (IPv${l.family}, ${l.transport}) from ${l.source}: ${l.state}; socket errors ${errors}, reopened ${l.reopens} times`,
    );
  }
  const m = status.monitor;
  if (m.overruns + m.errors + m.malformed > 0) {
    lines.push(
      `kernel monitor: ${m.overruns} overruns, ${m.errors} errors, ${m.malformed} malformed messages, ${m.resyncs} re-reads`,
    );
  }
  if (status.instances.length > 0) {
    const width = Math.max(...status.instances.map((i) => i.name.length));
    lines.push('counters:');
    for (const inst of status.instances)
      lines.push(`  ${inst.name.padEnd(width)}  ${counters(inst)}`);
  }
  return `${lines.join('\n')}\n`;
}
