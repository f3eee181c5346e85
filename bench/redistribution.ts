/**
 * Redistribution benchmark (issue 4): in an active-active cluster of B boxes sharing one VIP
 * through the cluster MAC (nft backend, hashmode sourceip, N = 2B node numbers so every box is
 * home to two), the time from a box's death to all of its share being answered again, for
 * B = 2, 3 and 8 (BOXES="2,3,8" overrides), RUNS runs each (default 5), default timers
 * (VRRPv3, advert 1 s).
 *
 * Method: one lab per B (boxes fw1..fwB and a client). Each run waits until every box's kernel
 * owned set is its home numbers, lets the cluster settle 1.5 s, then kills one box (rotating):
 * its link goes down (no more adverts), then every process in it is SIGKILLed. The figure is
 * the latest survivor's `cluster-owned` log line whose owned set first equals what
 * ownership.ts predicts for the survivors (logged right after the nft transaction returns, so:
 * when the last piece of the dead box's share was in a survivor's kernel) minus Date.now()
 * taken just before the link went down. Cross-checks: the same completion seen by polling the
 * survivors' kernel sets (`nft list set`, 25 ms steps), and for B = 3 the client's view: 64
 * source addresses probed (TCP + UDP, 300 ms window) until every one is answered exactly once.
 * The killed box is brought back (link up, vipd restarted) at the start of the next run.
 *
 * Bound: a dead box's number k falls back to its first fallback box (ownership.ts spreads the
 * two numbers over two different survivors, both at rank 1, priority 245), which takes over one
 * RFC 5798 Master_Down_Interval after the last advert it heard: 3 * 1000 + (256 - 245) * 1000 /
 * 256 = 3043 ms. The kill lands at a random phase of the advert cycle, so from the kill the
 * takeover is due in (MDI - 1000, MDI] ms, ~MDI - 500 ms on average, plus the nft transaction.
 * Output: a table on stdout and JSON in bench-results/redistribution.json.
 */
import { runLocal, type Run } from '../src/cluster/command.js';
import { NftBackend } from '../src/cluster/nft.js';
import {
  HOME_PRIORITY,
  PRIORITY_STEP,
  homeNumbers,
  ownedBy,
  type ClusterShape,
} from '../src/cluster/ownership.js';
import { parseConfig } from '../src/config/config.js';
import { Lab, type LabProcess } from '../test/lab/lab.js';
import {
  CLUSTER_MAC,
  addSources,
  clientSources,
  notExactlyOnce,
  probe,
  startResponder,
} from '../test/support/cluster-probe.js';
import { until } from '../test/support/until.js';
import { buildVipdSnapshot, startBenchVipd } from './lab.js';
import { envCount, markdownTable, runBench, signed, stats, writeReport } from './stats.js';

const VIP = '10.99.0.10';
const RUNS = envCount('RUNS', 5);
const BOX_COUNTS = (process.env.BOXES ?? '2,3,8').split(',').map(Number);
/** The one cluster size also measured end to end by the client probe (it costs ~0.5 s a probe). */
const PROBED_BOXES = 3;
const SOURCES = clientSources(64);
const ADVERT_MS = 1000;
const SETTLE_MS = 1_500;
/** Master_Down_Interval of a number's best surviving backup (rank 1 in its preference order). */
const MDI_MS = 3 * ADVERT_MS + ((256 - (HOME_PRIORITY - PRIORITY_STEP)) * ADVERT_MS) / 256;

type Owned = Record<string, number[]>;

interface RunResult {
  killed: string;
  /** Kill to the last survivor's completing cluster-owned log line. */
  redistributionMs: number;
  /** Kill to that line, per survivor that gains numbers. */
  takeoverMs: Record<string, number>;
  /** Kill to the end of the poll that first saw every gaining survivor's set complete. */
  polledMs: number;
  /** B = 3 only: kill to the start and end of the first probe answering every source once. */
  answered?: { fromMs: number; byMs: number };
}

