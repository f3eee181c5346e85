/**
 * The two-box pair most lab tests run: fw1 (priority 150) and fw2 (100) sharing VI_1 (VRID 51,
 * one VIP on eth0), each started through the built CLI with its own config file and control
 * socket; and the wait for a settled election (one master, the VIP on it alone).
 */
import type { Lab, LabProcess } from '../lab/lab.js';
import type { LabFixture } from './lab-fixture.js';
import { until } from './until.js';
import {
  startVipdWith,
  transitions,
  vipdConfig,
  type InstanceOptions,
  type StartOptions,
} from './vipd.js';

export type Box = 'fw1' | 'fw2';

export const PAIR_VIP = '10.99.0.100';
export const PAIR_PRIORITY: Readonly<Record<Box, number>> = { fw1: 150, fw2: 100 };

/** Starts `host` with VI_1 at its pair priority; `opts` override or add instance keys. */
export function startBox(
  fx: LabFixture,
  host: Box,
  opts: Partial<InstanceOptions> = {},
  how: StartOptions = {},
): LabProcess {
  const instance = { priority: PAIR_PRIORITY[host], ...opts };
  return fx.track(startVipdWith(fx.lab, host, vipdConfig(host, [instance]), how));
}

/**
 * Waits until `master`'s last transition is to master, every process in `backups` last went to
 * backup, and the VIP is on `master` alone.
 */
export async function settledOn(
  lab: Lab,
  master: { host: Box; proc: LabProcess },
  backups: LabProcess[],
  timeoutMs: number,
): Promise<void> {
  await until(
    `${master.host} sole master, holding ${PAIR_VIP} alone`,
    async () => {
      const on = await lab.holders(PAIR_VIP, ['fw1', 'fw2']);
      const last = [master.proc, ...backups].map((p) => transitions(p).at(-1)?.to);
      const want = ['master', ...backups.map(() => 'backup')];
      return {
        done: on.join() === master.host && last.join() === want.join(),
        value: { on, last },
      };
    },
    timeoutMs,
  );
}
