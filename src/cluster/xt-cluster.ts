/**
 * The xt_cluster backend: iptables' `cluster` match in a chain of our own, VIPD-CLUSTER in the
 * mangle table (after conntrack, which the match needs), jumped to from PREROUTING for each VIP
 * arriving on the cluster interface. The chain RETURNs packets whose source hashes to an owned
 * node and drops the rest; the match also turns the multicast-MAC packets into PACKET_HOST.
 *
 * One `--cluster-local-node k` rule per owned node, because iptables 1.8.9 mishandles
 * `--cluster-local-nodemask` (accepts 1..32 only, and iptables-save prints masks restore then
 * refuses). Every change is ONE `iptables-restore --noflush` transaction that redeclares the chain
 * (which empties it) and refills it: flushing and appending as separate commands answered
 * thousands of packets twice during the switch. xt_cluster hashes the source address only.
 *
 * IPv6 VIPs get the same chain through ip6tables, which first RETURNs neighbour solicitations and
 * advertisements: conntrack does not track them, the match never matches an untracked packet,
 * and dropping them would fail clients' reachability probes and the answers to this box's own
 * solicitations. The match hashes only the first 32 bits of an IPv6 source (see hash.ts), so all
 * clients of one /32 (a whole LAN, a whole provider) go to one node: nft spreads them. Rule text is produced by pure functions; the class only feeds it to
 * ip(6)tables-restore.
 */
import { hexSeed, normaliseOwned, requireValidConfig, type LoadSharingBackend } from './backend.js';
import { sharingFamily, type BackendName, type LoadSharingConfig } from '../config/load-sharing.js';
import { runLocal, runOrThrow, type Run } from './command.js';
import { disableLoosePickup } from './conntrack.js';
import { deleteLine, restoreScript } from './iptables-save.js';
import {
  joinClusterMac,
  leaveClusterMac,
  neighbourRemoveScript,
  neighbourRewriteScript,
} from './steering.js';

export const XT_CHAIN = 'VIPD-CLUSTER';

/** The save and restore commands of the set's family. */
export function xtTools(cfg: Pick<LoadSharingConfig, 'vips'>): { save: string; restore: string } {
  const ip = sharingFamily(cfg.vips) === 6 ? 'ip6tables' : 'iptables';
  return { save: `${ip}-save`, restore: `${ip}-restore` };
}

/** What iptables-save shows of ours in the mangle table. */
export interface XtState {
  chain: boolean;
  /** PREROUTING rules jumping to our chain, as iptables-save prints them. */
  hooks: string[];
  owned: number[];
}

/** The PREROUTING rule for one VIP exactly as iptables-save prints it (so they compare equal). */
export function xtHookRule(cfg: LoadSharingConfig, vip: string): string {
  const host = sharingFamily(cfg.vips) === 6 ? 128 : 32;
  return `-A PREROUTING -d ${vip}/${host} -i ${cfg.interface} -j ${XT_CHAIN}`;
}

/**
 * The chain's content: (IPv6) neighbour discovery passes, one RETURN per owned node, then DROP
 * for every other node's packets.
 */
export function xtChainRules(cfg: LoadSharingConfig, owned: readonly number[]): string[] {
  const match = `-m cluster --cluster-total-nodes ${cfg.totalNodes}`;
  const seed = `--cluster-hash-seed ${hexSeed(cfg.hashInit)}`;
  const neighbour =
    sharingFamily(cfg.vips) === 6
      ? ['neighbour-solicitation', 'neighbour-advertisement'].map(
          (type) => `-A ${XT_CHAIN} -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j RETURN`,
        )
      : [];
  return [
    ...neighbour,
    ...owned.map((k) => `-A ${XT_CHAIN} ${match} --cluster-local-node ${k} ${seed} -j RETURN`),
    `-A ${XT_CHAIN} -j DROP`,
  ];
}

function restore(lines: readonly string[]): string {
  return restoreScript('mangle', lines);
}

/** Replaces the chain's content (declaring a chain under --noflush empties it). */
export function xtOwnedScript(cfg: LoadSharingConfig, owned: readonly number[]): string {
  return restore([`:${XT_CHAIN} - [0:0]`, ...xtChainRules(cfg, owned)]);
}

