/**
 * What the benchmarks measure with, on top of test/lab/lab.ts: both daemons started with the
 * same virtual routers and timers (VRRPv3, any advert interval, VRIDs 1..n, IPv4 or IPv6), or
 * for CARP vipd and ucarp 1.5.2 with the same vhid, password, address and advbase/advskew, their
 * state changes read from their logs, the RFC 5798 timers, kernel events timestamped by `ip
 * -tshort monitor` (the time `ip` read the netlink event, not when node got round to the line), the
 * master's adverts timestamped by tcpdump (kernel receive time), a client pinging a VIP, and
 * CPU/RSS/PSS of a box's processes from /proc.
 *
 * Every time here is a wall-clock epoch in milliseconds (fractional where the source has
 * microseconds), so kernel, tcpdump and `ip monitor` times compare with each other and with
 * Date.now() taken right before a signal.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { LabError, type Lab, type LabProcess } from '../test/lab/lab.js';
import { REPO_ROOT } from '../test/support/paths.js';
import { until } from '../test/support/until.js';
import { configFile, controlSocket, transitions, vipdConfig } from '../test/support/vipd.js';
import { virtualLinkLocal } from '../src/config/instance.js';
import { addressFamily, isLinkLocal } from '../src/net/address.js';

/**
 * The benchmarks run vipd from a snapshot compiled into dist/.bench/ (same sources, same
 * package root for node_modules and the native addon), not from dist/: a test run elsewhere
 * recompiles dist/ in place, and a vipd started mid-compile would load half-written modules.
 */
const SNAPSHOT = join(REPO_ROOT, 'dist', '.bench');
const SNAPSHOT_CLI = join(SNAPSHOT, 'src', 'cli.js');
const SNAPSHOT_ENV = 'VIPD_BENCH_SNAPSHOT';

/** Compiles the snapshot, unless bench/all.ts already did for this run (it sets the env). */
export async function buildVipdSnapshot(): Promise<void> {
  if (process.env[SNAPSHOT_ENV] === SNAPSHOT && existsSync(SNAPSHOT_CLI)) return;
  rmSync(SNAPSHOT, { recursive: true, force: true });
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = await execa(process.execPath, [tsc, '-p', 'tsconfig.json', '--outDir', SNAPSHOT], {
    cwd: REPO_ROOT,
    reject: false,
  });
  // Type errors elsewhere (work in progress in test/) still emit; a missing CLI is fatal.
  if (!existsSync(SNAPSHOT_CLI)) {
    throw new LabError(`compiling vipd into ${SNAPSHOT} failed:\n${r.stdout}\n${r.stderr}`);
  }
  if (r.exitCode !== 0)
    process.stderr.write(`bench: tsc reported errors (emitted anyway):\n${r.stdout}\n`);
  process.env[SNAPSHOT_ENV] = SNAPSHOT;
}

/** startVipdWith (test/support/vipd.ts) with the snapshot's CLI. */
export function startBenchVipd(lab: Lab, host: string, config: unknown): LabProcess {
  if (process.env[SNAPSHOT_ENV] !== SNAPSHOT) {
    throw new LabError('bench: call buildVipdSnapshot() before starting vipd');
  }
  const file = configFile(lab, host);
  const doc = { control: { socket: controlSocket(lab, host) }, ...(config as object) };
  writeFileSync(file, JSON.stringify(doc, null, 2));
  // No Node or V8 flags, and the unit's compile cache (its comment says why): what this measures
  // is what config/vipd.service runs. The cache lives with the snapshot, so the first start of
  // a run compiles everything, as the first start after an install does.
  return lab.spawn(
    host,
    `vipd-${host}`,
    process.execPath,
    [SNAPSHOT_CLI, 'run', '--config', file],
    {
      NODE_COMPILE_CACHE: join(SNAPSHOT, '.compile-cache'),
    },
  );
}

export type Daemon = 'vipd' | 'keepalived';
export const DAEMONS: readonly Daemon[] = ['vipd', 'keepalived'];

/** The CARP pairs: vipd with `protocol: "carp"`, and ucarp itself. */
export type CarpDaemon = 'vipd' | 'ucarp';
export const CARP_DAEMONS: readonly CarpDaemon[] = ['vipd', 'ucarp'];

