/**
 * vipd's configuration: a JSON file checked against one schema (zod), which gives the file's
 * keys, defaults and units, every problem with its key path, and the normalised values the
 * daemon runs with (intervals in ms or centiseconds, VIPs split into address and prefix).
 *
 * Contract: `parseConfig` is pure and either returns a complete, cross-checked config or throws
 * a `ConfigError` listing every problem as (key path, reason), e.g. `instances[1].vrid: must be
 * an integer from 1 to 255, got 300`; checks across keys run as soon as the keys they read are
 * valid, so one mistake never hides another. Unknown keys are refused, never ignored: a typo in
 * a failover config silently falling back to a default is how a firewall pair ends up with two
 * masters. Reading the file and what depends on the box (scripts, addresses) are host-checks.ts's.
 */
import * as z from 'zod';
import { isIpv4, isLinkLocal } from '../net/address.js';
import { clusterFileShape, clusterForBox, clusterSection, clusterVrids } from './cluster.js';
import {
  ConfigError,
  always,
  configIssues,
  atLeast,
  expected,
  flag,
  listOf,
  nullablePath,
  oneOf,
  parseOptions,
  parsedAt,
  section,
  text,
  type FileShape,
} from './formats.js';
import { instanceFileShape, instanceSchema, type InstanceConfig } from './instance.js';

const LISTEN = 'an "address:port" like 127.0.0.1:9650, or null';
/** `host:port` with an IPv4 host (loopback by default: metrics tell an attacker a lot). */
const listen = z
  .string({ error: expected(LISTEN) })
  .refine(
    (v) => {
      const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(v);
      return m?.[1] !== undefined && isIpv4(m[1]) && Number(m[2]) >= 1 && Number(m[2]) <= 65535;
    },
    { error: expected(LISTEN) },
  )
  .transform((v) => ({
    host: v.slice(0, v.lastIndexOf(':')),
    port: Number(v.slice(v.lastIndexOf(':') + 1)),
  }));

/** Instances that move together (keepalived vrrp_sync_group): a FAULT in one moves them all. */
const syncGroup = section({
  name: text,
  instances: listOf(text, 'instance names').min(2, atLeast(2, 'instance names')),
});
export type SyncGroup = z.output<typeof syncGroup>;

const topFile = section({
  node: section({
    /** Name of this box in logs and status. */
    name: text.default('vipd'),
    /**
     * Set net.ipv4.conf.<if>.promote_secondaries=1 on every interface with VIPs (keepalived's
     * `promote_secondaries`), so deleting the primary of a subnet keeps its secondaries. vipd's
     * own removals are safe without it; false leaves a setting the operator manages alone.
     */
    promoteSecondaries: flag.default(true),
  }).prefault({}),
  log: section({
    level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  }).prefault({}),
  /** Virtual routers. */
  instances: listOf(instanceSchema, 'instances').default([]),
  syncGroups: listOf(syncGroup, 'sync groups { name, instances }').default([]),
  control: section({
    /** Control socket (mode 0600) for vipd status/demote/reload; null = none. */
    socket: nullablePath.default('/run/vipd/vipd.sock'),
  }).prefault({}),
  metrics: section({
    /** Prometheus metrics at http://ADDRESS:PORT/metrics; null = off. */
    listen: listen.nullable().prefault('127.0.0.1:9650'),
  }).prefault({}),
  /** The active-active cluster this box belongs to, or null. */
  cluster: clusterSection.nullable().default(null),
});
type TopFile = z.output<typeof topFile>;
type ClusterSection = z.output<typeof clusterSection>;

/** The parsed parts a cross-check may read: only those that have no problem of their own. */
interface Parts {
  /** Valid instances with their index in the file. */
  instances: [number, InstanceConfig][];
  /** Every instance's name, or undefined when some name is unreadable. */
  names: Set<string> | undefined;
  syncGroups: SyncGroup[] | undefined;
  /** undefined = invalid, null = none. */
  cluster: ClusterSection | null | undefined;
  nodeName: string | undefined;
}

