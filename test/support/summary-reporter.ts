/**
 * Vitest reporter that ends every run with the one line CI reads: `N passed, N failed[, N skipped]`.
 * A test file that could not even load, and an unhandled error, each count as a failure: CI must
 * never see a green count for a suite that did not run.
 *
 * scripts/test runs two tiers (two `vitest run`s, see vitest.lab.config.ts for why) and must end
 * with ONE such line for both: when VIPD_TEST_TOTALS names a file, each run appends its counts
 * there as `TIER PASSED FAILED SKIPPED` and prints them in a form CI does not take for the final
 * line (`[unit] …`); scripts/test prints the sum.
 */
import { appendFileSync } from 'node:fs';
import type { Reporter, SerializedError, TestModule } from 'vitest/node';

export interface TierCounts {
  passed: number;
  failed: number;
  skipped: number;
}

export class SummaryReporter implements Reporter {
  constructor(private readonly tier: string) {}

  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
  ): void {
    const counts = countResults(testModules, unhandledErrors);
    const totalsFile = process.env.VIPD_TEST_TOTALS;
    // Written now, not at exit: scripts/test must find the counts even if the process is killed
    // while it winds down.
    if (totalsFile !== undefined && totalsFile !== '') {
      appendFileSync(
        totalsFile,
        `${this.tier} ${counts.passed} ${counts.failed} ${counts.skipped}\n`,
      );
    }
    const line =
      totalsFile !== undefined && totalsFile !== ''
        ? `[${this.tier}] ${formatCounts(counts)}`
        : formatCounts(counts);
    // Vitest runs every reporter's end hooks concurrently and the default reporter prints its
    // summary after ours would; CI reads the LAST line, so ours goes out as the process exits.
    process.once('exit', () => process.stdout.write(`\n${line}\n`));
  }
}

export function countResults(
  testModules: ReadonlyArray<TestModule>,
  unhandledErrors: ReadonlyArray<SerializedError>,
): TierCounts {
  let passed = 0;
  // No module at all means the run itself broke (e.g. the global setup's build failed).
  let failed = unhandledErrors.length + (testModules.length === 0 ? 1 : 0);
  let skipped = 0;
  for (const mod of testModules) {
    let tests = 0;
    for (const test of mod.children.allTests()) {
      tests += 1;
      const state = test.result().state;
      if (state === 'passed') passed += 1;
      else if (state === 'failed') failed += 1;
      else skipped += 1;
    }
    if (tests === 0 || (mod.state() === 'failed' && mod.errors().length > 0)) failed += 1;
  }
  return { passed, failed, skipped };
}

export function formatCounts({ passed, failed, skipped }: TierCounts): string {
  const tail = skipped > 0 ? `, ${skipped} skipped` : '';
  return `${passed} passed, ${failed} failed${tail}`;
}
