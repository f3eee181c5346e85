/**
 * The iptables text formats the backends rebuild from: rules read back from `iptables-save` (so
 * whatever a previous run or an operator left is seen exactly as the kernel holds it), and
 * `iptables-restore --noflush` scripts, one transaction per table, that delete such rules by
 * their saved text (no re-tokenising: restore parses the quoting itself). Pure text functions.
 */

/** One `-A` line of iptables-save output and where it lives. */
export interface SavedRule {
  table: string;
  chain: string;
  /** The line exactly as iptables-save printed it, `-A CHAIN ...`. */
  line: string;
}

/** Every rule of every table in `iptables-save` output, in order. */
export function savedRules(save: string): SavedRule[] {
  const rules: SavedRule[] = [];
  let table = '';
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const chain = /^-A (\S+) /.exec(line)?.[1];
    if (chain !== undefined) rules.push({ table, chain, line });
  }
  return rules;
}

/** The restore command deleting a saved rule (`-A CHAIN ...` -> `-D CHAIN ...`). */
export function deleteLine(line: string): string {
  return line.replace(/^-A /, '-D ');
}

/** An `iptables-restore --noflush` script for one table: one transaction (COMMIT). */
export function restoreScript(table: string, lines: readonly string[]): string {
  return [`*${table}`, ...lines, 'COMMIT', ''].join('\n');
}

/** Deletes `rules` (of any tables): one transaction per table; undefined when there is none. */
export function deleteScript(rules: readonly SavedRule[]): string | undefined {
  const tables = [...new Set(rules.map((r) => r.table))];
  if (tables.length === 0) return undefined;
  return tables
    .map((t) =>
      restoreScript(
        t,
        rules.filter((r) => r.table === t).map((r) => deleteLine(r.line)),
      ),
    )
    .join('');
}

/** The value following `option` in a rule's words (`-d` -> "10.0.0.1/32"), if present. */
export function ruleOption(line: string, option: string): string | undefined {
  const words = line.split(/\s+/);
  const at = words.indexOf(option);
  return at < 0 ? undefined : words[at + 1];
}
