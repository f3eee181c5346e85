/**
 * What a virtual router does about its state, kept apart from the election itself so the same
 * router (daemon/router.ts) can move an instance's VIPs or a cluster's node number.
 *
 * `instanceDuties` is the instance's: the action plans of plan.ts carried out by the executor
 * (the master plan transactional, the releasing ones best effort, each stopped by its signal
 * when the router leaves the state it serves), stale VIPs removed before the first election, and
 * gratuitous ARP when the router core asks for it (refresh while master, re-assertion against a
 * lower master: the core decides when, this only sends), and VIPs removed under a master put back
 * (the core decides that too).
 */
import type { InstanceConfig } from '../config/instance.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../log.js';
import type { Observer } from '../ports/events.js';
import type { PlanOutcome } from '../runtime/plan-queue.js';
import { executePlan } from './executor.js';
import { masterPlan, releasePlan, type Role } from './plan.js';
import { stepRunner, type Announcer, type CarrierSwitch } from './runner.js';
import { addVips, readAddresses, removeVips } from './vip.js';

export interface Duties {
  /** Before the first election: clear what an earlier run left behind. */
  prepare(): Promise<void>;
  /** Make the box match `role`, until `signal` says the router has left it. */
  carryOut(role: Role, signal: AbortSignal): Promise<PlanOutcome>;
  /** Gratuitous ARP for the VIPs, now (never throws: a failure is logged). */
  announce(why: string): void;
  /** Puts back these of our VIPs, removed under a master, and announces them; throws on failure. */
  restore(addresses: readonly string[]): Promise<void>;
}

export function instanceDuties(
  cfg: InstanceConfig,
  /** The link's sender, or the router's virtual MAC, which also switches its carrier. */
  announcer: Announcer & Partial<CarrierSwitch>,
  clock: Clock,
  log: Logger,
  emit: Observer,
): Duties {
  const runner = stepRunner(cfg, announcer, log);

  return {
    async prepare() {
      const stale = await removeVips(cfg.vipInterface, cfg.vips, undefined, log);
      if (stale.length > 0) {
        log.warn(
          { event: 'stale-vips-removed', vips: stale.map((v) => v.address) },
          'removed VIPs left on the interface by an earlier run',
        );
      }
    },

    async carryOut(role, signal) {
      const steps =
        role === 'master'
          ? masterPlan(cfg)
          : releasePlan(role, cfg, {
              addresses: new Set((await readAddresses(cfg.vipInterface)).map((a) => a.address)),
            });
      const result = await executePlan(steps, {
        runner,
        timeoutMs: cfg.stepTimeoutMs,
        transactional: role === 'master',
        clock,
        log,
        label: `${role} plan`,
        signal,
        onStep: (kind, outcome) =>
          emit({ type: 'step', instance: cfg.name, kind, ok: outcome.ok, ms: outcome.ms }),
      });
      if (!result.cancelled) {
        log.info(
          {
            event: 'plan',
            role,
            ok: result.ok,
            steps: result.outcomes.length,
            rolledBack: result.rolledBack.length,
          },
          `${role} plan ${result.ok ? 'done' : 'FAILED'}`,
        );
      }
      const failed = result.ok ? undefined : result.outcomes.find((o) => !o.ok);
      return {
        ok: result.ok,
        cancelled: result.cancelled,
        ...(failed === undefined ? {} : { detail: `${failed.step}: ${failed.error ?? 'failed'}` }),
      };
    },

    announce(why) {
      announcer
        .announce(
          cfg.vips.map((v) => v.address),
          cfg.garp,
        )
        .catch((err: unknown) =>
          log.warn(
            { event: 'garp-failed', why, err: (err as Error).message },
            'gratuitous ARP failed',
          ),
        );
    },

    async restore(addresses) {
      const wanted = new Set(addresses);
      await addVips(
        cfg.vipInterface,
        cfg.vips.filter((v) => wanted.has(v.address)),
        undefined,
        log,
      );
      await announcer.announce(addresses, cfg.garp);
    },
  };
}