function partsOf(v: TopFile, payload: z.core.ParsePayload): Parts {
  const at = (...path: PropertyKey[]): boolean => parsedAt(payload, ...path);
  // A problem on the list itself (not a list) leaves no element to read.
  const list =
    Array.isArray(v.instances) &&
    !payload.issues.some((i) => i.path?.length === 1 && i.path[0] === 'instances');
  const raw: unknown[] = list ? v.instances : [];
  const names = raw.map((inst, i) =>
    at('instances', i, 'name') && typeof inst === 'object' && inst !== null && 'name' in inst
      ? inst.name
      : undefined,
  );
  return {
    instances: list
      ? v.instances.flatMap((inst, i) =>
          at('instances', i) ? [[i, inst] as [number, InstanceConfig]] : [],
        )
      : [],
    names: names.every((n): n is string => typeof n === 'string') ? new Set(names) : undefined,
    syncGroups: at('syncGroups') ? v.syncGroups : undefined,
    cluster: at('cluster') ? v.cluster : undefined,
    nodeName: at('node') ? v.node.name : undefined,
  };
}

type Report = (path: PropertyKey[], reason: string) => void;

function uniqueRouters(parts: Parts, report: Report): void {
  const names = new Map<string, number>();
  const routers = new Map<string, number>();
  for (const [i, inst] of parts.instances) {
    const prior = names.get(inst.name);
    if (prior !== undefined)
      report(['instances', i, 'name'], `"${inst.name}" is already used by instances[${prior}]`);
    names.set(inst.name, i);
    // Two instances with one VRID on one link would answer each other's adverts (per family:
    // IPv4 and IPv6 adverts never meet, RFC 5798 section 5.2.3).
    const router = `${inst.interface}/${inst.family}/${inst.vrid}`;
    const same = routers.get(router);
    if (same !== undefined) {
      report(
        ['instances', i, 'vrid'],
        `VRID ${inst.vrid} (IPv${inst.family}) on ${inst.interface} is already used by instances[${same}]`,
      );
    }
    routers.set(router, i);
  }
  uniqueVmacs(parts, report);
}

/** A macvlan is one router's: two would take it from each other, and it is never an election link. */
function uniqueVmacs(parts: Parts, report: Report): void {
  const owner = new Map<string, number>();
  const links = new Set(parts.instances.map(([, inst]) => inst.interface));
  for (const [i, inst] of parts.instances) {
    if (inst.vmac === null) continue;
    const other = owner.get(inst.vmac.name);
    if (other !== undefined) {
      report(
        ['instances', i, 'vmac'],
        `${inst.vmac.name} is already the virtual MAC interface of instances[${other}]: name one with vmac: "<name>"`,
      );
    }
    if (links.has(inst.vmac.name)) {
      report(
        ['instances', i, 'vmac'],
        `${inst.vmac.name} is an election interface: vipd would replace it with a macvlan`,
      );
    }
    owner.set(inst.vmac.name, i);
  }
}

/**
 * A VIP belongs to one router: an instance that is backup removes its VIPs, so a VIP in two
 * instances is taken from the one that is master while it still reports MASTER.
 */
function uniqueVips(parts: Parts, report: Report): void {
  const owner = new Map<string, number>();
  for (const [i, inst] of parts.instances) {
    inst.vips.forEach((vip, n) => {
      // A link-local address is one per link: fe80::1 on eth0 and on eth1 are two addresses.
      const id = isLinkLocal(vip.address) ? `${vip.address}%${inst.interface}` : vip.address;
      const other = owner.get(id);
      const key = ['instances', i, n < inst.advertisedCount ? 'vips' : 'excludedVips'];
      if (other !== undefined && other !== i) {
        const name = parts.instances.find(([j]) => j === other)?.[1].name ?? '';
        report(
          key,
          `${vip.address} is also a VIP of instances[${other}] ("${name}"): an instance in backup removes its VIPs, so each would take it from the other's master`,
        );
      }
      if (other === undefined) owner.set(id, i);
    });
  }
}

function checkSyncGroups(parts: Parts, report: Report): void {
  const member = new Map<string, string>();
  parts.syncGroups?.forEach((g, i) => {
    for (const name of g.instances) {
      if (parts.names !== undefined && !parts.names.has(name)) {
        report(['syncGroups', i, 'instances'], `no instance named "${name}"`);
      }
      const other = member.get(name);
      if (other !== undefined) {
        report(
          ['syncGroups', i, 'instances'],
          `"${name}" is already in sync group "${other}": an instance is in one group at most`,
        );
      }
      member.set(name, g.name);
    }
  });
}

