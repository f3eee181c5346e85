/**
 * The legacy CLUSTERIP backend, for kernels before 6.3 only (the target was removed in 6.3, and it
 * only ever worked through iptables-legacy). One `-j CLUSTERIP --new` rule per VIP in INPUT; the
 * kernel itself joins the cluster MAC, rewrites ARP and drops other nodes' packets, so there is
 * nothing else to install. The rule's --local-node is only the initial owned set: ownership then
 * lives in /proc/net/ipt_CLUSTERIP/<VIP> (see ClusterIpProc), one write per node, adds before
 * removes. The rule text is pure; the class runs iptables-legacy and the proc writer.
 *
 * Rebuilt from scratch like the other backends: the kernel keeps ONE cluster config per VIP,
 * made by the first rule and kept while any CLUSTERIP rule for the VIP exists (a later `--new`
 * with other parameters is silently ignored, one with another MAC refused). So install and
 * remove read every rule back (iptables-legacy-save, all tables) and delete each CLUSTERIP rule
 * for a configured VIP, whatever its parameters, unless it is the only one and exactly the wanted
 * rule. The delete is committed before the insert: in one transaction the new rule would check in
 * while the old still holds the config, and inherit the old parameters.
 */
import { normaliseOwned, requireValidConfig, type LoadSharingBackend } from './backend.js';
import type { BackendName, LoadSharingConfig } from '../config/load-sharing.js';
import { ClusterIpProc, ClusterIpProcError } from './clusterip-proc.js';
import { CommandError, runLocal, runOrThrow, type Run } from './command.js';
import { deleteScript, ruleOption, savedRules, type SavedRule } from './iptables-save.js';

const IPTABLES = 'iptables-legacy';

/** The rule for one VIP after the chain operation (`-I`/`-C`/`-D`), as iptables arguments. */
export function clusterIpRule(cfg: LoadSharingConfig, vip: string): string[] {
  return [
    'INPUT',
    '-i',
    cfg.interface,
    '-d',
    `${vip}/32`,
    '-j',
    'CLUSTERIP',
    // --new on every rule: the kernel reuses the VIP's existing cluster config when there is one.
    '--new',
    '--hashmode',
    cfg.hashmode,
    '--clustermac',
    cfg.clusterMac.toLowerCase(),
    '--total-nodes',
    String(cfg.totalNodes),
    '--local-node',
    String(cfg.localNode),
    // Decimal, as iptables-save prints it.
    '--hash-init',
    String(cfg.hashInit),
  ];
}

/** The CLUSTERIP rules for `vip` in `iptables-save` output, in any table or chain. */
export function clusterIpRulesFor(save: string, vip: string): SavedRule[] {
  return savedRules(save).filter(
    (r) => ruleOption(r.line, '-j') === 'CLUSTERIP' && ruleOption(r.line, '-d') === `${vip}/32`,
  );
}

export class ClusterIpBackend implements LoadSharingBackend {
  readonly name: BackendName = 'clusterip';

  constructor(
    private readonly cfg: LoadSharingConfig,
    private readonly run: Run = runLocal,
    /** Must see the same network namespace as `run`: procfs shows this process's namespace. */
    private readonly proc = new ClusterIpProc(),
  ) {
    requireValidConfig(cfg, 'clusterip');
  }

  private async hasRule(vip: string): Promise<boolean> {
    const r = await this.run(IPTABLES, ['-C', ...clusterIpRule(this.cfg, vip)]);
    // -C exits 1 for "no such rule"; anything else means iptables-legacy itself failed.
    if (r.exitCode === 0 || r.exitCode === 1) return r.exitCode === 0;
    throw new CommandError(
      `checking the CLUSTERIP rule for ${vip}: ${IPTABLES} -C failed (exit ${r.exitCode}): ${r.stderr.trim()}`,
    );
  }

  /** Every CLUSTERIP rule for `vip` the kernel holds now. */
  private async rulesFor(vip: string): Promise<SavedRule[]> {
    const save = await runOrThrow(this.run, 'reading the iptables rules', `${IPTABLES}-save`, []);
    return clusterIpRulesFor(save, vip);
  }

  private async deleteRules(vip: string, rules: readonly SavedRule[]): Promise<void> {
    const script = deleteScript(rules);
    if (script === undefined) return;
    await runOrThrow(
      this.run,
      `deleting the CLUSTERIP rules for ${vip}`,
      `${IPTABLES}-restore`,
      ['--noflush'],
      script,
    );
  }

  async install(owned: readonly number[]): Promise<void> {
    const set = normaliseOwned(owned, this.cfg.totalNodes);
    for (const vip of this.cfg.vips) {
      const rules = await this.rulesFor(vip);
      // Kept as it is only when nothing else can hold the VIP's config: no churn on re-install.
      if (rules.length === 1 && (await this.hasRule(vip))) continue;
      await this.deleteRules(vip, rules);
      await runOrThrow(this.run, `adding the CLUSTERIP rule for ${vip}`, IPTABLES, [
        '-I',
        ...clusterIpRule(this.cfg, vip),
      ]);
    }
    await this.setOwned(set);
  }

  async setOwned(owned: readonly number[]): Promise<void> {
    const set = normaliseOwned(owned, this.cfg.totalNodes);
    for (const vip of this.cfg.vips) await this.proc.setOwned(vip, set);
  }

  async remove(): Promise<void> {
    for (const vip of this.cfg.vips) await this.deleteRules(vip, await this.rulesFor(vip));
  }

  /** Nodes owned for every VIP: a node some VIP lacks is not fully owned, and setOwned fixes it. */
  async owned(): Promise<number[]> {
    let common: number[] | undefined;
    for (const vip of this.cfg.vips) {
      let nodes: number[];
      try {
        nodes = await this.proc.read(vip);
      } catch (err) {
        if (err instanceof ClusterIpProcError && err.code === 'ENOENT') return [];
        throw err;
      }
      common = common === undefined ? nodes : common.filter((n) => nodes.includes(n));
    }
    return common ?? [];
  }
}
