/**
 * `npm run bench`: every benchmark in turn, each its own process (one namespace lab at a time, so
 * none measures while another loads the machine), on one vipd snapshot compiled here, then all
 * their tables together and bench-results/summary.json. BENCHES="failover,resources" runs a
 * subset; every benchmark's own variables (RUNS, ADVERTS, FAMILIES, PROTOCOLS, ROUTERS, WINDOW_S, ADVERT_S, STRESS_S,
 * SCHEDS, ...)
 * pass through.
 * A report older than this run's start is refused, so the summary never mixes runs. The soak
 * (bench/soak.ts, `npm run soak`, 10 minutes) is not part of it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { buildVipdSnapshot } from './lab.js';
import { RESULTS_DIR, printReport, readReport, runBench } from './stats.js';

const ALL = [
  'failover',
  'resources',
  'bringup',
  'redistribution',
  'manyvips',
  'pressure',
  'startup',
];
const BENCHES = (process.env.BENCHES ?? ALL.join(',')).split(',').filter(Boolean);

async function main(): Promise<void> {
  const unknown = BENCHES.filter((b) => !ALL.includes(b));
  if (unknown.length > 0) throw new Error(`BENCHES: no benchmark ${unknown.join(', ')}`);
  const started = new Date();
  await buildVipdSnapshot();
  const took: Record<string, number> = {};
  for (const name of BENCHES) {
    process.stderr.write(`\n== bench/${name}.ts\n`);
    const t0 = performance.now();
    await execa('tsx', [join('bench', `${name}.ts`)], { preferLocal: true, stdio: 'inherit' });
    took[name] = Math.round((performance.now() - t0) / 1000);
  }
  const reports = BENCHES.map((name) => {
    const r = readReport(name);
    if (Date.parse(r.date) < started.getTime()) {
      throw new Error(`${RESULTS_DIR}/${name}.json is from ${r.date}, before this run`);
    }
    return r;
  });
  console.log(`\n==== summary: npm run bench, ${started.toISOString()}`);
  for (const r of reports) printReport(r);
  const summary = {
    command: 'npm run bench',
    env: Object.fromEntries(
      [
        'RUNS',
        'ADVERTS',
        'FAMILIES',
        'PROTOCOLS',
        'ROUTERS',
        'WINDOW_S',
        'SEED_VIPS',
        'BOXES',
        'BENCHES',
        'ADVERT_S',
        'STRESS_S',
        'SCHEDS',
      ].flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]]])),
    ),
    started: started.toISOString(),
    finished: new Date().toISOString(),
    seconds: took,
    reports,
  };
  writeFileSync(join(RESULTS_DIR, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  console.log(
    `\n${RESULTS_DIR}/summary.json written (${Object.entries(took)
      .map(([n, s]) => `${n} ${s} s`)
      .join(', ')})`,
  );
}

runBench(main);
