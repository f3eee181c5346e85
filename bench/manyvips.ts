/**
 * 1,000 VIPs on one instance, vipd against keepalived 2.2.7, in one namespace lab (fw1, fw2 and
 * a client): VRRPv3, VRID 1, priorities 150/100, advert ADVERT_S (default 1 s). Both daemons
 * get the same 1,000 addresses 10.100.0.1/32 on: the first 20 advertised (keepalived
 * advertises at most 20: `virtual_ipaddress`; vipd: `vips`), the other 980 not
 * (`virtual_ipaddress_excluded`; `excludedVips`). Gratuitous ARP settings are each daemon's
 * defaults (keepalived 5 per address at once, vipd 2 rounds 0.1 s apart); only the first for
 * each address is timed.
 *
 * The trigger is a crash of the master (every process on fw1 stopped, then killed, as in
 * bench/failover.ts), and the clock starts at the backup's nominal transition: the kernel receive
 * time (tcpdump on fw2) of fw1's last advert plus fw2's Master_Down_Interval (3 × advert +
 * Skew_Time, 3609 ms at 1 s). Why this trigger: the moment is fixed by the protocol and the wire,
 * not by either daemon's own clock or log, so both are timed from the same point; the old master
 * does no work meanwhile (a graceful stop would have it delete its 1,000 addresses on the same 2
 * cores while the backup adds them); and start-up costs (a box started alone) stay out of it.
 * Each daemon's decision lateness (a few ms) is therefore inside the figures.
 *
 * Per run, from that moment: the first and the last of the 1,000 additions read by `ip -tshort
 * monitor address` on fw2 (netlink event time), and the first and the last of the first
 * gratuitous ARPs per address (sender = target address) from fw2's MAC, captured by tcpdump on
 * the client's eth0 (the wire past the switch), with how many distinct addresses were announced
 * within 10 s of the last VIP. RUNS runs each (default 5), interleaved between the daemons.
 * Output: a table on stdout and bench-results/manyvips.json.
 */
import { Lab, type LabProcess } from '../test/lab/lab.js';
import { until } from '../test/support/until.js';
import {
  DAEMONS,
  buildVipdSnapshot,
  bulkVip,
  captureAdverts,
  captureAnnouncements,
  clearBoxes,
  interleaved,
  macOf,
  rfcTimers,
  signalBox,
  sleep,
  startDaemon,
  stateChanges,
  waitForState,
  watchAddresses,
  type Daemon,
  type DaemonRuns,
  type VirtualRouter,
} from './lab.js';
import { envCount, markdownTable, runBench, stats, triple, writeReport } from './stats.js';

const RUNS = envCount('RUNS', 5);
const ADVERT_S = Number(process.env.ADVERT_S ?? '1');
const VIPS = 1000;
/** keepalived's limit on advertised addresses; the rest are excluded, for both daemons. */
const ADVERTISED = 20;
const MASTER_PRIORITY = 150;
const BACKUP_PRIORITY = 100;
const SETTLE_MS = 1_500;
/** How long after the last VIP the gratuitous ARPs may still come in. */
const ANNOUNCE_MS = 10_000;
const HOSTS = ['fw1', 'fw2', 'client'];

const ADDRESSES = Array.from({ length: VIPS }, (_, i) => bulkVip(i + 1));
const ROUTER: VirtualRouter = {
  vrid: 1,
  vips: ADDRESSES.slice(0, ADVERTISED).map((a) => `${a}/32`),
  excluded: ADDRESSES.slice(ADVERTISED).map((a) => `${a}/32`),
};

interface Run {
  /** From fw2's nominal transition (fw1's last advert + Master_Down_Interval), ms. */
  firstVipMs: number;
  allVipsMs: number;
  firstGarpMs: number;
  /** To the first gratuitous ARP of the last address announced. */
  allGarpsMs: number;
  /** Distinct addresses fw2 announced. */
  announced: number;
}

