/**
 * One virtual router's configuration: the instance schema, the checks across its keys, and the
 * normalised InstanceConfig the daemon runs with (intervals in centiseconds, VIPs split into
 * address and prefix). Problems are appended to the caller's list as (key path, reason).
 */
import convict from 'convict';
import { isIpv4 } from '../net/address.js';
import { parseTarget } from '../router/quorum.js';
import type { QuorumConfig } from '../router/quorum.js';
import type { HmacConfig } from '../vrrp/hmac.js';
import type { ScriptCheckConfig } from '../track/script-check.js';
import type { FileCheckConfig } from '../track/file-check.js';
import type { ChecksumMode, VrrpAuth } from '../vrrp/packet.js';
import {
  BACKEND_CHOICES,
  HASH_MODES,
  validateLoadSharing,
  type LoadSharingConfig,
} from '../cluster/backend.js';
import {
  arrayOf,
  boolean,
  convictIssues,
  integerIn,
  isCidr,
  isPlainObject,
  ms,
  nonEmptyString,
  optionalPath,
  seconds,
  type ConfigIssue,
  type ConvictErrorHolder,
  type Props,
} from './formats.js';

export type TransportKind = 'raw' | 'udp';

export interface Vip {
  address: string;
  prefix: number;
}

export interface GarpConfig {
  /** Rounds of one frame per VIP on becoming master (and on re-asserting against another master). */
  count: number;
  intervalMs: number;
  /** Repeat a round this often while master; 0 = never. */
  refreshMs: number;
}

export interface HooksConfig {
  /** ucarp-style scripts, called as `<interface> <vip> [extra]`. */
  up: string | null;
  down: string | null;
  extra: string | null;
  /** true: once per VIP, as ucarp does; false: once per transition with the first VIP and all in VIPD_VIPS. */
  perVip: boolean;
  timeoutMs: number;
  /**
   * What a failing hook means: 'fault' (the transition failed: rolled back, FAULT) or 'ignore'
   * (logged, the transition stands), as ucarp, which never looks at its scripts' exit status.
   */
  onFailure: 'fault' | 'ignore';
}

export interface ConntrackdConfig {
  enabled: boolean;
  binary: string;
  config: string;
  timeoutMs: number;
}

export interface MarkGroup {
  mark: number;
  match: { vip: string; port: number; protocol: 'tcp' | 'udp' | 'sctp' }[];
}

function markGroups(v: unknown): void {
  if (!Array.isArray(v))
    throw new Error('must be a list of { mark, match: [{ vip, port, protocol }] }');
  v.forEach((g: unknown, i) => {
    const o = (typeof g === 'object' && g !== null ? g : {}) as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => k !== 'mark' && k !== 'match');
    if (extra.length > 0) throw new Error(`[${i}]: unknown key(s) ${extra.join(', ')}`);
    if (
      typeof o.mark !== 'number' ||
      !Number.isInteger(o.mark) ||
      o.mark < 1 ||
      o.mark > 0xffffffff
    ) {
      throw new Error(`[${i}].mark must be an integer from 1 to 4294967295`);
    }
    if (!Array.isArray(o.match) || o.match.length === 0)
      throw new Error(`[${i}].match must be a non-empty list`);
    o.match.forEach((m: unknown, j) => {
      const r = (typeof m === 'object' && m !== null ? m : {}) as Record<string, unknown>;
      const where = `[${i}].match[${j}]`;
      const unknownKeys = Object.keys(r).filter((k) => !['vip', 'port', 'protocol'].includes(k));
      if (unknownKeys.length > 0)
        throw new Error(`${where}: unknown key(s) ${unknownKeys.join(', ')}`);
      if (typeof r.vip !== 'string' || !isIpv4(r.vip))
        throw new Error(`${where}.vip must be an IPv4 address`);
      if (typeof r.port !== 'number' || !Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
        throw new Error(`${where}.port must be an integer from 1 to 65535`);
      }
      if (!['tcp', 'udp', 'sctp'].includes(r.protocol as string))
        throw new Error(`${where}.protocol must be tcp, udp or sctp`);
    });
  });
}

