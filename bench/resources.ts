/**
 * Resource benchmark: CPU and memory of vipd and keepalived 2.2.7 running 1, 16 and 128
 * virtual routers (ROUTERS="1,16,128") on one interface, VRRPv3 at advert 0.1 s, VRIDs 1..n
 * with distinct VIPs (10.99.0.101..). Two boxes per daemon in one namespace lab: fw1 (priority
 * 150) master of every router, fw2 (priority 100) backup of every router, so fw1 sends 10 × n
 * adverts/s and fw2 receives them.
 *
 * Method, per daemon and size: start fw1 and wait until it is master of all n, then fw2 and
 * wait until it is backup of all n (so the start-ups do not overlap), settle 8 s (keepalived's
 * second gratuitous ARP round comes 5 s after the transition), then over WINDOW_S seconds
 * (default 30) read, for every process in each box's namespace (vipd: the node process;
 * keepalived: parent and VRRP child, found with `ip netns pids`):
 *
 * - CPU %: the sum of utime + stime deltas (/proc/<pid>/stat, USER_HZ ticks) over the window's
 *   wall time, as % of one core (resolution: 1 tick in WINDOW_S s, 0.03 % at 30 s), plus
 *   cutime + cstime: children the daemon ran and reaped (vipd's `ip` commands) are its cost;
 * - RSS: the sum of VmRSS (/proc/<pid>/status) at the end of the window. Summing counts pages
 *   a forked child shares with its parent twice, so PSS (Pss of /proc/<pid>/smaps_rollup,
 *   shared pages split between their users) is given too;
 * - fw1's eth0 tx packets/s over the window (should be 10 × n: adverts only).
 *
 * Processes are those running at both ends of the window. State changes both boxes log during
 * the window are counted (0 when stable). A pair that does not reach its roles within 30 s each,
 * or changes state during the settle, is "never settled": not an error but a result, measured
 * and reported as such. Output: a table on stdout and bench-results/resources.json.
 */
import { Lab, type LabProcess } from '../test/lab/lab.js';
import {
  DAEMONS,
  buildVipdSnapshot,
  boxPids,
  clearBoxes,
  countIn,
  mib,
  sampleProcesses,
  sleep,
  startDaemon,
  stateChanges,
  ticksPerSecond,
  txPackets,
  usageBetween,
  virtualRouters,
  waitForState,
  type Daemon,
  type VirtualRouter,
} from './lab.js';
import { envCount, markdownTable, runBench, writeReport } from './stats.js';

const COUNTS = (process.env.ROUTERS ?? '1,16,128').split(',').map(Number);
const WINDOW_S = envCount('WINDOW_S', 30);
const ADVERT_S = 0.1;
const SETTLE_MS = 8_000;
const BOXES = ['fw1', 'fw2'] as const;
type Box = (typeof BOXES)[number];
const CONVERGE_MS = 30_000;

interface BoxFigures {
  processes: number;
  cpuPercent: number;
  rssKiB: number;
  pssKiB: number;
}

interface Case {
  daemon: Daemon;
  routers: number;
  /**
   * Whether fw1 became master and fw2 backup of every router (each within CONVERGE_MS) and
   * neither logged a state change in the SETTLE_MS after.
   */
  settled: boolean;
  /** State changes logged by fw1 and fw2 during the window (0 when stable). */
  changesInWindow: number;
  /** Routers fw1 is master of at the end of the window. */
  masterOf: number;
  windowS: number;
  master: BoxFigures;
  backup: BoxFigures;
  masterTxPerS: number;
}

/**
 * Starts fw1, waits until it is master of all, then fw2 and waits until it is backup of all, so
 * neither start-up burst lands on the other. False if a role is not reached within CONVERGE_MS
 * (not an error: a pair that cannot hold its roles is a result, measured and reported as such).
 */
async function bringUp(
  lab: Lab,
  daemon: Daemon,
  routers: VirtualRouter[],
  procs: LabProcess[],
): Promise<{ fw1: LabProcess; fw2: LabProcess; roles: boolean }> {
  const start = (box: Box, priority: number): LabProcess => {
    const proc = startDaemon(lab, daemon, box, { priority, advertS: ADVERT_S, routers });
    procs.push(proc);
    return proc;
  };
  const reached = (proc: LabProcess, state: string): Promise<boolean> =>
    waitForState(daemon, proc, state, routers.length, CONVERGE_MS).then(
      () => true,
      (err: unknown) => {
        if (!proc.running) throw err;
        return false;
      },
    );
  const fw1 = start('fw1', 150);
  const master = await reached(fw1, 'master');
  const fw2 = start('fw2', 100);
  const backup = await reached(fw2, 'backup');
  return { fw1, fw2, roles: master && backup && countIn(daemon, fw1, 'master') === routers.length };
}

