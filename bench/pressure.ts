/**
 * Under CPU pressure: a vipd pair, then a keepalived 2.2.7 pair, in one namespace lab (fw1
 * priority 150 master, fw2 priority 100 backup), one virtual router, VRRPv3 at advert 0.1 s,
 * while `stress-ng --cpu 2` (started in fw1's namespace: the master's box) keeps both cores of
 * the machine busy for STRESS_S seconds (default 120). Measured over that window:
 *
 * - spurious transitions: state changes logged by either box (target 0);
 * - the master's advert interval as the backup sees it: tcpdump on fw2's eth0 (kernel receive
 *   times) of fw1's adverts, the gaps between consecutive ones: p50, p99, max, and p99 minus
 *   the 100 ms interval (target <= 5 ms);
 * - how busy the machine was (/proc/stat: all but idle and iowait), to show the pressure held.
 *
 * Scheduling, SCHEDS="default,nice,rr" (all three by default), applied to every thread of both
 * boxes' daemon processes once they hold their roles (before the stress): `default` as started;
 * `nice`: niceness -10 (systemd's Nice=-10); `rr`: SCHED_RR priority 10 (systemd's
 * CPUSchedulingPolicy=rr, CPUSchedulingPriority=10). The systemd unit is not changed by this:
 * the figures with and without say whether it should be. Output: a table on stdout and
 * bench-results/pressure.json.
 */
import { readdirSync } from 'node:fs';
import { execa } from 'execa';
import { Lab, type LabProcess } from '../test/lab/lab.js';
import {
  DAEMONS,
  boxPids,
  buildVipdSnapshot,
  captureAdverts,
  clearBoxes,
  sleep,
  startDaemon,
  stateChanges,
  virtualRouters,
  waitForState,
  type Daemon,
} from './lab.js';
import {
  envCount,
  machineCpu,
  markdownTable,
  percentile,
  runBench,
  signed,
  writeReport,
} from './stats.js';

const STRESS_S = envCount('STRESS_S', 120);
const ADVERT_S = 0.1;
const SETTLE_MS = 2_000;
const HOSTS = ['fw1', 'fw2'];

const SCHED_NAMES = ['default', 'nice', 'rr'] as const;
type Sched = (typeof SCHED_NAMES)[number];
function scheds(raw: string): Sched[] {
  const listed = [...new Set(raw.split(',').filter(Boolean))];
  const bad = listed.filter((s) => !(SCHED_NAMES as readonly string[]).includes(s));
  if (listed.length === 0 || bad.length > 0) {
    throw new Error(`SCHEDS="${raw}": give any of ${SCHED_NAMES.join(', ')}`);
  }
  return listed as Sched[];
}
const SCHEDS = scheds(process.env.SCHEDS ?? SCHED_NAMES.join(','));
const NICE = -10;
const RR_PRIORITY = 10;

/** Gives every thread of every process on the boxes the scheduling `sched` stands for. */
async function applySched(lab: Lab, sched: Sched): Promise<void> {
  if (sched === 'default') return;
  for (const host of HOSTS) {
    for (const pid of await boxPids(lab, host)) {
      if (sched === 'rr') {
        await execa('chrt', ['-a', '-r', '-p', String(RR_PRIORITY), String(pid)]);
      } else {
        // Niceness is per thread on Linux: each one, by its id.
        const tids = readdirSync(`/proc/${pid}/task`);
        await execa('renice', ['-n', String(NICE), '-p', ...tids]);
      }
    }
  }
}

interface Case {
  daemon: Daemon;
  sched: Sched;
  windowS: number;
  /** State changes logged by fw1 and fw2 during the stress. */
  transitions: number;
  adverts: number;
  /** Gaps between fw1's consecutive adverts as received on fw2, ms. */
  intervalMs: { min: number; p50: number; p99: number; max: number };
  /** % of the machine's CPU time not idle over the window. */
  busyPercent: number;
}

