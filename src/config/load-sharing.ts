/**
 * Load sharing's configuration and the rules on it, shared by the config schema (an instance's
 * `loadSharing`, the `cluster` section) and the backends in cluster/, which refuse a config that
 * breaks them. `validateLoadSharing` returns every problem at once as "key: reason".
 *
 * A set's VIPs are one address family: its rules (ip or ip6 tables), its hash input and the
 * neighbour protocol that must answer with the cluster MAC (ARP or neighbour discovery) are per
 * family. CLUSTERIP only ever existed for IPv4.
 */
import * as z from 'zod';
import {
  addressBytes,
  addressFamily,
  canonicalAddress,
  type AddressFamily,
} from '../net/address.js';
import { integer, isInterfaceName, oneOf, section, text, whenValid } from './formats.js';

export type HashMode = 'sourceip' | 'sourceip-sourceport' | 'sourceip-sourceport-destport';
export type BackendName = 'clusterip' | 'xt_cluster' | 'nft';

export interface LoadSharingConfig {
  backend: 'auto' | BackendName;
  interface: string;
  /** Addresses that all nodes answer: all IPv4 or all IPv6, in canonical text. */
  vips: string[];
  hashmode: HashMode;
  /** Multicast MAC the VIPs resolve to, e.g. 01:00:5e:00:01:0a (IPv4), 33:33:ff:00:00:10 (IPv6). */
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

/** Why a CLUSTERIP set cannot hold IPv6 VIPs (the config and backend selection say the same). */
export const CLUSTERIP_IPV4_ONLY = 'CLUSTERIP is IPv4-only (ipt_CLUSTERIP); use xt_cluster or nft';

/** The MAC of IPv6's all-nodes group ff02::1, which every IPv6 host of a segment receives. */
const ALL_NODES_MAC = '33:33:00:00:00:01';

/** The family of a set's VIPs (the first one's: validation makes them agree); 4 when unknown. */
export function sharingFamily(vips: readonly string[]): AddressFamily {
  return (vips[0] === undefined ? undefined : addressFamily(vips[0])) ?? 4;
}

/**
 * The MAC of an IPv6 address's solicited-node group (33:33:ff + its last 24 bits): every box
 * holding the VIP has joined that group, so a switch that snoops MLD by MAC floods it to them all.
 */
export function solicitedNodeMac(ipv6: string): string {
  const tail = [...addressBytes(ipv6).subarray(13)];
  return ['33', '33', 'ff', ...tail.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

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

/** Each VIP alone: an address without prefix, in canonical text, listed once. */
function addressProblems(vips: readonly string[]): Problem[] {
  if (vips.length === 0) return [['vips', 'at least one VIP is needed']];
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const vip of vips) {
    if (addressFamily(vip) === undefined) {
      problems.push([
        'vips',
        `${JSON.stringify(vip)} is not an IPv4 or IPv6 address (no prefix length here)`,
      ]);
    } else if (canonicalAddress(vip) !== vip) {
      // The kernel lists rules in canonical text: another spelling would never compare equal.
      problems.push([
        'vips',
        `${vip} is not in canonical form (RFC 5952): write ${canonicalAddress(vip)}`,
      ]);
    } else if (seen.has(vip)) {
      problems.push(['vips', `${vip} is listed twice`]);
    }
    seen.add(vip);
  }
  return problems;
}

/** The rules across valid VIPs and the keys: one family, and what that family allows. */
function familyProblems(
  vips: readonly string[],
  cfg: Pick<Keys, 'backend' | 'clusterMac'>,
): Problem[] {
  const v4 = vips.find((v) => addressFamily(v) === 4);
  const v6 = vips.find((v) => addressFamily(v) === 6);
  if (v4 !== undefined && v6 !== undefined) {
    return [
      [
        'vips',
        `${v4} is IPv4 and ${v6} is IPv6: a load-sharing set is one address family (its rules, hash and ARP or neighbour discovery are per family); keep one family here`,
      ],
    ];
  }
  if (v6 === undefined) return [];
  const problems: Problem[] = [];
  if (cfg.backend === 'clusterip') problems.push(['backend', CLUSTERIP_IPV4_ONLY]);
  if (cfg.clusterMac.toLowerCase() === ALL_NODES_MAC) {
    problems.push([
      'clusterMac',
      `${ALL_NODES_MAC} is the all-nodes MAC (ff02::1): it would deliver VIP traffic to every IPv6 host of the segment; use a multicast MAC such as ${solicitedNodeMac(v6)} (the solicited-node MAC of ${v6})`,
    ]);
  }
  return problems;
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
  const vipProblems = addressProblems(cfg.vips);
  problems.push(
    ...vipProblems,
    ...(vipProblems.length === 0 ? familyProblems(cfg.vips, cfg) : []),
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

/**
 * The rules across a section's VIPs (parsed, so canonical) and its sharing keys, each problem on
 * its key; `at` is where the sharing keys sit relative to the VIPs (an instance's are under
 * `loadSharing`).
 */
export function sharingVipIssues(
  vips: readonly { address: string }[],
  keys: Pick<Keys, 'backend' | 'clusterMac'>,
  ctx: z.RefinementCtx,
  at: readonly PropertyKey[] = [],
): void {
  for (const [key, message] of familyProblems(
    vips.map((v) => v.address),
    keys,
  )) {
    ctx.addIssue({ code: 'custom', path: key === 'vips' ? ['vips'] : [...at, key], message });
  }
}

/** An instance's load sharing against its VIPs (advertised and excluded alike). */
export function instanceSharingIssues(
  v: {
    vips: readonly { address: string }[];
    excludedVips: readonly { address: string }[];
    loadSharing: Pick<Keys, 'backend' | 'clusterMac'> | null;
  },
  ctx: z.RefinementCtx,
): void {
  if (v.loadSharing === null) return;
  sharingVipIssues([...v.vips, ...v.excludedVips], v.loadSharing, ctx, ['loadSharing']);
}

/** An instance's `loadSharing` section: the instance supplies interface and VIPs. */
export const loadSharingSection = section(
  { ...sharingKeys, totalNodes: integer(1, MAX_NODES.nft), localNode: integer(1, MAX_NODES.nft) },
  true,
).superRefine(
  sharingIssues,
  whenValid(['backend', 'hashmode', 'clusterMac', 'totalNodes', 'localNode']),
);
