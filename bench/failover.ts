/**
 * Failover benchmark: vipd and keepalived 2.2.7 side by side in one namespace lab (fw1, fw2 and
 * a client), with the same timers and VIPs: VRRPv3, one virtual router, priorities 150/100,
 * advert 1 s and 0.1 s (ADVERTS="1,0.1"), over IPv4 and over IPv6 (FAMILIES="4,6"); and CARP
 * (PROTOCOLS="vrrp,carp", both by default), IPv4 only: vipd (`protocol: "carp"`) and ucarp 1.5.2,
 * each a pair of its own, vhid 1, VIP 10.99.0.101/32, advbase 1 s, advskew 0 (fw1) and 100 (fw2),
 * dead ratio 3 (ucarp's up/down scripts add/del the VIP; ucarp sends its gratuitous ARP itself). IPv4: VIP
 * 10.99.0.101/24. IPv6: VIPs fe80::200:5eff:fe00:201/64 (the virtual link-local, first as RFC
 * 5798 5.2.9 wants) and 2001:db8:99::100/64, adverts to ff02::12 from each box's own link-local;
 * the client has 2001:db8:99::10/64 (nodad). For each family, daemon, interval and way the
 * master goes away, RUNS runs (default 20), interleaved between the daemons so load on the
 * machine hits both alike:
 *
 * - SIGKILL of every process on fw1, all stopped first so none runs on (a crash: nothing says
 *   goodbye; fw1's kernel, still up, keeps the VIPs)
 * - SIGTERM of the daemon (a graceful stop: it drops the VIP, and sends a priority-0 advert, or
 *   for CARP vipd an advbase 255/advskew 255 one; ucarp sends nothing, even with -z)
 *
 * Each run (IPv6: once no address on any box is tentative, duplicate address detection being
 * over) starts fw1 and waits until it is master, then fw2 until it is backup, then for the
 * client's neighbour entry for the VIP on fw1's MAC (the client pings the VIP every 50 ms
 * throughout, so the entry is in use), then waits 1.5 s plus a random part of an advert
 * interval (so the signal lands at a random phase of the advert cycle). A state change in that
 * time, or the client's entry off fw1 just before the signal, fails the run (counted, reported).
 * Three times per run, event-driven:
 *
 * - VIP: the signal (Date.now() just before it) to `ip -tshort monitor address` on fw2 reading
 *   the VIP's addition (netlink event time, µs);
 * - ARP (IPv6: neighbour): the signal to `ip -tshort monitor neigh` on the client reading its
 *   entry for the VIP change to fw2's MAC (the backup's gratuitous ARP, or for IPv6 its
 *   unsolicited neighbour advertisement with the override flag, arriving);
 * - last advert → VIP: from the kernel receive time (tcpdump on fw2) of fw1's last advert (for
 *   SIGTERM its priority-0 advert) to the VIP on fw2. This is what RFC 5798 bounds: a backup of
 *   priority 100 takes over Master_Down_Interval = 3 × advert + Skew_Time after the last advert
 *   (3609 / 360.9 ms), or Skew_Time = 156/256 × advert (609 / 60.9 ms) after a priority-0 one.
 *   A CARP backup takes over 3 × advbase + advskew/256 after the last advert (3390.6 ms), or at
 *   once on hearing one with advbase 255/advskew 255 (it would time out before the next).
 *   From the signal, SIGKILL times therefore spread over (MDI − advert, MDI].
 *
 * The takeover's other pieces, from the same last advert: the decision (the bound plus the
 * `lateMs` vipd logs with its transition, how late its timer fired; '—' when the log has no such
 * field, as keepalived's and ucarp's have not), fw2's first advert and its first gratuitous ARP
 * for the VIP (sender = target address; IPv6: its unsolicited neighbour advertisement to
 * ff02::1), both captured by tcpdump on the client's eth0 (the wire past the switch).
 *
 * Output: a table per protocol and family on stdout (VRRP IPv4's alone as before when
 * FAMILIES=4 PROTOCOLS=vrrp) and bench-results/failover.json, each result with its protocol
 * and family.
 */
