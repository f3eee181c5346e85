/**
 * Failover benchmark: vipd and keepalived 2.2.7 side by side in one namespace lab (fw1, fw2 and
 * a client), with the same timers and VIPs: VRRPv3, one virtual router, priorities 150/100,
 * advert 1 s and 0.1 s (ADVERTS="1,0.1"), over IPv4 and over IPv6 (FAMILIES="4,6"). IPv4: VIP
 * 10.99.0.101/24. IPv6: VIPs fe80::200:5eff:fe00:201/64 (the virtual link-local, first as RFC
 * 5798 5.2.9 wants) and 2001:db8:99::100/64, adverts to ff02::12 from each box's own link-local;
 * the client has 2001:db8:99::10/64 (nodad). For each family, daemon, interval and way the
 * master goes away, RUNS runs (default 20), interleaved between the daemons so load on the
 * machine hits both alike:
 *
 * - SIGKILL of every process on fw1, all stopped first so none runs on (a crash: nothing says
 *   goodbye; fw1's kernel, still up, keeps the VIPs)
 * - SIGTERM of the daemon (a graceful stop: it sends a priority-0 advert and drops the VIP)
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
 *   From the signal, SIGKILL times therefore spread over (MDI − advert, MDI].
 *
 * Output: a table per family on stdout (IPv4's alone as before when FAMILIES=4) and
 * bench-results/failover.json, each result with its family.
 */
