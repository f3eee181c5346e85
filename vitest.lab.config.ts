import { defineConfig } from 'vitest/config';
import { SummaryReporter } from './test/support/summary-reporter.js';

// `npm run test:lab`: the namespace suite (test/integration). It needs root, builds network
// namespaces and runs the built CLI (dist/), so the global setup compiles the project first.
//
// Files run one after another, each in its own process: those tests measure failover times in
// real time, and on a 2-core machine a neighbouring file would set their timings. This is a
// separate config, not a vitest `project` beside the unit tier, because vitest 3 sizes its
// worker pool from the root config only: a project's `fileParallelism: false` does not make
// its files serial, and `singleFork` would run every lab file in ONE process (leftover handlers
// and children of one file in the next). Two runs, summed by scripts/test, keep both tiers
// exactly as they need to be.
export default defineConfig({
  test: {
    name: 'lab',
    include: ['test/integration/**/*.test.ts'],
    globalSetup: ['./test/support/build.ts'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', new SummaryReporter('lab')],
  },
});
