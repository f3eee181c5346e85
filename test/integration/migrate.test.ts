/**
 * The two ways off the old daemons, on real namespaces and through the real CLI:
 * - `vipd import keepalived`: the keepalived configs the interop tests run are converted, and the
 *   converted vipd elects the same master keepalived would (the higher priority, the VIP there
 *   only), against a real keepalived (v2 with PASS) and against another converted vipd (v3).
 * - `vipd ucarp`: two boxes started with ucarp's command line and ucarp-style scripts (they add
 *   and remove the VIP themselves and log their arguments): the scripts run with ucarp's
 *   arguments on every transition, and the VIP ends up on the master only.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { LabProcess } from '../lab/lab.js';
import {
  KEEPALIVED_PACKET_ERRORS,
  keepalivedConfig,
  startKeepalived,
  type KeepalivedOptions,
} from '../support/keepalived.js';
import { useLab, type LabFixture } from '../support/lab-fixture.js';
import { VIPD_CLI } from '../support/paths.js';
import { until } from '../support/until.js';
import { startVipdWith, transitions } from '../support/vipd.js';

const VIP = '10.99.0.100';

/** Two advert intervals after convergence a second master would show: then only `host` has it. */
async function onlyHolder(fx: LabFixture, host: 'fw1' | 'fw2'): Promise<void> {
  const other = host === 'fw1' ? 'fw2' : 'fw1';
  await new Promise((r) => setTimeout(r, 2_000));
  expect(await fx.lab.hasAddress(host, VIP)).toBe(true);
  expect(await fx.lab.hasAddress(other, VIP)).toBe(false);
}

