/**
 * Load sharing's configuration and the rules on it, shared by the config schema (an instance's
 * `loadSharing`, the `cluster` section) and the backends in cluster/, which refuse a config that
 * breaks them. `validateLoadSharing` returns every problem at once as "key: reason".
 */
import * as z from 'zod';
import { isIpv4 } from '../net/address.js';
import { integer, isInterfaceName, oneOf, section, text, whenValid } from './formats.js';

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

export const HASH_MODES = [
  'sourceip',
  'sourceip-sourceport',
  'sourceip-sourceport-destport',
] as const satisfies readonly HashMode[];
export const BACKEND_CHOICES = [
  'auto',
  'clusterip',
  'xt_cluster',
  'nft',
] as const satisfies readonly LoadSharingConfig['backend'][];

/** Largest cluster each backend can hash into (CLUSTERIP's table is 16 wide, the others a u32 mask). */
export const MAX_NODES: Readonly<Record<BackendName, number>> = {
  clusterip: 16,
  xt_cluster: 32,
  nft: 32,
};

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

function isInt(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

/** The keys a section writes; a cluster's localNode is this box's number, found later. */
type Keys = Omit<LoadSharingConfig, 'interface' | 'vips' | 'localNode'> & { localNode?: number };
type Problem = [key: keyof LoadSharingConfig, reason: string];

function backendProblems(cfg: Keys): Problem[] {
  return (BACKEND_CHOICES as readonly string[]).includes(cfg.backend)
    ? []
    : [['backend', `${JSON.stringify(cfg.backend)} is not one of ${BACKEND_CHOICES.join(', ')}`]];
}

function hashProblems(cfg: Keys): Problem[] {
  if (!(HASH_MODES as readonly string[]).includes(cfg.hashmode)) {
    return [['hashmode', `${JSON.stringify(cfg.hashmode)} is not one of ${HASH_MODES.join(', ')}`]];
  }
  if (cfg.backend === 'xt_cluster' && cfg.hashmode !== 'sourceip') {
    return [
      [
        'hashmode',
        `xt_cluster only hashes the source address; ${cfg.hashmode} needs backend "nft" (or "clusterip" on kernels before 6.3)`,
      ],
    ];
  }
  return [];
}

function macProblems(cfg: Keys): Problem[] {
  const firstOctet = MAC.test(cfg.clusterMac) ? parseInt(cfg.clusterMac.slice(0, 2), 16) : NaN;
  if (Number.isNaN(firstOctet)) {
    return [
      [
        'clusterMac',
        `${JSON.stringify(cfg.clusterMac)} is not a MAC address like 01:00:5e:00:01:0a`,
      ],
    ];
  }
  if ((firstOctet & 1) === 0) {
    return [
      [
        'clusterMac',
        `${cfg.clusterMac} is not a multicast MAC (the first octet must be odd, e.g. 01:00:5e:00:01:0a): only a multicast MAC reaches every node`,
      ],
    ];
  }
  if (cfg.clusterMac.toLowerCase() === 'ff:ff:ff:ff:ff:ff') {
    return [
      [
        'clusterMac',
        'the broadcast MAC would deliver VIP traffic to every host of the segment; use a multicast MAC such as 01:00:5e:00:01:0a',
      ],
    ];
  }
  return [];
}

function nodeProblems(cfg: Keys): Problem[] {
  // 'auto' never picks CLUSTERIP for more than 16 nodes, so the widest backend bounds it.
  const max =
    cfg.backend === 'auto' || !Object.hasOwn(MAX_NODES, cfg.backend)
      ? MAX_NODES.nft
      : MAX_NODES[cfg.backend];
  const which = cfg.backend === 'auto' ? 'any backend' : `backend ${cfg.backend}`;
  if (!isInt(cfg.totalNodes, 1, max)) {
    return [['totalNodes', `${cfg.totalNodes} is outside 1..${max} (the limit of ${which})`]];
  }
  if (cfg.localNode !== undefined && !isInt(cfg.localNode, 1, cfg.totalNodes)) {
    return [['localNode', `${cfg.localNode} is outside 1..${cfg.totalNodes} (totalNodes)`]];
  }
  return [];
}

function seedProblems(cfg: Keys): Problem[] {
  return isInt(cfg.hashInit, 0, 0xffffffff)
    ? []
    : [['hashInit', `${cfg.hashInit} is not an unsigned 32-bit integer (0..4294967295)`]];
}

/** Every problem of the config as "key: reason"; [] when it is usable. */
export function validateLoadSharing(cfg: LoadSharingConfig): string[] {
  const problems: Problem[] = [...backendProblems(cfg)];
  if (!isInterfaceName(cfg.interface)) {
    problems.push([
      'interface',
      `${JSON.stringify(cfg.interface)} is not an interface name (1..15 characters, no spaces, '/' or ':')`,
    ]);
  }
  if (cfg.vips.length === 0) problems.push(['vips', 'at least one VIP is needed']);
  const seen = new Set<string>();
  for (const vip of cfg.vips) {
    if (!isIpv4(vip)) {
      problems.push([
        'vips',
        `${JSON.stringify(vip)} is not an IPv4 address (no prefix length here)`,
      ]);
    } else if (seen.has(vip)) {
      problems.push(['vips', `${vip} is listed twice`]);
    }
    seen.add(vip);
  }
  problems.push(
    ...hashProblems(cfg),
    ...macProblems(cfg),
    ...nodeProblems(cfg),
    ...seedProblems(cfg),
  );
  return problems.map(([key, reason]) => `${key}: ${reason}`);
}

/** The keys a file writes for load sharing; an instance's interface and VIPs complete them. */
export const sharingKeys = {
  backend: oneOf(BACKEND_CHOICES).default('auto'),
  hashmode: oneOf(HASH_MODES).default('sourceip'),
  clusterMac: text,
  hashInit: integer(0, 0xffffffff).default(0),
};

/** The rules across the sharing keys of a section, each problem on its key. */
export function sharingIssues(value: Keys, ctx: z.RefinementCtx): void {
  for (const [key, message] of [
    ...hashProblems(value),
    ...macProblems(value),
    ...nodeProblems(value),
  ]) {
    ctx.addIssue({ code: 'custom', path: [key], message, input: value[key as keyof Keys] });
  }
}

/** An instance's `loadSharing` section: the instance supplies interface and VIPs. */
export const loadSharingSection = section(
  { ...sharingKeys, totalNodes: integer(1, MAX_NODES.nft), localNode: integer(1, MAX_NODES.nft) },
  true,
).superRefine(
  sharingIssues,
  whenValid(['backend', 'hashmode', 'clusterMac', 'totalNodes', 'localNode']),
);
