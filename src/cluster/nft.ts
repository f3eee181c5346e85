/**
 * The nft backend: `table ip vipd_cluster`, where a `jhash` of the connection's ORIGINAL source
 * (so replies of forwarded flows hash like their requests) picks a node number 1..N and the set
 * `owned` says which of them this box answers; everything else for the VIPs is dropped. Packets
 * arrive as link-layer multicast (the cluster MAC) and are turned into PACKET_HOST, which TCP
 * insists on. With hashmode sourceip the hash equals xt_cluster's, so both can share a cluster.
 *
 * Port hash modes hash `ct original ip saddr . ct original proto-src [. proto-dst]`: nft 1.0.6
 * accepts these only with a protocol context, so the rule is limited to conntrack protocols that
 * have ports, and a second rule hashes the source address alone for the rest (ICMP errors carry
 * the protocol of the flow they belong to, so they follow it). Ownership changes are one
 * `nft -f -` transaction (`flush set` + `add element`): no packet sees a half-changed set.
 * Rule text is produced by pure functions; the class only feeds it to nft.
 */
import { hexSeed, normaliseOwned, requireValidConfig, type LoadSharingBackend } from './backend.js';
import type { BackendName, LoadSharingConfig } from '../config/load-sharing.js';
import { CommandError, runLocal, runOrThrow, type Run } from './command.js';
import { disableLoosePickup } from './conntrack.js';
import { arpRemoveScript, arpRewriteScript, joinClusterMac, leaveClusterMac } from './steering.js';

export const NFT_TABLE = 'vipd_cluster';

const PORTED = '{ tcp, udp, udplite, sctp, dccp }';

/** The rules of chain `cluster` that return (accept) packets hashed to an owned node. */
export function nftHashRules(cfg: LoadSharingConfig): string[] {
  const tail = `mod ${cfg.totalNodes} seed ${hexSeed(cfg.hashInit)} offset 1 @owned counter return`;
  const bySource = `jhash ct original ip saddr ${tail}`;
  if (cfg.hashmode === 'sourceip') return [bySource];
  const ports =
    cfg.hashmode === 'sourceip-sourceport'
      ? 'ct original proto-src'
      : 'ct original proto-src . ct original proto-dst';
  return [
    `ct original protocol ${PORTED} jhash ct original ip saddr . ${ports} ${tail}`,
    `ct original protocol != ${PORTED} ${bySource}`,
  ];
}

function elements(items: readonly (number | string)[]): string {
  return `{ ${items.join(', ')} }`;
}

/** An nft batch that (re)creates the whole cluster table owning `owned`. */
export function nftClusterScript(cfg: LoadSharingConfig, owned: readonly number[]): string {
  const set = [
    '\tset owned {',
    // typeof numgen gives the set the hash's integer type; typeof jhash crashes `nft list` (1.0.6).
    `\t\ttypeof numgen inc mod ${cfg.totalNodes}`,
    ...(owned.length > 0 ? [`\t\telements = ${elements(owned)}`] : []),
    '\t}',
  ];
  return [
    nftRemoveScript().trimEnd(),
    `table ip ${NFT_TABLE} {`,
    ...set,
    '\tchain prerouting {',
    // mangle (-150) runs after conntrack (-200): the hash reads the connection's original tuple.
    '\t\ttype filter hook prerouting priority mangle; policy accept;',
    `\t\tiifname "${cfg.interface}" ip daddr ${elements(cfg.vips)} jump cluster`,
    '\t}',
    '\tchain cluster {',
    '\t\tmeta pkttype multicast meta pkttype set host',
    ...nftHashRules(cfg).map((r) => `\t\t${r}`),
    '\t\tcounter drop',
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** An nft batch replacing the owned set in one transaction. */
export function nftOwnedScript(owned: readonly number[]): string {
  const add = owned.length > 0 ? [`add element ip ${NFT_TABLE} owned ${elements(owned)}`] : [];
  return [`flush set ip ${NFT_TABLE} owned`, ...add, ''].join('\n');
}

/** An nft batch deleting the cluster table, valid whether or not it exists. */
export function nftRemoveScript(): string {
  // nft 1.0.6 has no `destroy`: adding the (empty) table first makes the delete always valid.
  return `table ip ${NFT_TABLE} {}\ndelete table ip ${NFT_TABLE}\n`;
}

/** The owned nodes in `nft -j list set` output. */
export function parseNftOwned(json: string): number[] {
  const doc = JSON.parse(json) as { nftables?: { set?: { elem?: unknown[] } }[] };
  const elems = (doc.nftables ?? []).flatMap((o) => o.set?.elem ?? []);
  return elems.filter((e): e is number => typeof e === 'number').sort((a, b) => a - b);
}

export class NftBackend implements LoadSharingBackend {
  readonly name: BackendName = 'nft';

  constructor(
    private readonly cfg: LoadSharingConfig,
    private readonly run: Run = runLocal,
  ) {
    requireValidConfig(cfg, 'nft');
  }

  private async nft(what: string, script: string): Promise<void> {
    await runOrThrow(this.run, what, 'nft', ['-f', '-'], script);
  }

  async install(owned: readonly number[]): Promise<void> {
    const set = normaliseOwned(owned, this.cfg.totalNodes);
    // Accept the cluster MAC before ARP starts advertising it.
    await joinClusterMac(this.run, this.cfg);
    await this.nft(
      'installing the nft load-sharing tables',
      arpRewriteScript(this.cfg) + nftClusterScript(this.cfg, set),
    );
    await disableLoosePickup(this.run);
  }

  async setOwned(owned: readonly number[]): Promise<void> {
    const set = normaliseOwned(owned, this.cfg.totalNodes);
    await this.nft(`setting owned nodes to [${set.join(',')}]`, nftOwnedScript(set));
  }

  async remove(): Promise<void> {
    await this.nft('removing the nft load-sharing tables', nftRemoveScript() + arpRemoveScript());
    await leaveClusterMac(this.run, this.cfg);
  }

  async owned(): Promise<number[]> {
    const r = await this.run('nft', ['-j', 'list', 'set', 'ip', NFT_TABLE, 'owned']);
    // No table = nothing installed = nothing owned; any other failure is worth reporting.
    if (r.exitCode !== 0 && /No such file or directory/.test(r.stderr)) return [];
    if (r.exitCode !== 0) {
      throw new CommandError(`reading owned nodes: nft list set failed: ${r.stderr.trim()}`);
    }
    return parseNftOwned(r.stdout);
  }
}
