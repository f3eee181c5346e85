/**
 * `vipd cluster owner CLIENT-IP... [--sport P] [--dport P] [--down BOX,...] [--live] [--json]
 * [--instance NAME] --config FILE`: which node number, and which box, answers a client. The node
 * number comes from the kernel's own hash (cluster/hash.ts) with the backend this box would use;
 * the box from the cluster's preference order (ownership.ts): the home box, or with `--down` the
 * box the election converges to while those boxes are gone. `--live` also reads this box's
 * kernel and says whether it answers the client now. Answers "who served this IP?" from the
 * config alone; only `--live` touches the kernel beyond reading its version.
 *
 * Without a cluster section, an instance's `loadSharing` is used (node number only). Clients are
 * IPv4 or IPv6, the family of the set's VIPs (a client of the other family never reaches them).
 */
import { parseArgs } from 'node:util';
import type { VipdConfig } from '../config/config.js';
import { loadConfigFile } from '../config/host-checks.js';
import type { ClusterConfig } from '../config/cluster.js';
import { UsageError } from '../usage.js';
import { addressFamily } from '../net/address.js';
import { sharingFamily, type LoadSharingConfig } from '../config/load-sharing.js';
import { ownerNode } from './hash.js';
import { converged, homeBox, preferenceOrder } from './ownership.js';
import { createBackend, probeKernel, selectBackend } from './select.js';

export interface OwnerAnswer {
  client: string;
  node: number;
  totalNodes: number;
  /** The box that answers (home, or the survivor with --down); cluster configs only. */
  box?: string;
  home?: string;
  /** Boxes in order of preference for this number. */
  order?: string[];
  /** With --live: whether this box's kernel answers the client now. */
  answersHere?: boolean;
}

function port(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new UsageError(`--${what} must be a port 1..65535`);
  return n;
}

function sharingOf(
  config: VipdConfig,
  instance: string | undefined,
): { sharing: LoadSharingConfig; label: string; cluster?: ClusterConfig } {
  if (config.cluster !== null && instance === undefined) {
    return {
      sharing: config.cluster.sharing,
      label: `cluster ${config.cluster.name}`,
      cluster: config.cluster,
    };
  }
  const inst = config.instances.find(
    (i) => i.loadSharing !== null && (instance === undefined || i.name === instance),
  );
  if (inst?.loadSharing == null) {
    throw new UsageError(
      instance === undefined
        ? 'the config has no cluster section and no instance with loadSharing'
        : `instance ${instance} does not exist or has no loadSharing`,
    );
  }
  return { sharing: inst.loadSharing, label: `instance ${inst.name}` };
}

function downBoxes(cluster: ClusterConfig | undefined, down: string | undefined): Set<number> {
  const names = down === undefined ? [] : down.split(',').filter((d) => d.length > 0);
  if (names.length > 0 && cluster === undefined)
    throw new UsageError('--down needs a config with a cluster section');
  const boxes = cluster?.boxes ?? [];
  const unknown = names.filter((d) => !boxes.includes(d));
  if (unknown.length > 0) {
    throw new UsageError(
      `--down: ${unknown.join(', ')} not in cluster.boxes (${boxes.join(', ')})`,
    );
  }
  return new Set(names.map((d) => boxes.indexOf(d) + 1));
}

async function clusterOwnerAnswers(args: string[]): Promise<{
  answers: OwnerAnswer[];
  describe: (a: OwnerAnswer) => string;
  json: boolean;
}> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      instance: { type: 'string' },
      sport: { type: 'string' },
      dport: { type: 'string' },
      down: { type: 'string' },
      live: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length === 0) throw new UsageError('a client IP address is required');
  const bad = positionals.filter((c) => addressFamily(c) === undefined);
  if (bad.length > 0) throw new UsageError(`not a client IP address: ${bad.join(', ')}`);
  if (values.config === undefined) throw new UsageError('--config FILE is required');
  const config = loadConfigFile(values.config);
  const { sharing, label, cluster } = sharingOf(config, values.instance);
  const family = sharingFamily(sharing.vips);
  const foreign = positionals.filter((c) => addressFamily(c) !== family);
  if (foreign.length > 0) {
    throw new UsageError(
      `${foreign.join(', ')}: the VIPs of ${label} are IPv${family}, a client of the other family never reaches them`,
    );
  }
  const down = downBoxes(cluster, values.down);
  const backend = selectBackend(sharing, await probeKernel());
  const owned =
    values.live === true ? new Set(await (await createBackend(sharing)).owned()) : undefined;
  const shape =
    cluster === undefined
      ? undefined
      : { boxes: cluster.boxes.length, totalNodes: sharing.totalNodes };
  const alive = new Set(
    Array.from({ length: shape?.boxes ?? 0 }, (_, i) => i + 1).filter((b) => !down.has(b)),
  );
  const owners = shape === undefined ? undefined : converged(alive, shape);
  const flow = { sport: port(values.sport, 'sport'), dport: port(values.dport, 'dport') };

  const answers = positionals.map((client): OwnerAnswer => {
    const node = ownerNode(
      backend,
      sharing.hashmode,
      { saddr: client, ...flow },
      sharing.totalNodes,
      sharing.hashInit,
    );
    const answer: OwnerAnswer = { client, node, totalNodes: sharing.totalNodes };
    if (cluster !== undefined && shape !== undefined) {
      const name = (b: number | undefined): string =>
        b === undefined ? '(none)' : (cluster.boxes[b - 1] ?? '?');
      answer.box = name(owners?.get(node));
      answer.home = name(homeBox(node, shape));
      answer.order = preferenceOrder(node, shape).map(name);
    }
    if (owned !== undefined) answer.answersHere = owned.has(node);
    return answer;
  });

  const seed = `0x${sharing.hashInit.toString(16)}`;
  // Worth saying: every client of the same /32 gets the same answer (see hash.ts).
  const hashed =
    backend === 'xt_cluster' && family === 6
      ? `${backend} (first 32 bits of the IPv6 source)`
      : backend;
  const describe = (a: OwnerAnswer): string => {
    const who =
      a.box === undefined
        ? a.node === sharing.localNode
          ? ` (this box, ${config.node.name})`
          : ''
        : `, box ${a.box}${a.box === a.home ? ' (home)' : ` (home ${a.home} down)`}; order ${(a.order ?? []).join(' > ')}`;
    const live =
      a.answersHere === undefined
        ? ''
        : `; ${config.node.name} answers it now: ${a.answersHere ? 'yes' : 'no'}`;
    return `${a.client} -> node ${a.node} of ${a.totalNodes}${who}${live} [${label}, ${hashed}, ${sharing.hashmode}, seed ${seed}]`;
  };
  return { answers, describe, json: values.json === true };
}

/** The command's output: one line per client, or a JSON array with --json. */
export async function clusterOwner(args: string[]): Promise<string> {
  const { answers, describe, json } = await clusterOwnerAnswers(args);
  return json ? JSON.stringify(answers) : answers.map(describe).join('\n');
}