/** One virtual router, normalised. */
export interface InstanceConfig {
  name: string;
  interface: string;
  vrid: number;
  priority: number;
  version: 2 | 3;
  advertIntervalCs: number;
  preempt: boolean;
  preemptDelayMs: number;
  accept: boolean;
  reassertOnLower: boolean;
  transport: TransportKind;
  udpPort: number;
  unicastPeers: string[];
  checksum: ChecksumMode;
  auth: VrrpAuth | undefined;
  /** Every VIP the instance moves: the advertised ones first, then the excluded ones. */
  vips: Vip[];
  /** How many of `vips` go into adverts (keepalived's virtual_ipaddress vs _excluded). */
  advertisedCount: number;
  garp: GarpConfig;
  hooks: HooksConfig;
  conntrackd: ConntrackdConfig;
  /** Each step of a transition's action plan is killed and rolled back after this long. */
  stepTimeoutMs: number;
  /** How long FAULT lasts before the election is tried again. */
  faultRecoveryMs: number;
  /** CLUSTERIP-style load sharing of the VIPs, or null. */
  loadSharing: LoadSharingConfig | null;
  /** Firewall-mark groups for LVS, installed on the master. */
  marks: MarkGroup[];
  /** Split-brain prevention: takeover needs a majority of witnesses (and of boxes), or null. */
  quorum: QuorumConfig | null;
  /** A master that yields to a peer that cannot hear it holds off preempting it this long. */
  holdDownMs: number;
  /** Health tracking: interfaces, scripts and files that move the priority or force FAULT. */
  track: TrackConfig;
  /** HMAC-signed adverts between vipd boxes (vrrp/hmac.ts), or null. */
  hmac: HmacConfig | null;
}

function hmacShape(v: unknown): void {
  if (v === null) return;
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error('must be an object or null');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !['keys', 'sendKeyId', 'window'].includes(k));
  if (unknown.length > 0) {
    throw new Error(`unknown key(s) ${unknown.join(', ')}; allowed: keys, sendKeyId, window`);
  }
  objectList(o.keys, 'keys', ['id', 'secret'], (k, where) => {
    if (typeof k.id !== 'number' || !Number.isInteger(k.id) || k.id < 1 || k.id > 255)
      throw new Error(`${where}.id must be an integer from 1 to 255`);
    if (typeof k.secret !== 'string' || Buffer.byteLength(k.secret) < 16)
      throw new Error(
        `${where}.secret must be a string of at least 16 bytes (e.g. 32 random hex characters)`,
      );
  });
  const keys = Array.isArray(o.keys) ? (o.keys as { id: number }[]) : [];
  if (keys.length === 0) throw new Error('keys must list at least one { id, secret }');
  const ids = keys.map((k) => k.id);
  if (new Set(ids).size !== ids.length) throw new Error('keys: every id must be unique');
  if (o.sendKeyId !== undefined && !ids.includes(o.sendKeyId as number)) {
    throw new Error(
      `sendKeyId ${JSON.stringify(o.sendKeyId)} is not one of the key ids ${ids.join(', ')}`,
    );
  }
  requireNumber(o, 'window', 'hmac', 0.1, 3600, false);
}

function hmacOf(raw: Record<string, unknown> | null): HmacConfig | null {
  if (raw === null) return null;
  const keys = (raw.keys as { id: number; secret: string }[]).map((k) => ({
    id: k.id,
    secret: Buffer.from(k.secret, 'utf8'),
  }));
  return {
    keys,
    sendKeyId: typeof raw.sendKeyId === 'number' ? raw.sendKeyId : (keys[0]?.id ?? 1),
    windowMs: ms(typeof raw.window === 'number' ? raw.window : 5),
  };
}

export interface TrackConfig {
  interfaces: { name: string; weight: number }[];
  scripts: ScriptCheckConfig[];
  files: FileCheckConfig[];
}

