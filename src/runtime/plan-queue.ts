/**
 * One router's action plans, run one after another in the order they were issued, each with an
 * abort signal of its own. Contract: `cancel(id)` aborts plan `id` whether it is running (it
 * stops at its next step boundary; a running step's process group is killed through the signal)
 * or still queued (it never starts and reports cancelled). Every enqueued plan reports exactly
 * once through its `done` callback, which never throws into the queue.
 */

export interface PlanOutcome {
  ok: boolean;
  cancelled: boolean;
  detail?: string;
}

export class PlanQueue {
  private tail: Promise<void> = Promise.resolve();
  private readonly controllers = new Map<number, AbortController>();

  enqueue(
    id: number,
    run: (signal: AbortSignal) => Promise<PlanOutcome>,
    done: (outcome: PlanOutcome) => void,
  ): void {
    const controller = new AbortController();
    this.controllers.set(id, controller);
    this.tail = this.tail.then(async () => {
      let outcome: PlanOutcome;
      if (controller.signal.aborted) outcome = { ok: false, cancelled: true };
      else {
        try {
          outcome = await run(controller.signal);
        } catch (err) {
          outcome = { ok: false, cancelled: false, detail: (err as Error).message };
        }
      }
      this.controllers.delete(id);
      done(outcome);
    });
  }

  cancel(id: number, why: string): void {
    this.controllers.get(id)?.abort(new PlanCancelledError(why));
  }

  /** Resolves once every plan enqueued so far has ended. */
  idle(): Promise<void> {
    return this.tail;
  }
}

export class PlanCancelledError extends Error {
  override name = 'PlanCancelledError';
}