/** Any daemon whose state changes the benchmarks read from its log. */
export type AnyDaemon = Daemon | CarpDaemon;

export type Family = 4 | 6;

/** The family of an address as `ip` prints it; anything else is a bug in the benchmark. */
export function familyOf(ip: string): Family {
  const f = addressFamily(ip);
  if (f === undefined) throw new LabError(`bench: ${ip} is not an IPv4 or IPv6 address`);
  return f;
}

export interface VirtualRouter {
  vrid: number;
  /** CIDRs on eth0 of the master, in config order: one IPv4, or IPv6's virtual link-local first. */
  vips: string[];
  /**
   * CIDRs the master also holds but does not advertise (keepalived's virtual_ipaddress_excluded,
   * vipd's excludedVips): how either carries more addresses than an advert does.
   */
  excluded?: string[];
}

/** The n-th (1-based, up to 65,535) of many /32 addresses for one instance: 10.100.0.1 on. */
export const bulkVip = (n: number): string => `10.100.${n >> 8}.${n & 255}`;

/**
 * VRIDs 1..count (at most 153) with VIPs 10.99.0.101.. (lab hosts take .1 up), or for IPv6
 * 2001:db8:99::100.., each after its VRID's virtual link-local (RFC 5798 5.2.9: keepalived drops
 * adverts whose address list is not its own, so both daemons get this same list).
 */
export function virtualRouters(count: number, family: Family = 4): VirtualRouter[] {
  if (count < 1 || count > 153) throw new RangeError(`${count} virtual routers: 1..153`);
  return Array.from({ length: count }, (_, i) => ({
    vrid: i + 1,
    vips:
      family === 4
        ? [`10.99.0.${101 + i}/24`]
        : [`${virtualLinkLocal(i + 1).address}/64`, `2001:db8:99::${(0x100 + i).toString(16)}/64`],
  }));
}

const bareAddress = (cidr: string): string => cidr.split('/')[0] ?? cidr;

/** The address clients reach the router at: its IPv4 VIP, or its first IPv6 VIP not link-local. */
export function address(r: VirtualRouter): string {
  const a = r.vips.map(bareAddress).find((ip) => !isLinkLocal(ip));
  if (a === undefined) throw new LabError(`bench: virtual router ${r.vrid} has no routable VIP`);
  return a;
}

/** The address owner's priority (RFC 5798): master at start-up, no waiting. */
export const OWNER_PRIORITY = 255;

export interface BoxOptions {
  priority: number;
  /** Advertisement interval, seconds (VRRPv3: centisecond steps). */
  advertS: number;
  routers: VirtualRouter[];
}

/** RFC 5798 §6.1 timers of a backup of `priority`, in ms. */
export function rfcTimers(priority: number, advertS: number): { skewMs: number; mdiMs: number } {
  const skewMs = ((256 - priority) * advertS * 1000) / 256;
  return { skewMs, mdiMs: 3 * advertS * 1000 + skewMs };
}

export interface CarpBoxOptions {
  /** Whole seconds, as CARP carries them. */
  advbase: number;
  advskew: number;
  /** One virtual host: its vhid and its one IPv4 address (VIP/32), the one the HMAC covers. */
  router: VirtualRouter;
}

/** CARP's (and ucarp's default) dead ratio: a backup waits this many advbases, plus its skew. */
export const CARP_DEAD_RATIO = 3;

/** How long a CARP backup with `advskew` waits after the last advert before taking over, ms. */
export function carpDownMs(advbase: number, advskew: number): number {
  return CARP_DEAD_RATIO * advbase * 1000 + (advskew * 1000) / 256;
}

const CARP_PASSWORD = 'bench';

/** The (shell) up/down scripts a ucarp box runs, as Debian's examples: they add/del VIP/32. */
function ucarpScripts(lab: Lab, host: string, n: number): { up: string; down: string } {
  const write = (name: string, op: string): string => {
    const path = join(lab.logDir, `bench-ucarp-${host}-${n}-${name}.sh`);
    writeFileSync(path, `#!/bin/sh\nexec ip addr ${op} "$2"/32 dev "$1"\n`, { mode: 0o755 });
    return path;
  };
  return { up: write('up', 'add'), down: write('down', 'del') };
}

