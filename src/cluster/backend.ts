/**
 * The contract every load-sharing backend fulfils, its configuration and the checks on it.
 *
 * Load sharing = every node of the cluster receives every packet for the VIPs (they resolve to a
 * multicast MAC), a hash of the packet's source decides which node number it belongs to, and each
 * box answers only for the node numbers it owns. Backends differ in how the kernel does that
 * (CLUSTERIP before Linux 6.3, the `cluster` match, nft `jhash`); all of them take the same
 * config and expose the owned set the same way, so failover code moves node numbers without
 * knowing which one runs. `validateLoadSharing` returns every problem at once as "key: reason";
 * constructors refuse a config that has any (`requireValidConfig`).
 */
import { isIpv4 } from '../net/address.js';

export type HashMode = 'sourceip' | 'sourceip-sourceport' | 'sourceip-sourceport-destport';
export type BackendName = 'clusterip' | 'xt_cluster' | 'nft';

export interface LoadSharingConfig {
  backend: 'auto' | BackendName;
  interface: string;
  /** IPv4 addresses that all nodes answer. */
  vips: string[];
  hashmode: HashMode;
  /** Multicast MAC the VIPs resolve to, e.g. 01:00:5e:00:01:0a. */
  clusterMac: string;
  /** clusterip 1..16, xt_cluster/nft 1..32. */
  totalNodes: number;
  /** This box's own node number. */
  localNode: number;
  /** Hash seed (u32); every node of a cluster must use the same one. */
  hashInit: number;
}

export interface LoadSharingBackend {
  readonly name: BackendName;
  /** Install everything (multicast MAC membership, ARP rewrite, rules) owning `owned`; idempotent: re-running changes nothing and duplicates nothing. */
  install(owned: readonly number[]): Promise<void>;
  /** Change the owned set: atomically for xt_cluster (one iptables-restore --noflush) and nft (one nft -f batch); clusterip: +N before -N, one write each. */
  setOwned(owned: readonly number[]): Promise<void>;
  /** Remove everything this backend installed; idempotent (no error if nothing is there). */
  remove(): Promise<void>;
  /** The owned node numbers as the kernel has them now (for reconcile and tests); [] when nothing is installed. */
  owned(): Promise<number[]>;
}

export class BackendUnavailableError extends Error {
  override name = 'BackendUnavailableError';
}

export class LoadSharingConfigError extends Error {
  override name = 'LoadSharingConfigError';
}

export const HASH_MODES: readonly HashMode[] = [
  'sourceip',
  'sourceip-sourceport',
  'sourceip-sourceport-destport',
];
export const BACKEND_CHOICES: readonly LoadSharingConfig['backend'][] = [
  'auto',
  'clusterip',
  'xt_cluster',
  'nft',
];

/** Largest cluster each backend can hash into (CLUSTERIP's table is 16 wide, the others a u32 mask). */
export const MAX_NODES: Readonly<Record<BackendName, number>> = {
  clusterip: 16,
  xt_cluster: 32,
  nft: 32,
};

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;
const IFNAME = /^[^\s/:]{1,15}$/;

