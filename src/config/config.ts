/**
 * vipd's configuration: a JSON file validated with convict, then normalised into the values the
 * daemon runs with (intervals in centiseconds, VIPs split into address and prefix).
 *
 * Contract: `parseConfig` either returns a complete, cross-checked config or throws a
 * `ConfigError` listing every problem as (key path, reason), e.g. `instances[1].vrid: must be an
 * integer from 1 to 255, got 300`. Unknown keys are refused, never ignored: a typo in a failover
 * config silently falling back to a default is how a firewall pair ends up with two masters.
 */
import { readFileSync, statSync } from 'node:fs';
import { isIpv4 } from '../net/address.js';
import convict from 'convict';
import {
  ConfigError,
  convictIssues,
  isPlainObject,
  nonEmptyString,
  optionalPath,
  type ConfigIssue,
  type ConvictErrorHolder,
} from './formats.js';
import { clusterFileShape, clusterVrids, parseCluster, type ClusterConfig } from './cluster.js';
import {
  checkedInstance,
  instanceFileShape,
  normaliseInstance,
  type InstanceConfig,
} from './instance.js';

export interface VipdConfig {
  node: { name: string };
  log: { level: LogLevel };
  instances: InstanceConfig[];
  /** The active-active cluster this box belongs to, or null. */
  cluster: ClusterConfig | null;
  /** The control socket (`vipd status`, `demote`, `reload`); null = none. */
  control: { socket: string | null };
  /** Prometheus metrics over HTTP; null = off. */
  metrics: { listen: { host: string; port: number } | null };
  /** Instances that must live on the same box: a FAULT in one moves them all. */
  syncGroups: SyncGroup[];
}

export interface SyncGroup {
  name: string;
  instances: string[];
}

function syncGroupsShape(v: unknown): void {
  if (!Array.isArray(v)) throw new Error('must be a list of { name, instances: [...] }');
  v.forEach((g: unknown, i) => {
    const o = (typeof g === 'object' && g !== null ? g : {}) as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => k !== 'name' && k !== 'instances');
    if (extra.length > 0) throw new Error(`[${i}]: unknown key(s) ${extra.join(', ')}`);
    if (typeof o.name !== 'string' || o.name === '')
      throw new Error(`[${i}].name must be a non-empty string`);
    if (
      !Array.isArray(o.instances) ||
      o.instances.length < 2 ||
      o.instances.some((x) => typeof x !== 'string')
    ) {
      throw new Error(`[${i}].instances must list at least two instance names`);
    }
  });
}

