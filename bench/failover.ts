/**
 * Failover benchmark: vipd and keepalived side by side in the same namespace lab, same timers
 * (VRRPv3, advert 1 s, priorities 150/100). For each daemon and each way the master goes away
 * (SIGKILL of every process on the box = crash; SIGTERM = graceful stop), the time from the
 * signal to the kernel reporting the VIP on the backup, over RUNS runs (default 5).
 *
 * Protocol bounds for the backup (priority 100): Master_Down_Interval 3609 ms, Skew_Time 609 ms.
 * Output: a table on stdout and JSON in bench-results/failover.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Lab, type LabProcess } from '../test/lab/lab.js';
import { startKeepalived } from '../test/support/keepalived.js';
import { startVipd } from '../test/support/vipd.js';
import { stats } from './stats.js';

const VIP = '10.99.0.100';
const RUNS = Number(process.env.RUNS ?? 5);
type Daemon = 'vipd' | 'keepalived';
type Way = 'SIGKILL' | 'SIGTERM';

function start(lab: Lab, daemon: Daemon, host: string, priority: number): LabProcess {
  return daemon === 'vipd'
    ? startVipd(lab, host, [{ priority, version: 3, advertInterval: 1 }])
    : startKeepalived(lab, host, { priority, version: 3 });
}

const MASTER: Record<Daemon, RegExp> = {
  vipd: /"to":"master"/,
  keepalived: /Entering MASTER STATE/,
};
const BACKUP: Record<Daemon, RegExp> = {
  vipd: /"to":"backup"/,
  keepalived: /Entering BACKUP STATE/,
};

async function once(lab: Lab, daemon: Daemon, way: Way): Promise<number> {
  const fw1 = start(lab, daemon, 'fw1', 150);
  const fw2 = start(lab, daemon, 'fw2', 100);
  try {
    await fw1.waitForLine(MASTER[daemon], 15_000);
    await fw2.waitForLine(BACKUP[daemon], 15_000);
    await new Promise((r) => setTimeout(r, 1_500));
    const appeared = await lab.watchAddress('fw2', VIP);
    const t0 = performance.now();
    if (way === 'SIGKILL') await lab.signalHost('fw1', 'SIGKILL');
    else fw1.kill('SIGTERM');
    return (await appeared(10_000)) - t0;
  } finally {
    await lab.signalHost('fw1', 'SIGKILL');
    await fw2.stop();
    // A crashed box keeps its VIP; clear it so the next run starts clean.
    await lab.exec('fw1', 'ip', ['addr', 'flush', 'dev', 'eth0', 'to', `${VIP}/32`]);
  }
}

async function main(): Promise<void> {
  const lab = await Lab.create({ hosts: ['fw1', 'fw2'] });
  const results: Record<string, number[]> = {};
  try {
    for (const daemon of ['vipd', 'keepalived'] as const) {
      for (const way of ['SIGKILL', 'SIGTERM'] as const) {
        const key = `${daemon} ${way}`;
        results[key] = [];
        for (let i = 0; i < RUNS; i += 1) {
          results[key].push(await once(lab, daemon, way));
          process.stderr.write(
            `${key} run ${i + 1}/${RUNS}: ${results[key].at(-1)?.toFixed(0)} ms\n`,
          );
        }
      }
    }
  } finally {
    await lab.destroy();
  }
  const bound: Record<Way, number> = { SIGKILL: 3609, SIGTERM: 609 };
  console.log(
    `\nfailover to the backup holding the VIP, ${RUNS} runs, VRRPv3 advert 1 s, backup priority 100`,
  );
  console.log('| daemon | master goes away by | min ms | median ms | max ms | protocol bound ms |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const summary = Object.entries(results).map(([key, xs]) => {
    const [daemon, way] = key.split(' ') as [Daemon, Way];
    const s = stats(xs);
    console.log(
      `| ${daemon} | ${way} | ${s.min.toFixed(0)} | ${s.median.toFixed(0)} | ${s.max.toFixed(0)} | ${bound[way]} |`,
    );
    return { daemon, way, runs: xs, ...s, bound: bound[way] };
  });
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/failover.json', JSON.stringify(summary, null, 2));
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