import { Lab, type LabProcess } from '../test/lab/lab.js';
import { until } from '../test/support/until.js';
import {
  CARP_DAEMONS,
  DAEMONS,
  buildVipdSnapshot,
  address,
  addressAdded,
  advertRank,
  captureAdverts,
  captureAnnouncements,
  carpDownMs,
  clearBoxes,
  stateChanges,
  macOf,
  neighbourIs,
  neighbourMac,
  rfcTimers,
  signalBox,
  sleep,
  startCarp,
  startDaemon,
  startPing,
  virtualRouters,
  waitForState,
  watchEvent,
  type CarpDaemon,
  type Daemon,
  type Family,
  type VirtualRouter,
} from './lab.js';
import { envCount, markdownTable, runBench, signed, stats, triple, writeReport } from './stats.js';

const RUNS = envCount('RUNS', 20);
const ADVERTS = (process.env.ADVERTS ?? '1,0.1').split(',').map(Number);
const WAYS = ['SIGKILL', 'SIGTERM'] as const;
type Way = (typeof WAYS)[number];
const MASTER_PRIORITY = 150;
const BACKUP_PRIORITY = 100;
const SETTLE_MS = 1_500;
const PING_INTERVAL_S = 0.05;
const HOSTS = ['fw1', 'fw2', 'client'];
/** The client's IPv6 address, in the VIP's prefix; nodad, so it is usable at once. */
const CLIENT_IPV6 = '2001:db8:99::10/64';

/** FAMILIES="4,6": which families to run, in that order. */
function families(raw: string): Family[] {
  const listed = [...new Set(raw.split(',').filter(Boolean))];
  const bad = listed.filter((f) => f !== '4' && f !== '6');
  if (listed.length === 0 || bad.length > 0) {
    throw new Error(`FAMILIES="${raw}": give 4, 6 or both (FAMILIES=4,6)`);
  }
  return listed.map((f) => (f === '6' ? 6 : 4));
}
const FAMILIES = families(process.env.FAMILIES ?? '4,6');

type Protocol = 'vrrp' | 'carp';
/** PROTOCOLS="vrrp,carp": which protocols to run, in that order. */
function protocols(raw: string): Protocol[] {
  const listed = [...new Set(raw.split(',').filter(Boolean))];
  const bad = listed.filter((p) => p !== 'vrrp' && p !== 'carp');
  if (listed.length === 0 || bad.length > 0) {
    throw new Error(`PROTOCOLS="${raw}": give vrrp, carp or both (PROTOCOLS=vrrp,carp)`);
  }
  return listed as Protocol[];
}
const PROTOCOLS = protocols(process.env.PROTOCOLS ?? 'vrrp,carp');

/** CARP's timers: whole seconds, the lower advskew wins. ADVERTS is VRRP's. */
const CARP_ADVBASE_S = 1;
const MASTER_ADVSKEW = 0;
const BACKUP_ADVSKEW = 100;

/** A pair of boxes running the same daemon, speaking `protocol`. */
type Contender = { protocol: 'vrrp'; daemon: Daemon } | { protocol: 'carp'; daemon: CarpDaemon };

const CONTENDERS: Record<Protocol, Contender[]> = {
  vrrp: DAEMONS.map((daemon) => ({ protocol: 'vrrp', daemon })),
  carp: CARP_DAEMONS.map((daemon) => ({ protocol: 'carp', daemon })),
};

/** The advert intervals a protocol runs at, s. */
const intervalsOf = (protocol: Protocol): number[] =>
  protocol === 'vrrp' ? ADVERTS : [CARP_ADVBASE_S];

/** Whether the master's graceful stop sends an advert that hands over (all but ucarp's). */
const stopAdvertises = (c: Contender, way: Way): boolean =>
  way === 'SIGTERM' && c.daemon !== 'ucarp';

