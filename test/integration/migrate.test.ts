/**
 * The two ways off the old daemons, on real namespaces and through the real CLI:
 * - `vipd import keepalived`: the keepalived configs the interop tests run are converted, and the
 *   converted vipd elects the same master keepalived would (the higher priority, the VIP there
 *   only), against a real keepalived (v2 with PASS) and against another converted vipd (v3).
 * - `vipd ucarp`: two boxes started with ucarp's command line and ucarp-style scripts (they add
 *   and remove the VIP themselves and log their arguments): the scripts run with ucarp's
 *   arguments on every transition, and the VIP ends up on the master only. A real ucarp pair
 *   replaced one box at a time, as UCARP_HELP tells it (the backup first, then the master), with
 *   one master throughout but for the dead interval after the ucarp master stops; a ucarp box
 *   with -M (broadcast adverts) and a vipd box elect one master, and vipd's stop advert
 *   (advbase 255/advskew 255) has the ucarp backup take over at once.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import type { DaemonStatus, RouterStatus } from '../../src/router/status.js';
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

/** Only `host` has the VIP now. */
async function holdsAlone(fx: LabFixture, host: 'fw1' | 'fw2'): Promise<void> {
  const other = host === 'fw1' ? 'fw2' : 'fw1';
  expect(await fx.lab.hasAddress(host, VIP)).toBe(true);
  expect(await fx.lab.hasAddress(other, VIP)).toBe(false);
}

