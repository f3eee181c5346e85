/**
 * Binds the planner's step kinds to the code that performs them on this box: the one place that
 * knows which module carries out which step, and which steps can be reverted (only added VIPs:
 * an ARP frame cannot be unsent, a conntrackd commit cannot be undone, and a hook's undo is the
 * down hook the fault plan runs).
 */
import type { InstanceConfig } from '../config/instance.js';
import type { Logger } from '../log.js';
import type { StepRunner } from './executor.js';
import type { Step } from './plan.js';
import { conntrackdFor } from './conntrackd.js';
import { runHook } from './hooks.js';
import { addVips, removeVips } from './vip.js';
import { applyNft, marksRemoveScript, marksScript } from './marks.js';
import type { LoadSharingBackend } from '../cluster/backend.js';
import { loadExeca } from '../runtime/execa.js';

export interface Announcer {
  announce(
    addresses: readonly string[],
    opts: { count: number; intervalMs: number },
    signal?: AbortSignal,
  ): Promise<unknown>;
}

/** A router's virtual MAC (daemon/vmac-port.ts): its macvlan's carrier follows the state. */
export interface CarrierSwitch {
  setCarrier(on: boolean): Promise<void>;
}

/** `log` gets what the VIP queue has to say (addresses already gone, others put back). */
export function stepRunner(
  cfg: InstanceConfig,
  announcer: Announcer & Partial<CarrierSwitch>,
  log?: Logger,
): StepRunner {
  const conntrackd = conntrackdFor(cfg.conntrackd);
  // These steps run commands on a transition: import execa now rather than on the takeover path.
  // A failed import is reported (and retried) by the first step that needs it.
  if (cfg.conntrackd.enabled || cfg.marks.length > 0 || cfg.loadSharing !== null) {
    loadExeca().catch(() => undefined);
  }
  // Chosen on first use: probing the kernel is I/O the start-up of a plain VRRP box need not pay.
  let backend: Promise<LoadSharingBackend> | undefined;
  const sharing = (): Promise<LoadSharingBackend> => {
    if (cfg.loadSharing === null) return Promise.reject(new Error('no loadSharing configured'));
    const sharingCfg = cfg.loadSharing;
    // The backends (and their kernel probes) are imported only by routers that share load.
    backend ??= import('../cluster/select.js').then((m) => m.createBackend(sharingCfg));
    return backend;
  };
  return {
    async run(step: Step, signal: AbortSignal): Promise<void> {
      switch (step.kind) {
        case 'vips':
          if (step.want === 'present') await addVips(cfg.vipInterface, step.vips, signal);
          else await removeVips(cfg.vipInterface, step.vips, signal, log);
          return;
        case 'garp':
          await announcer.announce(step.addresses, cfg.garp, signal);
          return;
        case 'vmac':
          if (announcer.setCarrier === undefined) throw new Error('no virtual MAC interface');
          await announcer.setCarrier(step.carrier);
          return;
        case 'marks':
          await applyNft(
            step.action === 'install' ? marksScript(cfg, cfg.marks) : marksRemoveScript(cfg),
            `firewall marks ${step.action}`,
            signal,
          );
          return;
        case 'load-sharing':
          if (step.action === 'install') await (await sharing()).install(step.owned);
          else await (await sharing()).remove();
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
      if (step.kind === 'vips' && step.want === 'present') {
        return async (signal: AbortSignal) => {
          await removeVips(cfg.vipInterface, step.vips, signal, log);
        };
      }
      if (step.kind === 'vmac' && step.carrier) {
        return async () => announcer.setCarrier?.(false);
      }
      if (step.kind === 'marks' && step.action === 'install') {
        return (signal: AbortSignal) =>
          applyNft(marksRemoveScript(cfg), 'firewall marks remove', signal);
      }
      if (step.kind === 'load-sharing' && step.action === 'install') {
        return async () => (await sharing()).remove();
      }
      return undefined;
    },
  };
}
