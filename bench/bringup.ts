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
import { startVipd } from '../test/support/vipd.js';

const VIPS = 1000;
const SEED_VIPS = Number(process.env.SEED_VIPS ?? 50);
const RUNS = Number(process.env.RUNS ?? 3);
const vip = (n: number): string => `10.100.${n >> 8}.${n & 255}`;

function logTime(line: string): number {
  return Date.parse((JSON.parse(line) as { time: string }).time);
}

async function vipdOnce(lab: Lab): Promise<{ ms: number; steps: string[] }> {
  const excluded = Array.from({ length: VIPS - 1 }, (_, i) => `${vip(i + 1)}/32`);
  const proc = startVipd(lab, 'fw1', [
    {
      priority: 255,
      excludedVips: excluded,
      garp: { count: 1 },
      loadSharing: { backend: 'nft', clusterMac: '01:00:5e:00:01:0a', totalNodes: 2, localNode: 1 },
    },
  ]);
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
  const lab = await Lab.create({ hosts: ['fw1', 'client'] });
  try {
    const vipd: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const r = await vipdOnce(lab);
      vipd.push(r.ms);
      process.stderr.write(`vipd run ${i + 1}: ${r.ms} ms (${r.steps.join('; ')})\n`);
    }
    const seedMs = await seedLoop(lab);
    const seedScaled = (seedMs * VIPS) / SEED_VIPS;
    const median = [...vipd].sort((a, b) => a - b)[Math.floor(vipd.length / 2)] ?? NaN;
    console.log(
      `\nmaster bring-up with ${VIPS} VIPs (VIPs, load-sharing rules, first gratuitous ARP of each)`,
    );
    console.log('| method | ms |');
    console.log('| --- | --- |');
    console.log(`| vipd master plan (median of ${RUNS}) | ${median} |`);
    console.log(
      `| seed per-address loop (${SEED_VIPS} measured: ${seedMs.toFixed(0)} ms, scaled x${VIPS / SEED_VIPS}) | ${seedScaled.toFixed(0)} |`,
    );
    console.log(`| ratio | ${(seedScaled / median).toFixed(0)}x |`);
  } finally {
    await lab.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