/** The protocol bound of the backup's takeover, from the master's last advert. */
function bound(c: Contender, way: Way, intervalS: number): number {
  if (c.protocol === 'carp')
    return stopAdvertises(c, way) ? 0 : carpDownMs(intervalS, BACKUP_ADVSKEW);
  const t = rfcTimers(BACKUP_PRIORITY, intervalS);
  return way === 'SIGKILL' ? t.mdiMs : t.skewMs;
}

/** Rough wall time of one run, for the estimate printed up front (calibrated on this lab). */
function runEstimateMs(c: Contender, way: Way, intervalS: number): number {
  // Start-ups and teardown about 1.3 s, fw1 master after its own master-down wait, the
  // settle, 0.3 s of monitors starting, then the failover itself.
  const masterDown =
    c.protocol === 'vrrp'
      ? rfcTimers(MASTER_PRIORITY, intervalS).mdiMs
      : carpDownMs(intervalS, MASTER_ADVSKEW);
  const failover = bound(c, way, intervalS) - (stopAdvertises(c, way) ? 0 : (intervalS * 1000) / 2);
  return 1_300 + masterDown + SETTLE_MS + (intervalS * 1000) / 2 + 300 + failover;
}

interface Run {
  /**
   * The takeover's pieces, each from fw1's last advert (kernel receive time on fw2), ms:
   * decision: the bound plus the lateness vipd logs with its transition (`lateMs`; absent in
   * keepalived's, ucarp's and older vipd's logs); fw2's first advert and its first gratuitous ARP
   * (IPv6: unsolicited neighbour advertisement) for the VIP, both captured on the client's eth0.
   */
  decisionMs?: number;
  firstAdvertMs: number;
  firstAnnouncementMs: number;
  /** Signal to the VIP on fw2, ms. */
  vipMs: number;
  /** Signal to the client's entry for the VIP on fw2's MAC, ms. */
  arpMs: number;
  /** fw1's last advert (kernel receive time on fw2) to the VIP on fw2, ms. */
  advertToVipMs: number;
  /** What that advert said of its sender: `prio 0` (a graceful VRRP stop), `advbase 255 advskew 255`. */
  lastAdvert: string;
  /** vipd only: that advert to its transition log line (ms resolution): the decision alone. */
  advertToTransitionMs?: number;
}

/**
 * vipd's last transition to master (the takeover being timed): when it was logged (epoch ms)
 * and how late against its timer it was decided, when the line says (`lateMs`).
 */
function masterLogged(lines: string[]): { at: number; lateMs?: number } | undefined {
  let found: { at: number; lateMs?: number } | undefined;
  for (const line of lines) {
    if (!line.includes('"event":"transition"')) continue;
    const obj = JSON.parse(line) as { to?: string; time?: string; lateMs?: unknown };
    if (obj.to !== 'master') continue;
    const at = Date.parse(obj.time ?? '');
    found = typeof obj.lateMs === 'number' ? { at, lateMs: obj.lateMs } : { at };
  }
  return found;
}

interface Macs {
  fw1: string;
  fw2: string;
}

/** What a family's runs share: its router, the VIP the client pings, fw1's advert source. */
interface Setup {
  protocol: Protocol;
  family: Family;
  routers: VirtualRouter[];
  vip: string;
  /** fw1's IPv4 address, or its own link-local (read before any VIP is on it). */
  fw1Source: string;
  /** The same of fw2: the source of its adverts once it takes over. */
  fw2Source: string;
  macs: Macs;
}

/**
 * Readies the lab for a protocol's runs in a family: for IPv6 the client's address and DAD
 * over. CARP (IPv4 only) covers one address, VIP/32, as ucarp's -a.
 */