/** Two advert intervals after convergence a second master would show: then only `host` has it. */
async function onlyHolder(fx: LabFixture, host: 'fw1' | 'fw2'): Promise<void> {
  await new Promise((r) => setTimeout(r, 2_000));
  await holdsAlone(fx, host);
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
  let runs = 0;

  /**
   * ucarp-style scripts: they add or remove the VIP themselves (with the /24 of the LAN, as
   * Debian's example scripts do) and log their arguments. vipd has put VIP/32 in place itself by
   * the time the up script runs. They are not made tolerant: the down script fails at start-up
   * (no VIP to delete yet), which ucarp ignores and so must vipd ucarp.
   */
  function scripts(host: string): { up: string; down: string; log: string } {
    runs += 1;
    const log = join(fx.lab.logDir, `ucarp-${host}-${runs}.log`);
    const write = (name: string, ip: string): string => {
      const path = join(fx.lab.logDir, `${host}-${runs}-${name}.sh`);
      writeFileSync(
        path,
        `#!/bin/sh\necho "${name} $@" >> ${log}\nip addr ${ip} "$2"/24 dev "$1"\n`,
      );
      chmodSync(path, 0o755);
      return path;
    };
    return { up: write('up', 'add'), down: write('down', 'del'), log };
  }

  /** ucarp's command line for `host`, the same for ucarp and for vipd ucarp. */
  function ucarpArgs(host: 'fw1' | 'fw2', advskew: number, more: string[] = []): string[] {
    const { up, down, log } = scripts(host);
    logs.set(host, log);
    return [
      ...['-i', 'eth0', '-s', fx.lab.host(host).address, '-v', '10', '-a', VIP, '-p', 'secret'],
      ...['-P', '-k', String(advskew), '-u', up, '-d', down, '-x', 'extra', ...more],
    ];
  }
  const logs = new Map<string, string>();
  const logOf = (host: string): string => logs.get(host) ?? '';
  const socket = (host: string): string => join(fx.lab.logDir, `ucarp-${host}.sock`);

  function vipdUcarp(host: 'fw1' | 'fw2', argv: string[]): LabProcess {
    const proc = fx.lab.spawn(host, `vipd-ucarp-${host}-${runs}`, process.execPath, [
      VIPD_CLI,
      'ucarp',
      ...argv,
      // Lab hosts share one file system: each its own control socket (vipd's option).
      `--vipd-socket=${socket(host)}`,
    ]);
    return fx.track(proc);
  }

  /** ucarp 1.5.2 itself, with no syslog (-f none): its state changes on stderr. */
  function realUcarp(host: 'fw1' | 'fw2', argv: string[]): LabProcess {
    return fx.track(fx.lab.spawn(host, `ucarp-${host}-${runs}`, 'ucarp', [...argv, '-f', 'none']));
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

  /** `vipd status --json` of the vipd ucarp on `host`: its one instance. */
  async function status(host: string): Promise<RouterStatus | undefined> {
    const r = await execa(process.execPath, [
      VIPD_CLI,
      'status',
      '--json',
      '--socket',
      socket(host),
    ]);
    return (JSON.parse(r.stdout) as DaemonStatus).instances[0];
  }

  /** Past a vipd backup's dead interval (3 x 1 + 100/256 s): a backup that hears no one is master by then. */
  const pastDeadInterval = (): Promise<void> => new Promise((r) => setTimeout(r, 4_000));

  /** Past its dead interval the vipd on `host` is still backup, hearing `master` (and only it holds the VIP). */
  async function hearsMaster(host: 'fw1' | 'fw2', master: 'fw1' | 'fw2'): Promise<void> {
    // Longer than the two advert intervals onlyHolder waits, counted from the same convergence.
    await pastDeadInterval();
    await holdsAlone(fx, master);
    const st = await status(host);
    expect(st).toMatchObject({ state: 'backup', master: fx.lab.host(master).address });
    expect(st?.counters.advertsReceived).toBeGreaterThan(0);
    expect(st?.counters.rejected).toEqual({});
  }

  const ucarpStates = (p: LabProcess): string[] =>
    p.lines.flatMap((l) => /Switching to state: (\w+)/.exec(l)?.[1] ?? []);

  it('runs the scripts with <interface> <vip> <xparam> on each transition; the VIP is on the master only', async () => {
    const args = `eth0 ${VIP} extra`;
    // The lower-ranked box first (advskew 100): it becomes master alone.
    const fw2 = vipdUcarp('fw2', ucarpArgs('fw2', 100));
    await fw2.waitForLine(/"to":"master"/, 10_000);
    expect(await calls(logOf('fw2'), 2)).toEqual([`down ${args}`, `up ${args}`]);
    // advskew 10 with -P: it preempts, the lower skew winning as under CARP.
    const fw1 = vipdUcarp('fw1', ucarpArgs('fw1', 10));
    await fw1.waitForLine(/"to":"master"/, 10_000);
    await fw2.waitForLine(/"from":"master","to":"backup"/, 5_000);
    await onlyHolder(fx, 'fw1');
    expect(await calls(logOf('fw1'), 2)).toEqual([`down ${args}`, `up ${args}`]);
    expect(await calls(logOf('fw2'), 3)).toEqual([`down ${args}`, `up ${args}`, `down ${args}`]);
    // The mapping is logged at start, without the password.
    expect(fw1.lines.find((l) => l.includes('"event":"ucarp-mapping"'))).toMatch(
      /"protocol":"carp","carp":\{"password":"\*+","advbase":1,"advskew":10,"deadRatio":3\}/,
    );
    expect(fw1.lines.filter((l) => l.includes('secret'))).toEqual([]);

    // A graceful stop releases like ucarp -z, and its advbase 255/advskew 255 advert hands over
    // at once: the backup does not wait out its dead interval.
    fw1.kill('SIGTERM');
    await fw2.waitForLine(/"reason":"priority-zero-heard"/, 2_000);
    expect(await fw1.exited).toBe(0);
    expect(await calls(logOf('fw1'), 3)).toEqual([`down ${args}`, `up ${args}`, `down ${args}`]);
    await onlyHolder(fx, 'fw2');
  });

  it('replaces a running ucarp pair one box at a time: backup first, then master', async () => {
    // The ucarp pair: fw1 master (advskew 0), fw2 backup (advskew 100), no -z on either.
    const fw1Args = ucarpArgs('fw1', 0);
    const fw1Log = logOf('fw1');
    const u1 = realUcarp('fw1', fw1Args);
    await u1.waitForLine(/Switching to state: MASTER/, 10_000);
    const u2 = realUcarp('fw2', ucarpArgs('fw2', 100));
    await u2.waitForLine(/Switching to state: BACKUP/, 5_000);
    await onlyHolder(fx, 'fw1');

    // 1. The backup: ucarp stopped, vipd ucarp started with the same command line.
    u2.kill('SIGTERM');
    await u2.exited;
    const v2 = vipdUcarp('fw2', ucarpArgs('fw2', 100));
    await v2.waitForLine(/"to":"backup"/, 10_000);
    // 2. It hears the ucarp master and stays backup; the ucarp master stays master.
    await hearsMaster('fw2', 'fw1');
    expect(ucarpStates(u1)).toEqual(['BACKUP', 'MASTER']);
    expect(v2.lines.filter((l) => /"to":"master"/.test(l))).toEqual([]);

    // 3. The master: ucarp stopped (it sends nothing): vipd takes over after its dead interval,
    // 3 x 1 + 100/256 s. Without -z ucarp ran no down script: its VIP stays on fw1.
    u1.kill('SIGTERM');
    const stoppedAt = Date.now();
    await u1.exited;
    const line = await v2.waitForLine(/"to":"master"/, 8_000);
    const tookMs = Date.parse((JSON.parse(line) as { time: string }).time) - stoppedAt;
    console.log(`[measure] vipd took over from the stopped ucarp master in ${tookMs} ms`);
    expect(tookMs).toBeGreaterThan(2_000);
    expect(line).toMatch(/"reason":"master-down"/);
    expect(await fx.lab.hasAddress('fw1', VIP)).toBe(true);

    // 4. vipd ucarp on fw1 with its command line: its start runs the down script (the VIP
    // ucarp left goes), then with -P and the lower skew it takes the VIP back.
    const v1 = vipdUcarp('fw1', fw1Args);
    await v1.waitForLine(/"to":"master"/, 10_000);
    await v2.waitForLine(/"from":"master","to":"backup"/, 5_000);
    await onlyHolder(fx, 'fw1');
    const fw1Calls = await calls(fw1Log, 4);
    // ucarp's own calls, then vipd's: the down at its start, the up on preempting.
    expect(fw1Calls.slice(-2)).toEqual([`down eth0 ${VIP} extra`, `up eth0 ${VIP} extra`]);
  });

  it("a ucarp box with -M (broadcast adverts) and a vipd box hear each other; vipd's stop hands over to ucarp at once", async () => {
    const u1 = realUcarp('fw1', ucarpArgs('fw1', 0, ['-M']));
    await u1.waitForLine(/Switching to state: MASTER/, 10_000);
    const v2 = vipdUcarp('fw2', ucarpArgs('fw2', 100, ['-M']));
    await v2.waitForLine(/"to":"backup"/, 10_000);
    await hearsMaster('fw2', 'fw1');
    expect(v2.lines.find((l) => l.includes('-M/--nomcast'))).toBeDefined();
    // The other way round: vipd master, ucarp -M backup (on veth, which passes every multicast).
    u1.kill('SIGTERM');
    await v2.waitForLine(/"to":"master"/, 8_000);
    const u1b = realUcarp('fw1', ucarpArgs('fw1', 200, ['-M']));
    await u1b.waitForLine(/Switching to state: BACKUP/, 5_000);
    await pastDeadInterval();
    await holdsAlone(fx, 'fw2');
    expect(ucarpStates(u1b)).toEqual(['BACKUP']);
    // vipd's graceful stop (advbase 255/advskew 255): the ucarp backup takes over at once, not
    // after its dead interval (3 x 1 + 200/256 s).
    const stoppedAt = Date.now();
    v2.kill('SIGTERM');
    await u1b.waitForLine(/Switching to state: MASTER/, 2_500);
    console.log(`[measure] ucarp took over ${Date.now() - stoppedAt} ms after vipd's SIGTERM`);
    await onlyHolder(fx, 'fw1');
  });
});
