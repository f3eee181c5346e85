/**
 * How a split-brain run is printed: the timeline stamp shared with scripts/demo.ts's style
 * (`+  1.23s  text`, seconds since the run started) and the closing summary, both from data
 * only, so every driver prints the same way.
 */
import type { RelInterval, Summary } from './scenario.js';

export const stamp = (ms: number): string => `+${(ms / 1000).toFixed(2).padStart(6)}s`;

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const at = (ms: number): string => `+${(ms / 1000).toFixed(2)}s`;

function intervals(list: readonly RelInterval[]): string {
  if (list.length === 0) return 'never';
  return list.map((iv) => `${at(iv.from)}..${iv.to === null ? 'end' : at(iv.to)}`).join(', ');
}

function table(title: string, rows: Record<string, RelInterval[]>, keys: string[]): string[] {
  const all = [...keys, ...Object.keys(rows).filter((k) => !keys.includes(k))];
  return all.map(
    (key, i) =>
      `  ${(i === 0 ? title : '').padEnd(14)}${key.padEnd(6)} ${intervals(rows[key] ?? [])}`,
  );
}

export function formatSummary(s: Summary): string {
  const names = s.boxes.map((b) => b.name);
  const lines = [
    '',
    `summary: ${s.driver}, mode ${s.mode}, transport ${s.transport}, ${s.cutBox} cut for ${s.splitSeconds} s x ${s.cycles.length}, run ${secs(s.endedAt)}`,
    `  boxes         ${s.boxes.map((b) => `${b.name} prio ${b.priority} ${b.mac}`).join(', ')}`,
    `  initial       ${s.initialMaster === null ? 'no agreed master' : `${s.initialMaster.box} agreed at ${at(s.initialMaster.agreedAt)}`}`,
    ...table('master (logs)', s.masters, names),
    ...table('VIP on', s.vip, names),
    ...table('client ARP ->', s.arp, names),
  ];
  for (const c of s.cycles) {
    lines.push(
      `  cycle ${c.cycle}       cut ${at(c.cutAt)}, heal ${at(c.healAt)}: split ${secs(c.splitMs)}`,
      `                two masters ${secs(c.twoMastersMs)}${c.secondMasterAfterMs === null ? '' : ` (second master ${secs(c.secondMasterAfterMs)} after the cut)`}, VIP on two boxes ${secs(c.vipOnTwoMs)}, client ARP changed box ${c.arpChanges}x`,
      c.convergenceMs === null
        ? '                NOT converged after the heal'
        : `                converged ${secs(c.convergenceMs)} after the heal on ${c.winner ?? '?'} (one master, VIP there only, client ARP on its MAC)`,
    );
  }
  lines.push(`  vipd events   ${s.events.length} split-brain / one-way-loss line(s) logged`);
  for (const e of s.events) {
    lines.push(`    ${stamp(e.at)}  ${e.box} ${e.event} ${JSON.stringify(e.fields)}`);
  }
  const gap =
    s.ping.longestGapFrom === null
      ? ''
      : `, longest gap without answers ${secs(s.ping.longestGapMs)} from ${at(s.ping.longestGapFrom)}`;
  lines.push(
    `  sampling      ${s.sampling.count} samples of VIP and ARP, every ${s.sampling.medianGapMs} ms (median), longest gap ${s.sampling.maxGapMs} ms`,
    `  client pings  ${s.ping.sent} sent, ${s.ping.answered} answered${gap}`,
    `  final         masters ${s.final.masters.join(',') || 'none'}, VIP on ${s.final.vip.join(',') || 'nobody'}, client ARP -> ${s.final.arp}: ${s.converged ? `CONVERGED on ${s.final.winner ?? '?'}` : 'NOT converged'}`,
  );
  return lines.join('\n');
}
