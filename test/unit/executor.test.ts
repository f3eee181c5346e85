/**
 * The executor with fault injection: step runners that fail or hang on purpose (the only mocks
 * here; the real runners are exercised in the namespace tests).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { executePlan, type StepRunner } from '../../src/actions/executor.js';
import type { Step } from '../../src/actions/plan.js';
import { monotonicClock } from '../../src/ports/clock.js';

const vips: Step = { kind: 'vips', want: 'present', vips: [{ address: '10.0.0.1', prefix: 24 }] };
const garp: Step = { kind: 'garp', addresses: ['10.0.0.1'] };
const hook: Step = {
  kind: 'hook',
  script: '/up.sh',
  args: ['eth0', '10.0.0.1'],
  env: {},
  required: true,
};
const log = pino({ level: 'silent' });

function recorder(fail: (s: Step) => 'ok' | 'fail' | 'hang'): {
  runner: StepRunner;
  calls: string[];
} {
  const calls: string[] = [];
  const runner: StepRunner = {
    run: (step, signal) => {
      calls.push(`run ${step.kind}`);
      const mode = fail(step);
      if (mode === 'fail') return Promise.reject(new Error('boom'));
      if (mode === 'hang') {
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            calls.push('aborted');
            reject(new Error('aborted'));
          }),
        );
      }
      return Promise.resolve();
    },
    revert: (step) => (step.kind === 'vips' ? async () => void calls.push('undo vips') : undefined),
  };
  return { runner, calls };
}

const opts = { timeoutMs: 200, clock: monotonicClock, log, label: 'test plan' };

describe('executePlan', () => {
  it('transactional: stops at the first failure and undoes what was done, in reverse', async () => {
    const { runner, calls } = recorder((s) => (s.kind === 'hook' ? 'fail' : 'ok'));
    const r = await executePlan([vips, garp, hook], { ...opts, runner, transactional: true });
    expect(r.ok).toBe(false);
    expect(calls).toEqual(['run vips', 'run garp', 'run hook', 'undo vips']);
    expect(r.outcomes.map((o) => [o.step, o.ok])).toEqual([
      ['VIPs add 10.0.0.1/24', true],
      ['gratuitous ARP / unsolicited NA for 1 VIP(s)', true],
      ['hook /up.sh eth0 10.0.0.1', false],
    ]);
    expect(r.rolledBack.map((o) => o.step)).toEqual(['undo VIPs add 10.0.0.1/24']);
  });

  it('a hanging step is aborted at its timeout and counts as failed', async () => {
    const { runner, calls } = recorder((s) => (s.kind === 'garp' ? 'hang' : 'ok'));
    const r = await executePlan([vips, garp, hook], { ...opts, runner, transactional: true });
    expect(calls).toEqual(['run vips', 'run garp', 'aborted', 'undo vips']);
    expect(r.outcomes[1]).toMatchObject({
      ok: false,
      error: 'did not finish within 200 ms and was killed',
    });
  });

  it('best effort: every step is tried, nothing is undone', async () => {
    const { runner, calls } = recorder((s) => (s.kind === 'vips' ? 'fail' : 'ok'));
    const r = await executePlan([vips, garp, hook], { ...opts, runner, transactional: false });
    expect(r.ok).toBe(false);
    expect(calls).toEqual(['run vips', 'run garp', 'run hook']);
    expect(r.rolledBack).toEqual([]);
  });

  it('a hook whose failure is ignored (ucarp): logged, the plan stands, nothing undone', async () => {
    const { runner, calls } = recorder((s) => (s.kind === 'hook' ? 'fail' : 'ok'));
    const lenient: Step = { ...hook, required: false } as Step;
    const r = await executePlan([vips, lenient, garp], { ...opts, runner, transactional: true });
    expect(r.ok).toBe(true);
    expect(calls).toEqual(['run vips', 'run hook', 'run garp']);
    expect(r.outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(r.rolledBack).toEqual([]);
  });

  it('cancelled (the router left the state): the running step is aborted, no later step starts, nothing undone', async () => {
    const { runner, calls } = recorder((s) => (s.kind === 'garp' ? 'hang' : 'ok'));
    const plan = new AbortController();
    const running = executePlan([vips, garp, hook], {
      ...opts,
      timeoutMs: 60_000,
      runner,
      transactional: true,
      signal: plan.signal,
    });
    await new Promise((r) => setTimeout(r, 20));
    plan.abort(new Error('the router is now fault'));
    const r = await running;
    expect(r).toMatchObject({ ok: false, cancelled: true, rolledBack: [] });
    expect(calls).toEqual(['run vips', 'run garp', 'aborted']);
  });

  it('a plan cancelled before it starts runs nothing', async () => {
    const { runner, calls } = recorder(() => 'ok');
    const plan = new AbortController();
    plan.abort(new Error('superseded'));
    const r = await executePlan([vips, hook], {
      ...opts,
      runner,
      transactional: false,
      signal: plan.signal,
    });
    expect(r).toMatchObject({ ok: false, cancelled: true, outcomes: [] });
    expect(calls).toEqual([]);
  });
});
