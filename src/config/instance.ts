/**
 * One virtual router: the instance section of the file (keys, defaults and units as
 * docs/configuration.md documents them), the checks across its keys, and the normalised
 * InstanceConfig the daemon runs with (intervals in ms or centiseconds, VIPs split into address
 * and prefix). The types are the schema's output; the printer back to the file's shape is
 * checked against its input.
 */
import * as z from 'zod';
import { addressFamily, isLinkLocal, type AddressFamily } from '../net/address.js';
import { virtualMac } from '../vrrp/vmac-address.js';
import { CARP_MAX_PASSWORD } from '../carp/packet.js';
import { parseTarget, type QuorumConfig } from '../router/quorum.js';
import type { VrrpAuth } from '../vrrp/packet.js';
import {
  cidr,
  atLeast,
  expected,
  flag,
  integer,
  interfaceName,
  ipv4,
  listOf,
  ms,
  nullablePath,
  oneOf,
  section,
  seconds,
  text,
  whenValid,
  type FileShape,
} from './formats.js';
import {
  instanceSharingIssues,
  loadSharingSection,
  type LoadSharingConfig,
} from './load-sharing.js';
import { trackFileShape, trackSection } from './track.js';

const vip = cidr;
export type Vip = z.output<typeof vip>;

const garpSection = section({
  /** Gratuitous ARP rounds on becoming master. */
  count: integer(1, 100).default(2),
  /** Seconds between rounds. */
  interval: seconds(0, 60).default(0.1),
  /** Seconds between refresh rounds while master (0 = off). */
  refresh: seconds(0, 86400).default(0),
}).transform((g) => ({
  /** Rounds of one frame per VIP on becoming master (and on re-asserting against another master). */
  count: g.count,
  intervalMs: ms(g.interval),
  /** Repeat a round this often while master; 0 = never. */
  refreshMs: ms(g.refresh),
}));
export type GarpConfig = z.output<typeof garpSection>;

const hooksSection = section({
  /** Script run on becoming master (ucarp --upscript). */
  up: nullablePath.default(null),
  /** Script run on leaving master (ucarp --downscript). */
  down: nullablePath.default(null),
  /** Third argument to the scripts (ucarp --xparam). */
  extra: z
    .string({ error: expected('a string or null') })
    .nullable()
    .default(null),
  perVip: flag.default(true),
  onFailure: oneOf(['fault', 'ignore']).default('fault'),
  /** Seconds before a hook is killed (with its process group). */
  timeout: seconds(0.1, 3600).default(10),
}).transform((h) => ({
  /** ucarp-style scripts, called as `<interface> <vip> [extra]`. */
  up: h.up,
  down: h.down,
  extra: h.extra,
  /** true: once per VIP, as ucarp does; false: once per transition with the first VIP and all in VIPD_VIPS. */
  perVip: h.perVip,
  timeoutMs: ms(h.timeout),
  /**
   * What a failing hook means: 'fault' (the transition failed: rolled back, FAULT) or 'ignore'
   * (logged, the transition stands), as ucarp, which never looks at its scripts' exit status.
   */
  onFailure: h.onFailure,
}));
export type HooksConfig = z.output<typeof hooksSection>;

const conntrackdSection = section({
  /** Flip conntrackd between primary and backup. */
  enabled: flag.default(false),
  binary: text.default('conntrackd'),
  /** conntrackd config file (holds the control socket and log file). */
  config: text.default('/etc/conntrackd/conntrackd.conf'),
  /** Seconds a conntrackd command may take. */
  timeout: seconds(0.1, 600).default(10),
}).transform((c) => ({
  enabled: c.enabled,
  binary: c.binary,
  config: c.config,
  timeoutMs: ms(c.timeout),
}));
export type ConntrackdConfig = z.output<typeof conntrackdSection>;