async function setUp(lab: Lab, protocol: Protocol, family: Family, macs: Macs): Promise<Setup> {
  const [router = { vrid: 1, vips: [] }] = virtualRouters(1, family);
  const vip = address(router);
  const routers = protocol === 'carp' ? [{ vrid: router.vrid, vips: [`${vip}/32`] }] : [router];
  if (family === 4) {
    const [fw1Source, fw2Source] = [lab.host('fw1').address, lab.host('fw2').address];
    return { protocol, family, routers, vip, fw1Source, fw2Source, macs };
  }
  await lab.exec('client', 'ip', ['addr', 'add', CLIENT_IPV6, 'dev', 'eth0', 'nodad']);
  for (const host of HOSTS) await lab.dadDone(host);
  const linkLocal = async (host: string): Promise<string> => {
    const ll = await lab.linkLocal(host);
    if (ll === undefined) throw new Error(`${host} has no IPv6 link-local address on eth0`);
    return ll;
  };
  const [fw1Source, fw2Source] = [await linkLocal('fw1'), await linkLocal('fw2')];
  return { protocol, family, routers, vip, fw1Source, fw2Source, macs };
}

/** Starts fw1 (`master`: the better rank) or fw2 of a contender's pair. */
function startBox(
  lab: Lab,
  c: Contender,
  host: string,
  master: boolean,
  intervalS: number,
  routers: VirtualRouter[],
): LabProcess {
  if (c.protocol === 'vrrp') {
    const priority = master ? MASTER_PRIORITY : BACKUP_PRIORITY;
    return startDaemon(lab, c.daemon, host, { priority, advertS: intervalS, routers });
  }
  const [router] = routers;
  if (router === undefined) throw new Error('CARP: no virtual host');
  const advskew = master ? MASTER_ADVSKEW : BACKUP_ADVSKEW;
  return startCarp(lab, c.daemon, host, { advbase: intervalS, advskew, router });
}

async function once(
  lab: Lab,
  c: Contender,
  intervalS: number,
  way: Way,
  setup: Setup,
): Promise<Run> {
  const { family, routers, vip: VIP, fw1Source, fw2Source, macs } = setup;
  const { daemon } = c;
  const started: LabProcess[] = [];
  try {
    // A tentative address neither sends nor answers: the boxes' link-locals are the advert
    // sources, the client's are its neighbour discovery's.
    if (family === 6) for (const host of HOSTS) await lab.dadDone(host);
    // fw2 starts once fw1 is master: started together, both may be master for a moment at
    // 0.1 s and both send gratuitous ARP, leaving the client's entry on either.
    const fw1 = startBox(lab, c, 'fw1', true, intervalS, routers);
    started.push(fw1);
    await waitForState(daemon, fw1, 'master', 1, 20_000);
    const fw2 = startBox(lab, c, 'fw2', false, intervalS, routers);
    started.push(fw2);
    await waitForState(daemon, fw2, 'backup', 1, 20_000);
    const clientOnFw1 = async (): Promise<{ done: boolean; value: string | undefined }> => {
      const mac = await neighbourMac(lab, 'client', VIP);
      return { done: mac === macs.fw1, value: mac };
    };
    await until("the client's entry for the VIP is fw1's MAC", clientOnFw1, 10_000, 20);
    const changes = stateChanges(daemon, fw1).length + stateChanges(daemon, fw2).length;
    const adverts = await captureAdverts(lab, 'fw2', fw1Source, c.protocol);
    const newAdverts = await captureAdverts(lab, 'client', fw2Source, c.protocol);
    const announcements = await captureAnnouncements(lab, 'client', macs.fw2, family);
    const vipUp = await watchEvent(lab, 'fw2', 'address', addressAdded(VIP), family);
    const arpMoved = await watchEvent(lab, 'client', 'neigh', neighbourIs(VIP, macs.fw2), family);
    await sleep(SETTLE_MS + Math.random() * intervalS * 1000);
    if (stateChanges(daemon, fw1).length + stateChanges(daemon, fw2).length !== changes) {
      throw new Error('a state change during the settle');
    }
    const onFw1 = await clientOnFw1();
    if (!onFw1.done) throw new Error(`the client's entry left fw1 (${String(onFw1.value)})`);

    let signalAt: number;
    if (way === 'SIGKILL') {
      signalAt = await signalBox(lab, 'fw1', 'SIGKILL');
    } else {
      signalAt = Date.now();
      fw1.kill('SIGTERM');
    }
    const limit = bound(c, way, intervalS) + 10_000;
    const vipAt = await vipUp(limit);
    const arpAt = await arpMoved(limit);
    const last = (await adverts.stop()).filter((a) => a.at <= vipAt).at(-1);
    if (last === undefined) throw new Error('no advert from fw1 captured on fw2');
    const announced = (): number | undefined =>
      announcements.seen().find((a) => a.target === VIP && a.at > last.at)?.at;
    // The client's entry moved, so both are on the wire: wait for tcpdump to print them.
    const seen = await until(
      "fw2's first advert and announcement captured on the client",
      () => {
        const advert = newAdverts.seen()[0]?.at;
        const announcement = announced();
        const value = { advert, announcement };
        return Promise.resolve({
          done: advert !== undefined && announcement !== undefined,
          value,
        });
      },
      2_000,
      20,
    );
    await Promise.all([newAdverts.stop(), announcements.stop()]);
    const logged = daemon === 'vipd' ? masterLogged(fw2.lines) : undefined;
    const decidedAt = logged?.at;
    return {
      ...(logged?.lateMs === undefined
        ? {}
        : { decisionMs: bound(c, way, intervalS) + logged.lateMs }),
      firstAdvertMs: (seen.advert ?? NaN) - last.at,
      firstAnnouncementMs: (seen.announcement ?? NaN) - last.at,
      vipMs: vipAt - signalAt,
      arpMs: arpAt - signalAt,
      advertToVipMs: vipAt - last.at,
      lastAdvert: advertRank(last),
      ...(decidedAt === undefined ? {} : { advertToTransitionMs: decidedAt - last.at }),
    };
  } finally {
    // A crashed fw1 kept its VIPs (IPv6: the virtual link-local too); they all go.
    await clearBoxes(lab, ['fw1', 'fw2'], routers, started);
  }
}

