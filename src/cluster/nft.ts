/**
 * The nft backend: `table ip vipd_cluster` (`ip6` for IPv6 VIPs), where a `jhash` of the
 * connection's ORIGINAL source (so replies of forwarded flows hash like their requests) picks a
 * node number 1..N and the set `owned` says which of them this box answers; everything else for
 * the VIPs is dropped. Packets arrive as link-layer multicast (the cluster MAC) and are turned
 * into PACKET_HOST, which TCP insists on. For IPv4 with hashmode sourceip the hash equals
 * xt_cluster's, so both can share a cluster; for IPv6 they differ (xt_cluster hashes only the
 * first 32 bits of the source, see hash.ts).
 *
 * Port hash modes hash `ct original ip saddr . ct original proto-src [. proto-dst]`: nft 1.0.6
 * accepts these only with a protocol context, so the rule is limited to conntrack protocols that
 * have ports, and a second rule hashes the source address alone for the rest (ICMP errors carry
 * the protocol of the flow they belong to, so they follow it). IPv6 neighbour solicitations and
 * advertisements sent to a VIP pass on every box: conntrack does not track them, so no hash rule
 * can match them, and dropping them would fail clients' reachability probes and the answers to
 * this box's own solicitations. Ownership changes are one `nft -f -` transaction (`flush set` +
 * `add element`): no packet sees a half-changed set. Rule text is produced by pure functions; the
 * class only feeds it to nft.
 */
import { hexSeed, normaliseOwned, requireValidConfig, type LoadSharingBackend } from './backend.js';
import { sharingFamily, type BackendName, type LoadSharingConfig } from '../config/load-sharing.js';
import { CommandError, runLocal, runOrThrow, type Run } from './command.js';
import { disableLoosePickup } from './conntrack.js';
import {
  joinClusterMac,
  leaveClusterMac,
  neighbourRemoveScript,
  neighbourRewriteScript,
} from './steering.js';

export const NFT_TABLE = 'vipd_cluster';

const PORTED = '{ tcp, udp, udplite, sctp, dccp }';

/** The nft family (and address keyword) of the set's table. */
export function nftFamily(cfg: Pick<LoadSharingConfig, 'vips'>): 'ip' | 'ip6' {
  return sharingFamily(cfg.vips) === 6 ? 'ip6' : 'ip';
}

/** The rules of chain `cluster` that return (accept) packets hashed to an owned node. */
export function nftHashRules(cfg: LoadSharingConfig): string[] {
  const tail = `mod ${cfg.totalNodes} seed ${hexSeed(cfg.hashInit)} offset 1 @owned counter return`;
  const source = `ct original ${nftFamily(cfg)} saddr`;
  const bySource = `jhash ${source} ${tail}`;
  if (cfg.hashmode === 'sourceip') return [bySource];
  const ports =
    cfg.hashmode === 'sourceip-sourceport'
      ? 'ct original proto-src'
      : 'ct original proto-src . ct original proto-dst';
  return [
    `ct original protocol ${PORTED} jhash ${source} . ${ports} ${tail}`,
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
  const family = nftFamily(cfg);
  const neighbour =
    family === 'ip6'
      ? ['icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } counter return']
      : [];
  return [
    nftRemoveScript(cfg).trimEnd(),
    `table ${family} ${NFT_TABLE} {`,
    ...set,
    '\tchain prerouting {',
    // mangle (-150) runs after conntrack (-200): the hash reads the connection's original tuple.
    '\t\ttype filter hook prerouting priority mangle; policy accept;',
    `\t\tiifname "${cfg.interface}" ${family} daddr ${elements(cfg.vips)} jump cluster`,
    '\t}',
    '\tchain cluster {',
    '\t\tmeta pkttype multicast meta pkttype set host',
    ...[...neighbour, ...nftHashRules(cfg)].map((r) => `\t\t${r}`),
    '\t\tcounter drop',
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** An nft batch replacing the owned set in one transaction. */
export function nftOwnedScript(cfg: LoadSharingConfig, owned: readonly number[]): string {
  const set = `${nftFamily(cfg)} ${NFT_TABLE} owned`;
  const add = owned.length > 0 ? [`add element ${set} ${elements(owned)}`] : [];
  return [`flush set ${set}`, ...add, ''].join('\n');
}

/** An nft batch deleting the cluster table, valid whether or not it exists. */
export function nftRemoveScript(cfg: LoadSharingConfig): string {
  const table = `${nftFamily(cfg)} ${NFT_TABLE}`;
  // nft 1.0.6 has no `destroy`: adding the (empty) table first makes the delete always valid.
  return `table ${table} {}\ndelete table ${table}\n`;
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
    // Accept the cluster MAC before ARP or neighbour discovery starts advertising it.
    await joinClusterMac(this.run, this.cfg);
    await this.nft(
      'installing the nft load-sharing tables',
      (await neighbourRewriteScript(this.run, this.cfg)) + nftClusterScript(this.cfg, set),
    );
    await disableLoosePickup(this.run);
  }

  async setOwned(owned: readonly number[]): Promise<void> {
    const set = normaliseOwned(owned, this.cfg.totalNodes);
    await this.nft(`setting owned nodes to [${set.join(',')}]`, nftOwnedScript(this.cfg, set));
  }

  async remove(): Promise<void> {
    await this.nft(
      'removing the nft load-sharing tables',
      nftRemoveScript(this.cfg) + neighbourRemoveScript(this.cfg),
    );
    await leaveClusterMac(this.run, this.cfg);
  }

  async owned(): Promise<number[]> {
    const r = await this.run('nft', ['-j', 'list', 'set', nftFamily(this.cfg), NFT_TABLE, 'owned']);
    // No table = nothing installed = nothing owned; any other failure is worth reporting.
    if (r.exitCode !== 0 && /No such file or directory/.test(r.stderr)) return [];
    if (r.exitCode !== 0) {
      throw new CommandError(`reading owned nodes: nft list set failed: ${r.stderr.trim()}`);
    }
    return parseNftOwned(r.stdout);
  }
}