function clusterDoc(boxes: string[], box: string): unknown {
  return {
    node: { name: box },
    // Always info, whatever VIPD_TEST_LOG_LEVEL says: the figure is read from cluster-owned lines.
    log: { level: 'info' },
    cluster: {
      name: 'bench',
      boxes,
      totalNodes: 2 * boxes.length,
      vridBase: 60,
      backend: 'nft',
      hashmode: 'sourceip',
      hashInit: 0xdeadbeef,
      clusterMac: CLUSTER_MAC,
      interface: 'eth0',
      vips: [`${VIP}/24`],
      advertInterval: ADVERT_MS / 1000,
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Reads each box's kernel owned set, as the integration tests do. */
function kernelReader(lab: Lab, boxes: string[]): (which: string[]) => Promise<Owned> {
  const sharing = parseConfig(clusterDoc(boxes, boxes[0] ?? '')).cluster?.sharing;
  if (sharing === undefined) throw new Error('the bench config has no cluster');
  const inNetns =
    (box: string): Run =>
    (cmd, args, input) =>
      runLocal('ip', ['netns', 'exec', lab.host(box).ns, cmd, ...args], input);
  const kernels = new Map(boxes.map((b) => [b, new NftBackend(sharing, inNetns(b))]));
  return async (which) =>
    Object.fromEntries(
      await Promise.all(
        which.map(async (b) => [b, (await kernels.get(b)?.owned()) ?? []] as const),
      ),
    );
}

/** When (Date.now ms) a vipd first logged `want` as its owned set at or after `since`. */
function ownedLoggedAt(proc: LabProcess, want: number[], since: number): number | undefined {
  for (const line of proc.lines) {
    let obj: { event?: string; owned?: number[]; time?: string };
    try {
      obj = JSON.parse(line) as typeof obj;
    } catch {
      continue;
    }
    const at = Date.parse(obj.time ?? '');
    if (obj.event === 'cluster-owned' && at >= since && obj.owned?.join() === want.join()) {
      return at;
    }
  }
  return undefined;
}

/** Probes until every source is answered exactly once; the successful probe's start and end. */
function untilAnswered(lab: Lab, killedAt: number): Promise<{ fromMs: number; byMs: number }> {
  return until(
    'every source answered exactly once after the kill',
    async () => {
      const from = Date.now();
      const bad = notExactlyOnce(await probe(lab, 'client', VIP, SOURCES, 300), SOURCES, true);
      return {
        done: bad.length === 0,
        value: { fromMs: from - killedAt, byMs: Date.now() - killedAt },
      };
    },
    MDI_MS + 10_000,
    0,
  );
}

async function measure(boxCount: number): Promise<RunResult[]> {
  const boxes = Array.from({ length: boxCount }, (_, i) => `fw${i + 1}`);
  const shape: ClusterShape = { boxes: boxCount, totalNodes: 2 * boxCount };
  const home: Owned = Object.fromEntries(boxes.map((b, i) => [b, homeNumbers(i + 1, shape)]));
  const probed = boxCount === PROBED_BOXES;
  const lab = await Lab.create({ hosts: [...boxes, 'client'] });
  const results: RunResult[] = [];
  try {
    const ownedNow = kernelReader(lab, boxes);
    const vipds = new Map<string, LabProcess>();
    const start = async (box: string): Promise<void> => {
      const vipd = startBenchVipd(lab, box, clusterDoc(boxes, box));
      vipds.set(box, vipd);
      await vipd.waitForLine(/"event":"cluster-joined"/, 15_000);
      // The responder binds the VIP, which the box has once it joined.
      if (probed) await startResponder(lab, box, VIP);
    };
    if (probed) await addSources(lab, 'client', SOURCES);
    await Promise.all(boxes.map(start));

    let dead: string | undefined;
    for (let i = 0; i < RUNS; i += 1) {
      if (dead !== undefined) {
        await lab.exec(dead, 'ip', ['link', 'set', 'eth0', 'up']);
        await start(dead);
      }
      await until(
        'every box owns its home numbers',
        async () => {
          const have = await ownedNow(boxes);
          return { done: JSON.stringify(have) === JSON.stringify(home), value: have };
        },
        30_000,
      );
      if (probed) {
        const bad = notExactlyOnce(await probe(lab, 'client', VIP, SOURCES, 500), SOURCES, true);
        if (bad.length > 0) throw new Error(`converged but not answered once: ${bad.length}`);
      }
      await sleep(SETTLE_MS);

      const victim = boxes[i % boxCount] ?? 'fw1';
      const alive = new Set(boxes.flatMap((b, j) => (b === victim ? [] : [j + 1])));
      const survivors = boxes.filter((b) => b !== victim);
      const want: Owned = Object.fromEntries(
        survivors.map((b) => [b, ownedBy(boxes.indexOf(b) + 1, alive, shape)]),
      );
      // Polling only the boxes that gain numbers keeps the 2-core machine's load (one `nft`
      // process per box per step) off the daemons being timed; the rest are checked after.
      const gainers = survivors.filter((b) => want[b]?.join() !== home[b]?.join());

      const killedAt = Date.now();
      // The box dies as a whole: first its link (its adverts stop here), then every process.
      await lab.exec(victim, 'ip', ['link', 'set', 'eth0', 'down']);
      await lab.signalHost(victim, 'SIGKILL');
      dead = victim;

      const [polled, answered] = await Promise.all([
        until(
          `the survivors own ${victim}'s numbers`,
          async () => {
            const have = await ownedNow(gainers);
            const done = gainers.every((b) => have[b]?.join() === want[b]?.join());
            return { done, value: { ms: Date.now() - killedAt, have } };
          },
          MDI_MS + 10_000,
          25,
        ),
        probed ? untilAnswered(lab, killedAt) : Promise.resolve(undefined),
      ]);
      const after = await ownedNow(survivors);
      if (JSON.stringify(after) !== JSON.stringify(want)) {
        throw new Error(
          `after ${victim} died: ${JSON.stringify(after)}, predicted ${JSON.stringify(want)}`,
        );
      }
      const takeoverMs = Object.fromEntries(
        gainers.map((b) => {
          const proc = vipds.get(b);
          const at = proc && ownedLoggedAt(proc, want[b] ?? [], killedAt);
          if (at === undefined) throw new Error(`${b} logged no cluster-owned ${want[b]?.join()}`);
          return [b, at - killedAt];
        }),
      );
      const result: RunResult = {
        killed: victim,
        redistributionMs: Math.max(...Object.values(takeoverMs)),
        takeoverMs,
        polledMs: polled.ms,
        ...(answered === undefined ? {} : { answered }),
      };
      results.push(result);
      const per = Object.entries(takeoverMs)
        .map(([b, ms]) => `${b} +${ms}`)
        .join(', ');
      process.stderr.write(
        `B=${boxCount} run ${i + 1}/${RUNS}: ${victim} killed -> ${result.redistributionMs} ms (${per}; polled ${result.polledMs} ms${answered === undefined ? '' : `; all answered once ${answered.fromMs}..${answered.byMs} ms`})\n`,
      );
    }
  } finally {
    await lab.destroy();
  }
  return results;
}

async function main(): Promise<void> {
  // The VIP is 10.99.0.10 and lab hosts take .1.. in order (boxes, then the client).
  const bad = BOX_COUNTS.filter((b) => !Number.isInteger(b) || b < 2 || b > 8);
  if (bad.length > 0) throw new Error(`BOXES: ${bad.join(',')} outside 2..8`);
  await buildVipdSnapshot();
  const measured: [number, RunResult[]][] = [];
  for (const b of BOX_COUNTS) measured.push([b, await measure(b)]);

  const mdi = Math.round(MDI_MS);
  const rows: (string | number)[][] = [];
  const summary = measured.map(([boxes, runs]) => {
    const s = stats(runs.map((r) => r.redistributionMs));
    const polled = stats(runs.map((r) => r.polledMs));
    const answeredBy = runs.flatMap((r) => (r.answered === undefined ? [] : [r.answered.byMs]));
    const answered = answeredBy.length > 0 ? stats(answeredBy) : undefined;
    rows.push([
      boxes,
      2 * boxes,
      runs.length,
      s.min,
      s.median,
      s.max,
      mdi,
      signed(s.median - mdi),
      polled.median,
      answered === undefined ? '—' : answered.median,
    ]);
    return {
      boxes,
      numbers: 2 * boxes,
      runs,
      ...s,
      mdiMs: MDI_MS,
      medianMinusMdi: s.median - MDI_MS,
      polled,
      ...(answered === undefined ? {} : { answered }),
    };
  });
  writeReport({
    name: 'redistribution',
    title: `Redistribution after a box dies (link down + SIGKILL): kill to the last of its numbers in a survivor's kernel, from the survivors' cluster-owned log lines; nft backend, VRRPv3 advert 1 s, ${RUNS} runs per size`,
    command: 'npx tsx bench/redistribution.ts',
    table: markdownTable(
      [
        'boxes B',
        'numbers N',
        'runs',
        'min ms',
        'median ms',
        'max ms',
        'MDI ms',
        'median − MDI ms',
        'polled median ms',
        'all answered median ms',
      ],
      rows,
    ),
    notes: [
      `MDI: RFC 5798 Master_Down_Interval of a number's best surviving backup (priority ${HOME_PRIORITY - PRIORITY_STEP}), which takes the number over that long after the last advert it heard: from the kill, due within (MDI − 1000, MDI] ms, plus the nft transaction. "all answered": 64 client sources each answered exactly once (end of the first such probe, 300 ms window; B = ${PROBED_BOXES} only).`,
    ],
    results: summary,
  });
}

runBench(main);
