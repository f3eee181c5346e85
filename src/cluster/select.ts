/**
 * Which load-sharing backend runs on this box. An explicit choice is honoured, or refused with
 * BackendUnavailableError when the kernel lacks it (only CLUSTERIP can be missing: it was removed
 * in Linux 6.3, while the `cluster` match and nft jhash are in every kernel vipd supports).
 * `auto` keeps CLUSTERIP where it still exists, so a cluster of older boxes keeps its existing
 * hash, and uses nft everywhere else and for IPv6 VIPs (CLUSTERIP is IPv4-only). The decision is
 * pure; `probeKernel` gathers its facts.
 */
import { release as osRelease } from 'node:os';
import {
  BackendUnavailableError,
  LoadSharingConfigError,
  requireValidConfig,
  type LoadSharingBackend,
} from './backend.js';
import {
  CLUSTERIP_IPV4_ONLY,
  MAX_NODES,
  sharingFamily,
  type BackendName,
  type LoadSharingConfig,
} from '../config/load-sharing.js';
import { ClusterIpBackend } from './clusterip.js';
import { runLocal, type Run } from './command.js';
import { NftBackend } from './nft.js';
import { XtClusterBackend } from './xt-cluster.js';

export interface KernelFacts {
  /** `uname -r`. */
  release: string;
  /** The CLUSTERIP target can be used (kernel module and iptables-legacy extension present). */
  clusterip: boolean;
}

/** True when `release` is older than major.minor; false when it cannot be read (assume modern). */
export function kernelBefore(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (m?.[1] === undefined || m[2] === undefined) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj < major || (maj === major && min < minor);
}

export function selectBackend(cfg: LoadSharingConfig, kernel: KernelFacts): BackendName {
  const ipv6 = sharingFamily(cfg.vips) === 6;
  if (cfg.backend === 'clusterip' && ipv6) {
    throw new LoadSharingConfigError(`backend: ${CLUSTERIP_IPV4_ONLY}`);
  }
  if (cfg.backend === 'clusterip' && !kernel.clusterip) {
    const why = kernelBefore(kernel.release, 6, 3)
      ? `CLUSTERIP is not available on this kernel (${kernel.release}): the ipt_CLUSTERIP module or iptables-legacy's CLUSTERIP extension is missing`
      : `CLUSTERIP is not in this kernel (${kernel.release}; removed in Linux 6.3)`;
    throw new BackendUnavailableError(`${why}; use backend "xt_cluster" or "nft"`);
  }
  if (cfg.backend !== 'auto') return cfg.backend;
  const keepClusterIp =
    !ipv6 &&
    kernel.clusterip &&
    kernelBefore(kernel.release, 6, 3) &&
    cfg.totalNodes <= MAX_NODES.clusterip;
  return keepClusterIp ? 'clusterip' : 'nft';
}

export async function probeKernel(): Promise<KernelFacts> {
  const release = osRelease();
  if (!kernelBefore(release, 6, 3)) return { release, clusterip: false };
  // Both halves are needed: the kernel target and the userspace extension that speaks to it.
  const [module, extension] = await Promise.all([
    runLocal('modinfo', ['ipt_CLUSTERIP']),
    runLocal('iptables-legacy', ['-j', 'CLUSTERIP', '--help']),
  ]);
  return { release, clusterip: module.exitCode === 0 && extension.exitCode === 0 };
}

/**
 * Validates `cfg`, picks the backend for this kernel and builds it (nothing is installed yet).
 * CLUSTERIP's ownership lives in this process's /proc/net, so `run` must not enter another
 * network namespace when CLUSTERIP can be picked.
 */
export async function createBackend(
  cfg: LoadSharingConfig,
  run: Run = runLocal,
): Promise<LoadSharingBackend> {
  requireValidConfig(cfg);
  switch (selectBackend(cfg, await probeKernel())) {
    case 'clusterip':
      return new ClusterIpBackend(cfg, run);
    case 'xt_cluster':
      return new XtClusterBackend(cfg, run);
    case 'nft':
      return new NftBackend(cfg, run);
  }
}