describe('vipd import keepalived: the converted config elects like keepalived', () => {
  const fx = useLab(['fw1', 'fw2']);

  /** The interop tests' keepalived.conf for `host`, through `vipd import keepalived`. */
  async function converted(
    host: string,
    o: KeepalivedOptions,
  ): Promise<{ config: unknown; notes: string[] }> {
    const file = join(fx.lab.logDir, `import-${host}.conf`);
    writeFileSync(file, keepalivedConfig(host, o));
    const r = await execa(process.execPath, [VIPD_CLI, 'import', 'keepalived', file], {
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const notes = r.stderr.split('\n').filter(Boolean);
    // Only what has no vipd equivalent: keepalived's script user and its initial state.
    expect(notes.map((n) => n.slice(file.length).split(':').slice(0, 3).join(':'))).toEqual([
      ':6: script_user',
      ':7: enable_script_security',
      ':10: state BACKUP',
    ]);
    return { config: JSON.parse(r.stdout), notes };
  }

  it('a converted vipd (VRRPv2, PASS, priority 150) takes over from the keepalived master (100)', async () => {
    const password = { version: 2, authPassword: 's3cr3t' } as const;
    const ka = fx.track(startKeepalived(fx.lab, 'fw2', { priority: 100, ...password }));
    await ka.waitForLine(/Entering MASTER STATE/, 10_000);
    const { config } = await converted('fw1', { priority: 150, ...password });
    expect(config).toMatchObject({
      node: { name: 'fw1' },
      instances: [{ vrid: 51, priority: 150, version: 2, authPassword: 's3cr3t' }],
    });
    const v = fx.track(startVipdWith(fx.lab, 'fw1', config));
    await v.waitForLine(/"to":"master"/, 10_000);
    await ka.waitForLine(/Entering BACKUP STATE/, 5_000);
    await onlyHolder(fx, 'fw1');
    expect(ka.lines.filter((l) => KEEPALIVED_PACKET_ERRORS.test(l))).toEqual([]);
  });

  it('two converted vipds (VRRPv3, priorities 100 and 150) elect the 150, as the keepalived pair does', async () => {
    const [low, high] = await Promise.all([
      converted('fw1', { priority: 100, version: 3 }),
      converted('fw2', { priority: 150, version: 3 }),
    ]);
    const v1 = fx.track(startVipdWith(fx.lab, 'fw1', low.config));
    const v2 = fx.track(startVipdWith(fx.lab, 'fw2', high.config));
    await v2.waitForLine(/"to":"master"/, 10_000);
    await onlyHolder(fx, 'fw2');
    expect(transitions(v1).map((t) => t.to)).not.toContain('master');
  });
});

describe("vipd ucarp: ucarp's command line and scripts", () => {
  const fx = useLab(['fw1', 'fw2']);

  /**
   * ucarp-style scripts: they add or remove the VIP themselves (with the /24 of the LAN, as
   * Debian's example scripts do) and log their arguments. vipd has put VIP/32 in place itself by
   * the time the up script runs. They are not made tolerant: the down script fails at start-up
   * (no VIP to delete yet), which ucarp ignores and so must vipd ucarp.
   */
  function scripts(host: string): { up: string; down: string; log: string } {
    const log = join(fx.lab.logDir, `ucarp-${host}.log`);
    const write = (name: string, ip: string): string => {
      const path = join(fx.lab.logDir, `${host}-${name}.sh`);
      writeFileSync(
        path,
        `#!/bin/sh\necho "${name} $@" >> ${log}\nip addr ${ip} "$2"/24 dev "$1"\n`,
      );
      chmodSync(path, 0o755);
      return path;
    };
    return { up: write('up', 'add'), down: write('down', 'del'), log };
  }

  function ucarp(host: 'fw1' | 'fw2', advskew: number): { proc: LabProcess; log: string } {
    const { up, down, log } = scripts(host);
    const argv = [
      ...['-i', 'eth0', '-s', fx.lab.host(host).address, '-v', '10', '-a', VIP, '-p', 'secret'],
      ...['-P', '-k', String(advskew), '-u', up, '-d', down, '-x', 'extra'],
      // Lab hosts share one file system: each its own control socket (vipd's option).
      `--vipd-socket=${join(fx.lab.logDir, `ucarp-${host}.sock`)}`,
    ];
    const proc = fx.lab.spawn(host, `vipd-ucarp-${host}`, process.execPath, [
      VIPD_CLI,
      'ucarp',
      ...argv,
    ]);
    return { proc: fx.track(proc), log };
  }

  /** The script calls logged so far, once there are `n` (a plan's hooks follow its transition). */
  const calls = (log: string, n: number): Promise<string[]> =>
    until(
      `${n} script calls in ${log}`,
      async () => {
        const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
        return { done: lines.length >= n, value: lines };
      },
      5_000,
    );

  it('runs the scripts with <interface> <vip> <xparam> on each transition; the VIP is on the master only', async () => {
    const args = `eth0 ${VIP} extra`;
    // The lower-ranked box first (advskew 100 -> priority 155): it becomes master alone.
    const fw2 = ucarp('fw2', 100);
    await fw2.proc.waitForLine(/"to":"master"/, 10_000);
    expect(await calls(fw2.log, 2)).toEqual([`down ${args}`, `up ${args}`]);
    // advskew 10 -> priority 245, with -P: it preempts, as the lower skew does under CARP.
    const fw1 = ucarp('fw1', 10);
    await fw1.proc.waitForLine(/"to":"master"/, 10_000);
    await fw2.proc.waitForLine(/"from":"master","to":"backup"/, 5_000);
    await onlyHolder(fx, 'fw1');
    expect(await calls(fw1.log, 2)).toEqual([`down ${args}`, `up ${args}`]);
    expect(await calls(fw2.log, 3)).toEqual([`down ${args}`, `up ${args}`, `down ${args}`]);
    // The mapping is logged at start, without the password.
    expect(fw1.proc.lines.find((l) => l.includes('"event":"ucarp-mapping"'))).toMatch(
      /"priority":245.*"authPassword":"\*+"/,
    );
    expect(fw1.proc.lines.filter((l) => l.includes('secret'))).toEqual([]);

    // A graceful stop releases like ucarp -z: the down script runs, the backup takes over.
    fw1.proc.kill('SIGTERM');
    await fw2.proc.waitForLine(/"reason":"priority-zero-heard"/, 5_000);
    expect(await fw1.proc.exited).toBe(0);
    expect(await calls(fw1.log, 3)).toEqual([`down ${args}`, `up ${args}`, `down ${args}`]);
    await onlyHolder(fx, 'fw2');
  });
});