import { Lab, type LabProcess } from '../test/lab/lab.js';
import { until } from '../test/support/until.js';
import {
  DAEMONS,
  buildVipdSnapshot,
  address,
  addressAdded,
  captureAdverts,
  clearBoxes,
  stateChanges,
  macOf,
  neighbourIs,
  neighbourMac,
  rfcTimers,
  signalBox,
  sleep,
  startDaemon,
  startPing,
  virtualRouters,
  waitForState,
  watchEvent,
  type BoxOptions,
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

/** The protocol bound of the backup's takeover, from the master's last advert. */
function bound(way: Way, advertS: number): number {
  const t = rfcTimers(BACKUP_PRIORITY, advertS);
  return way === 'SIGKILL' ? t.mdiMs : t.skewMs;
}

/** Rough wall time of one run, for the estimate printed up front (calibrated on this lab). */
function runEstimateMs(way: Way, advertS: number): number {
  // Start-ups and teardown about 1.3 s, fw1 master after its own Master_Down_Interval, the
  // settle, 0.3 s of monitors starting, then the failover itself.
  const startup = 1_300 + rfcTimers(MASTER_PRIORITY, advertS).mdiMs;
  const failover =
    way === 'SIGKILL' ? bound(way, advertS) - (advertS * 1000) / 2 : bound(way, advertS);
  return startup + SETTLE_MS + (advertS * 1000) / 2 + 300 + failover;
}

interface Run {
  /** Signal to the VIP on fw2, ms. */
  vipMs: number;
  /** Signal to the client's entry for the VIP on fw2's MAC, ms. */
  arpMs: number;
  /** fw1's last advert (kernel receive time on fw2) to the VIP on fw2, ms. */
  advertToVipMs: number;
  /** Priority of that advert (0 for a graceful stop). */
  lastAdvertPriority: number;
  /** vipd only: that advert to its transition log line (ms resolution): the decision alone. */
  advertToTransitionMs?: number;
}

/** When (epoch ms) vipd last logged a transition to master: the takeover being timed. */
function masterLoggedAt(lines: string[]): number | undefined {
  let at: number | undefined;
  for (const line of lines) {
    if (!line.includes('"event":"transition"')) continue;
    const obj = JSON.parse(line) as { to?: string; time?: string };
    if (obj.to === 'master') at = Date.parse(obj.time ?? '');
  }
  return at;
}

interface Macs {
  fw1: string;
  fw2: string;
}

/** What a family's runs share: its router, the VIP the client pings, fw1's advert source. */
interface Setup {
  family: Family;
  routers: VirtualRouter[];
  vip: string;
  /** fw1's IPv4 address, or its own link-local (read before any VIP is on it). */
  fw1Source: string;
  macs: Macs;
}

/** Readies the lab for a family's runs: for IPv6 the client's address and DAD over. */
async function setUp(lab: Lab, family: Family, macs: Macs): Promise<Setup> {
  const routers = virtualRouters(1, family);
  const vip = address(routers[0] ?? { vrid: 1, vips: [] });
  if (family === 4) return { family, routers, vip, fw1Source: lab.host('fw1').address, macs };
  await lab.exec('client', 'ip', ['addr', 'add', CLIENT_IPV6, 'dev', 'eth0', 'nodad']);
  for (const host of HOSTS) await lab.dadDone(host);
  const fw1Source = await lab.linkLocal('fw1');
  if (fw1Source === undefined) throw new Error('fw1 has no IPv6 link-local address on eth0');
  return { family, routers, vip, fw1Source, macs };
}

async function once(
  lab: Lab,
  daemon: Daemon,
  advertS: number,
  way: Way,
  setup: Setup,
): Promise<Run> {
  const { family, routers, vip: VIP, fw1Source, macs } = setup;
  const box = (priority: number): BoxOptions => ({ priority, advertS, routers });
  const started: LabProcess[] = [];
  try {
    // A tentative address neither sends nor answers: the boxes' link-locals are the advert
    // sources, the client's are its neighbour discovery's.
    if (family === 6) for (const host of HOSTS) await lab.dadDone(host);
    // fw2 starts once fw1 is master: started together, both may be master for a moment at
    // 0.1 s and both send gratuitous ARP, leaving the client's entry on either.
    const fw1 = startDaemon(lab, daemon, 'fw1', box(MASTER_PRIORITY));
    started.push(fw1);
    await waitForState(daemon, fw1, 'master', 1, 20_000);
    const fw2 = startDaemon(lab, daemon, 'fw2', box(BACKUP_PRIORITY));
    started.push(fw2);
    await waitForState(daemon, fw2, 'backup', 1, 20_000);
    const clientOnFw1 = async (): Promise<{ done: boolean; value: string | undefined }> => {
      const mac = await neighbourMac(lab, 'client', VIP);
      return { done: mac === macs.fw1, value: mac };
    };
    await until("the client's entry for the VIP is fw1's MAC", clientOnFw1, 10_000, 20);
    const changes = stateChanges(daemon, fw1).length + stateChanges(daemon, fw2).length;
    const adverts = await captureAdverts(lab, 'fw2', fw1Source);
    const vipUp = await watchEvent(lab, 'fw2', 'address', addressAdded(VIP), family);
    const arpMoved = await watchEvent(lab, 'client', 'neigh', neighbourIs(VIP, macs.fw2), family);
    await sleep(SETTLE_MS + Math.random() * advertS * 1000);
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
    const limit = bound(way, advertS) + 10_000;
    const vipAt = await vipUp(limit);
    const arpAt = await arpMoved(limit);
    const last = (await adverts.stop()).filter((a) => a.at <= vipAt).at(-1);
    if (last === undefined) throw new Error('no advert from fw1 captured on fw2');
    const decidedAt = daemon === 'vipd' ? masterLoggedAt(fw2.lines) : undefined;
    return {
      vipMs: vipAt - signalAt,
      arpMs: arpAt - signalAt,
      advertToVipMs: vipAt - last.at,
      lastAdvertPriority: last.priority,
      ...(decidedAt === undefined ? {} : { advertToTransitionMs: decidedAt - last.at }),
    };
  } finally {
    // A crashed fw1 kept its VIPs (IPv6: the virtual link-local too); they all go.
    await clearBoxes(lab, ['fw1', 'fw2'], routers, started);
  }
}

interface Case {
  family: Family;
  daemon: Daemon;
  advertS: number;
  way: Way;
  boundMs: number;
  runs: Run[];
  failures: string[];
}

async function main(): Promise<void> {
  const bad = ADVERTS.filter((a) => !(a >= 0.01 && a <= 40.95));
  if (bad.length > 0) throw new Error(`ADVERTS: ${bad.join(',')} outside VRRPv3's 0.01..40.95 s`);
  const estimateMs = ADVERTS.reduce(
    (sum, a) => sum + WAYS.reduce((s, w) => s + runEstimateMs(w, a), 0),
    0,
  );
  process.stderr.write(
    `failover: ${RUNS} runs x ${WAYS.length} ways x ${ADVERTS.length} intervals x ${DAEMONS.length} daemons x ${FAMILIES.length} families, about ${Math.ceil((estimateMs * RUNS * DAEMONS.length * FAMILIES.length) / 60_000)} min (RUNS=n, FAMILIES=4 or 6 to change)\n`,
  );

  await buildVipdSnapshot();
  const cases: Case[] = [];
  const setups: Setup[] = [];
  const lab = await Lab.create({ hosts: HOSTS });
  try {
    const macs = { fw1: await macOf(lab, 'fw1'), fw2: await macOf(lab, 'fw2') };
    for (const family of FAMILIES) {
      const setup = await setUp(lab, family, macs);
      setups.push(setup);
      await runFamily(lab, setup, cases);
    }
  } finally {
    await lab.destroy();
  }
  report(cases, setups);
}

/** Every run of one family, its cases appended to `cases`; the client pings the VIP throughout. */
async function runFamily(lab: Lab, setup: Setup, cases: Case[]): Promise<void> {
  const { family } = setup;
  const ping = startPing(lab, 'client', setup.vip, PING_INTERVAL_S);
  for (const advertS of ADVERTS) {
    for (const way of WAYS) {
      const here = DAEMONS.map((daemon) => ({
        family,
        daemon,
        advertS,
        way,
        boundMs: bound(way, advertS),
        runs: [] as Run[],
        failures: [] as string[],
      }));
      cases.push(...here);
      for (let i = 0; i < RUNS; i += 1) {
        for (const c of here) {
          const label = `IPv${family} ${c.daemon} ${way} advert ${advertS} s run ${i + 1}/${RUNS}`;
          const began = performance.now();
          try {
            const r = await once(lab, c.daemon, advertS, way, setup);
            c.runs.push(r);
            process.stderr.write(
              `${label}: VIP ${r.vipMs.toFixed(0)} ms, ${family === 4 ? 'ARP' : 'neighbour'} ${r.arpMs.toFixed(0)} ms, last advert (prio ${r.lastAdvertPriority}) -> VIP ${r.advertToVipMs.toFixed(1)} ms (run took ${((performance.now() - began) / 1000).toFixed(1)} s)\n`,
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

function report(cases: Case[], setups: Setup[]): void {
  const rows = new Map<Family, string[][]>();
  const results = cases.map((c) => {
    const vip = stats(c.runs.map((r) => r.vipMs));
    const arp = stats(c.runs.map((r) => r.arpMs));
    const fromAdvert = stats(c.runs.map((r) => r.advertToVipMs));
    const arpAfterVip = stats(c.runs.map((r) => r.arpMs - r.vipMs));
    const decisions = c.runs.flatMap((r) => r.advertToTransitionMs ?? []);
    const digits = c.advertS < 1 ? 1 : 0;
    const familyRows = rows.get(c.family) ?? [];
    rows.set(c.family, familyRows);
    familyRows.push([
      c.daemon,
      `${c.advertS}`,
      c.way,
      `${c.runs.length}/${c.runs.length + c.failures.length}`,
      triple(vip),
      triple(arp),
      triple(fromAdvert, digits),
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
      medianMinusBoundMs: fromAdvert.median - c.boundMs,
    };
  });
  const table = (family: Family): string[] =>
    markdownTable(
      [
        'daemon',
        'advert s',
        'master stops by',
        'runs ok',
        'VIP on backup',
        movedColumn(family),
        'last advert → VIP',
        'bound',
        'median − bound',
      ],
      rows.get(family) ?? [],
    );
  // IPv4 alone prints as it always did; otherwise each family's table under its VIPs.
  const captioned = setups.some((s) => s.family !== 4);
  const tables = setups.flatMap((s, i) =>
    captioned
      ? [
          ...(i > 0 ? [''] : []),
          `IPv${s.family}, VIPs ${s.routers.flatMap((r) => r.vips).join(', ')}:`,
          '',
          ...table(s.family),
        ]
      : table(s.family),
  );
  const ipv6Notes = setups.some((s) => s.family === 6)
    ? [
        "IPv6: adverts to ff02::12 from each box's own link-local, the virtual link-local listed first on both",
        "daemons; client neighbour moved: the client's entry for the global VIP on the backup's MAC (its",
        'unsolicited neighbour advertisement, override flag set).',
      ]
    : [];
  writeReport({
    name: 'failover',
    title: `Failover, vipd and keepalived, VRRPv3, backup priority 100, ${RUNS} runs each (ms, min / median / max)`,
    command: 'npx tsx bench/failover.ts',
    table: tables,
    notes: [
      'VIP on backup, client ARP moved: from the signal. last advert → VIP: from the backup receiving the',
      "master's last advert (SIGTERM: its priority-0 advert) to the VIP on the backup, against the RFC 5798",
      'bound for that interval: Master_Down_Interval after a crash, Skew_Time after a priority-0 advert.',
      ...ipv6Notes,
    ],
    results,
  });
}

runBench(main);
