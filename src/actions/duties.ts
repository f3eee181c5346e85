/**
 * What a virtual router does about its state, kept apart from the election itself so the same
 * router (daemon/router.ts) can move an instance's VIPs or a cluster's node number.
 *
 * `instanceDuties` is the instance's: the action plans of plan.ts carried out by the executor
 * (the master plan transactional, the releasing ones best effort), stale VIPs removed before the
 * first election, and gratuitous ARP repeated while master (refresh) and after re-asserting
 * against a lower master (split-brain healing: neighbours may point at the other box), the
 * latter at most once per advert interval.
 */
import type { InstanceConfig } from '../config/instance.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../log.js';
import type { Observer } from '../ports/events.js';
import { executePlan } from './executor.js';
import { masterPlan, releasePlan, type Role } from './plan.js';
import { stepRunner, type Announcer } from './runner.js';
import { readAddresses, removeVips } from './vip.js';

export interface Duties {
  /** Before the first election: clear what an earlier run left behind. */
  prepare(): Promise<void>;
  /** Make the box match `role`; false when it could not (the router then goes to FAULT). */
  carryOut(role: Role): Promise<boolean>;
  /** The router re-asserted itself as master against a lower one. */
  reasserted(): void;
  /** The router is leaving its state: stop what ran while in it. */
  leaving(): void;
}

export function instanceDuties(
  cfg: InstanceConfig,
  announcer: Announcer,
  clock: Clock,
  log: Logger,
  emit: Observer,
): Duties {
  const runner = stepRunner(cfg, announcer);
  let cancelRefresh: (() => void) | undefined;
  let lastReassert = -Infinity;

  const announce = (why: string): void => {
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
  };
  const armRefresh = (): void => {
    if (cfg.garp.refreshMs <= 0) return;
    cancelRefresh = clock.schedule(clock.now() + cfg.garp.refreshMs, () => {
      announce('refresh');
      armRefresh();
    });
  };

  return {
    async prepare() {
      const stale = await removeVips(cfg.interface, cfg.vips);
      if (stale.length > 0) {
        log.warn(
          { event: 'stale-vips-removed', vips: stale.map((v) => v.address) },
          'removed VIPs left on the interface by an earlier run',
        );
      }
    },

    async carryOut(role) {
      const steps =
        role === 'master'
          ? masterPlan(cfg)
          : releasePlan(role, cfg, {
              addresses: new Set((await readAddresses(cfg.interface)).map((a) => a.address)),
            });
      const result = await executePlan(steps, {
        runner,
        timeoutMs: cfg.stepTimeoutMs,
        transactional: role === 'master',
        clock,
        log,
        label: `${role} plan`,
        onStep: (kind, outcome) =>
          emit({ type: 'step', instance: cfg.name, kind, ok: outcome.ok, ms: outcome.ms }),
      });
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
      if (result.ok && role === 'master') armRefresh();
      return result.ok;
    },

    reasserted() {
      const now = clock.now();
      if (now - lastReassert < cfg.advertIntervalCs * 10) return;
      lastReassert = now;
      announce('reassert');
    },

    leaving() {
      cancelRefresh?.();
      cancelRefresh = undefined;
    },
  };
}