let ucarpStarts = 0;

/**
 * vipd (`protocol: "carp"`) or ucarp 1.5.2 on `host`, one virtual host, the same numbers for
 * both. ucarp runs with -z (its down script removes the VIP when it stops as master, as vipd
 * does) and -f none (no syslog: its log goes to stdout/stderr, where its state changes are read).
 * Neither preempts: the runs start the master first.
 */
export function startCarp(
  lab: Lab,
  daemon: CarpDaemon,
  host: string,
  o: CarpBoxOptions,
): LabProcess {
  const vip = bareAddress(o.router.vips[0] ?? '');
  if (daemon === 'vipd') {
    return startBenchVipd(lab, host, {
      node: { name: host },
      log: { level: 'info' },
      instances: [
        {
          name: `CARP_${o.router.vrid}`,
          interface: 'eth0',
          vrid: o.router.vrid,
          protocol: 'carp',
          carp: {
            password: CARP_PASSWORD,
            advbase: o.advbase,
            advskew: o.advskew,
            deadRatio: CARP_DEAD_RATIO,
          },
          preempt: false,
          vips: [`${vip}/32`],
        },
      ],
    });
  }
  ucarpStarts += 1;
  const { up, down } = ucarpScripts(lab, host, ucarpStarts);
  return lab.spawn(host, `ucarp-${host}-${ucarpStarts}`, 'ucarp', [
    ...['-i', 'eth0', '-s', lab.host(host).address, '-v', String(o.router.vrid)],
    ...['-p', CARP_PASSWORD, '-a', vip, '-b', String(o.advbase), '-k', String(o.advskew)],
    ...['-r', String(CARP_DEAD_RATIO), '-u', up, '-d', down, '-z', '-f', 'none'],
  ]);
}

let keepalivedStarts = 0;

/**
 * keepalived with one vrrp_instance per router. test/support/keepalived.ts writes a single
 * instance with advert_int 1 fixed; the benchmarks need many instances and sub-second adverts
 * (keepalived 2.2.7 takes `advert_int 0.1` with VRRPv3: it sends "intvl 10cs"). Gratuitous ARP
 * (IPv6: unsolicited neighbour advertisement) settings are keepalived's defaults (5 at once on
 * becoming master, 5 more 5 s later). The address owner (priority 255) starts in state MASTER:
 * keepalived 2.2.7 in state BACKUP waits a Master_Down_Interval even at 255, where RFC 5798
 * §6.4.1 (and vipd) go master at once.
 */
export function keepalivedConfig(host: string, o: BoxOptions): string {
  const instances = o.routers.map(
    (r) => `vrrp_instance VI_${r.vrid} {
  state ${o.priority === OWNER_PRIORITY ? 'MASTER' : 'BACKUP'}
  interface eth0
  virtual_router_id ${r.vrid}
  priority ${o.priority}
  advert_int ${o.advertS}
  version 3
  virtual_ipaddress {
${r.vips.map((v) => `    ${v} dev eth0\n`).join('')}  }
${
  r.excluded === undefined
    ? ''
    : `  virtual_ipaddress_excluded {\n${r.excluded.map((v) => `    ${v} dev eth0\n`).join('')}  }\n`
}}
`,
  );
  return `global_defs {
  router_id ${host}
  vrrp_version 3
  script_user root
  enable_script_security
}
${instances.join('')}`;
}

/** Starts `daemon` on `host` with the same routers and timers whichever it is. */
export function startDaemon(lab: Lab, daemon: Daemon, host: string, o: BoxOptions): LabProcess {
  if (daemon === 'vipd') {
    const doc = vipdConfig(
      host,
      o.routers.map((r) => ({
        name: `VI_${r.vrid}`,
        vrid: r.vrid,
        priority: o.priority,
        version: 3,
        advertInterval: o.advertS,
        vips: r.vips,
        ...(r.excluded === undefined ? {} : { excludedVips: r.excluded }),
      })),
    ) as object;
    // Always info, whatever VIPD_TEST_LOG_LEVEL says: states are read from transition lines.
    return startBenchVipd(lab, host, { ...doc, log: { level: 'info' } });
  }
  keepalivedStarts += 1;
  const base = join(lab.logDir, `bench-keepalived-${host}-${keepalivedStarts}`);
  writeFileSync(`${base}.conf`, keepalivedConfig(host, o));
  return lab.spawn(host, `keepalived-${host}-${keepalivedStarts}`, 'keepalived', [
    ...['-n', '-l', '-D', '-G', '-P', '-f', `${base}.conf`],
    ...['-p', `${base}.pid`, '-r', `${base}.vrrp.pid`],
  ]);
}