async function measure(lab: Lab, daemon: Daemon, count: number): Promise<Case> {
  const routers = virtualRouters(count);
  const started: LabProcess[] = [];
  try {
    const { roles, ...procs } = await bringUp(lab, daemon, routers, started);
    const changes = (): number =>
      BOXES.reduce((sum, b) => sum + stateChanges(daemon, procs[b]).length, 0);
    const settling = changes();
    await sleep(SETTLE_MS);
    const changesBefore = changes();
    const pids = { fw1: await boxPids(lab, 'fw1'), fw2: await boxPids(lab, 'fw2') };

    const tx0 = await txPackets(lab, 'fw1');
    const t0 = performance.now();
    const s0 = { fw1: sampleProcesses(pids.fw1), fw2: sampleProcesses(pids.fw2) };
    await sleep(WINDOW_S * 1000);
    const s1 = { fw1: sampleProcesses(pids.fw1), fw2: sampleProcesses(pids.fw2) };
    const t1 = performance.now();
    const tx1 = await txPackets(lab, 'fw1');
    const txSeconds = (performance.now() - t0) / 1000;

    const hz = await ticksPerSecond();
    const seconds = (t1 - t0) / 1000;
    const figures = (b: Box): BoxFigures => {
      const u = usageBetween(s0[b], s1[b]);
      return {
        processes: u.processes,
        cpuPercent: (u.cpuTicks / hz / seconds) * 100,
        rssKiB: u.rssKiB,
        pssKiB: u.pssKiB,
      };
    };
    return {
      daemon,
      routers: count,
      settled: roles && changesBefore === settling,
      changesInWindow: changes() - changesBefore,
      masterOf: countIn(daemon, procs.fw1, 'master'),
      windowS: seconds,
      master: figures('fw1'),
      backup: figures('fw2'),
      masterTxPerS: (tx1 - tx0) / txSeconds,
    };
  } finally {
    await clearBoxes(lab, [...BOXES], routers, started);
  }
}

async function main(): Promise<void> {
  const bad = COUNTS.filter((n) => !Number.isInteger(n) || n < 1 || n > 128);
  if (bad.length > 0) throw new Error(`ROUTERS: ${bad.join(',')} outside 1..128`);
  const perCaseS = WINDOW_S + SETTLE_MS / 1000 + 3;
  process.stderr.write(
    `resources: ${COUNTS.length} sizes x ${DAEMONS.length} daemons, about ${Math.ceil((COUNTS.length * DAEMONS.length * perCaseS) / 60)} min\n`,
  );
  await buildVipdSnapshot();
  const cases: Case[] = [];
  const lab = await Lab.create({ hosts: [...BOXES] });
  try {
    for (const count of COUNTS) {
      for (const daemon of DAEMONS) {
        const c = await measure(lab, daemon, count);
        cases.push(c);
        process.stderr.write(
          `${daemon} x${count}: ${c.settled ? 'settled' : 'DID NOT SETTLE'}, ${c.changesInWindow} state changes in the window; master ${c.master.cpuPercent.toFixed(2)} % CPU, RSS ${mib(c.master.rssKiB)} MiB; backup ${c.backup.cpuPercent.toFixed(2)} % CPU, RSS ${mib(c.backup.rssKiB)} MiB; ${c.masterTxPerS.toFixed(0)} pkts/s\n`,
        );
      }
    }
  } finally {
    await lab.destroy();
  }
  writeReport({
    name: 'resources',
    title: `CPU and memory, VRRPv3 advert 0.1 s, fw1 master / fw2 backup of every router, ${WINDOW_S} s window`,
    command: 'npx tsx bench/resources.ts',
    table: markdownTable(
      [
        'daemon',
        'routers',
        'processes',
        'state changes',
        'master CPU %',
        'master RSS MiB',
        'master PSS MiB',
        'backup CPU %',
        'backup RSS MiB',
        'master tx pkts/s',
      ],
      cases.map((c) => [
        c.daemon,
        c.routers,
        c.master.processes,
        c.settled ? c.changesInWindow : `${c.changesInWindow} (never settled)`,
        c.master.cpuPercent.toFixed(2),
        mib(c.master.rssKiB),
        mib(c.master.pssKiB),
        c.backup.cpuPercent.toFixed(2),
        mib(c.backup.rssKiB),
        c.masterTxPerS.toFixed(0),
      ]),
    ),
    notes: [
      "CPU %: utime + stime (+ reaped children's) of the box's processes over the window, % of one",
      "core. RSS: sum of VmRSS (keepalived's parent and VRRP child share pages, counted twice); PSS",
      'splits shared pages. state changes: logged by both boxes during the window (0 when stable).',
    ],
    results: cases,
  });
}

runBench(main);