type Checker = (o: Record<string, unknown>, where: string) => void;

function objectList(v: unknown, key: string, allowed: string[], check: Checker): void {
  if (v === undefined) return;
  if (!Array.isArray(v)) throw new Error(`${key} must be a list`);
  v.forEach((item: unknown, i) => {
    const where = `${key}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      throw new Error(`${where} must be an object`);
    const o = item as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
    if (unknown.length > 0) {
      throw new Error(
        `${where}: unknown key(s) ${unknown.join(', ')}; allowed: ${allowed.join(', ')}`,
      );
    }
    check(o, where);
  });
}

function requireNumber(
  o: Record<string, unknown>,
  key: string,
  where: string,
  min: number,
  max: number,
  integer: boolean,
): void {
  const n = o[key];
  if (n === undefined) return;
  if (typeof n !== 'number' || (integer && !Number.isInteger(n)) || !(n >= min) || n > max) {
    throw new Error(
      `${where}.${key} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(n)}`,
    );
  }
}

const weightOf = (o: Record<string, unknown>, where: string): void =>
  requireNumber(o, 'weight', where, -253, 253, true);

function trackShape(v: unknown): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('must be an object');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !['interfaces', 'scripts', 'files'].includes(k));
  if (unknown.length > 0)
    throw new Error(`unknown key(s) ${unknown.join(', ')}; allowed: interfaces, scripts, files`);
  objectList(o.interfaces, 'interfaces', ['name', 'weight'], (i, where) => {
    if (typeof i.name !== 'string' || !/^[^\s/:]{1,15}$/.test(i.name))
      throw new Error(`${where}.name must be an interface name`);
    weightOf(i, where);
  });
  objectList(
    o.scripts,
    'scripts',
    ['name', 'script', 'args', 'interval', 'timeout', 'rise', 'fall', 'weight'],
    (sc, where) => {
      if (typeof sc.script !== 'string' || !sc.script.startsWith('/'))
        throw new Error(`${where}.script must be an absolute path`);
      if (
        sc.args !== undefined &&
        (!Array.isArray(sc.args) || sc.args.some((a) => typeof a !== 'string'))
      )
        throw new Error(`${where}.args must be a list of strings`);
      if (sc.name !== undefined && (typeof sc.name !== 'string' || sc.name === ''))
        throw new Error(`${where}.name must be a non-empty string`);
      requireNumber(sc, 'interval', where, 0.1, 3600, false);
      requireNumber(sc, 'timeout', where, 0.1, 3600, false);
      requireNumber(sc, 'rise', where, 1, 100, true);
      requireNumber(sc, 'fall', where, 1, 100, true);
      weightOf(sc, where);
    },
  );
  objectList(o.files, 'files', ['path', 'weight', 'interval'], (f, where) => {
    if (typeof f.path !== 'string' || !f.path.startsWith('/'))
      throw new Error(`${where}.path must be an absolute path`);
    requireNumber(f, 'interval', where, 0.1, 3600, false);
    weightOf(f, where);
  });
}

function trackOf(raw: Record<string, unknown>): TrackConfig {
  const list = (v: unknown): Record<string, unknown>[] =>
    Array.isArray(v) ? (v as Record<string, unknown>[]) : [];
  const num = (v: unknown, dflt: number): number => (typeof v === 'number' ? v : dflt);
  return {
    interfaces: list(raw.interfaces).map((i) => ({
      name: String(i.name),
      weight: num(i.weight, 0),
    })),
    scripts: list(raw.scripts).map((sc) => ({
      name: typeof sc.name === 'string' ? sc.name : String(sc.script),
      script: String(sc.script),
      args: Array.isArray(sc.args) ? sc.args.map(String) : [],
      intervalMs: ms(num(sc.interval, 2)),
      timeoutMs: ms(num(sc.timeout, 2)),
      rise: num(sc.rise, 1),
      fall: num(sc.fall, 1),
      weight: num(sc.weight, 0),
    })),
    files: list(raw.files).map((f) => ({
      path: String(f.path),
      weight: num(f.weight, 1),
      intervalMs: ms(num(f.interval, 1)),
    })),
  };
}

const QUORUM_KEYS = ['witnesses', 'peers', 'timeout', 'interval'];

function quorumShape(v: unknown): void {
  if (v === null) return;
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error('must be an object or null');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !QUORUM_KEYS.includes(k));
  if (unknown.length > 0) {
    throw new Error(`unknown key(s) ${unknown.join(', ')}; allowed: ${QUORUM_KEYS.join(', ')}`);
  }
  const targets = (key: string, ports: boolean): void => {
    const list = o[key];
    if (list === undefined) return;
    const bad = Array.isArray(list)
      ? list.filter((t) => {
          const parsed = typeof t === 'string' ? parseTarget(t) : undefined;
          return parsed === undefined || (!ports && parsed.port !== undefined);
        })
      : [list];
    if (bad.length > 0) {
      throw new Error(
        `${key} must be a list of ${ports ? 'addresses (pinged) or address:port (TCP connect)' : 'addresses (pinged)'}; not valid: ${JSON.stringify(bad)}`,
      );
    }
  };
  targets('witnesses', true);
  targets('peers', false);
  if (!Array.isArray(o.witnesses) || o.witnesses.length === 0) {
    throw new Error('witnesses is required: at least one address or address:port');
  }
  for (const [key, max] of [
    ['timeout', 10],
    ['interval', 3600],
  ] as const) {
    const n = o[key];
    if (n !== undefined && (typeof n !== 'number' || !(n >= 0.01) || n > max)) {
      throw new Error(`${key} must be a number of seconds from 0.01 to ${max}`);
    }
  }
}

/** `loadSharing` as written in the file: the instance supplies interface and VIPs. */
const LOAD_SHARING_KEYS = [
  'backend',
  'hashmode',
  'clusterMac',
  'totalNodes',
  'localNode',
  'hashInit',
];

function loadSharingShape(v: unknown): void {
  if (v === null) return;
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error('must be an object or null');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !LOAD_SHARING_KEYS.includes(k));
  if (unknown.length > 0) {
    throw new Error(
      `unknown key(s) ${unknown.join(', ')}; allowed: ${LOAD_SHARING_KEYS.join(', ')}`,
    );
  }
  if (
    o.backend !== undefined &&
    !BACKEND_CHOICES.includes(o.backend as LoadSharingConfig['backend'])
  ) {
    throw new Error(`backend must be one of ${BACKEND_CHOICES.join(', ')}`);
  }
  if (
    o.hashmode !== undefined &&
    !HASH_MODES.includes(o.hashmode as LoadSharingConfig['hashmode'])
  ) {
    throw new Error(`hashmode must be one of ${HASH_MODES.join(', ')}`);
  }
  if (typeof o.clusterMac !== 'string') {
    throw new Error('clusterMac is required (a multicast MAC such as 01:00:5e:00:01:0a)');
  }
  for (const k of ['totalNodes', 'localNode']) {
    if (typeof o[k] !== 'number' || !Number.isInteger(o[k]))
      throw new Error(`${k} is required (an integer)`);
  }
  const seed = o.hashInit;
  if (
    seed !== undefined &&
    (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
  ) {
    throw new Error('hashInit must be an integer from 0 to 4294967295');
  }
}

export const instanceSchema = {
  name: { doc: 'Instance name, unique', format: nonEmptyString, default: null as string | null },
  interface: {
    doc: 'Interface carrying the election',
    format: nonEmptyString,
    default: null as string | null,
  },
  vrid: { doc: 'Virtual router id', format: integerIn(1, 255), default: null as number | null },
  priority: { doc: '1..254, 255 = address owner', format: integerIn(1, 255), default: 100 },
  version: { doc: 'VRRP version', format: [2, 3], default: 3 },
  advertInterval: {
    doc: 'Advertisement interval in seconds (v2: whole seconds 1..255, v3: 0.01..40.95 in 0.01 steps)',
    format: (v: unknown) => {
      if (typeof v !== 'number' || !(v > 0))
        throw new Error(`must be a positive number of seconds, got ${JSON.stringify(v)}`);
    },
    default: 1,
  },
  preempt: {
    doc: 'A higher-priority backup takes over from a lower master',
    format: boolean,
    default: true,
  },
  preemptDelay: {
    doc: 'Seconds after entering backup before preempting a lower master',
    format: (v: unknown) => {
      if (typeof v !== 'number' || !(v >= 0) || v > 3600)
        throw new Error(`must be from 0 to 3600 seconds, got ${JSON.stringify(v)}`);
    },
    default: 0,
  },
  accept: {
    doc: 'Accept_Mode: answer traffic to VIPs this box does not own',
    format: boolean,
    default: false,
  },
  reassertOnLower: {
    doc: 'RFC 9568: a master answers a lower-priority advert at once',
    format: boolean,
    default: true,
  },
  transport: {
    doc: 'raw = IP protocol 112 (VRRP on the wire); udp = VRRP packets in UDP',
    format: ['raw', 'udp'],
    default: 'raw',
  },
  udpPort: { doc: 'UDP port of the udp transport', format: integerIn(1, 65535), default: 11200 },
  unicastPeers: {
    doc: 'Send to these addresses instead of 224.0.0.18 and accept adverts only from them',
    format: arrayOf('IPv4 addresses', (a) => typeof a === 'string' && isIpv4(a)),
    default: [] as string[],
  },
  checksum: {
    doc: 'v3 checksum on send: rfc5798 (with IPv4 pseudo-header, keepalived/FRR) or rfc9568 (without)',
    format: ['rfc5798', 'rfc9568'],
    default: 'rfc5798',
  },
  authPassword: {
    doc: 'v2 only: keepalived auth_type PASS password (1..8 bytes). Sent in clear: no protection.',
    format: (v: unknown) => {
      if (v === null) return;
      if (typeof v !== 'string' || v.length === 0 || Buffer.byteLength(v) > 8) {
        throw new Error('must be a string of 1 to 8 bytes');
      }
    },
    default: null as string | null,
  },
  vips: {
    doc: 'Virtual addresses as CIDR (10.99.0.100/24), listed in adverts (at most 255)',
    format: arrayOf('CIDR strings like 10.99.0.100/24', isCidr),
    default: null as string[] | null,
  },
  excludedVips: {
    doc: 'More virtual addresses moved with the instance but not listed in adverts (keepalived virtual_ipaddress_excluded)',
    format: arrayOf('CIDR strings like 10.99.0.100/24', isCidr),
    default: [] as string[],
  },
  garp: {
    count: {
      doc: 'Gratuitous ARP rounds on becoming master',
      format: integerIn(1, 100),
      default: 2,
    },
    interval: { doc: 'Seconds between rounds', format: seconds(0, 60), default: 0.1 },
    refresh: {
      doc: 'Seconds between refresh rounds while master (0 = off)',
      format: seconds(0, 86400),
      default: 0,
    },
  },
  hooks: {
    up: {
      doc: 'Script run on becoming master (ucarp --upscript)',
      format: optionalPath,
      default: null as string | null,
    },
    down: {
      doc: 'Script run on leaving master (ucarp --downscript)',
      format: optionalPath,
      default: null as string | null,
    },
    extra: {
      doc: 'Third argument to the scripts (ucarp --xparam)',
      format: (v: unknown) => {
        if (v !== null && typeof v !== 'string') throw new Error('must be a string or null');
      },
      default: null as string | null,
    },
    perVip: {
      doc: 'Run once per VIP (ucarp) instead of once per transition',
      format: boolean,
      default: true,
    },
    onFailure: {
      doc: 'fault = a failing hook fails the transition (rollback, FAULT); ignore = logged only (ucarp)',
      format: ['fault', 'ignore'],
      default: 'fault',
    },
    timeout: {
      doc: 'Seconds before a hook is killed (with its process group)',
      format: seconds(0.1, 3600),
      default: 10,
    },
  },
  conntrackd: {
    enabled: { doc: 'Flip conntrackd between primary and backup', format: boolean, default: false },
    binary: { doc: 'conntrackd binary', format: nonEmptyString, default: 'conntrackd' },
    config: {
      doc: 'conntrackd config file (holds the control socket and log file)',
      format: nonEmptyString,
      default: '/etc/conntrackd/conntrackd.conf',
    },
    timeout: {
      doc: 'Seconds a conntrackd command may take',
      format: seconds(0.1, 600),
      default: 10,
    },
  },
  stepTimeout: {
    doc: 'Seconds before a plan step is killed and the plan rolled back',
    format: seconds(0.1, 3600),
    default: 30,
  },
  faultRecovery: {
    doc: 'Seconds in FAULT before the election is tried again',
    format: seconds(1, 86400),
    default: 30,
  },
  marks: {
    doc: 'Firewall marks for LVS: [{ mark, match: [{ vip, port, protocol }] }]',
    format: markGroups,
    default: [] as MarkGroup[],
  },
  quorum: {
    doc: 'Split-brain prevention: { witnesses, peers, timeout, interval }; a takeover needs a majority of the witnesses (and of the boxes when peers lists two or more)',
    format: quorumShape,
    default: null as Record<string, unknown> | null,
  },
  hmac: {
    doc: 'Signed adverts between vipd boxes: { keys: [{ id, secret }], sendKeyId, window } (seconds of clock skew accepted); not understood by keepalived',
    format: hmacShape,
    default: null as Record<string, unknown> | null,
  },
  track: {
    doc: 'Health tracking: { interfaces: [{ name, weight }], scripts: [{ name, script, args, interval, timeout, rise, fall, weight }], files: [{ path, weight, interval }] }; weight 0 = FAULT while down',
    format: trackShape,
    default: {} as Record<string, unknown>,
  },
  oneWayHoldDown: {
    doc: 'Seconds a master that yielded to a lower master that cannot hear it stays backup before preempting again',
    format: seconds(1, 86400),
    default: 60,
  },
  loadSharing: {
    doc: 'Load sharing of the VIPs: { backend, hashmode, clusterMac, totalNodes, localNode, hashInit }',
    format: loadSharingShape,
    default: null as Record<string, unknown> | null,
  },
};

export type RawInstance = Props<typeof instanceSchema>;

export function checkedInstance(
  raw: unknown,
  prefix: string,
  issues: ConfigIssue[],
): RawInstance | undefined {
  if (!isPlainObject(raw)) {
    issues.push({ key: prefix.replace(/\.$/, ''), reason: 'must be an object' });
    return undefined;
  }
  const conf = convict(instanceSchema);
  try {
    conf.load(raw);
    conf.validate({ allowed: 'strict' });
  } catch (err) {
    issues.push(...convictIssues(err as ConvictErrorHolder, prefix));
    return undefined;
  }
  return conf.getProperties() as RawInstance;
}

export function normaliseInstance(
  raw: RawInstance,
  prefix: string,
  issues: ConfigIssue[],
): InstanceConfig | undefined {
  const before = issues.length;
  const version = raw.version as 2 | 3;
  const centis = (raw.advertInterval as number) * 100;
  const advertIntervalCs = Math.round(centis);
  if (Math.abs(centis - advertIntervalCs) > 1e-6) {
    issues.push({ key: `${prefix}advertInterval`, reason: 'must be a multiple of 0.01 s' });
  } else if (version === 2 && (advertIntervalCs % 100 !== 0 || advertIntervalCs > 25500)) {
    issues.push({
      key: `${prefix}advertInterval`,
      reason: `VRRPv2 carries whole seconds from 1 to 255, got ${String(raw.advertInterval)}`,
    });
  } else if (version === 3 && advertIntervalCs > 4095) {
    issues.push({
      key: `${prefix}advertInterval`,
      reason: `VRRPv3 allows at most 40.95 s, got ${String(raw.advertInterval)}`,
    });
  }
  if (raw.authPassword !== null && version !== 2) {
    issues.push({
      key: `${prefix}authPassword`,
      reason: 'only VRRPv2 has authentication; remove it or set version 2',
    });
  }
  const vips = [...(raw.vips ?? []), ...raw.excludedVips].map((cidr) => {
    const [address = '', prefixLength = '32'] = cidr.split('/');
    return { address, prefix: Number(prefixLength) };
  });
  const advertisedCount = (raw.vips ?? []).length;
  if (advertisedCount === 0)
    issues.push({ key: `${prefix}vips`, reason: 'at least one virtual address is required' });
  if (advertisedCount > 255) {
    // The count field is 8 bits; more VIPs than that cannot be advertised in one packet.
    issues.push({
      key: `${prefix}vips`,
      reason: `at most 255 addresses fit in an advert, got ${advertisedCount}; list the rest in excludedVips`,
    });
  }
  const seen = new Set<string>();
  for (const vip of vips) {
    if (seen.has(vip.address))
      issues.push({ key: `${prefix}vips`, reason: `${vip.address} is listed twice` });
    seen.add(vip.address);
  }
  const sharing: LoadSharingConfig | null =
    raw.loadSharing === null
      ? null
      : ({
          backend: 'auto',
          hashmode: 'sourceip',
          hashInit: 0,
          ...raw.loadSharing,
          interface: raw.interface as string,
          vips: vips.map((v) => v.address),
        } as LoadSharingConfig);
  for (const problem of sharing === null ? [] : validateLoadSharing(sharing)) {
    const colon = problem.indexOf(':');
    issues.push({
      key: `${prefix}loadSharing.${problem.slice(0, colon)}`,
      reason: problem.slice(colon + 1).trim(),
    });
  }
  for (const [i, group] of raw.marks.entries()) {
    for (const [j, m] of group.match.entries()) {
      if (!vips.some((v) => v.address === m.vip)) {
        issues.push({
          key: `${prefix}marks[${i}].match[${j}].vip`,
          reason: `${m.vip} is not one of this instance's VIPs`,
        });
      }
    }
  }
  if (issues.length > before) return undefined;
  return {
    name: raw.name as string,
    interface: raw.interface as string,
    vrid: raw.vrid as number,
    priority: raw.priority,
    version,
    advertIntervalCs,
    preempt: raw.preempt,
    preemptDelayMs: Math.round(raw.preemptDelay * 1000),
    accept: raw.accept,
    reassertOnLower: raw.reassertOnLower,
    transport: raw.transport as TransportKind,
    udpPort: raw.udpPort,
    unicastPeers: raw.unicastPeers,
    checksum: raw.checksum as ChecksumMode,
    auth:
      version === 2
        ? raw.authPassword === null
          ? { type: 0 }
          : { type: 1, password: raw.authPassword }
        : undefined,
    vips,
    advertisedCount,
    garp: {
      count: raw.garp.count,
      intervalMs: ms(raw.garp.interval),
      refreshMs: ms(raw.garp.refresh),
    },
    hooks: {
      up: raw.hooks.up,
      down: raw.hooks.down,
      extra: raw.hooks.extra,
      perVip: raw.hooks.perVip,
      timeoutMs: ms(raw.hooks.timeout),
      onFailure: raw.hooks.onFailure as HooksConfig['onFailure'],
    },
    conntrackd: {
      enabled: raw.conntrackd.enabled,
      binary: raw.conntrackd.binary,
      config: raw.conntrackd.config,
      timeoutMs: ms(raw.conntrackd.timeout),
    },
    stepTimeoutMs: ms(raw.stepTimeout),
    faultRecoveryMs: ms(raw.faultRecovery),
    loadSharing: sharing,
    marks: raw.marks,
    quorum: quorumOf(raw.quorum, raw.unicastPeers),
    holdDownMs: ms(raw.oneWayHoldDown),
    track: trackOf(raw.track),
    hmac: hmacOf(raw.hmac),
  };
}