/** Brings the kernel from `state` to the full install in one transaction: chain, hooks, owned. */
export function xtInstallScript(
  cfg: LoadSharingConfig,
  owned: readonly number[],
  state: XtState,
): string {
  const wanted = cfg.vips.map((vip) => xtHookRule(cfg, vip));
  // Hooks of VIPs no longer configured go; missing ones are inserted ahead of other rules.
  const stale = state.hooks.filter((h) => !wanted.includes(h)).map(deleteLine);
  const missing = wanted.filter((h) => !state.hooks.includes(h)).map((h) => h.replace(/^-A/, '-I'));
  return restore([`:${XT_CHAIN} - [0:0]`, ...stale, ...missing, ...xtChainRules(cfg, owned)]);
}

/** Deletes the hooks and the chain in `state`; undefined when nothing of ours is there. */
export function xtRemoveScript(state: XtState): string | undefined {
  if (!state.chain && state.hooks.length === 0) return undefined;
  const hooks = state.hooks.map(deleteLine);
  return restore(state.chain ? [...hooks, `-F ${XT_CHAIN}`, `-X ${XT_CHAIN}`] : hooks);
}

/** Our chain, hooks and owned nodes in `iptables-save -t mangle` output. */
export function parseXtState(save: string): XtState {
  const lines = save.split('\n');
  const owned = new Set<number>();
  for (const line of lines.filter((l) => l.startsWith(`-A ${XT_CHAIN} `))) {
    const mask = /--cluster-local-nodemask (0x[0-9a-f]+)/i.exec(line)?.[1];
    const bits = mask === undefined ? 0 : Number(mask);
    for (let node = 1; node <= 32; node++) if (bits & (2 ** (node - 1))) owned.add(node);
  }
  return {
    chain: lines.some((l) => l.startsWith(`:${XT_CHAIN} `)),
    hooks: lines.filter((l) => l.startsWith('-A PREROUTING ') && l.endsWith(` -j ${XT_CHAIN}`)),
    owned: [...owned].sort((a, b) => a - b),
  };
}

export class XtClusterBackend implements LoadSharingBackend {
  readonly name: BackendName = 'xt_cluster';

  constructor(
    private readonly cfg: LoadSharingConfig,
    private readonly run: Run = runLocal,
  ) {
    requireValidConfig(cfg, 'xt_cluster');
    this.tools = xtTools(cfg);
  }

  private readonly tools: { save: string; restore: string };

  private async state(): Promise<XtState> {
    return parseXtState(
      await runOrThrow(this.run, 'reading the mangle table', this.tools.save, ['-t', 'mangle']),
    );
  }

  private async restore(what: string, script: string): Promise<void> {
    await runOrThrow(this.run, what, this.tools.restore, ['--noflush'], script);
  }

  async install(owned: readonly number[]): Promise<void> {
    const set = normaliseOwned(owned, this.cfg.totalNodes);
    // Accept the cluster MAC before ARP or neighbour discovery starts advertising it.
    await joinClusterMac(this.run, this.cfg);
    await runOrThrow(
      this.run,
      'installing the neighbour rewrite',
      'nft',
      ['-f', '-'],
      await neighbourRewriteScript(this.run, this.cfg),
    );
    await this.restore(
      'installing the xt_cluster rules',
      xtInstallScript(this.cfg, set, await this.state()),
    );
    await disableLoosePickup(this.run);
  }

  /** Before install() this creates the chain without hooks; install() hooks it up. */
  async setOwned(owned: readonly number[]): Promise<void> {
    const set = normaliseOwned(owned, this.cfg.totalNodes);
    await this.restore(`setting owned nodes to [${set.join(',')}]`, xtOwnedScript(this.cfg, set));
  }

  async remove(): Promise<void> {
    const script = xtRemoveScript(await this.state());
    if (script !== undefined) await this.restore('removing the xt_cluster rules', script);
    await runOrThrow(
      this.run,
      'removing the neighbour rewrite',
      'nft',
      ['-f', '-'],
      neighbourRemoveScript(this.cfg),
    );
    await leaveClusterMac(this.run, this.cfg);
  }

  async owned(): Promise<number[]> {
    return (await this.state()).owned;
  }
}
