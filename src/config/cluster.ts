/**
 * The `cluster` section: an active-active cluster whose boxes all carry the VIPs and split the
 * clients by the kernel hash, each box answering for the node numbers it owns (issue 4).
 *
 * In the file it is one object: the cluster's own keys (name, boxes, totalNodes, vridBase and the
 * load-sharing keys) plus the election keys it shares with instances (interface, vips, version,
 * advertInterval, preempt, ...), which are the instance schema's own keys and checks, so both
 * read and fail the same way. This box is the entry of `boxes` equal to `node.name`; its position
 * (from 1) is its box number. Every node number n is elected as VRID vridBase + n - 1.
 */
import * as z from 'zod';
import { integer, listOf, section, text, whenValid, type FileShape } from './formats.js';
import {
  authIssues,
  instanceFileShape,
  instanceShape,
  intervalIssues,
  normaliseInstance,
  vipIssues,
} from './instance.js';
import {
  MAX_NODES,
  sharingIssues,
  sharingKeys,
  sharingVipIssues,
  type LoadSharingConfig,
} from './load-sharing.js';

/** Instance keys that mean the same for a cluster; the rest (hooks, garp, ...) do not apply. */
const ELECTION_KEYS = [
  'interface',
  'vips',
  'version',
  'advertInterval',
  'preempt',
  'preemptDelay',
  'reassertOnLower',
  'transport',
  'udpPort',
  'unicastPeers',
  'checksum',
  'authPassword',
  'hmac',
  'stepTimeout',
  'faultRecovery',
] as const;

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;
}

function omit<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Omit<T, K> {
  return Object.fromEntries(
    Object.entries(o).filter(([k]) => !(keys as readonly PropertyKey[]).includes(k)),
  ) as Omit<T, K>;
}

/** What a cluster's routers take from the instance defaults: everything but its election keys. */
const instanceRest = section(omit(instanceShape, [...ELECTION_KEYS, 'name', 'vrid']));

const clusterFile = section(
  {
    /** Cluster name in logs. */
    name: text.default('cluster'),
    /** Names of the boxes (node.name of each), in a fixed order every box shares. */
    boxes: listOf(text, 'box names').min(1, { error: () => 'at least one box' }),
    /** Node numbers (hash buckets) shared by the boxes; a multiple of the box count spreads best. */
    totalNodes: integer(2, MAX_NODES.nft),
    /** Node number n is elected as VRID vridBase + n - 1. */
    vridBase: integer(1, 255),
    ...sharingKeys,
    ...pick(instanceShape, ELECTION_KEYS),
  },
  true,
)
  .superRefine(intervalIssues, whenValid(['version', 'advertInterval']))
  .superRefine(authIssues, whenValid(['version', 'authPassword']))
  .superRefine(vipIssues, whenValid(['vips']))
  .superRefine(sharingIssues, whenValid(['backend', 'hashmode', 'clusterMac', 'totalNodes']))
  .superRefine(
    (c, ctx) => sharingVipIssues(c.vips, c, ctx),
    whenValid(['vips', 'backend', 'clusterMac']),
  )
  .superRefine(
    (c, ctx) => {
      const dup = c.boxes.find((b, i) => c.boxes.indexOf(b) !== i);
      if (dup !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['boxes'], message: `${dup} is listed twice` });
      }
      if (c.boxes.length > c.totalNodes) {
        ctx.addIssue({
          code: 'custom',
          path: ['totalNodes'],
          message: `${c.totalNodes} node numbers for ${c.boxes.length} boxes: every box needs a number of its own`,
        });
      }
    },
    whenValid(['boxes', 'totalNodes']),
  )
  .superRefine(
    (c, ctx) => {
      if (c.vridBase + c.totalNodes - 1 > 255) {
        ctx.addIssue({
          code: 'custom',
          path: ['vridBase'],
          message: `numbers 1..${c.totalNodes} need VRIDs ${c.vridBase}..${c.vridBase + c.totalNodes - 1}, past 255`,
        });
      }
    },
    whenValid(['vridBase', 'totalNodes']),
  );

/** The section as the file has it; which box this is comes from node.name (clusterForBox). */
export const clusterSection = clusterFile.transform((c) => {
  // The instance schema wants a VRID; each node number's router gets its own.
  const election = normaliseInstance({
    ...instanceRest.parse({}),
    ...pick(c, ELECTION_KEYS),
    name: c.name,
    vrid: 1,
  });
  return {
    name: c.name,
    boxes: c.boxes,
    vridBase: c.vridBase,
    vips: election.vips,
    sharing: {
      backend: c.backend,
      interface: c.interface,
      vips: election.vips.map((v) => v.address),
      hashmode: c.hashmode,
      clusterMac: c.clusterMac,
      totalNodes: c.totalNodes,
      hashInit: c.hashInit,
    },
    /** Election settings every number's router shares; its name, VRID and priority are per number. */
    election,
  };
});

/** The section resolved for this box (`node.name`), which must be one of its boxes. */
export function clusterForBox(c: z.output<typeof clusterSection>, nodeName: string) {
  const self = c.boxes.indexOf(nodeName) + 1;
  const sharing: LoadSharingConfig = { ...c.sharing, localNode: Math.max(self, 1) };
  return {
    name: c.name,
    /** Box names; box number b is boxes[b - 1]. */
    boxes: c.boxes,
    /** This box's number. */
    self,
    vridBase: c.vridBase,
    vips: c.vips,
    /** What the backend installs; localNode is this box's first home number. */
    sharing,
    /** Election settings every number's router shares; its name, VRID and priority are per number. */
    election: c.election,
  };
}

export type ClusterConfig = ReturnType<typeof clusterForBox>;

/** VRIDs the cluster uses, for the cross-check against instances on the same interface. */
export function clusterVrids(cluster: {
  vridBase: number;
  sharing: { totalNodes: number };
}): number[] {
  return Array.from({ length: cluster.sharing.totalNodes }, (_, i) => cluster.vridBase + i);
}

/** The section in the file's own shape, for `vipd check`. */
export function clusterFileShape(cluster: ClusterConfig): FileShape<z.input<typeof clusterFile>> {
  const election = instanceFileShape(cluster.election);
  return {
    name: cluster.name,
    boxes: cluster.boxes,
    totalNodes: cluster.sharing.totalNodes,
    vridBase: cluster.vridBase,
    backend: cluster.sharing.backend,
    hashmode: cluster.sharing.hashmode,
    hashInit: cluster.sharing.hashInit,
    clusterMac: cluster.sharing.clusterMac,
    ...pick(election, ELECTION_KEYS),
  };
}