/** `host:port` with an IPv4 host (loopback by default: metrics tell an attacker a lot). */
function listenAddress(v: unknown): void {
  if (v === null) return;
  const m = typeof v === 'string' ? /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(v) : null;
  if (m?.[1] === undefined || !isIpv4(m[1]) || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new Error(
      `must be "address:port" (e.g. 127.0.0.1:9650) or null, got ${JSON.stringify(v)}`,
    );
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
const topSchema = {
  node: {
    name: { doc: 'Name of this box in logs and status', format: nonEmptyString, default: 'vipd' },
  },
  log: {
    level: { doc: 'pino log level', format: [...LOG_LEVELS], default: 'info' },
  },
  instances: {
    doc: 'Virtual routers (checked one by one with the instance schema)',
    format: Array,
    default: [] as unknown[],
  },
  syncGroups: {
    doc: 'Instances that move together: [{ name, instances: [...] }] (keepalived vrrp_sync_group)',
    format: syncGroupsShape,
    default: [] as SyncGroup[],
  },
  control: {
    socket: {
      doc: 'Control socket (mode 0600) for vipd status/demote/reload; null = none',
      format: optionalPath,
      default: '/run/vipd/vipd.sock' as string | null,
    },
  },
  metrics: {
    listen: {
      doc: 'Prometheus metrics at http://ADDRESS:PORT/metrics; null = off',
      format: listenAddress,
      default: '127.0.0.1:9650' as string | null,
    },
  },
};

/** A cluster's VRIDs are routers on its interface like any instance's; its VIPs are its own. */
function crossCheckCluster(
  cluster: ClusterConfig,
  instances: InstanceConfig[],
  issues: ConfigIssue[],
): void {
  const vrids = new Set(clusterVrids(cluster));
  const clusterVips = new Set(cluster.vips.map((v) => v.address));
  instances.forEach((inst, i) => {
    if (inst.interface === cluster.election.interface && vrids.has(inst.vrid)) {
      issues.push({
        key: `instances[${i}].vrid`,
        reason: `VRID ${inst.vrid} on ${inst.interface} is used by cluster "${cluster.name}" (VRIDs ${cluster.vridBase}..${cluster.vridBase + vrids.size - 1})`,
      });
    }
    if (inst.loadSharing !== null) {
      issues.push({
        key: `instances[${i}].loadSharing`,
        reason: `the cluster section already owns this box's load-sharing tables; move these VIPs into the cluster`,
      });
    }
    const shared = inst.vips.filter((v) => clusterVips.has(v.address)).map((v) => v.address);
    if (shared.length > 0) {
      issues.push({
        key: `instances[${i}].vips`,
        reason: `${shared.join(', ')} also ${shared.length === 1 ? 'belongs' : 'belong'} to cluster "${cluster.name}": a VIP is either shared by all boxes or moved between them`,
      });
    }
  });
}

function checkSyncGroups(
  groups: SyncGroup[],
  instances: InstanceConfig[],
  issues: ConfigIssue[],
): void {
  const member = new Map<string, string>();
  groups.forEach((g, i) => {
    for (const name of g.instances) {
      if (!instances.some((inst) => inst.name === name)) {
        issues.push({ key: `syncGroups[${i}].instances`, reason: `no instance named "${name}"` });
      }
      const other = member.get(name);
      if (other !== undefined) {
        issues.push({
          key: `syncGroups[${i}].instances`,
          reason: `"${name}" is already in sync group "${other}": an instance is in one group at most`,
        });
      }
      member.set(name, g.name);
    }
  });
}

function crossCheck(instances: InstanceConfig[], issues: ConfigIssue[]): void {
  const names = new Map<string, number>();
  const routers = new Map<string, number>();
  instances.forEach((inst, i) => {
    const prior = names.get(inst.name);
    if (prior !== undefined)
      issues.push({
        key: `instances[${i}].name`,
        reason: `"${inst.name}" is already used by instances[${prior}]`,
      });
    names.set(inst.name, i);
    // Two instances with one VRID on one link would answer each other's adverts.
    const router = `${inst.interface}/${inst.vrid}`;
    const same = routers.get(router);
    if (same !== undefined) {
      issues.push({
        key: `instances[${i}].vrid`,
        reason: `VRID ${inst.vrid} on ${inst.interface} is already used by instances[${same}]`,
      });
    }
    routers.set(router, i);
  });
}

/** `node.name`, read defensively: the top-level checks may have refused `node` already. */
function nodeName(node: unknown): string {
  return isPlainObject(node) && typeof node.name === 'string' ? node.name : 'vipd';
}

/** Validate and normalise a parsed JSON document. */
export function parseConfig(doc: unknown, source = 'config'): VipdConfig {
  const issues: ConfigIssue[] = [];
  if (!isPlainObject(doc))
    throw new ConfigError(source, [{ key: '(config)', reason: 'must be a JSON object' }]);
  // The cluster section has a schema of its own (config/cluster.ts); convict would walk into it.
  const { cluster: rawCluster = null, ...rest } = doc;
  const top = convict(topSchema);
  try {
    top.load(rest);
    top.validate({ allowed: 'strict' });
  } catch (err) {
    issues.push(...convictIssues(err as ConvictErrorHolder, ''));
  }
  const props = top.getProperties();
  const rawInstances = Array.isArray(props.instances) ? props.instances : [];
  const instances: InstanceConfig[] = [];
  rawInstances.forEach((raw, i) => {
    const prefix = `instances[${i}].`;
    const checked = checkedInstance(raw, prefix, issues);
    const inst = checked === undefined ? undefined : normaliseInstance(checked, prefix, issues);
    if (inst !== undefined) instances.push(inst);
  });
  const cluster =
    rawCluster === null
      ? null
      : (parseCluster(rawCluster, nodeName(props.node as unknown), issues) ?? null);
  if (rawInstances.length === 0 && rawCluster === null)
    issues.push({ key: 'instances', reason: 'at least one instance (or a cluster) is required' });
  if (issues.length === 0) crossCheck(instances, issues);
  if (issues.length === 0) checkSyncGroups(props.syncGroups, instances, issues);
  if (issues.length === 0 && cluster !== null) crossCheckCluster(cluster, instances, issues);
  if (issues.length > 0) throw new ConfigError(source, issues);
  const listen = props.metrics.listen;
  return {
    node: props.node,
    log: { level: props.log.level as LogLevel },
    instances,
    cluster,
    control: { socket: props.control.socket },
    syncGroups: props.syncGroups,
    metrics: {
      listen:
        listen === null
          ? null
          : {
              host: listen.slice(0, listen.lastIndexOf(':')),
              port: Number(listen.slice(listen.lastIndexOf(':') + 1)),
            },
    },
  };
}

/** A real config is a few KiB; a huge one is a mistake (or an attack) to refuse unread. */
const MAX_CONFIG_BYTES = 1 << 20;

export function loadConfigFile(path: string): VipdConfig {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError(path, [
        {
          key: '(file)',
          reason: `too large: ${size} bytes (at most ${MAX_CONFIG_BYTES}); is this the right file?`,
        },
      ]);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(path, [
      { key: '(file)', reason: `cannot read: ${(err as Error).message}` },
    ]);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, [
      { key: '(file)', reason: `not valid JSON: ${(err as Error).message}` },
    ]);
  }
  return parseConfig(doc, path);
}

/** The normalised config in the file's own shape (seconds, CIDR strings): what `vipd check` prints. */
export function toFileShape(config: VipdConfig): unknown {
  return {
    node: config.node,
    log: config.log,
    syncGroups: config.syncGroups,
    control: config.control,
    metrics: {
      listen:
        config.metrics.listen === null
          ? null
          : `${config.metrics.listen.host}:${config.metrics.listen.port}`,
    },
    instances: config.instances.map(instanceFileShape),
    ...(config.cluster === null ? {} : { cluster: clusterFileShape(config.cluster) }),
  };
}
