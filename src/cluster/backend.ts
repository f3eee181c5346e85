/**
 * The contract every load-sharing backend fulfils, its configuration and the checks on it.
 *
 * Load sharing = every node of the cluster receives every packet for the VIPs (they resolve to a
 * multicast MAC), a hash of the packet's source decides which node number it belongs to, and each
 * box answers only for the node numbers it owns. Backends differ in how the kernel does that
 * (CLUSTERIP before Linux 6.3, the `cluster` match, nft `jhash`); all of them take the same
 * config and expose the owned set the same way, so failover code moves node numbers without
 * knowing which one runs. The config's rules are config/load-sharing.ts's `validateLoadSharing`;
 * constructors refuse a config that breaks any (`requireValidConfig`).
 */
import {
  validateLoadSharing,
  type BackendName,
  type LoadSharingConfig,
} from '../config/load-sharing.js';

export interface LoadSharingBackend {
  readonly name: BackendName;
  /** Install everything (multicast MAC membership, ARP or neighbour-discovery rewrite, rules) owning `owned`; idempotent: re-running changes nothing and duplicates nothing. */
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

function isInt(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
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
