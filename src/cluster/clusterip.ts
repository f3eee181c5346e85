/**
 * The legacy CLUSTERIP backend, for kernels before 6.3 only (the target was removed in 6.3, and it
 * only ever worked through iptables-legacy). One `-j CLUSTERIP --new` rule per VIP in INPUT; the
 * kernel itself joins the cluster MAC, rewrites ARP and drops other nodes' packets, so there is
 * nothing else to install. The rule's --local-node is only the initial owned set: ownership then
 * lives in /proc/net/ipt_CLUSTERIP/<VIP> (see ClusterIpProc), one write per node, adds before
 * removes. The rule text is pure; the class runs iptables-legacy and the proc writer.
 */
import { normaliseOwned, requireValidConfig, type LoadSharingBackend } from './backend.js';
import type { BackendName, LoadSharingConfig } from '../config/load-sharing.js';
import { ClusterIpProc, ClusterIpProcError } from './clusterip-proc.js';
import { CommandError, runLocal, runOrThrow, type Run } from './command.js';

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

  async install(owned: readonly number[]): Promise<void> {
    const set = normaliseOwned(owned, this.cfg.totalNodes);
    for (const vip of this.cfg.vips) {
      if (!(await this.hasRule(vip))) {
        await runOrThrow(this.run, `adding the CLUSTERIP rule for ${vip}`, IPTABLES, [
          '-I',
          ...clusterIpRule(this.cfg, vip),
        ]);
      }
    }
    await this.setOwned(set);
  }

  async setOwned(owned: readonly number[]): Promise<void> {
    const set = normaliseOwned(owned, this.cfg.totalNodes);
    for (const vip of this.cfg.vips) await this.proc.setOwned(vip, set);
  }

  async remove(): Promise<void> {
    for (const vip of this.cfg.vips) {
      if (await this.hasRule(vip)) {
        await runOrThrow(this.run, `deleting the CLUSTERIP rule for ${vip}`, IPTABLES, [
          '-D',
          ...clusterIpRule(this.cfg, vip),
        ]);
      }
    }
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