export interface StateChange {
  instance: string;
  /** master, backup, fault, ... (lower case for both daemons) */
  to: string;
}

const KEEPALIVED_STATE = /\((\S+)\) Entering (\w+) STATE/;
/** ucarp's line on each change (stderr, unbuffered); one virtual host per process. */
const UCARP_STATE = /Switching to state: (\w+)/;

/** Every state change the daemon has logged so far, in order. */
export function stateChanges(daemon: AnyDaemon, proc: LabProcess): StateChange[] {
  if (daemon === 'vipd') return transitions(proc).map((t) => ({ instance: t.instance, to: t.to }));
  return proc.lines.flatMap((line) => {
    if (daemon === 'ucarp') {
      const to = UCARP_STATE.exec(line)?.[1];
      return to === undefined ? [] : [{ instance: proc.name, to: to.toLowerCase() }];
    }
    const m = KEEPALIVED_STATE.exec(line);
    return m?.[1] === undefined || m[2] === undefined
      ? []
      : [{ instance: m[1], to: m[2].toLowerCase() }];
  });
}

/** How many instances are in `state` now, by their latest logged change. */
export function countIn(daemon: AnyDaemon, proc: LabProcess, state: string): number {
  const latest = new Map(stateChanges(daemon, proc).map((c) => [c.instance, c.to]));
  return [...latest.values()].filter((s) => s === state).length;
}

/** Waits until `count` instances are in `state` (the process must still be running). */
export async function waitForState(
  daemon: AnyDaemon,
  proc: LabProcess,
  state: string,
  count: number,
  timeoutMs: number,
): Promise<void> {
  await until(
    `${proc.name}: ${count} instance(s) ${state}`,
    () => {
      if (!proc.running) {
        throw new LabError(`${proc.name} exited; last lines:\n${proc.lines.slice(-15).join('\n')}`);
      }
      const n = countIn(daemon, proc, state);
      return Promise.resolve({ done: n >= count, value: n });
    },
    timeoutMs,
    20,
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The processes in a host's namespace (for keepalived: parent and VRRP child). */
export async function boxPids(lab: Lab, host: string): Promise<number[]> {
  const out = await execa('ip', ['netns', 'pids', lab.host(host).ns]);
  return out.stdout.split('\n').filter(Boolean).map(Number);
}

/**
 * Sends `signal` to every process on `host` and returns Date.now() taken after the process
 * list is read and before the first signal, so the listing's latency is not in the figure.
 * SIGKILL is a crash: every process is stopped (SIGSTOP) before any is killed, so none runs
 * another instruction. Otherwise keepalived's VRRP child, told of its parent's death by
 * PR_SET_PDEATHSIG (SIGTERM), can shut down gracefully (priority-0 advert) in the microseconds
 * between the parent's kill and its own.
 */
export async function signalBox(lab: Lab, host: string, signal: NodeJS.Signals): Promise<number> {
  const pids = await boxPids(lab, host);
  const send = (sig: NodeJS.Signals): void => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // exited meanwhile
      }
    }
  };
  const at = Date.now();
  if (signal === 'SIGKILL') send('SIGSTOP');
  send(signal);
  return at;
}

export async function macOf(lab: Lab, host: string, dev = 'eth0'): Promise<string> {
  const out = await lab.exec(host, 'ip', ['-j', 'link', 'show', 'dev', dev]);
  const mac = (JSON.parse(out) as { address?: string }[])[0]?.address;
  if (mac === undefined) throw new LabError(`${host} ${dev} has no MAC`);
  return mac;
}

/**
 * The MAC `host`'s eth0 neighbour table (ARP, or neighbour discovery for IPv6) holds for `ip`
 * (undefined when none or unresolved).
 */
