/**
 * Soak: two vipd boxes and a client left alone for SOAK_MINUTES (default 10) with fast adverts:
 * fw1 (priority 150) master and fw2 (priority 100) backup of one virtual router, VRRPv3 advert
 * 0.1 s, so the backup's Master_Down_Interval is 360.9 ms and any stall of its event loop or of
 * the master's sends longer than that shows up as a transition. Nothing is done to the boxes.
 *
 * Method: start fw1, wait until it is master, start fw2, wait until it is backup, ping the VIP
 * from the client until its neighbour entry for the VIP is fw1's MAC, settle 5 s; then start
 * the client's ping of the VIP every 50 ms and take the start figures. Every 30 s and at the
 * end: both vipd processes' VmRSS and PSS (/proc), and the state changes they logged since the
 * settle. Bound: zero transitions (every one is spurious) and zero ping loss (the VIP never
 * moves); memory should level off, not grow with time. Also CPU % of each over the soak
 * (utime + stime, % of one core). SOAK_DAEMON=keepalived runs the same soak on keepalived
 * (its parent and VRRP child summed) as a control for the machine's own stalls. Not part of
 * `npm run bench` (`npm run soak`). Output: tables on stdout and bench-results/soak.json (with
 * the 30 s samples; soak-keepalived.json for the control).
 */
import { Lab, type LabProcess } from '../test/lab/lab.js';
import { until } from '../test/support/until.js';
import {
  DAEMONS,
  address,
  boxPids,
  buildVipdSnapshot,
  clearBoxes,
  macOf,
  mib,
  neighbourMac,
  sampleProcesses,
  sleep,
  startDaemon,
  startPing,
  stateChanges,
  ticksPerSecond,
  usageBetween,
  virtualRouters,
  waitForState,
  type Daemon,
  type ProcSample,
  type StateChange,
} from './lab.js';
import { envCount, markdownTable, runBench, signed, writeReport } from './stats.js';

const MINUTES = envCount('SOAK_MINUTES', 10);
const DAEMON = soakDaemon(process.env.SOAK_DAEMON ?? 'vipd');
const ADVERT_S = 0.1;
const PING_INTERVAL_S = 0.05;
const SETTLE_MS = 5_000;
const SAMPLE_EVERY_MS = 30_000;
const ROUTERS = virtualRouters(1);
const VIP = address(ROUTERS[0] ?? { vrid: 1, vips: [] });
const BOXES = ['fw1', 'fw2'] as const;
type Box = (typeof BOXES)[number];

function soakDaemon(name: string): Daemon {
  const d = DAEMONS.find((x) => x === name);
  if (d === undefined) throw new Error(`SOAK_DAEMON=${name}: one of ${DAEMONS.join(', ')}`);
  return d;
}

interface Sample {
  /** Seconds since the start figures. */
  atS: number;
  rssKiB: Record<Box, number>;
  pssKiB: Record<Box, number>;
  /** State changes since the settle, per box. */
  changes: Record<Box, number>;
}