/** A cluster's VRIDs are routers on its interface like any instance's; its VIPs are its own. */
function checkCluster(parts: Parts, report: Report): void {
  const cluster = parts.cluster;
  if (cluster === null || cluster === undefined) return;
  if (parts.nodeName !== undefined && !cluster.boxes.includes(parts.nodeName)) {
    report(
      ['cluster', 'boxes'],
      `this box (node.name ${JSON.stringify(parts.nodeName)}) is not listed; set node.name to one of ${cluster.boxes.join(', ')}`,
    );
  }
  const vrids = new Set(clusterVrids(cluster));
  const clusterVips = new Set(cluster.vips.map((v) => v.address));
  for (const [i, inst] of parts.instances) {
    if (inst.interface === cluster.election.interface && vrids.has(inst.vrid)) {
      report(
        ['instances', i, 'vrid'],
        `VRID ${inst.vrid} on ${inst.interface} is used by cluster "${cluster.name}" (VRIDs ${cluster.vridBase}..${cluster.vridBase + vrids.size - 1})`,
      );
    }
    if (inst.loadSharing !== null) {
      report(
        ['instances', i, 'loadSharing'],
        `the cluster section already owns this box's load-sharing tables; move these VIPs into the cluster`,
      );
    }
    const shared = inst.vips.filter((v) => clusterVips.has(v.address)).map((v) => v.address);
    if (shared.length > 0) {
      report(
        ['instances', i, 'vips'],
        `${shared.join(', ')} also ${shared.length === 1 ? 'belongs' : 'belong'} to cluster "${cluster.name}": a VIP is either shared by all boxes or moved between them`,
      );
    }
  }
}

/** The checks across sections, on every part that parsed: one bad instance hides nothing. */
function crossChecks(v: TopFile, ctx: z.RefinementCtx<TopFile>): void {
  const parts = partsOf(v, ctx);
  const report: Report = (path, message) => ctx.addIssue({ code: 'custom', path, message });
  if (parts.instances.length === 0 && parsedAt(ctx, 'instances') && parts.cluster === null) {
    report(['instances'], 'at least one instance (or a cluster) is required');
  }
  uniqueRouters(parts, report);
  uniqueVips(parts, report);
  checkSyncGroups(parts, report);
  checkCluster(parts, report);
}

const configSchema = topFile.superRefine(crossChecks, always()).transform((v) => ({
  node: v.node,
  log: v.log,
  instances: v.instances,
  /** The active-active cluster this box belongs to, or null. */
  cluster: v.cluster === null ? null : clusterForBox(v.cluster, v.node.name),
  /** The control socket (`vipd status`, `demote`, `reload`); null = none. */
  control: v.control,
  /** Prometheus metrics over HTTP; null = off. */
  metrics: v.metrics,
  /** Instances that must live on the same box: a FAULT in one moves them all. */
  syncGroups: v.syncGroups,
}));

export type VipdConfig = z.output<typeof configSchema>;
export type LogLevel = VipdConfig['log']['level'];

/** Validate and normalise a parsed JSON document; pure (no file or interface is looked at). */
export function parseConfig(doc: unknown, source = 'config'): VipdConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new ConfigError(source, [{ key: '(config)', reason: 'must be a JSON object' }]);
  const result = configSchema.safeParse(doc, parseOptions);
  if (!result.success) throw new ConfigError(source, configIssues(result.error));
  return result.data;
}

/** A config file's text: JSON, then parseConfig. */
export function parseConfigText(text: string, source: string): VipdConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(source, [
      { key: '(file)', reason: `not valid JSON: ${(err as Error).message}` },
    ]);
  }
  return parseConfig(doc, source);
}

/** The normalised config in the file's own shape (seconds, CIDR strings): what `vipd check` prints. */
export function toFileShape(config: VipdConfig): FileShape<z.input<typeof topFile>> {
  const listenAt = config.metrics.listen;
  return {
    node: config.node,
    log: config.log,
    syncGroups: config.syncGroups,
    control: config.control,
    metrics: { listen: listenAt === null ? null : `${listenAt.host}:${listenAt.port}` },
    instances: config.instances.map(instanceFileShape),
    cluster: config.cluster === null ? null : clusterFileShape(config.cluster),
  };
}