/** Firewall marks for LVS, installed on the master. */
const markGroup = section({
  mark: integer(1, 0xffffffff),
  match: listOf(
    section({ vip: ipv4, port: integer(1, 65535), protocol: oneOf(['tcp', 'udp', 'sctp']) }),
    'matches { vip, port, protocol }',
  ).min(1, atLeast(1, 'match { vip, port, protocol }')),
});
export type MarkGroup = z.output<typeof markGroup>;

const WITNESS = 'an address (pinged) or address:port (TCP connect)';
const witness = z
  .string({ error: expected(WITNESS) })
  .refine((t) => parseTarget(t) !== undefined, { error: expected(WITNESS) });
const PEER = 'an address (pinged; no port)';
const peer = z
  .string({ error: expected(PEER) })
  .refine((t) => parseTarget(t)?.port === undefined && parseTarget(t) !== undefined, {
    error: expected(PEER),
  });

/**
 * Split-brain prevention: a takeover needs a majority of the witnesses (and of the boxes when
 * peers lists two or more). Peers default to the unicast peers, filled in by the instance.
 */
const quorumSection = section(
  {
    witnesses: listOf(witness, 'witnesses').min(1, atLeast(1, 'witness')),
    peers: listOf(peer, 'peer addresses').optional(),
    timeout: seconds(0.01, 10).default(0.3),
    interval: seconds(0.01, 3600).default(1),
  },
  true,
);

const SECRET = 'a string of at least 16 bytes (e.g. 32 random hex characters)';
/** Signed adverts between vipd boxes (vrrp/hmac.ts); not understood by keepalived. */
const hmacSection = section(
  {
    keys: listOf(
      section({
        id: integer(1, 255),
        secret: z
          .string({ error: () => `must be ${SECRET}` })
          .refine((s) => Buffer.byteLength(s) >= 16, { error: () => `must be ${SECRET}` }),
      }),
      'keys { id, secret }',
    ).min(1, atLeast(1, 'key { id, secret }')),
    /** Adverts are signed with this key; every configured key is accepted (rollover). */
    sendKeyId: integer(1, 255).optional(),
    /** Seconds of clock skew accepted. */
    window: seconds(0.1, 3600).default(5),
  },
  true,
)
  .superRefine(
    (h, ctx) => {
      const ids = h.keys.map((k) => k.id);
      ids.forEach((id, i) => {
        if (ids.indexOf(id) !== i) {
          ctx.addIssue({
            code: 'custom',
            path: ['keys', i, 'id'],
            message: `key id ${id} is already used by keys[${ids.indexOf(id)}]`,
          });
        }
      });
      if (h.sendKeyId !== undefined && !ids.includes(h.sendKeyId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sendKeyId'],
          message: `${h.sendKeyId} is not one of the key ids (${ids.join(', ')})`,
        });
      }
    },
    whenValid(['keys', 'sendKeyId']),
  )
  .transform((h) => ({
    keys: h.keys.map((k) => ({ id: k.id, secret: Buffer.from(k.secret, 'utf8') })),
    sendKeyId: h.sendKeyId ?? h.keys[0]?.id ?? 1,
    windowMs: ms(h.window),
  }));
export type HmacConfig = z.output<typeof hmacSection>;
export type HmacKey = HmacConfig['keys'][number];

const advertInterval = z
  .number({ error: expected('a positive number of seconds') })
  .positive({ error: expected('a positive number of seconds') })
  .refine((s) => Math.abs(s * 100 - Math.round(s * 100)) <= 1e-6, {
    error: (issue) => `must be a multiple of 0.01 s, got ${String(issue.input)}`,
  });

// Not echoed back, unlike other values: this output ends up in tickets.
const PASSWORD = 'must be a string of 1 to 8 bytes, or null';
const password = z
  .string({ error: () => PASSWORD })
  .refine((p) => p.length > 0 && Buffer.byteLength(p) <= 8, { error: () => PASSWORD });

const VIPS = 'addresses like 10.99.0.100/24 or 2001:db8::100/64';

