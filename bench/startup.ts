/**
 * Start-up: process start to the first advert on the wire, vipd against keepalived 2.2.7, in
 * one namespace lab (fw1 and a client). fw1 runs alone, so it goes from init to master; its one
 * virtual router (VRRPv3, VRID 1, VIP 10.99.0.101/24, advert 1 s) has priority 255, the address
 * owner, which RFC 5798 §6.4.1 sends an advert for at once on start-up (no Master_Down_Interval
 * wait): what is timed is then the daemon's own start, not a protocol timer (keepalived is
 * given `state MASTER` for it, see keepalivedConfig: in state BACKUP it waits 3 × advert even at
 * 255). A running backup would change nothing on the starting box's side, so there is none.
 *
 * Per run: Date.now() right before the spawn (`ip netns exec` then the daemon, the same for
 * both) to the first advert from fw1 captured by tcpdump on the client's eth0 (kernel receive
 * time), and to the VIP's addition on fw1 (`ip -tshort monitor address`). RUNS runs each
 * (default 10), interleaved between the daemons. Output: a table on stdout and
 * bench-results/startup.json.
 */
import { Lab, type LabProcess } from '../test/lab/lab.js';
import {
  DAEMONS,
  OWNER_PRIORITY,
  address,
  addressAdded,
  buildVipdSnapshot,
  captureAdverts,
  clearBoxes,
  interleaved,
  sleep,
  startDaemon,
  virtualRouters,
  waitForState,
  watchEvent,
  type Daemon,
  type DaemonRuns,
} from './lab.js';
import { envCount, markdownTable, runBench, stats, triple, writeReport } from './stats.js';

const RUNS = envCount('RUNS', 10);
const ADVERT_S = 1;
const ROUTERS = virtualRouters(1);
const VIP = ROUTERS[0] === undefined ? '' : address(ROUTERS[0]);

interface Run {
  /** Spawn to the first advert on the wire, ms. */
  advertMs: number;
  /** Spawn to the VIP in fw1's kernel, ms. */
  vipMs: number;
}

async function once(lab: Lab, daemon: Daemon): Promise<Run> {
  const started: LabProcess[] = [];
  try {
    const adverts = await captureAdverts(lab, 'client', lab.host('fw1').address);
    const vipUp = await watchEvent(lab, 'fw1', 'address', addressAdded(VIP), 4);
    const spawnedAt = Date.now();
    const proc = startDaemon(lab, daemon, 'fw1', {
      priority: OWNER_PRIORITY,
      advertS: ADVERT_S,
      routers: ROUTERS,
    });
    started.push(proc);
    const vipAt = await vipUp(30_000);
    await waitForState(daemon, proc, 'master', 1, 30_000);
    // A periodic advert has surely gone out by now, so the first is in the capture.
    await sleep(ADVERT_S * 1000 + 100);
    const first = (await adverts.stop())[0];
    if (first === undefined) throw new Error('no advert from fw1 captured on the client');
    return { advertMs: first.at - spawnedAt, vipMs: vipAt - spawnedAt };
  } finally {
    await clearBoxes(lab, ['fw1'], ROUTERS, started);
  }
}

async function main(): Promise<void> {
  process.stderr.write(
    `startup: ${RUNS} runs x ${DAEMONS.length} daemons, about ${Math.ceil((RUNS * DAEMONS.length * 3) / 60)} min (RUNS=n to change)\n`,
  );
  await buildVipdSnapshot();
  const lab = await Lab.create({ hosts: ['fw1', 'client'] });
  let cases: DaemonRuns<Run>[];
  try {
    cases = await interleaved(
      RUNS,
      (daemon) => once(lab, daemon),
      (r) => `first advert ${r.advertMs.toFixed(1)} ms, VIP ${r.vipMs.toFixed(1)} ms`,
    );
  } finally {
    await lab.destroy();
  }
  const results = cases.map((c) => ({
    ...c,
    advert: stats(c.runs.map((r) => r.advertMs)),
    vip: stats(c.runs.map((r) => r.vipMs)),
  }));
  writeReport({
    name: 'startup',
    title: `Start-up of a box alone, one router at priority ${OWNER_PRIORITY} (address owner: init → master at once), ${RUNS} runs (ms from the spawn, min / median / max)`,
    command: 'npx tsx bench/startup.ts',
    table: markdownTable(
      ['daemon', 'runs ok', 'first advert on the wire', 'VIP in the kernel'],
      results.map((r) => [
        r.daemon,
        `${r.runs.length}/${r.runs.length + r.failures.length}`,
        triple(r.advert, 1),
        triple(r.vip, 1),
      ]),
    ),
    notes: [
      'From Date.now() right before the spawn (through `ip netns exec`, alike for both) to the first',
      "advert captured on the client's eth0 and to the VIP's addition read by `ip -tshort monitor address`.",
    ],
    results,
  });
}

runBench(main);