export async function neighbourMac(
  lab: Lab,
  host: string,
  ip: string,
): Promise<string | undefined> {
  const entries = await lab.neighbours(host, familyOf(ip), 'eth0');
  return entries.find((n) => n.address === ip)?.mac;
}

/** `[2026-11-22T05:48:12.728290] ...` (ip -tshort, TZ=UTC) to epoch ms with microseconds. */
function tshortEpochMs(line: string): number | undefined {
  const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\]/.exec(line);
  if (m?.[1] === undefined || m[2] === undefined) return undefined;
  return Date.parse(`${m[1]}Z`) + Number(m[2]) / 1000;
}

let monitors = 0;

/**
 * Starts `ip -tshort monitor <object>` on `host` (only `family`'s events, when given) and returns
 * a function resolving with the epoch ms at which `ip` read the first event whose text (after the
 * timestamp) matches `re`. Call it BEFORE the action whose effect is timed; it kills the monitor
 * when it resolves.
 */
export async function watchEvent(
  lab: Lab,
  host: string,
  object: 'address' | 'neigh',
  re: RegExp,
  family?: Family,
): Promise<(timeoutMs: number) => Promise<number>> {
  const monitor = await startMonitor(lab, host, object, family);
  const line = /^\[[^\]]+\] (.*)$/;
  return async (timeoutMs) => {
    try {
      const hit = await monitor.waitForLine(
        new RegExp(`^\\[[^\\]]+\\] (?:${re.source})`),
        timeoutMs,
      );
      const at = tshortEpochMs(hit);
      if (at === undefined || !line.test(hit)) throw new LabError(`unparsable: ${hit}`);
      return at;
    } finally {
      monitor.kill('SIGKILL');
    }
  };
}

/** `ip -tshort monitor <object>` on `host`, subscribed by the time this resolves. */
async function startMonitor(
  lab: Lab,
  host: string,
  object: 'address' | 'neigh',
  family?: Family,
): Promise<LabProcess> {
  monitors += 1;
  const monitor = lab.spawn(
    host,
    `bench-monitor-${object}-${host}-${monitors}`,
    'ip',
    [...(family === undefined ? [] : [`-${family}`]), '-tshort', 'monitor', object],
    { TZ: 'UTC' },
  );
  // ip monitor prints nothing when it is subscribed; give it the time to.
  await sleep(100);
  return monitor;
}

/**
 * Like watchEvent, for many IPv4 addresses at once: the returned function resolves with the
 * epoch ms at which `ip` read each one's addition to `host`'s eth0, once all are in (or throws
 * after `timeoutMs`, saying how many were).
 */
export async function watchAddresses(
  lab: Lab,
  host: string,
  ips: string[],
): Promise<(timeoutMs: number) => Promise<Map<string, number>>> {
  const monitor = await startMonitor(lab, host, 'address', 4);
  const wanted = new Set(ips);
  const added = /^\[[^\]]+\] \d+: eth0\s+inet (\S+)\//;
  const seen = new Map<string, number>();
  let read = 0;
  const scan = (): Map<string, number> => {
    for (const l of monitor.lines.slice(read)) {
      const ip = added.exec(l)?.[1];
      const at = tshortEpochMs(l);
      if (ip !== undefined && at !== undefined && wanted.has(ip) && !seen.has(ip)) seen.set(ip, at);
    }
    read = monitor.lines.length;
    return seen;
  };
  return async (timeoutMs) => {
    try {
      return await until(
        `${host}: ${ips.length} addresses added`,
        () => Promise.resolve({ done: scan().size === wanted.size, value: seen.size }),
        timeoutMs,
        20,
      ).then(() => seen);
    } finally {
      monitor.kill('SIGKILL');
    }
  };
}

const escape = (s: string): string => s.replace(/[.]/g, '\\.');

/** The kernel adding `ip` (IPv4 or IPv6) to `host`'s eth0 (not its deletion). */
export function addressAdded(ip: string): RegExp {
  const inet = familyOf(ip) === 6 ? 'inet6' : 'inet';
  return new RegExp(`\\d+: eth0\\s+${inet} ${escape(ip)}/`);
}

/** The neighbour entry (ARP or IPv6 neighbour discovery) for `ip` now carrying `mac`. */
export function neighbourIs(ip: string, mac: string): RegExp {
  return new RegExp(`${escape(ip)} dev eth0 lladdr ${mac} `);
}

