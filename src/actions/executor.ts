/**
 * Carries out a plan: steps one after another, each awaited and bounded by a timeout (its abort
 * signal kills whatever process the step started), each logged with its duration and result.
 *
 * Two modes. `transactional` (the master plan): the first failure stops the plan and every step
 * already done is undone in reverse order, so the box is never left half a master. Best effort
 * (backup and fault plans, which release things): every step is tried even after a failure,
 * because stopping half-way would leave more behind, not less.
 *
 * A plan whose `signal` aborts (the router left the state it serves) stops at once: the running
 * step is aborted (a hook's process group killed) and no further step starts. Nothing is rolled
 * back: the plan of the router's new state, which runs next, makes the box match that state.
 */
import type { Logger } from '../log.js';
import type { Clock } from '../ports/clock.js';
import { describeStep, type Step } from './plan.js';

export interface StepRunner {
  run(step: Step, signal: AbortSignal): Promise<void>;
  /** How to revert a completed step, or undefined when there is nothing to revert (an ARP frame, a commit). */
  revert(step: Step): ((signal: AbortSignal) => Promise<void>) | undefined;
}

export interface StepOutcome {
  step: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface PlanResult {
  ok: boolean;
  /** Stopped by its signal before it ended. */
  cancelled: boolean;
  outcomes: StepOutcome[];
  rolledBack: StepOutcome[];
}

export class StepTimeoutError extends Error {
  constructor(ms: number) {
    super(`did not finish within ${ms} ms and was killed`);
    this.name = 'StepTimeoutError';
  }
}

async function bounded(
  run: (signal: AbortSignal) => Promise<void>,
  timeoutMs: number,
  plan: AbortSignal | undefined,
): Promise<void> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onCancel: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    // Reject first so the step reports the timeout (or the cancellation), not the abort it causes.
    const end = (why: Error): void => {
      reject(why);
      controller.abort(why);
    };
    timer = setTimeout(() => end(new StepTimeoutError(timeoutMs)), timeoutMs);
    onCancel = () => end(plan?.reason instanceof Error ? plan.reason : new Error('cancelled'));
    if (plan?.aborted === true) onCancel();
    else plan?.addEventListener('abort', onCancel, { once: true });
  });
  try {
    await Promise.race([run(controller.signal), stop]);
  } finally {
    clearTimeout(timer);
    if (onCancel !== undefined) plan?.removeEventListener('abort', onCancel);
  }
}

export interface ExecuteOptions {
  runner: StepRunner;
  timeoutMs: number;
  transactional: boolean;
  clock: Clock;
  log: Logger;
  /** Label for the log lines, e.g. 'master plan'. */
  label: string;
  /** Aborted when the router leaves the state this plan serves. */
  signal?: AbortSignal;
  /** Told every step's outcome (metrics); undo steps carry `undo: true`. */
  onStep?: (kind: Step['kind'], outcome: StepOutcome, undo: boolean) => void;
}

export async function executePlan(
  steps: readonly Step[],
  opts: ExecuteOptions,
): Promise<PlanResult> {
  const outcomes: StepOutcome[] = [];
  const done: Step[] = [];
  const attempt = async (
    step: Step,
    undo: boolean,
    action: (signal: AbortSignal) => Promise<void>,
  ): Promise<StepOutcome> => {
    const outcome = await timed(undo ? `undo ${describeStep(step)}` : describeStep(step), action);
    opts.onStep?.(step.kind, outcome, undo);
    return outcome;
  };
  const timed = async (
    what: string,
    action: (signal: AbortSignal) => Promise<void>,
  ): Promise<StepOutcome> => {
    const started = opts.clock.now();
    try {
      await bounded(action, opts.timeoutMs, opts.signal);
      const outcome = { step: what, ok: true, ms: Math.round(opts.clock.now() - started) };
      opts.log.info(
        { event: 'step', plan: opts.label, ...outcome },
        `${opts.label}: ${what} (${outcome.ms} ms)`,
      );
      return outcome;
    } catch (err) {
      const outcome = {
        step: what,
        ok: false,
        ms: Math.round(opts.clock.now() - started),
        error: (err as Error).message,
      };
      opts.log.error(
        { event: 'step', plan: opts.label, ...outcome },
        `${opts.label}: ${what} FAILED: ${outcome.error}`,
      );
      return outcome;
    }
  };
  let ok = true;
  for (const step of steps) {
    if (opts.signal?.aborted === true) break;
    const outcome = await attempt(step, false, (signal) => opts.runner.run(step, signal));
    outcomes.push(outcome);
    if (outcome.ok) done.push(step);
    else if (step.kind === 'hook' && !step.required) {
      opts.log.warn(
        { event: 'hook-failure-ignored', plan: opts.label, step: outcome.step },
        `${opts.label}: ${outcome.step} failed; ignored (hooks.onFailure "ignore")`,
      );
    } else {
      ok = false;
      if (opts.transactional) break;
    }
  }
  const cancelled = opts.signal?.aborted === true;
  if (cancelled) {
    opts.log.warn(
      { event: 'plan-cancelled', plan: opts.label, done: outcomes.length, of: steps.length },
      `${opts.label} cancelled after ${outcomes.length} of ${steps.length} steps: ${String((opts.signal?.reason as Error | undefined)?.message ?? 'superseded')}`,
    );
    return { ok: false, cancelled, outcomes, rolledBack: [] };
  }
  const rolledBack: StepOutcome[] = [];
  if (!ok && opts.transactional) {
    for (const step of [...done].reverse()) {
      const revert = opts.runner.revert(step);
      if (revert !== undefined) rolledBack.push(await attempt(step, true, revert));
    }
  }
  return { ok, cancelled, outcomes, rolledBack };
}
