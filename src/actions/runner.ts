/**
 * Binds the planner's step kinds to the code that performs them on this box: the one place that
 * knows which module carries out which step, and which steps can be reverted (only added VIPs:
 * an ARP frame cannot be unsent, a conntrackd commit cannot be undone, and a hook's undo is the
 * down hook the fault plan runs).
 */
import type { InstanceConfig } from '../config/config.js';
import type { StepRunner } from './executor.js';
import type { Step } from './plan.js';
import { Conntrackd } from './conntrackd.js';
import { runHook } from './hooks.js';
import { addVips, removeVips } from './vip.js';

export interface Announcer {
  announce(
    addresses: readonly string[],
    opts: { count: number; intervalMs: number },
    signal?: AbortSignal,
  ): Promise<unknown>;
}

export function stepRunner(cfg: InstanceConfig, announcer: Announcer): StepRunner {
  const conntrackd = new Conntrackd(cfg.conntrackd);
  return {
    async run(step: Step, signal: AbortSignal): Promise<void> {
      switch (step.kind) {
        case 'vips':
          if (step.want === 'present') await addVips(cfg.interface, step.vips, signal);
          else await removeVips(cfg.interface, step.vips, signal);
          return;
        case 'garp':
          await announcer.announce(step.addresses, cfg.garp, signal);
          return;
        case 'conntrackd':
          for (const command of step.commands) await conntrackd.run(command, signal);
          return;
        case 'hook':
          await runHook(step.script, step.args, step.env, cfg.hooks.timeoutMs, signal);
          return;
      }
    },
    revert(step: Step) {
      if (step.kind !== 'vips' || step.want !== 'present') return undefined;
      return async (signal: AbortSignal) => {
        await removeVips(cfg.interface, step.vips, signal);
      };
    },
  };
}
