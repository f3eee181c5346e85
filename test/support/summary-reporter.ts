/**
 * Vitest reporter that ends every run with the one line CI reads: `N passed, N failed[, N skipped]`.
 * A test file that could not even load, and an unhandled error, each count as a failure: CI must
 * never see a green count for a suite that did not run.
 */
import type { Reporter, SerializedError, TestModule } from 'vitest/node';

export class SummaryReporter implements Reporter {
  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
  ): void {
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
    const tail = skipped > 0 ? `, ${skipped} skipped` : '';
    // Vitest runs every reporter's end hooks concurrently and the default reporter prints its
    // summary after ours would; CI reads the LAST line, so ours goes out as the process exits.
    process.once('exit', () =>
      process.stdout.write(`\n${passed} passed, ${failed} failed${tail}\n`),
    );
  }
}