function quorumOf(
  raw: Record<string, unknown> | null,
  unicastPeers: string[],
): QuorumConfig | null {
  if (raw === null) return null;
  const list = (v: unknown): string[] | undefined =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
  const num = (v: unknown, dflt: number): number => (typeof v === 'number' ? v : dflt);
  return {
    witnesses: list(raw.witnesses) ?? [],
    // The boxes this one elects with: unicast peers are exactly that when there are any.
    peers: list(raw.peers) ?? unicastPeers,
    timeoutMs: ms(num(raw.timeout, 0.3)),
    intervalMs: ms(num(raw.interval, 1)),
  };
}

/** An instance in the file's own shape (seconds, CIDR strings): what `vipd check` prints. */
export function instanceFileShape(i: InstanceConfig): unknown {
  return {
    name: i.name,
    interface: i.interface,
    vrid: i.vrid,
    priority: i.priority,
    version: i.version,
    advertInterval: i.advertIntervalCs / 100,
    preempt: i.preempt,
    preemptDelay: i.preemptDelayMs / 1000,
    accept: i.accept,
    reassertOnLower: i.reassertOnLower,
    transport: i.transport,
    udpPort: i.udpPort,
    unicastPeers: i.unicastPeers,
    checksum: i.checksum,
    // Masked: this output ends up in tickets; the password is in the file for whoever needs it.
    ...(i.auth?.type === 1 ? { authPassword: '********' } : {}),
    vips: i.vips.slice(0, i.advertisedCount).map((v) => `${v.address}/${v.prefix}`),
    excludedVips: i.vips.slice(i.advertisedCount).map((v) => `${v.address}/${v.prefix}`),
    garp: {
      count: i.garp.count,
      interval: i.garp.intervalMs / 1000,
      refresh: i.garp.refreshMs / 1000,
    },
    hooks: {
      up: i.hooks.up,
      down: i.hooks.down,
      extra: i.hooks.extra,
      perVip: i.hooks.perVip,
      timeout: i.hooks.timeoutMs / 1000,
      onFailure: i.hooks.onFailure,
    },
    conntrackd: {
      enabled: i.conntrackd.enabled,
      binary: i.conntrackd.binary,
      config: i.conntrackd.config,
      timeout: i.conntrackd.timeoutMs / 1000,
    },
    stepTimeout: i.stepTimeoutMs / 1000,
    faultRecovery: i.faultRecoveryMs / 1000,
    marks: i.marks,
    quorum:
      i.quorum === null
        ? null
        : {
            witnesses: i.quorum.witnesses,
            peers: i.quorum.peers,
            timeout: i.quorum.timeoutMs / 1000,
            interval: i.quorum.intervalMs / 1000,
          },
    oneWayHoldDown: i.holdDownMs / 1000,
    // Masked like the password: this output ends up in tickets.
    hmac:
      i.hmac === null
        ? null
        : {
            keys: i.hmac.keys.map((k) => ({ id: k.id, secret: '********' })),
            sendKeyId: i.hmac.sendKeyId,
            window: i.hmac.windowMs / 1000,
          },
    track: {
      interfaces: i.track.interfaces,
      scripts: i.track.scripts.map((sc) => ({
        name: sc.name,
        script: sc.script,
        args: sc.args,
        interval: sc.intervalMs / 1000,
        timeout: sc.timeoutMs / 1000,
        rise: sc.rise,
        fall: sc.fall,
        weight: sc.weight,
      })),
      files: i.track.files.map((f) => ({
        path: f.path,
        weight: f.weight,
        interval: f.intervalMs / 1000,
      })),
    },
    loadSharing:
      i.loadSharing === null
        ? null
        : {
            backend: i.loadSharing.backend,
            hashmode: i.loadSharing.hashmode,
            clusterMac: i.loadSharing.clusterMac,
            totalNodes: i.loadSharing.totalNodes,
            localNode: i.loadSharing.localNode,
            hashInit: i.loadSharing.hashInit,
          },
  };
}