async function measure(lab: Lab, daemon: Daemon, sched: Sched): Promise<Case> {
  const routers = virtualRouters(1);
  const started: LabProcess[] = [];
  try {
    const start = (host: string, priority: number): LabProcess => {
      const proc = startDaemon(lab, daemon, host, { priority, advertS: ADVERT_S, routers });
      started.push(proc);
      return proc;
    };
    const fw1 = start('fw1', 150);
    await waitForState(daemon, fw1, 'master', 1, 20_000);
    const fw2 = start('fw2', 100);
    await waitForState(daemon, fw2, 'backup', 1, 20_000);
    await applySched(lab, sched);
    await sleep(SETTLE_MS);
    const changes = (): number =>
      stateChanges(daemon, fw1).length + stateChanges(daemon, fw2).length;
    const before = changes();
    const adverts = await captureAdverts(lab, 'fw2', lab.host('fw1').address);
    const cpu0 = machineCpu();
    const t0 = performance.now();
    const stress = lab.spawn('fw1', `stress-ng-${daemon}-${sched}`, 'stress-ng', [
      ...['--cpu', '2', '--timeout', `${STRESS_S}s`, '--quiet'],
    ]);
    started.push(stress);
    await sleep(STRESS_S * 1000);
    const cpu1 = machineCpu();
    const windowS = (performance.now() - t0) / 1000;
    const transitions = changes() - before;
    const times = (await adverts.stop())
      .filter((a) => a.protocol === 'vrrp' && a.priority === 150)
      .map((a) => a.at);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    const delta = cpu1.map((x, i) => x - (cpu0[i] ?? 0));
    const total = delta.reduce((a, b) => a + b, 0);
    const idle = (delta[3] ?? 0) + (delta[4] ?? 0);
    return {
      daemon,
      sched,
      windowS,
      transitions,
      adverts: times.length,
      intervalMs: {
        min: Math.min(...gaps),
        p50: percentile(gaps, 50),
        p99: percentile(gaps, 99),
        max: Math.max(...gaps),
      },
      busyPercent: (100 * (total - idle)) / Math.max(1, total),
    };
  } finally {
    await clearBoxes(lab, HOSTS, routers, started);
  }
}

const schedLabel = (s: Sched): string =>
  s === 'default' ? 'default' : s === 'nice' ? `nice ${NICE}` : `SCHED_RR ${RR_PRIORITY}`;

async function main(): Promise<void> {
  process.stderr.write(
    `pressure: ${SCHEDS.length} scheduling settings x ${DAEMONS.length} daemons, ${STRESS_S} s each, about ${Math.ceil((SCHEDS.length * DAEMONS.length * (STRESS_S + 10)) / 60)} min (STRESS_S=s, SCHEDS=${SCHED_NAMES.join(',')} to change)\n`,
  );
  await buildVipdSnapshot();
  const cases: Case[] = [];
  const lab = await Lab.create({ hosts: HOSTS });
  try {
    for (const sched of SCHEDS) {
      for (const daemon of DAEMONS) {
        const c = await measure(lab, daemon, sched);
        cases.push(c);
        process.stderr.write(
          `${daemon} ${schedLabel(sched)}: ${c.transitions} transitions, ${c.adverts} adverts, interval p50 ${c.intervalMs.p50.toFixed(1)} p99 ${c.intervalMs.p99.toFixed(1)} max ${c.intervalMs.max.toFixed(1)} ms, machine ${c.busyPercent.toFixed(0)} % busy\n`,
        );
      }
    }
  } finally {
    await lab.destroy();
  }
  const advertMs = ADVERT_S * 1000;
  writeReport({
    name: 'pressure',
    title: `Under CPU pressure: stress-ng --cpu 2 for ${STRESS_S} s, VRRPv3 advert 0.1 s, one router, master's advert interval on the backup (ms)`,
    command: 'npx tsx bench/pressure.ts',
    table: markdownTable(
      [
        'daemon',
        'scheduling',
        'spurious transitions',
        'adverts',
        'interval p50',
        'p99',
        'max',
        'p99 − 100 ms',
        'machine busy %',
      ],
      cases.map((c) => [
        c.daemon,
        schedLabel(c.sched),
        c.transitions,
        c.adverts,
        c.intervalMs.p50.toFixed(1),
        c.intervalMs.p99.toFixed(1),
        c.intervalMs.max.toFixed(1),
        signed(c.intervalMs.p99 - advertMs, 1),
        c.busyPercent.toFixed(0),
      ]),
    ),
    notes: [
      "Interval: gaps between the master's consecutive adverts, kernel receive times on the backup",
      '(tcpdump). spurious transitions: state changes either box logged during the stress (target 0).',
      `Scheduling, both boxes' daemons, every thread: nice ${NICE} (systemd Nice=${NICE}); SCHED_RR ${RR_PRIORITY}`,
      `(CPUSchedulingPolicy=rr, CPUSchedulingPriority=${RR_PRIORITY}); stress-ng runs at the default.`,
    ],
    results: cases,
  });
}

runBench(main);