function isInt(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

/** Every problem of the config as "key: reason"; [] when it is usable. */
export function validateLoadSharing(cfg: LoadSharingConfig): string[] {
  const problems: string[] = [];
  if (!BACKEND_CHOICES.includes(cfg.backend)) {
    problems.push(
      `backend: ${JSON.stringify(cfg.backend)} is not one of ${BACKEND_CHOICES.join(', ')}`,
    );
  }
  if (!IFNAME.test(cfg.interface)) {
    problems.push(
      `interface: ${JSON.stringify(cfg.interface)} is not an interface name (1..15 characters, no spaces, '/' or ':')`,
    );
  }
  if (cfg.vips.length === 0) problems.push('vips: at least one VIP is needed');
  const seen = new Set<string>();
  for (const vip of cfg.vips) {
    if (!isIpv4(vip)) {
      problems.push(`vips: ${JSON.stringify(vip)} is not an IPv4 address (no prefix length here)`);
    } else if (seen.has(vip)) {
      problems.push(`vips: ${vip} is listed twice`);
    }
    seen.add(vip);
  }
  if (!HASH_MODES.includes(cfg.hashmode)) {
    problems.push(
      `hashmode: ${JSON.stringify(cfg.hashmode)} is not one of ${HASH_MODES.join(', ')}`,
    );
  } else if (cfg.backend === 'xt_cluster' && cfg.hashmode !== 'sourceip') {
    problems.push(
      `hashmode: xt_cluster only hashes the source address; ${cfg.hashmode} needs backend "nft" (or "clusterip" on kernels before 6.3)`,
    );
  }
  const firstOctet = MAC.test(cfg.clusterMac) ? parseInt(cfg.clusterMac.slice(0, 2), 16) : NaN;
  if (Number.isNaN(firstOctet)) {
    problems.push(
      `clusterMac: ${JSON.stringify(cfg.clusterMac)} is not a MAC address like 01:00:5e:00:01:0a`,
    );
  } else if ((firstOctet & 1) === 0) {
    problems.push(
      `clusterMac: ${cfg.clusterMac} is not a multicast MAC (the first octet must be odd, e.g. 01:00:5e:00:01:0a): only a multicast MAC reaches every node`,
    );
  } else if (cfg.clusterMac.toLowerCase() === 'ff:ff:ff:ff:ff:ff') {
    problems.push(
      'clusterMac: the broadcast MAC would deliver VIP traffic to every host of the segment; use a multicast MAC such as 01:00:5e:00:01:0a',
    );
  }
  // 'auto' never picks CLUSTERIP for more than 16 nodes, so the widest backend bounds it.
  const max =
    cfg.backend === 'auto' || !Object.hasOwn(MAX_NODES, cfg.backend)
      ? MAX_NODES.nft
      : MAX_NODES[cfg.backend];
  const which = cfg.backend === 'auto' ? 'any backend' : `backend ${cfg.backend}`;
  if (!isInt(cfg.totalNodes, 1, max)) {
    problems.push(`totalNodes: ${cfg.totalNodes} is outside 1..${max} (the limit of ${which})`);
  } else if (!isInt(cfg.localNode, 1, cfg.totalNodes)) {
    problems.push(`localNode: ${cfg.localNode} is outside 1..${cfg.totalNodes} (totalNodes)`);
  }
  if (!isInt(cfg.hashInit, 0, 0xffffffff)) {
    problems.push(`hashInit: ${cfg.hashInit} is not an unsigned 32-bit integer (0..4294967295)`);
  }
  return problems;
}

/** Throws LoadSharingConfigError listing every problem of `cfg` when run by `backend`. */
export function requireValidConfig(
  cfg: LoadSharingConfig,
  backend: LoadSharingConfig['backend'] = cfg.backend,
): void {
  const problems = validateLoadSharing({ ...cfg, backend });
  if (problems.length > 0) {
    throw new LoadSharingConfigError(
      `load sharing config unusable for backend ${backend}: ${problems.join('; ')}`,
    );
  }
}

/** The owned set sorted and deduplicated; throws when a node is outside 1..totalNodes. */
export function normaliseOwned(owned: readonly number[], totalNodes: number): number[] {
  const bad = owned.filter((n) => !isInt(n, 1, totalNodes));
  if (bad.length > 0) {
    throw new LoadSharingConfigError(
      `owned: node ${bad.join(', ')} is outside 1..${totalNodes} (totalNodes)`,
    );
  }
  return [...new Set(owned)].sort((a, b) => a - b);
}

/** The seed as both iptables-save and nft print it, so generated and listed rules compare equal. */
export function hexSeed(seed: number): string {
  return `0x${seed.toString(16).padStart(8, '0')}`;
}