const CARP_PASSWORD = `must be a string of 1 to ${CARP_MAX_PASSWORD} bytes`;
/** CARP (ucarp, OpenBSD) instead of VRRP: the timing and the HMAC's password. */
const carpSection = section(
  {
    password: z
      .string({ error: () => CARP_PASSWORD })
      .refine((p) => p.length > 0 && Buffer.byteLength(p) <= CARP_MAX_PASSWORD, {
        error: () => CARP_PASSWORD,
      }),
    /** Whole seconds between adverts (ucarp -b). */
    advbase: integer(1, 255).default(1),
    /** Added to advbase in 1/256 s: the lower (advbase, advskew) is master (ucarp -k). */
    advskew: integer(0, 254).default(0),
    /** A backup takes over after deadRatio x advbase + advskew/256 s of silence (ucarp -r). */
    deadRatio: integer(1, 255).default(3),
  },
  true,
);

const VMAC = 'true, false or the name of the interface to create';
const vmac = z.union([z.boolean(), interfaceName], { error: expected(VMAC) });

/** The instance's keys as the file writes them. */
export const instanceShape = {
  /** Instance name, unique. */
  name: text,
  /** Interface carrying the election. */
  interface: interfaceName,
  /**
   * FAULT (release everything) while the election interface is absent, down or without an
   * address of its own, as keepalived tracks it (its `dont_track_primary` is false).
   */
  trackInterface: flag.default(true),
  /** What the election speaks on protocol 112: VRRP, or CARP to replace ucarp box by box. */
  protocol: oneOf(['vrrp', 'carp']).default('vrrp'),
  /** CARP only: ucarp's password, advbase, advskew and dead ratio. */
  carp: carpSection.nullable().default(null),
  /** The virtual router id (CARP: the vhid). */
  vrid: integer(1, 255),
  /** 1..254, 255 = address owner. */
  priority: integer(1, 255).default(100),
  version: oneOf([2, 3]).default(3),
  /** Seconds (v2: whole seconds 1..255, v3: 0.01..40.95 in 0.01 steps). */
  advertInterval: advertInterval.default(1),
  /** A higher-priority backup takes over from a lower master. */
  preempt: flag.default(true),
  /** Seconds after entering backup before preempting a lower master. */
  preemptDelay: seconds(0, 3600).default(0),
  /** Accept_Mode: answer traffic to VIPs this box does not own. */
  accept: flag.default(false),
  /** RFC 9568: a master answers a lower-priority advert at once. */
  reassertOnLower: flag.default(true),
  /** raw = IP protocol 112 (VRRP on the wire); udp = VRRP packets in UDP. */
  transport: oneOf(['raw', 'udp']).default('raw'),
  udpPort: integer(1, 65535).default(11200),
  /** Send to these addresses instead of 224.0.0.18 and accept adverts only from them. */
  unicastPeers: listOf(ipv4, 'IPv4 addresses').default([]),
  /** v3 checksum on send: rfc5798 (with IPv4 pseudo-header, keepalived/FRR) or rfc9568 (without). */
  checksum: oneOf(['rfc5798', 'rfc9568']).default('rfc5798'),
  /** v2 only: keepalived auth_type PASS password (1..8 bytes). Sent in clear: no protection. */
  authPassword: password.nullable().default(null),
  /** Virtual addresses, listed in adverts. */
  vips: listOf(vip, VIPS)
    .min(1, { error: () => 'at least one virtual address is required' })
    .max(255, {
      // The count field is 8 bits; more VIPs than that cannot be advertised in one packet.
      error: (issue) =>
        `at most 255 addresses fit in an advert, got ${Array.isArray(issue.input) ? issue.input.length : '?'}; list the rest in excludedVips`,
    }),
  /** More virtual addresses moved with the instance but not listed in adverts (keepalived virtual_ipaddress_excluded). */
  excludedVips: listOf(vip, VIPS).default([]),
  garp: garpSection.prefault({}),
  hooks: hooksSection.prefault({}),
  conntrackd: conntrackdSection.prefault({}),
  /** Seconds before a plan step is killed and the plan rolled back. */
  stepTimeout: seconds(0.1, 3600).default(30),
  /** Seconds in FAULT before the election is tried again. */
  faultRecovery: seconds(1, 86400).default(30),
  marks: listOf(markGroup, 'mark groups { mark, match }').default([]),
  quorum: quorumSection.nullable().default(null),
  hmac: hmacSection.nullable().default(null),
  track: trackSection.prefault({}),
  /** Seconds a master that yielded to a lower master that cannot hear it stays backup before preempting again. */
  oneWayHoldDown: seconds(1, 86400).default(60),
  /** Load sharing of the VIPs: the instance supplies interface and VIPs. */
  loadSharing: loadSharingSection.nullable().default(null),
  /**
   * The RFC's virtual MAC (00:00:5e:00:01:VRID, IPv6 00:00:5e:00:02:VRID) on a macvlan that
   * carries the VIPs and sends the master's adverts and announcements: true names it
   * vrrp4-VRID / vrrp6-VRID, a string names it.
   */
  vmac: vmac.default(false),
};

