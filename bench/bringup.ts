/**
 * Master bring-up with 1,000 VIPs: vipd's plan (one `ip -batch`, one nft transaction for the
 * load-sharing rules, one native gratuitous ARP round) against the seed's per-address loop
 * (`ip addr add` + an iptables rule + `arping -U` per address), in the same lab in the same run.
 *
 * vipd's time runs from its master transition to its master plan done (from its own log). The
 * seed loop is strictly sequential and each arping waits ~1 s, so 1,000 addresses take about 17
 * minutes: it runs on SEED_VIPS addresses (default 50) and is scaled linearly to 1,000, which
 * the output says. SEED_VIPS=1000 runs it whole.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../test/lab/lab.js';
import { vipdConfig } from '../test/support/vipd.js';
import { buildVipdSnapshot, bulkVip as vip, startBenchVipd } from './lab.js';
import { envCount, markdownTable, runBench, stats, writeReport } from './stats.js';

const VIPS = 1000;
const SEED_VIPS = envCount('SEED_VIPS', 50);
const RUNS = envCount('RUNS', 3);

function logTime(line: string): number {
  return Date.parse((JSON.parse(line) as { time: string }).time);
}

async function vipdOnce(lab: Lab): Promise<{ ms: number; steps: string[] }> {
  const excluded = Array.from({ length: VIPS - 1 }, (_, i) => `${vip(i + 1)}/32`);
  const proc = startBenchVipd(
    lab,
    'fw1',
    vipdConfig('fw1', [
      {
        priority: 255,
        excludedVips: excluded,
        garp: { count: 1 },
        loadSharing: {
          backend: 'nft',
          clusterMac: '01:00:5e:00:01:0a',
          totalNodes: 2,
          localNode: 1,
        },
      },
    ]),
  );
  try {
    const done = await proc.waitForLine(/"event":"plan","role":"master"/, 60_000);
    if (!/"ok":true/.test(done)) throw new Error(`master plan failed: ${done}`);
    const start = await proc.waitForLine(/"to":"master"/, 1_000);
    const steps = proc.lines
      .filter((l) => /"plan":"master plan"/.test(l))
      .map((l) => {
        const e = JSON.parse(l) as { step: string; ms: number };
        return `${e.step.slice(0, 40)}: ${e.ms} ms`;
      });
    return { ms: logTime(done) - logTime(start), steps };
  } finally {
    await proc.stop(10_000);
  }
}

async function seedLoop(lab: Lab): Promise<number> {
  const lines = ['set -e'];
  for (let i = 1; i <= SEED_VIPS; i += 1) {
    lines.push(`ip addr add ${vip(i)}/32 dev eth0`);
    lines.push(
      `iptables -A INPUT -i eth0 -d ${vip(i)}/32 -m cluster --cluster-total-nodes 2 --cluster-local-node 1 --cluster-hash-seed 0xdeadbeef -j ACCEPT`,
    );
    lines.push(`arping -U -c 1 -I eth0 ${vip(i)} >/dev/null || true`);
  }
  const script = join(lab.logDir, 'seed-loop.sh');
  writeFileSync(script, `${lines.join('\n')}\n`);
  const t0 = performance.now();
  await lab.exec('fw1', 'sh', [script]);
  const ms = performance.now() - t0;
  await lab.exec('fw1', 'iptables', ['-F', 'INPUT']);
  await lab.exec('fw1', 'sh', ['-c', `ip addr flush dev eth0 to 10.100.0.0/16`]);
  return ms;
}

async function main(): Promise<void> {
  await buildVipdSnapshot();
  const lab = await Lab.create({ hosts: ['fw1', 'client'] });
  const vipd: { ms: number; steps: string[] }[] = [];
  let seedMs: number;
  try {
    for (let i = 0; i < RUNS; i += 1) {
      const r = await vipdOnce(lab);
      vipd.push(r);
      process.stderr.write(`vipd run ${i + 1}: ${r.ms} ms (${r.steps.join('; ')})\n`);
    }
    seedMs = await seedLoop(lab);
  } finally {
    await lab.destroy();
  }
  const seedScaled = (seedMs * VIPS) / SEED_VIPS;
  const s = stats(vipd.map((r) => r.ms));
  const grouped = (n: number): string => Math.round(n).toLocaleString('en-US');
  writeReport({
    name: 'bringup',
    title: `Master bring-up with ${grouped(VIPS)} VIPs (VIPs, nft load-sharing rules, first gratuitous ARP of each)`,
    command: 'npx tsx bench/bringup.ts',
    table: markdownTable(
      ['method', 'ms'],
      [
        [
          `vipd master plan, ${grouped(VIPS)} VIPs (median of ${RUNS}: ${vipd.map((r) => r.ms).join(', ')})`,
          grouped(s.median),
        ],
        [
          `seed per-address loop (${SEED_VIPS} measured in ${grouped(seedMs)} ms, scaled x${VIPS / SEED_VIPS})`,
          grouped(seedScaled),
        ],
        ['ratio', `about ${grouped(Number((seedScaled / s.median).toPrecision(2)))}x`],
      ],
    ),
    notes: [`vipd's steps, first run: ${vipd[0]?.steps.join('; ') ?? '-'}`],
    results: {
      vips: VIPS,
      runs: vipd,
      vipdMs: s,
      seedVips: SEED_VIPS,
      seedMs,
      seedScaledMs: seedScaled,
    },
  });
}

runBench(main);