async function once(lab: Lab, daemon: Daemon, fw2Mac: string): Promise<Run> {
  const started: LabProcess[] = [];
  const mdiMs = rfcTimers(BACKUP_PRIORITY, ADVERT_S).mdiMs;
  try {
    const start = (host: string, priority: number): LabProcess => {
      const proc = startDaemon(lab, daemon, host, {
        priority,
        advertS: ADVERT_S,
        routers: [ROUTER],
      });
      started.push(proc);
      return proc;
    };
    const fw1 = start('fw1', MASTER_PRIORITY);
    await waitForState(daemon, fw1, 'master', 1, 30_000);
    const fw2 = start('fw2', BACKUP_PRIORITY);
    await waitForState(daemon, fw2, 'backup', 1, 30_000);
    const changes = (): number =>
      stateChanges(daemon, fw1).length + stateChanges(daemon, fw2).length;
    const before = changes();
    const adverts = await captureAdverts(lab, 'fw2', lab.host('fw1').address);
    const garps = await captureAnnouncements(lab, 'client', fw2Mac, 4);
    const vipsUp = await watchAddresses(lab, 'fw2', ADDRESSES);
    await sleep(SETTLE_MS + Math.random() * ADVERT_S * 1000);
    if (changes() !== before) throw new Error('a state change during the settle');

    await signalBox(lab, 'fw1', 'SIGKILL');
    const added = [...(await vipsUp(mdiMs + 30_000)).values()];
    const firstVip = Math.min(...added);
    const firstPerAddress = (): Map<string, number> => {
      const first = new Map<string, number>();
      for (const g of garps.seen()) if (!first.has(g.target)) first.set(g.target, g.at);
      return first;
    };
    // Fewer than all announced is a result (the count says so), not a failure.
    await until(
      'a gratuitous ARP for every VIP',
      () =>
        Promise.resolve({ done: firstPerAddress().size >= VIPS, value: firstPerAddress().size }),
      ANNOUNCE_MS,
      50,
    ).catch(() => undefined);
    await garps.stop();
    const announced = [...firstPerAddress().values()];
    const last = (await adverts.stop()).filter((a) => a.at <= firstVip).at(-1);
    if (last === undefined) throw new Error('no advert from fw1 captured on fw2');
    const nominal = last.at + mdiMs;
    return {
      firstVipMs: firstVip - nominal,
      allVipsMs: Math.max(...added) - nominal,
      firstGarpMs: Math.min(...announced) - nominal,
      allGarpsMs: Math.max(...announced) - nominal,
      announced: announced.length,
    };
  } finally {
    await clearBoxes(lab, ['fw1', 'fw2'], [ROUTER], started);
  }
}

async function main(): Promise<void> {
  if (!(ADVERT_S >= 0.01 && ADVERT_S <= 40.95)) {
    throw new Error(`ADVERT_S=${ADVERT_S}: VRRPv3 takes 0.01..40.95 s`);
  }
  process.stderr.write(
    `manyvips: ${RUNS} runs x ${DAEMONS.length} daemons, about ${Math.ceil((RUNS * DAEMONS.length * (15 + 7 * ADVERT_S)) / 60)} min (RUNS=n to change)\n`,
  );
  await buildVipdSnapshot();
  const lab = await Lab.create({ hosts: HOSTS });
  let cases: DaemonRuns<Run>[];
  try {
    const fw2Mac = await macOf(lab, 'fw2');
    cases = await interleaved(
      RUNS,
      (daemon) => once(lab, daemon, fw2Mac),
      (r) =>
        `VIPs ${r.firstVipMs.toFixed(1)} .. ${r.allVipsMs.toFixed(1)} ms, gratuitous ARPs ${r.firstGarpMs.toFixed(1)} .. ${r.allGarpsMs.toFixed(1)} ms (${r.announced} addresses)`,
    );
  } finally {
    await lab.destroy();
  }
  const results = cases.map((c) => ({
    ...c,
    firstVip: stats(c.runs.map((r) => r.firstVipMs)),
    allVips: stats(c.runs.map((r) => r.allVipsMs)),
    firstGarp: stats(c.runs.map((r) => r.firstGarpMs)),
    allGarps: stats(c.runs.map((r) => r.allGarpsMs)),
    announced: stats(c.runs.map((r) => r.announced)),
  }));
  writeReport({
    name: 'manyvips',
    title: `1,000 VIPs on one instance (${ADVERTISED} advertised, ${VIPS - ADVERTISED} excluded), crash failover, advert ${ADVERT_S} s, ${RUNS} runs (ms from the backup's nominal transition, min / median / max)`,
    command: 'npx tsx bench/manyvips.ts',
    table: markdownTable(
      [
        'daemon',
        'runs ok',
        'first VIP',
        'all 1,000 VIPs in the kernel',
        'first gratuitous ARP',
        'one for every VIP',
        'VIPs announced',
      ],
      results.map((r) => [
        r.daemon,
        `${r.runs.length}/${r.runs.length + r.failures.length}`,
        triple(r.firstVip, 1),
        triple(r.allVips, 1),
        triple(r.firstGarp, 1),
        triple(r.allGarps, 1),
        triple(r.announced),
      ]),
    ),
    notes: [
      "From the backup's nominal transition: fw1's last advert (received on fw2, tcpdump) plus fw2's",
      `Master_Down_Interval (${rfcTimers(BACKUP_PRIORITY, ADVERT_S).mdiMs.toFixed(1)} ms), so each daemon's decision lateness is included.`,
      "VIPs: `ip -tshort monitor address` on fw2. Gratuitous ARPs: the first per address from fw2's MAC on the",
      "client's eth0; one for every VIP: the last of those (VIPs announced: how many addresses had one).",
    ],
    results,
  });
}

runBench(main);