type Election = { version: 2 | 3 };

/** The interval field of each version (RFC 3768: whole seconds; RFC 9568: centiseconds). */
export function intervalIssues(
  v: Election & { advertInterval: number },
  ctx: z.RefinementCtx,
): void {
  const cs = Math.round(v.advertInterval * 100);
  const message =
    v.version === 2 && (cs % 100 !== 0 || cs > 25500)
      ? `VRRPv2 carries whole seconds from 1 to 255, got ${v.advertInterval}`
      : v.version === 3 && cs > 4095
        ? `VRRPv3 allows at most 40.95 s, got ${v.advertInterval}`
        : undefined;
  if (message !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['advertInterval'], message, input: v.advertInterval });
  }
}

export function authIssues(
  v: Election & { authPassword: string | null },
  ctx: z.RefinementCtx,
): void {
  if (v.authPassword !== null && v.version !== 2) {
    ctx.addIssue({
      code: 'custom',
      path: ['authPassword'],
      message: 'only VRRPv2 has authentication; remove it or set version 2',
    });
  }
}

/**
 * An instance is one address family (RFC 5798 section 5.2.9: an advert's addresses are all of
 * the family it is sent over); IPv6 exists only in VRRPv3 over raw IP to ff02::12.
 */
export function familyIssues(
  v: Election & {
    protocol?: 'vrrp' | 'carp';
    vips: Vip[];
    excludedVips: Vip[];
    transport: string;
    unicastPeers: string[];
    marks: unknown[];
  },
  ctx: z.RefinementCtx,
): void {
  const all = [...v.vips, ...v.excludedVips];
  const family = familyOf(all);
  if (all.some((x) => addressFamily(x.address) !== family)) {
    ctx.addIssue({
      code: 'custom',
      path: ['vips'],
      message:
        'mixes IPv4 and IPv6 addresses: an instance is one address family; make one instance per family (and a sync group to move them together)',
    });
    return;
  }
  // carpIssues says what a CARP instance refuses, IPv6 included.
  if (family === 4 || v.protocol === 'carp') return;
  const issue = (path: string, message: string): void => {
    ctx.addIssue({ code: 'custom', path: [path], message });
  };
  if (v.version === 2) issue('version', 'VRRPv2 has no IPv6: IPv6 VIPs need version 3');
  if (v.transport !== 'raw') {
    issue('transport', 'transport udp carries IPv4 only: IPv6 instances use raw (ff02::12)');
  }
  if (v.unicastPeers.length > 0) {
    issue(
      'unicastPeers',
      'unicast peers are IPv4 addresses and an IPv6 instance advertises to ff02::12: remove them',
    );
  }
  if (v.marks.length > 0) {
    issue(
      'marks',
      'firewall marks match IPv4 VIPs only (an nft ip table): not for an IPv6 instance',
    );
  }
}

