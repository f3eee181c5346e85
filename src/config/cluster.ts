/**
 * The `cluster` section: an active-active cluster whose boxes all carry the VIPs and split the
 * clients by the kernel hash, each box answering for the node numbers it owns (issue 4).
 *
 * In the file it is one object: the cluster's own keys (name, boxes, totalNodes, vridBase and the
 * load-sharing keys) plus the election keys it shares with instances (interface, vips, version,
 * advertInterval, preempt, ...), which are checked by the instance schema itself so both read
 * and fail the same way. This box is the entry of `boxes` equal to `node.name`; its position
 * (from 1) is its box number. Every node number n is elected as VRID vridBase + n - 1.
 */
import convict from 'convict';
import {
  BACKEND_CHOICES,
  HASH_MODES,
  validateLoadSharing,
  type LoadSharingConfig,
} from '../cluster/backend.js';
import {
  arrayOf,
  convictIssues,
  integerIn,
  isPlainObject,
  nonEmptyString,
  type ConfigIssue,
  type ConvictErrorHolder,
} from './formats.js';
import {
  checkedInstance,
  instanceFileShape,
  normaliseInstance,
  type InstanceConfig,
  type Vip,
} from './instance.js';

export interface ClusterConfig {
  name: string;
  /** Box names; box number b is boxes[b - 1]. */
  boxes: string[];
  /** This box's number. */
  self: number;
  vridBase: number;
  vips: Vip[];
  /** What the backend installs; localNode is this box's first home number. */
  sharing: LoadSharingConfig;
  /** Election settings every number's router shares; its name, VRID and priority are per number. */
  election: InstanceConfig;
}

const clusterSchema = {
  name: { doc: 'Cluster name in logs', format: nonEmptyString, default: 'cluster' },
  boxes: {
    doc: 'Names of the boxes (node.name of each), in a fixed order every box shares',
    format: arrayOf('box names', (b) => typeof b === 'string' && b.length > 0),
    default: null as string[] | null,
  },
  totalNodes: {
    doc: 'Node numbers (hash buckets) shared by the boxes; a multiple of the box count spreads best',
    format: integerIn(2, 32),
    default: null as number | null,
  },
  vridBase: {
    doc: 'Node number n is elected as VRID vridBase + n - 1',
    format: integerIn(1, 255),
    default: null as number | null,
  },
  backend: { doc: 'Load-sharing backend', format: [...BACKEND_CHOICES], default: 'auto' },
  hashmode: { doc: 'What the hash covers', format: [...HASH_MODES], default: 'sourceip' },
  hashInit: {
    doc: 'Hash seed, the same on every box',
    format: integerIn(0, 0xffffffff),
    default: 0,
  },
  clusterMac: {
    doc: 'Multicast MAC the VIPs resolve to, e.g. 01:00:5e:00:01:0a',
    format: nonEmptyString,
    default: null as string | null,
  },
};

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
];

const PREFIX = 'cluster.';

export function parseCluster(
  raw: unknown,
  nodeName: string,
  issues: ConfigIssue[],
): ClusterConfig | undefined {
  if (!isPlainObject(raw)) {
    issues.push({ key: 'cluster', reason: 'must be an object (or leave it out)' });
    return undefined;
  }
  const before = issues.length;
  const own = Object.fromEntries(Object.entries(raw).filter(([k]) => k in clusterSchema));
  const election = Object.fromEntries(
    Object.entries(raw).filter(([k]) => ELECTION_KEYS.includes(k)),
  );
  for (const key of Object.keys(raw).filter((k) => !(k in own) && !(k in election))) {
    issues.push({
      key: PREFIX + key,
      reason: `unknown key (a cluster takes ${[...Object.keys(clusterSchema), ...ELECTION_KEYS].join(', ')})`,
    });
  }
  const conf = convict(clusterSchema);
  let props: ReturnType<typeof conf.getProperties> | undefined;
  try {
    conf.load(own);
    conf.validate({ allowed: 'strict' });
    props = conf.getProperties();
  } catch (err) {
    issues.push(...convictIssues(err as ConvictErrorHolder, PREFIX));
  }
  const name = typeof own.name === 'string' ? own.name : 'cluster';
  // The instance schema wants a VRID; the per-number VRIDs are checked here instead.
  const checked = checkedInstance({ ...election, name, vrid: 1 }, PREFIX, issues);
  const template = checked === undefined ? undefined : normaliseInstance(checked, PREFIX, issues);
  if (props === undefined || template === undefined || issues.length > before) return undefined;

  const boxes = props.boxes ?? [];
  const totalNodes = props.totalNodes ?? 0;
  const vridBase = props.vridBase ?? 0;
  const self = boxes.indexOf(nodeName) + 1;
  const dup = boxes.find((b, i) => boxes.indexOf(b) !== i);
  if (boxes.length === 0) issues.push({ key: `${PREFIX}boxes`, reason: 'at least one box' });
  if (dup !== undefined) issues.push({ key: `${PREFIX}boxes`, reason: `${dup} is listed twice` });
  if (self === 0 && boxes.length > 0) {
    issues.push({
      key: `${PREFIX}boxes`,
      reason: `this box (node.name ${JSON.stringify(nodeName)}) is not listed; set node.name to one of ${boxes.join(', ')}`,
    });
  }
  if (boxes.length > totalNodes) {
    issues.push({
      key: `${PREFIX}totalNodes`,
      reason: `${totalNodes} node numbers for ${boxes.length} boxes: every box needs a number of its own`,
    });
  }
  if (vridBase + totalNodes - 1 > 255) {
    issues.push({
      key: `${PREFIX}vridBase`,
      reason: `numbers 1..${totalNodes} need VRIDs ${vridBase}..${vridBase + totalNodes - 1}, past 255`,
    });
  }
  const sharing: LoadSharingConfig = {
    backend: props.backend as LoadSharingConfig['backend'],
    interface: template.interface,
    vips: template.vips.map((v) => v.address),
    hashmode: props.hashmode as LoadSharingConfig['hashmode'],
    clusterMac: props.clusterMac ?? '',
    totalNodes,
    localNode: Math.max(self, 1),
    hashInit: props.hashInit,
  };
  for (const problem of validateLoadSharing(sharing)) {
    const colon = problem.indexOf(':');
    issues.push({
      key: PREFIX + problem.slice(0, colon),
      reason: problem.slice(colon + 1).trim(),
    });
  }
  if (issues.length > before) return undefined;
  return { name, boxes, self, vridBase, vips: template.vips, sharing, election: template };
}

/** VRIDs the cluster uses, for the cross-check against instances on the same interface. */
export function clusterVrids(cluster: ClusterConfig): number[] {
  return Array.from({ length: cluster.sharing.totalNodes }, (_, i) => cluster.vridBase + i);
}

/** The section in the file's own shape, for `vipd check`. */
export function clusterFileShape(cluster: ClusterConfig): unknown {
  const election = instanceFileShape(cluster.election) as Record<string, unknown>;
  return {
    name: cluster.name,
    boxes: cluster.boxes,
    totalNodes: cluster.sharing.totalNodes,
    vridBase: cluster.vridBase,
    backend: cluster.sharing.backend,
    hashmode: cluster.sharing.hashmode,
    hashInit: cluster.sharing.hashInit,
    clusterMac: cluster.sharing.clusterMac,
    ...Object.fromEntries(ELECTION_KEYS.flatMap((k) => (k in election ? [[k, election[k]]] : []))),
  };
}
