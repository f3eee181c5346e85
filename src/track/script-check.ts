/**
 * A tracked script, as keepalived's vrrp_script: run every `interval`; exit 0 is a success. It
 * turns up after `rise` successes in a row and down after `fall` failures in a row (starting
 * down until it first rises, so a box does not claim health it has not shown). A run that
 * outlives `timeout` is killed with its whole process group (hooks.ts) and counts as a failure
 * and as a timeout; runs never overlap.
 */
import { HookError, runHook } from '../actions/hooks.js';
import type { ScriptCheckConfig } from '../config/track.js';
import type { Clock } from '../ports/clock.js';

export type { ScriptCheckConfig };

export class ScriptCheck {
  private up = false;
  private streak = 0;
  private cancel: (() => void) | undefined;
  private readonly abort = new AbortController();
  timeouts = 0;
  runs = 0;
  /** Resolves once the first run has finished (its state is known). */
  readonly settled: Promise<void>;
  private firstRun: (() => void) | undefined;

  constructor(
    readonly cfg: ScriptCheckConfig,
    private readonly clock: Clock,
    private readonly onChange: (up: boolean, detail: string) => void,
  ) {
    this.settled = new Promise((resolve) => {
      this.firstRun = resolve;
    });
    this.schedule(0);
  }

  get isUp(): boolean {
    return this.up;
  }

  private schedule(delayMs: number): void {
    if (this.abort.signal.aborted) return;
    this.cancel = this.clock.schedule(this.clock.now() + delayMs, () => void this.runOnce());
  }

  private async runOnce(): Promise<void> {
    let ok = true;
    let detail = 'exit 0';
    try {
      await runHook(this.cfg.script, this.cfg.args, {}, this.cfg.timeoutMs, this.abort.signal);
    } catch (err) {
      ok = false;
      detail = (err as Error).message;
      if (err instanceof HookError && err.timedOut) this.timeouts += 1;
    }
    this.runs += 1;
    this.firstRun?.();
    if (this.abort.signal.aborted) return;
    // A streak counts results that disagree with the current state.
    this.streak = ok === this.up ? 0 : this.streak + 1;
    if (this.streak >= (ok ? this.cfg.rise : this.cfg.fall)) {
      this.up = ok;
      this.streak = 0;
      this.onChange(ok, detail);
    }
    this.schedule(this.cfg.intervalMs);
  }

  close(): void {
    this.abort.abort(new Error('tracking stopped'));
    this.cancel?.();
    this.firstRun?.();
  }
}