/** The family of an instance's VIPs (the first one's: familyIssues refuses a mix). */
export function familyOf(vips: readonly Vip[]): AddressFamily {
  return addressFamily(vips[0]?.address ?? '') ?? 4;
}

/**
 * RFC 5798 section 5.2.9: an IPv6 advert's first address is the virtual router's link-local
 * address, so a link-local VIP the file lists goes first. None is added when the file lists none
 * (`vipd check` warns): keepalived 2.2.7 drops an advert whose address count differs from its
 * own list, so an address only vipd advertised would split a mixed pair.
 */
function advertisedOrder(vips: Vip[], family: AddressFamily): Vip[] {
  const linkLocal = family === 6 ? vips.find((v) => isLinkLocal(v.address)) : undefined;
  if (linkLocal === undefined) return vips;
  return [linkLocal, ...vips.filter((v) => v !== linkLocal)];
}

/** The EUI-64 link-local address of a VRID's IPv6 virtual MAC: the one to list first. */
export function virtualLinkLocal(vrid: number): Vip {
  return { address: `fe80::200:5eff:fe00:${(0x200 + vrid).toString(16)}`, prefix: 64 };
}

/** One address moved twice by one router would be added and removed by the same plan. */
export function vipIssues(v: { vips: Vip[]; excludedVips?: Vip[] }, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const { address } of [...v.vips, ...(v.excludedVips ?? [])]) {
    if (seen.has(address)) {
      ctx.addIssue({ code: 'custom', path: ['vips'], message: `${address} is listed twice` });
    }
    seen.add(address);
  }
}

/** VRRP keys a CARP instance refuses (set to anything but the default) and what CARP has instead. */
const NOT_CARP: readonly [string, (v: CarpElection) => boolean, string][] = [
  ['version', (v) => v.version !== 3, 'CARP has one version (2, its own)'],
  ['priority', (v) => v.priority !== 100, 'CARP ranks boxes by carp.advskew (lower wins)'],
  ['advertInterval', (v) => v.advertInterval !== 1, 'CARP advertises every carp.advbase s'],
  ['preemptDelay', (v) => v.preemptDelay !== 0, 'CARP has no preempt delay'],
  ['authPassword', (v) => v.authPassword !== null, 'CARP authenticates with carp.password'],
  ['hmac', (v) => v.hmac !== null, 'CARP authenticates with carp.password'],
  ['transport', (v) => v.transport !== 'raw', 'CARP is IP protocol 112 (raw) only'],
  ['unicastPeers', (v) => v.unicastPeers.length > 0, 'CARP advertises to 224.0.0.18'],
  ['checksum', (v) => v.checksum !== 'rfc5798', 'a VRRPv3 setting'],
  ['vmac', (v) => v.vmac !== false, "ucarp uses the box's own MAC and gratuitous ARP"],
  ['quorum', (v) => v.quorum !== null, 'not implemented for CARP'],
];

type CarpElection = Election & {
  protocol: 'vrrp' | 'carp';
  carp: unknown;
  priority: number;
  advertInterval: number;
  preemptDelay: number;
  authPassword: string | null;
  hmac: unknown;
  transport: string;
  unicastPeers: string[];
  checksum: string;
  vmac: unknown;
  quorum: unknown;
  vips: Vip[];
};

/** CARP needs its section and IPv4; VRRP's own keys mean nothing to it. */
export function carpIssues(v: CarpElection, ctx: z.RefinementCtx): void {
  const issue = (path: string, message: string): void => {
    ctx.addIssue({ code: 'custom', path: [path], message });
  };
  if (v.protocol === 'vrrp') {
    if (v.carp !== null) issue('carp', 'only for protocol "carp"; remove it or set protocol');
    return;
  }
  if (v.carp === null) {
    issue('carp', 'protocol "carp" needs a carp section with at least { "password": ... }');
  }
  for (const [key, set, why] of NOT_CARP) {
    if (set(v)) issue(key, `not for protocol "carp" (${why}): remove it`);
  }
  if (familyOf(v.vips) === 6) {
    issue('vips', 'CARP (as ucarp speaks it) is IPv4 only: use protocol "vrrp" for IPv6');
  }
}