/** One advert from the master, with what ranks its sender. */
export type Advert = { at: number; vrid: number } & (
  { protocol: 'vrrp'; priority: number } | { protocol: 'carp'; advbase: number; advskew: number }
);

/** How an advert ranks its sender, for the log: `prio 0`, `advbase 255 advskew 255`. */
export function advertRank(a: Advert): string {
  return a.protocol === 'vrrp' ? `prio ${a.priority}` : `advbase ${a.advbase} advskew ${a.advskew}`;
}

let captures = 0;

/** tcpdump on `host`'s eth0 (kernel receive times, epoch s), capturing by the time this resolves. */
async function startTcpdump(
  lab: Lab,
  host: string,
  options: string[],
  filter: string,
): Promise<LabProcess> {
  captures += 1;
  // A burst (a thousand gratuitous ARPs) must not be dropped: libpcap gives each packet at
  // least a block of the ring sized for the snap length, so a short snap length (every frame
  // timed here is smaller) and a 16 MiB ring hold thousands.
  const dump = lab.spawn(host, `bench-tcpdump-${host}-${captures}`, 'tcpdump', [
    ...['-i', 'eth0', '-nn', '-l', '-tt', '--immediate-mode', '-s', '256', '-B', '16384'],
    ...options,
    filter,
  ]);
  await dump.waitForLine(/listening on/, 5_000);
  return dump;
}

/** Lets tcpdump print what it has read, then stops it; throws if the kernel dropped any. */
async function stopTcpdump(dump: LabProcess): Promise<void> {
  await sleep(20);
  dump.kill('SIGINT');
  await dump.exited;
  const dropped = Number(/(\d+) packets? dropped by kernel/.exec(dump.lines.join('\n'))?.[1] ?? 0);
  if (dropped > 0) throw new LabError(`${dump.name}: the kernel dropped ${dropped} packets`);
}

/** A gratuitous ARP (IPv6: unsolicited neighbour advertisement) seen on the wire. */
export interface Announcement {
  at: number;
  /** The address announced. */
  target: string;
}

/**
 * tcpdump on `host`'s eth0 of the gratuitous ARPs (sender address = target address, request
 * or reply) or, for IPv6, the unsolicited neighbour advertisements (to ff02::1) sent from
 * `mac`: a box announcing its VIPs. seen() parses what it has so far; stop() ends it.
 */
export async function captureAnnouncements(
  lab: Lab,
  host: string,
  mac: string,
  family: Family,
): Promise<{ seen: () => Announcement[]; stop: () => Promise<Announcement[]> }> {
  // ARP over Ethernet: sender protocol address at byte 14, target's at 24.
  const filter =
    family === 4
      ? `ether src ${mac} and arp and arp[14:4] == arp[24:4]`
      : `ether src ${mac} and ip6 dst ff02::1 and icmp6 and ip6[40] == 136`;
  const dump = await startTcpdump(lab, host, [], filter);
  const line =
    /^(\d+\.\d+) (?:ARP, Request who-has (\S+)|ARP, Reply (\S+) is-at|IP6 .* tgt is ([^,\s]+))/;
  const seen = (): Announcement[] =>
    dump.lines.flatMap((l) => {
      const m = line.exec(l);
      const target = m?.[2] ?? m?.[3] ?? m?.[4];
      return m?.[1] === undefined || target === undefined
        ? []
        : [{ at: Number(m[1]) * 1000, target }];
    });
  return {
    seen,
    stop: async () => {
      await stopTcpdump(dump);
      return seen();
    },
  };
}

/**
 * tcpdump on `host`'s eth0 of the adverts `from` sends (for IPv6, its own link-local: the
 * source of VRRPv3 adverts); stop() returns them. CARP shares IP protocol 112 with VRRP, and
 * byte 0 (version 2, type 1) with VRRPv2: tcpdump decodes it as CARP when told (-T carp).
 * seen() parses what it has printed so far.
 */