interface Case {
  protocol: Protocol;
  family: Family;
  daemon: Daemon | CarpDaemon;
  /** VRRP's advert interval, or CARP's advbase, s. */
  advertS: number;
  way: Way;
  boundMs: number;
  runs: Run[];
  failures: string[];
}

/** The protocols run in a family, each with its own setup: CARP is IPv4 only. */
const protocolsIn = (family: Family): Protocol[] =>
  PROTOCOLS.filter((p) => p === 'vrrp' || family === 4);

async function main(): Promise<void> {
  const bad = ADVERTS.filter((a) => !(a >= 0.01 && a <= 40.95));
  if (bad.length > 0) throw new Error(`ADVERTS: ${bad.join(',')} outside VRRPv3's 0.01..40.95 s`);
  if (FAMILIES.every((f) => protocolsIn(f).length === 0)) {
    throw new Error('PROTOCOLS=carp runs over IPv4 only: add 4 to FAMILIES');
  }
  const perFamily = (family: Family): number =>
    protocolsIn(family)
      .flatMap((p) => CONTENDERS[p].flatMap((c) => intervalsOf(p).map((i) => ({ c, i }))))
      .reduce((sum, { c, i }) => sum + WAYS.reduce((s, w) => s + runEstimateMs(c, w, i), 0), 0);
  const estimateMs = FAMILIES.reduce((sum, f) => sum + perFamily(f), 0) * RUNS;
  process.stderr.write(
    `failover: ${RUNS} runs x ${WAYS.length} ways, ${PROTOCOLS.join(' and ')}, IPv${FAMILIES.join(' and IPv')}, about ${Math.ceil(estimateMs / 60_000)} min (RUNS=n, FAMILIES=4 or 6, PROTOCOLS=vrrp or carp to change)\n`,
  );

  await buildVipdSnapshot();
  const cases: Case[] = [];
  const setups: Setup[] = [];
  const lab = await Lab.create({ hosts: HOSTS });
  try {
    const macs = { fw1: await macOf(lab, 'fw1'), fw2: await macOf(lab, 'fw2') };
    for (const family of FAMILIES) {
      for (const protocol of protocolsIn(family)) {
        const setup = await setUp(lab, protocol, family, macs);
        setups.push(setup);
        await runSetup(lab, setup, cases);
      }
    }
  } finally {
    await lab.destroy();
  }
  report(cases, setups);
}