const instanceFile = section(instanceShape)
  .superRefine(intervalIssues, whenValid(['version', 'advertInterval']))
  .superRefine(authIssues, whenValid(['version', 'authPassword']))
  .superRefine(vipIssues, whenValid(['vips', 'excludedVips']))
  .superRefine(
    carpIssues,
    whenValid([
      'protocol',
      'version',
      'priority',
      'advertInterval',
      'preemptDelay',
      'authPassword',
      'hmac',
      'transport',
      'unicastPeers',
      'checksum',
      'vmac',
      'quorum',
      'vips',
    ]),
  )
  .superRefine(instanceSharingIssues, whenValid(['vips', 'excludedVips', 'loadSharing']))
  .superRefine(
    familyIssues,
    whenValid([
      'vips',
      'excludedVips',
      'version',
      'transport',
      'unicastPeers',
      'marks',
      'protocol',
    ]),
  )
  .superRefine(
    (v, ctx) => {
      const mine = new Set([...v.vips, ...v.excludedVips].map((x) => x.address));
      v.marks.forEach((group, i) =>
        group.match.forEach((m, j) => {
          if (!mine.has(m.vip)) {
            ctx.addIssue({
              code: 'custom',
              path: ['marks', i, 'match', j, 'vip'],
              message: `${m.vip} is not one of this instance's VIPs`,
            });
          }
        }),
      );
    },
    whenValid(['marks', 'vips', 'excludedVips']),
  );

/** The file's instance, every default filled in. */
type InstanceFile = z.output<typeof instanceFile>;

export function normaliseInstance(raw: InstanceFile) {
  const family = familyOf(raw.vips);
  const advertised = advertisedOrder(raw.vips, family);
  const vips = [...advertised, ...raw.excludedVips];
  const vmac =
    raw.vmac === false
      ? null
      : {
          name: raw.vmac === true ? `vrrp${family}-${raw.vrid}` : raw.vmac,
          mac: virtualMac(family, raw.vrid),
        };
  const auth: VrrpAuth | undefined =
    raw.version !== 2
      ? undefined
      : raw.authPassword === null
        ? { type: 0 }
        : { type: 1, password: raw.authPassword };
  const loadSharing: LoadSharingConfig | null =
    raw.loadSharing === null
      ? null
      : { ...raw.loadSharing, interface: raw.interface, vips: vips.map((v) => v.address) };
  const quorum: QuorumConfig | null =
    raw.quorum === null
      ? null
      : {
          witnesses: raw.quorum.witnesses,
          // The boxes this one elects with: unicast peers are exactly that when there are any.
          peers: raw.quorum.peers ?? raw.unicastPeers,
          timeoutMs: ms(raw.quorum.timeout),
          intervalMs: ms(raw.quorum.interval),
        };
  const carp =
    raw.protocol === 'carp' && raw.carp !== null
      ? { ...raw.carp, password: Buffer.from(raw.carp.password, 'utf8') }
      : null;
  return {
    name: raw.name,
    interface: raw.interface,
    trackInterface: raw.trackInterface,
    protocol: raw.protocol,
    /** CARP's timing and password (protocol carp), or null. */
    carp,
    vrid: raw.vrid,
    priority: raw.priority,
    version: raw.version,
    /** CARP: advbase (its adverts are advbase + advskew/256 s apart; carp holds the skew). */
    advertIntervalCs: carp === null ? Math.round(raw.advertInterval * 100) : carp.advbase * 100,
    preempt: raw.preempt,
    preemptDelayMs: ms(raw.preemptDelay),
    accept: raw.accept,
    reassertOnLower: raw.reassertOnLower,
    transport: raw.transport,
    udpPort: raw.udpPort,
    unicastPeers: raw.unicastPeers,
    checksum: raw.checksum,
    auth,
    /** Every VIP the instance moves: the advertised ones first, then the excluded ones. */
    vips,
    /** How many of `vips` go into adverts (keepalived's virtual_ipaddress vs _excluded). */
    advertisedCount: advertised.length,
    /** The address family of the VIPs and of the election (ff02::12 from a link-local for 6). */
    family,
    /** The virtual MAC's macvlan, or null: the VIPs then sit on the interface itself. */
    vmac,
    /** Where the VIPs go: the virtual MAC's macvlan, or the interface itself. */
    vipInterface: vmac?.name ?? raw.interface,
    garp: raw.garp,
    hooks: raw.hooks,
    conntrackd: raw.conntrackd,
    /** Each step of a transition's action plan is killed and rolled back after this long. */
    stepTimeoutMs: ms(raw.stepTimeout),
    /** How long FAULT lasts before the election is tried again. */
    faultRecoveryMs: ms(raw.faultRecovery),
    /** CLUSTERIP-style load sharing of the VIPs, or null. */
    loadSharing,
    /** Firewall-mark groups for LVS, installed on the master. */
    marks: raw.marks,
    /** Split-brain prevention: takeover needs a majority of witnesses (and of boxes), or null. */
    quorum,
    /** A master that yields to a peer that cannot hear it holds off preempting it this long. */
    holdDownMs: ms(raw.oneWayHoldDown),
    /** Health tracking: interfaces, scripts and files that move the priority or force FAULT. */
    track: raw.track,
    /** HMAC-signed adverts between vipd boxes (vrrp/hmac.ts), or null. */
    hmac: raw.hmac,
  };
}

