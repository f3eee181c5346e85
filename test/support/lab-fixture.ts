/**
 * The lab life cycle every integration test file shares: one lab per describe block (built in
 * beforeAll, always destroyed in afterAll), and the processes a test starts stopped after it.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Lab, LabError, type LabProcess } from '../lab/lab.js';

export interface LabFixture {
  readonly lab: Lab;
  /** Registers a process to be stopped (SIGTERM, then SIGKILL) after the current test. */
  track(proc: LabProcess): LabProcess;
}

export function useLab(hosts: string[]): LabFixture {
  let lab: Lab | undefined;
  let procs: LabProcess[] = [];
  beforeAll(async () => {
    lab = await Lab.create({ hosts });
  });
  afterEach(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    procs = [];
  });
  afterAll(async () => {
    await lab?.destroy();
  });
  return {
    get lab(): Lab {
      if (lab === undefined) throw new LabError('the lab was not built (see the beforeAll error)');
      return lab;
    },
    track(proc) {
      procs.push(proc);
      return proc;
    },
  };
}
