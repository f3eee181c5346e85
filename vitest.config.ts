import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { SummaryReporter } from './test/support/summary-reporter.js';

// `npm test`: the tier anyone can run anywhere: unit, property and conformance tests. They import
// the TypeScript sources directly (no build step), need no root and no network namespace, so
// their files run in parallel. The namespace suite has its own config: vitest.lab.config.ts.
const workers = availableParallelism();

export default defineConfig({
  test: {
    name: 'unit',
    include: ['test/unit/**/*.test.ts', 'test/conformance/**/*.test.ts'],
    pool: 'forks',
    // Vitest's default is one worker per core minus one, which on the 2-core machines this
    // project runs on is one worker: serial. Its main process mostly waits once the sources are
    // transformed, so one worker per core is faster; more than that starved the workers' RPC on
    // a loaded machine ("Timeout calling onTaskUpdate"). A fixed pool: idle workers are not
    // torn down and started again between files.
    maxWorkers: workers,
    minWorkers: workers,
    // A worker runs file after file in one module cache instead of a fresh process per file:
    // 35 s of CPU instead of 58 s for the same tests (most of the difference was starting forks
    // and re-importing the sources). So a test must leave no global state behind (restore env
    // vars, real timers, registries): `npx vitest run --isolate` checks whether an odd failure
    // comes from a neighbour.
    isolate: false,
    // The property and fuzz tests take seconds each and share the machine with their neighbours.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', new SummaryReporter('unit')],
  },
});