export const instanceSchema = instanceFile.transform(normaliseInstance);

/** One virtual router, normalised. */
export type InstanceConfig = z.output<typeof instanceSchema>;
/** A CARP instance's timing and password. */
export type CarpConfig = NonNullable<InstanceConfig['carp']>;
export type TransportKind = InstanceConfig['transport'];

const cidrOf = (v: Vip): string => `${v.address}/${v.prefix}`;
/** Printed instead of secrets: this output ends up in tickets. */
const MASK = '********';

/** An instance in the file's own shape (seconds, CIDR strings): what `vipd check` prints. */
export function instanceFileShape(i: InstanceConfig): FileShape<z.input<typeof instanceFile>> {
  return {
    name: i.name,
    interface: i.interface,
    trackInterface: i.trackInterface,
    protocol: i.protocol,
    carp:
      i.carp === null
        ? null
        : {
            password: MASK,
            advbase: i.carp.advbase,
            advskew: i.carp.advskew,
            deadRatio: i.carp.deadRatio,
          },
    vrid: i.vrid,
    priority: i.priority,
    version: i.version,
    advertInterval: i.protocol === 'carp' ? 1 : i.advertIntervalCs / 100,
    preempt: i.preempt,
    preemptDelay: i.preemptDelayMs / 1000,
    accept: i.accept,
    reassertOnLower: i.reassertOnLower,
    transport: i.transport,
    udpPort: i.udpPort,
    unicastPeers: i.unicastPeers,
    checksum: i.checksum,
    // Masked: the password is in the file for whoever needs it.
    authPassword: i.auth?.type === 1 ? MASK : null,
    vips: i.vips.slice(0, i.advertisedCount).map(cidrOf),
    excludedVips: i.vips.slice(i.advertisedCount).map(cidrOf),
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
    hmac:
      i.hmac === null
        ? null
        : {
            keys: i.hmac.keys.map((k) => ({ id: k.id, secret: MASK })),
            sendKeyId: i.hmac.sendKeyId,
            window: i.hmac.windowMs / 1000,
          },
    track: trackFileShape(i.track),
    oneWayHoldDown: i.holdDownMs / 1000,
    vmac: i.vmac === null ? false : i.vmac.name,
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