/** Every run of one protocol in one family, appended to `cases`; the client pings the VIP throughout. */
async function runSetup(lab: Lab, setup: Setup, cases: Case[]): Promise<void> {
  const { protocol, family } = setup;
  const ping = startPing(lab, 'client', setup.vip, PING_INTERVAL_S);
  for (const advertS of intervalsOf(protocol)) {
    for (const way of WAYS) {
      const here = CONTENDERS[protocol].map((contender) => ({
        contender,
        c: {
          protocol,
          family,
          daemon: contender.daemon,
          advertS,
          way,
          boundMs: bound(contender, way, advertS),
          runs: [] as Run[],
          failures: [] as string[],
        },
      }));
      cases.push(...here.map((h) => h.c));
      for (let i = 0; i < RUNS; i += 1) {
        for (const { contender, c } of here) {
          const label = `IPv${family} ${protocol === 'carp' ? 'CARP ' : ''}${c.daemon} ${way} ${protocol === 'carp' ? 'advbase' : 'advert'} ${advertS} s run ${i + 1}/${RUNS}`;
          const began = performance.now();
          try {
            const r = await once(lab, contender, advertS, way, setup);
            c.runs.push(r);
            process.stderr.write(
              `${label}: VIP ${r.vipMs.toFixed(0)} ms, ${family === 4 ? 'ARP' : 'neighbour'} ${r.arpMs.toFixed(0)} ms, last advert (${r.lastAdvert}) -> decision ${r.decisionMs?.toFixed(1) ?? '—'}, first advert ${r.firstAdvertMs.toFixed(1)}, VIP ${r.advertToVipMs.toFixed(1)}, first announcement ${r.firstAnnouncementMs.toFixed(1)} ms (run took ${((performance.now() - began) / 1000).toFixed(1)} s)\n`,
            );
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            c.failures.push(msg);
            process.stderr.write(`${label}: FAILED: ${msg}\n`);
          }
        }
      }
    }
  }
  await ping.stop();
}

/** The "client ARP moved" column: for IPv6 it is the client's neighbour discovery entry. */
const movedColumn = (family: Family): string =>
  family === 4 ? 'client ARP moved' : 'client neighbour moved';

/** One table per protocol and family, in the order they ran. */
const tableKey = (s: { protocol: Protocol; family: Family }): string => `${s.protocol} ${s.family}`;

