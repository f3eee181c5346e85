/**
 * Firewall marks for LVS (seed 002): groups of VIP:port/protocol that get one mark, so IPVS can
 * balance (and keep persistence) on the mark across ports, e.g. HTTP and HTTPS under mark 80.
 * The rules live in one nft table per instance, written and replaced in one `nft -f` transaction
 * (pure text here, applied by the step runner), present on the master only.
 */
import { loadExeca } from '../runtime/execa.js';
import type { InstanceConfig, MarkGroup } from '../config/instance.js';

export class MarksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MarksError';
  }
}

export function marksTable(cfg: Pick<InstanceConfig, 'interface' | 'vrid'>): string {
  return `vipd_marks_${cfg.interface.replace(/[^A-Za-z0-9_]/g, '_')}_${cfg.vrid}`;
}

/** Replaces the table whole: valid whether or not it exists (nft 1.0.6 has no `destroy`). */
export function marksScript(
  cfg: Pick<InstanceConfig, 'interface' | 'vrid'>,
  groups: readonly MarkGroup[],
): string {
  const table = marksTable(cfg);
  const rules = groups.flatMap((g) =>
    g.match.map(
      (m) => `\t\tip daddr ${m.vip} ${m.protocol} dport ${m.port} counter meta mark set ${g.mark}`,
    ),
  );
  return [
    `table ip ${table} {}`,
    `delete table ip ${table}`,
    `table ip ${table} {`,
    '\tchain prerouting {',
    '\t\ttype filter hook prerouting priority mangle; policy accept;',
    ...rules,
    '\t}',
    '}',
    '',
  ].join('\n');
}

export function marksRemoveScript(cfg: Pick<InstanceConfig, 'interface' | 'vrid'>): string {
  const table = marksTable(cfg);
  return `table ip ${table} {}\ndelete table ip ${table}\n`;
}

export async function applyNft(script: string, what: string, signal?: AbortSignal): Promise<void> {
  const execa = await loadExeca();
  const r = await execa('nft', ['-f', '-'], { input: script, reject: false, cancelSignal: signal });
  if (r.exitCode !== 0)
    throw new MarksError(
      `${what}: nft failed: ${r.isCanceled ? 'killed at its timeout' : r.stderr.trim()}`,
    );
}