async function main(): Promise<void> {
  await buildVipdSnapshot();
  process.stderr.write(`soak: ${MINUTES} min of two ${DAEMON} boxes at advert ${ADVERT_S} s\n`);
  const lab = await Lab.create({ hosts: [...BOXES, 'client'] });
  const started: LabProcess[] = [];
  try {
    const start = async (box: Box, priority: number, state: string): Promise<LabProcess> => {
      const proc = startDaemon(lab, DAEMON, box, { priority, advertS: ADVERT_S, routers: ROUTERS });
      started.push(proc);
      await waitForState(DAEMON, proc, state, 1, 20_000);
      return proc;
    };
    const procs: Record<Box, LabProcess> = {
      fw1: await start('fw1', 150, 'master'),
      fw2: await start('fw2', 100, 'backup'),
    };
    const fw1Mac = await macOf(lab, 'fw1');
    // A few pings make the client resolve the VIP (the measured ping starts after settling).
    await lab.exec('client', 'ping', ['-n', '-c', '3', '-i', String(PING_INTERVAL_S), VIP]);
    await until(
      "the client's entry for the VIP is fw1's MAC",
      async () => {
        const mac = await neighbourMac(lab, 'client', VIP);
        return { done: mac === fw1Mac, value: mac };
      },
      10_000,
      20,
    );
    await sleep(SETTLE_MS);

    const settled = { fw1: stateChanges(DAEMON, procs.fw1), fw2: stateChanges(DAEMON, procs.fw2) };
    const since = (b: Box): StateChange[] =>
      stateChanges(DAEMON, procs[b]).slice(settled[b].length);
    const pids = { fw1: await boxPids(lab, 'fw1'), fw2: await boxPids(lab, 'fw2') };
    const read = (): Record<Box, Map<number, ProcSample>> => ({
      fw1: sampleProcesses(pids.fw1),
      fw2: sampleProcesses(pids.fw2),
    });
    const ping = startPing(lab, 'client', VIP, PING_INTERVAL_S);
    const first = read();
    const t0 = performance.now();
    const samples: Sample[] = [];
    const sample = (now: Record<Box, Map<number, ProcSample>>): Sample => {
      const usage = (b: Box): ReturnType<typeof usageBetween> => usageBetween(first[b], now[b]);
      const s: Sample = {
        atS: (performance.now() - t0) / 1000,
        rssKiB: { fw1: usage('fw1').rssKiB, fw2: usage('fw2').rssKiB },
        pssKiB: { fw1: usage('fw1').pssKiB, fw2: usage('fw2').pssKiB },
        changes: { fw1: since('fw1').length, fw2: since('fw2').length },
      };
      samples.push(s);
      process.stderr.write(
        `soak ${(s.atS / 60).toFixed(1)} min: RSS fw1 ${mib(s.rssKiB.fw1)} MiB, fw2 ${mib(s.rssKiB.fw2)} MiB; state changes ${s.changes.fw1 + s.changes.fw2}\n`,
      );
      return s;
    };
    sample(first);

    const endAt = t0 + MINUTES * 60_000;
    while (performance.now() < endAt) {
      await sleep(Math.min(SAMPLE_EVERY_MS, endAt - performance.now()));
      if (BOXES.some((b) => !procs[b].running))
        throw new Error(`a ${DAEMON} exited during the soak`);
      sample(read());
    }
    const last = read();
    const seconds = (performance.now() - t0) / 1000;
    const pinged = await ping.stop();
    const end = samples.at(-1);
    const begin = samples[0];
    if (end === undefined || begin === undefined) throw new Error('no samples');
    const clientOn = await neighbourMac(lab, 'client', VIP);
    const hz = await ticksPerSecond();
    const cpu = (b: Box): number => (usageBetween(first[b], last[b]).cpuTicks / hz / seconds) * 100;
    const changes = { fw1: since('fw1'), fw2: since('fw2') };

    const boxRows = BOXES.map((b) => [
      b,
      b === 'fw1' ? 'master' : 'backup',
      changes[b].length,
      mib(begin.rssKiB[b]),
      mib(end.rssKiB[b]),
      signed((end.rssKiB[b] - begin.rssKiB[b]) / 1024, 1),
      `${mib(begin.pssKiB[b])} / ${mib(end.pssKiB[b])}`,
      cpu(b).toFixed(2),
    ]);
    const longest = Math.max(0, ...pinged.outages.map((o) => o.ms));
    const pingRow = [
      pinged.transmitted,
      pinged.received,
      pinged.lossPercent.toFixed(2),
      pinged.outages.length,
      (longest / 1000).toFixed(1),
      clientOn === fw1Mac ? 'fw1 (unchanged)' : `${clientOn ?? 'none'} (moved)`,
    ];
    writeReport({
      name: DAEMON === 'vipd' ? 'soak' : `soak-${DAEMON}`,
      title: `Soak: two ${DAEMON} boxes, VRRPv3 advert ${ADVERT_S} s, ${(seconds / 60).toFixed(1)} min after settling, client pinging the VIP every ${PING_INTERVAL_S * 1000} ms`,
      command: `SOAK_MINUTES=${MINUTES}${DAEMON === 'vipd' ? '' : ` SOAK_DAEMON=${DAEMON}`} npm run soak`,
      table: [
        ...markdownTable(
          [
            'box',
            'role',
            'state changes',
            'RSS start MiB',
            'RSS end MiB',
            'RSS change MiB',
            'PSS start / end MiB',
            'CPU %',
          ],
          boxRows,
        ),
        '',
        ...markdownTable(
          [
            'pings sent',
            'answered',
            'loss %',
            'outages',
            'longest outage s',
            "client's ARP entry at the end",
          ],
          [pingRow],
        ),
      ],
      notes: [
        'state changes: logged after settling; expected 0 (nothing is done to the boxes). outages:',
        'runs of unanswered pings between answered ones (by icmp_seq). RSS: VmRSS',
        `of each ${DAEMON} box; start = right after settling, end = after the soak. CPU % of one core.`,
      ],
      results: {
        minutes: seconds / 60,
        changes,
        samples,
        cpuPercent: { fw1: cpu('fw1'), fw2: cpu('fw2') },
        ping: pinged,
        clientEntry: clientOn,
        fw1Mac,
      },
    });
  } finally {
    await clearBoxes(lab, [...BOXES], ROUTERS, started);
    await lab.destroy();
  }
}

runBench(main);