function report(cases: Case[], setups: Setup[]): void {
  const rows = new Map<string, string[][]>();
  const results = cases.map((c) => {
    const vip = stats(c.runs.map((r) => r.vipMs));
    const arp = stats(c.runs.map((r) => r.arpMs));
    const fromAdvert = stats(c.runs.map((r) => r.advertToVipMs));
    const arpAfterVip = stats(c.runs.map((r) => r.arpMs - r.vipMs));
    const decisions = c.runs.flatMap((r) => r.advertToTransitionMs ?? []);
    const decided = c.runs.flatMap((r) => r.decisionMs ?? []);
    const decision = decided.length > 0 ? stats(decided) : undefined;
    const firstAdvert = stats(c.runs.map((r) => r.firstAdvertMs));
    const firstAnnouncement = stats(c.runs.map((r) => r.firstAnnouncementMs));
    const digits = c.advertS < 1 || c.protocol === 'carp' ? 1 : 0;
    const tableRows = rows.get(tableKey(c)) ?? [];
    rows.set(tableKey(c), tableRows);
    tableRows.push([
      c.daemon,
      `${c.advertS}`,
      c.way,
      `${c.runs.length}/${c.runs.length + c.failures.length}`,
      triple(vip),
      triple(arp),
      decision === undefined ? '—' : triple(decision, digits),
      triple(firstAdvert, digits),
      triple(fromAdvert, digits),
      triple(firstAnnouncement, digits),
      c.boundMs.toFixed(digits),
      signed(fromAdvert.median - c.boundMs, digits),
    ]);
    return {
      ...c,
      vip,
      arp,
      advertToVip: fromAdvert,
      arpAfterVip,
      ...(decisions.length > 0 ? { advertToTransition: stats(decisions) } : {}),
      ...(decision === undefined ? {} : { decision }),
      firstAdvert,
      firstAnnouncement,
      medianMinusBoundMs: fromAdvert.median - c.boundMs,
    };
  });
  const table = (s: Setup): string[] =>
    markdownTable(
      [
        'daemon',
        s.protocol === 'carp' ? 'advbase s' : 'advert s',
        'master stops by',
        'runs ok',
        'VIP on backup',
        movedColumn(s.family),
        'last advert → decision',
        'first advert',
        'VIP',
        s.family === 4 ? 'first gratuitous ARP' : 'first neighbour advert',
        'bound',
        'median − bound',
      ],
      rows.get(tableKey(s)) ?? [],
    );
  const caption = (s: Setup): string =>
    s.protocol === 'carp'
      ? `CARP, IPv4, VIP ${s.routers.flatMap((r) => r.vips).join(', ')}, advskew ${MASTER_ADVSKEW} (master) / ${BACKUP_ADVSKEW} (backup), dead ratio 3:`
      : `IPv${s.family}, VIPs ${s.routers.flatMap((r) => r.vips).join(', ')}:`;
  // VRRP over IPv4 alone prints as it always did; otherwise each table under its caption.
  const captioned = setups.some((s) => s.family !== 4 || s.protocol !== 'vrrp');
  const tables = setups.flatMap((s, i) =>
    captioned ? [...(i > 0 ? [''] : []), caption(s), '', ...table(s)] : table(s),
  );
  const has = (p: Protocol): boolean => setups.some((s) => s.protocol === p);
  const ipv6Notes = setups.some((s) => s.family === 6)
    ? [
        "IPv6: adverts to ff02::12 from each box's own link-local, the virtual link-local listed first on both",
        "daemons; client neighbour moved: the client's entry for the global VIP on the backup's MAC (its",
        'unsolicited neighbour advertisement, override flag set).',
      ]
    : [];
  const vrrpNotes = has('vrrp')
    ? [
        'VRRP bound (RFC 5798, for that interval): Master_Down_Interval after a crash, Skew_Time after the',
        "priority-0 advert a SIGTERM'd master sends.",
      ]
    : [];
  const carpNotes = has('carp')
    ? [
        "CARP bound: the backup's dead interval (3 × advbase + advskew/256) after a crash, and after ucarp's",
        "SIGTERM (it sends no advert when it stops, -z or not); 0 after vipd's advbase 255/advskew 255 advert,",
        'on which the backup takes over at once.',
      ]
    : [];
  const pairs = [
    ...(has('vrrp') ? ['vipd and keepalived, VRRPv3, backup priority 100'] : []),
    ...(has('carp') ? ['vipd and ucarp, CARP, backup advskew 100'] : []),
  ];
  writeReport({
    name: 'failover',
    title: `Failover, ${pairs.join('; ')}, ${RUNS} runs each (ms, min / median / max)`,
    command: 'npx tsx bench/failover.ts',
    table: tables,
    notes: [
      "VIP on backup, client ARP moved: from the signal. From the backup receiving the master's last advert",
      "(tcpdump on the backup): decision (vipd's logged lateness added to the bound; '—' where the log has",
      "none), the backup's first advert and first gratuitous ARP (IPv6: neighbour advertisement) for the",
      "VIP on the client's wire, and VIP: the VIP in the backup's kernel (`ip -tshort monitor address`).",
      ...vrrpNotes,
      ...carpNotes,
      ...ipv6Notes,
    ],
    results,
  });
}

runBench(main);