export async function captureAdverts(
  lab: Lab,
  host: string,
  from: string,
  protocol: 'vrrp' | 'carp' = 'vrrp',
): Promise<{ seen: () => Advert[]; stop: () => Promise<Advert[]> }> {
  // VRRP is next header 112 right after the fixed IPv6 header (no extension headers).
  const proto112 = familyOf(from) === 6 ? 'ip6 and ip6[6] == 112' : 'ip proto 112';
  const dump = await startTcpdump(
    lab,
    host,
    protocol === 'carp' ? ['-T', 'carp'] : [],
    `${proto112} and src host ${from}`,
  );
  const seen = (): Advert[] =>
    dump.lines.flatMap((l): Advert[] => {
      if (protocol === 'carp') {
        const c =
          /^(\d+\.\d+) IP .* CARPv2-advertise \d+: vhid=(\d+) advbase=(\d+) advskew=(\d+)/.exec(l);
        return c === null
          ? []
          : [
              {
                at: Number(c[1]) * 1000,
                vrid: Number(c[2]),
                protocol,
                advbase: Number(c[3]),
                advskew: Number(c[4]),
              },
            ];
      }
      const m = /^(\d+\.\d+) IP6? .* vrid (\d+), prio (\d+)/.exec(l);
      return m === null
        ? []
        : [{ at: Number(m[1]) * 1000, vrid: Number(m[2]), protocol, priority: Number(m[3]) }];
    });
  return {
    seen,
    stop: async () => {
      await stopTcpdump(dump);
      return seen();
    },
  };
}

export interface PingResult {
  transmitted: number;
  received: number;
  lossPercent: number;
  /** Runs of consecutive unanswered pings between answered ones (by icmp_seq), in order. */
  outages: { fromSeq: number; lost: number; ms: number }[];
}

/**
 * `ping -i <interval>` (`-6` for an IPv6 `ip`) from `host` to `ip` until stop(), which returns
 * ping's own counts (an unanswered ping is lost whatever the reason: no owner, neighbour entry
 * still on the old master).
 */
export function startPing(
  lab: Lab,
  host: string,
  ip: string,
  intervalS: number,
): { stop: () => Promise<PingResult> } {
  const v6 = familyOf(ip) === 6 ? ['-6'] : [];
  const ping = lab.spawn(host, `bench-ping-${host}`, 'ping', [
    ...['-n', ...v6, '-i', String(intervalS)],
    ip,
  ]);
  return {
    stop: async () => {
      ping.kill('SIGINT');
      await ping.exited;
      const line = ping.lines.find((l) => / packets transmitted, /.test(l)) ?? '';
      const m = /(\d+) packets transmitted, (\d+) received/.exec(line);
      if (m?.[1] === undefined || m[2] === undefined) {
        throw new LabError(`ping printed no summary: ${ping.lines.slice(-3).join(' / ')}`);
      }
      const transmitted = Number(m[1]);
      const received = Number(m[2]);
      const answered = ping.lines.flatMap((l) => {
        const seq = / bytes from .* icmp_seq=(\d+) /.exec(l)?.[1];
        return seq === undefined ? [] : [Number(seq)];
      });
      const outages = answered.slice(1).flatMap((seq, i) => {
        const before = answered[i] ?? seq;
        const lost = seq - before - 1;
        return lost > 0 ? [{ fromSeq: before + 1, lost, ms: lost * intervalS * 1000 }] : [];
      });
      return {
        transmitted,
        received,
        lossPercent: transmitted === 0 ? NaN : (100 * (transmitted - received)) / transmitted,
        outages,
      };
    },
  };
}

let clockTicks: number | undefined;

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat. */
export async function ticksPerSecond(): Promise<number> {
  clockTicks ??= Number((await execa('getconf', ['CLK_TCK'])).stdout.trim());
  return clockTicks;
}

export interface ProcSample {
  /**
   * utime + stime of the process, plus cutime + cstime: the CPU of children it has reaped
   * (vipd's `ip` commands), which the box spent on the daemon's behalf. Clock ticks.
   */
  cpuTicks: number;
  rssKiB: number;
  /** Proportional set size: shared pages split between the processes sharing them. */
  pssKiB: number;
}

function field(text: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  if (m?.[1] === undefined) throw new LabError(`no ${key} in /proc`);
  return Number(m[1]);
}

/** One process's figures, or undefined if it has exited. */
export function sampleProcess(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)", which may hold spaces: state is field 3, utime 14 .. cstime 17.
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    return {
      cpuTicks: (f[11] ?? NaN) + (f[12] ?? NaN) + (f[13] ?? NaN) + (f[14] ?? NaN),
      rssKiB: field(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS'),
      pssKiB: field(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss'),
    };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Every listed process still running, by PID. */
export function sampleProcesses(pids: number[]): Map<number, ProcSample> {
  return new Map(
    pids.flatMap((pid) => {
      const s = sampleProcess(pid);
      return s === undefined ? [] : [[pid, s] as const];
    }),
  );
}

export interface Usage {
  /** Processes running at both samples (keepalived: parent and VRRP child; vipd: node). */
  processes: number;
  cpuTicks: number;
  /** At the second sample, summed. */
  rssKiB: number;
  pssKiB: number;
}

/** What the processes running at both samples used between them. */
export function usageBetween(a: Map<number, ProcSample>, z: Map<number, ProcSample>): Usage {
  const both = [...z.entries()].flatMap(([pid, end]) => {
    const start = a.get(pid);
    return start === undefined ? [] : [{ start, end }];
  });
  return {
    processes: both.length,
    cpuTicks: both.reduce((sum, p) => sum + p.end.cpuTicks - p.start.cpuTicks, 0),
    rssKiB: both.reduce((sum, p) => sum + p.end.rssKiB, 0),
    pssKiB: both.reduce((sum, p) => sum + p.end.pssKiB, 0),
  };
}

/** Packets `host`'s eth0 has sent so far. */
export async function txPackets(lab: Lab, host: string): Promise<number> {
  const out = await lab.exec(host, 'ip', ['-s', '-j', 'link', 'show', 'dev', 'eth0']);
  const link = (JSON.parse(out) as { stats64?: { tx?: { packets?: number } } }[])[0];
  return link?.stats64?.tx?.packets ?? NaN;
}

/** Removes every VIP a crashed box may have kept (IPv6: the link-local too), for a clean start. */
export async function flushVips(lab: Lab, host: string, routers: VirtualRouter[]): Promise<void> {
  const batch = routers
    .flatMap((r) => [...r.vips, ...(r.excluded ?? [])].map(bareAddress))
    .map((ip) => `addr flush dev eth0 to ${ip}/${familyOf(ip) === 6 ? 128 : 32}\n`)
    .join('');
  await execa('ip', ['-n', lab.host(host).ns, '-batch', '-'], { input: batch });
}

/** Kills everything on the boxes, clears their VIPs and checks nothing is left running. */
export async function clearBoxes(
  lab: Lab,
  hosts: string[],
  routers: VirtualRouter[],
  procs: LabProcess[],
): Promise<void> {
  await Promise.all(procs.map((p) => p.stop(5_000)));
  for (const host of hosts) {
    await signalBox(lab, host, 'SIGKILL');
    await until(
      `${host} has no processes left`,
      async () => ({ done: (await boxPids(lab, host)).length === 0, value: host }),
      5_000,
      20,
    );
    await flushVips(lab, host, routers);
  }
}

export const mib = (kib: number): string => (kib / 1024).toFixed(1);

/** One daemon's runs of a benchmark: their results, and why the others failed. */
export interface DaemonRuns<R> {
  daemon: Daemon;
  runs: R[];
  failures: string[];
}

/**
 * `runs` runs of `once` per daemon, interleaved (vipd, keepalived, vipd, ...) so load on the
 * machine hits both alike. A failed run is counted with its reason, not fatal; every run is
 * logged to stderr, a success as `describe` puts it.
 */
export async function interleaved<R>(
  runs: number,
  once: (daemon: Daemon) => Promise<R>,
  describe: (r: R) => string,
): Promise<DaemonRuns<R>[]> {
  const cases: DaemonRuns<R>[] = DAEMONS.map((daemon) => ({ daemon, runs: [], failures: [] }));
  for (let i = 0; i < runs; i += 1) {
    for (const c of cases) {
      const label = `${c.daemon} run ${i + 1}/${runs}`;
      try {
        const r = await once(c.daemon);
        c.runs.push(r);
        process.stderr.write(`${label}: ${describe(r)}\n`);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        c.failures.push(msg);
        process.stderr.write(`${label}: FAILED: ${msg}\n`);
      }
    }
  }
  return cases;
}
