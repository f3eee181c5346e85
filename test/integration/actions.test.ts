/**
 * The action plan on real namespaces: ucarp-compatible hooks, gratuitous ARP re-pointing a
 * client, a hanging hook ending in FAULT with nothing half-applied, and repeated flaps leaving
 * exactly one copy of everything on exactly one box.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../support/lab-fixture.js';
import { until } from '../support/until.js';
import { startVipd, transitions, type InstanceOptions } from '../support/vipd.js';

const VIP = '10.99.0.100';

function script(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

async function mac(fx: ReturnType<typeof useLab>, host: string): Promise<string> {
  const out = await fx.lab.exec(host, 'ip', ['-j', 'link', 'show', 'eth0']);
  return (JSON.parse(out) as { address: string }[])[0]?.address ?? '';
}

async function neighbour(fx: ReturnType<typeof useLab>): Promise<string | undefined> {
  const out = await fx.lab.exec('client', 'ip', ['neigh', 'show', VIP]);
  return /lladdr (\S+)/.exec(out)?.[1];
}

describe('action plan', () => {
  const fx = useLab(['fw1', 'fw2', 'client']);
  const vipd = (host: string, opts: InstanceOptions) => fx.track(startVipd(fx.lab, host, [opts]));

  it('runs ucarp-style up/down hooks with <interface> <vip> <extra> and the state in the environment', async () => {
    const out = join(fx.lab.logDir, 'hooks.out');
    const hook = (name: string): string =>
      script(
        fx.lab.logDir,
        name,
        `echo "${name} $* $VIPD_STATE $VIPD_INSTANCE $VIPD_VRID $VIPD_VIPS" >> ${out}`,
      );
    const fw1 = vipd('fw1', {
      priority: 150,
      hooks: { up: hook('up.sh'), down: hook('down.sh'), extra: 'fw1' },
    });
    await fw1.waitForLine(/"event":"plan","role":"master","ok":true/, 10_000);
    fw1.kill('SIGTERM');
    expect(await fw1.exited).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    expect(lines).toEqual([
      // start-up reconciles as backup, as ucarp calls its down script at start
      'down.sh eth0 10.99.0.100 fw1 backup VI_1 51 10.99.0.100',
      'up.sh eth0 10.99.0.100 fw1 master VI_1 51 10.99.0.100',
      'down.sh eth0 10.99.0.100 fw1 backup VI_1 51 10.99.0.100',
    ]);
  });

  it("gratuitous ARP moves the client's neighbour entry to the new master's MAC", async () => {
    const fw1 = vipd('fw1', { priority: 150 });
    vipd('fw2', { priority: 100 });
    await fw1.waitForLine(/"event":"plan","role":"master","ok":true/, 10_000);
    await fx.lab.exec('client', 'ping', ['-c', '1', '-W', '1', VIP]);
    expect(await neighbour(fx)).toBe(await mac(fx, 'fw1'));
    const appeared = await fx.lab.watchAddress('fw2', VIP);
    fw1.kill('SIGKILL');
    await appeared(6_000);
    // No traffic from the client meanwhile: only the gratuitous ARP can have moved the entry.
    const want = await mac(fx, 'fw2');
    for (let i = 0; i < 50 && (await neighbour(fx)) !== want; i += 1)
      await new Promise((r) => setTimeout(r, 20));
    expect(await neighbour(fx)).toBe(want);
  });

  it('a hanging up hook is killed at its timeout: rollback, FAULT with a priority-0 advert, the peer takes over', async () => {
    const marker = join(fx.lab.logDir, 'hang.pid');
    // The hook starts a child in its process group; both must die at the timeout.
    const up = script(fx.lab.logDir, 'hang.sh', `sleep 600 & echo $! > ${marker}; wait`);
    const fw1 = vipd('fw1', { priority: 150, hooks: { up, timeout: 1 }, faultRecovery: 3600 });
    const fw2 = vipd('fw2', { priority: 100 });
    await fw1.waitForLine(/"to":"fault"/, 15_000);
    await fw2.waitForLine(/"reason":"priority-zero-heard"/, 5_000);
    await fw2.waitForLine(/"event":"plan","role":"master","ok":true/, 5_000);
    expect(
      fw1.lines.some((l) => /"step":"undo VIPs add 10\.99\.0\.100\/24","ok":true/.test(l)),
    ).toBe(true);
    expect(await fx.lab.hasAddress('fw1', VIP)).toBe(false);
    expect(await fx.lab.hasAddress('fw2', VIP)).toBe(true);
    const child = Number(readFileSync(marker, 'utf8').trim());
    // Killed: gone, or a zombie waiting for whoever inherited it (the hook's shell died too).
    const state = existsSync(`/proc/${child}/stat`)
      ? (readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1] ?? '').charAt(0)
      : 'gone';
    expect(['gone', 'Z']).toContain(state);
    // In FAULT, fw1 stays out of the election: it never preempts fw2 despite its priority.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(transitions(fw1).at(-1)).toMatchObject({ to: 'fault' });
  });

  it('20 flaps leave the VIP and the rules exactly once, on the master only', async () => {
    const rules = (node: number) => ({
      advertInterval: 0.1,
      loadSharing: {
        backend: 'nft',
        clusterMac: '01:00:5e:00:01:0a',
        totalNodes: 2,
        localNode: node,
      },
      marks: [{ mark: 80, match: [{ vip: VIP, port: 80, protocol: 'tcp' }] }],
    });
    const fw2 = vipd('fw2', { priority: 100, ...rules(2) });
    await fw2.waitForLine(/"event":"plan","role":"master","ok":true/, 10_000);
    for (let i = 0; i < 20; i += 1) {
      const fw1 = vipd('fw1', { priority: 150, ...rules(1) });
      await fw1.waitForLine(/"event":"plan","role":"master","ok":true/, 10_000);
      fw1.kill(i % 2 === 0 ? 'SIGTERM' : 'SIGKILL');
      await fw1.exited;
    }
    await new Promise((r) => setTimeout(r, 1_000));
    const fw1 = vipd('fw1', { priority: 150, ...rules(1) });
    await fw1.waitForLine(/"event":"plan","role":"master","ok":true/, 10_000);
    await fw2.waitForLine(/"event":"plan","role":"backup","ok":true/, 5_000);
    await new Promise((r) => setTimeout(r, 500));
    const count = async (host: string) => {
      const tables = (await fx.lab.exec(host, 'nft', ['list', 'tables'])).split('\n');
      return {
        vip: (await fx.lab.addresses(host)).filter((a) => a === VIP).length,
        cluster: tables.filter((t) => t.trim() === 'table ip vipd_cluster').length,
        marks: tables.filter((t) => t.trim() === 'table ip vipd_marks_eth0_51').length,
        maddr:
          (await fx.lab.exec(host, 'ip', ['maddr', 'show', 'dev', 'eth0'])).split(
            '01:00:5e:00:01:0a',
          ).length - 1,
      };
    };
    expect(await count('fw1')).toEqual({ vip: 1, cluster: 1, marks: 1, maddr: 1 });
    expect(await count('fw2')).toEqual({ vip: 0, cluster: 0, marks: 0, maddr: 0 });
  });

  it('load-sharing rules (nft) follow the master: exactly once, on the master only', async () => {
    const sharing = (node: number) => ({
      loadSharing: {
        backend: 'nft',
        clusterMac: '01:00:5e:00:01:0a',
        totalNodes: 2,
        localNode: node,
      },
    });
    const tables = async (host: string): Promise<number> =>
      (await fx.lab.exec(host, 'nft', ['list', 'tables']))
        .split('\n')
        .filter((l) => l.trim() === 'table ip vipd_cluster').length;
    let fw1 = vipd('fw1', { priority: 150, ...sharing(1) });
    const fw2 = vipd('fw2', { priority: 100, ...sharing(2) });
    await fw1.waitForLine(/"event":"plan","role":"master","ok":true/, 10_000);
    // Both start as backups at once: fw2 may be master for a moment before fw1 wins, so the
    // rules are checked once things settle, and later lines are awaited from the kill on.
    const both = async (): Promise<{ done: boolean; value: number[] }> => {
      const value = [await tables('fw1'), await tables('fw2')];
      return { done: value.join() === '1,0', value };
    };
    await until('rules on fw1 only', both, 5_000);
    const before = fw2.lines.length;
    fw1.kill('SIGKILL');
    await fw2.waitForLine(/"event":"plan","role":"master","ok":true/, 10_000, before);
    // The crashed box keeps its rules until vipd runs there again, like its VIPs.
    expect([await tables('fw1'), await tables('fw2')]).toEqual([1, 1]);
    const preempted = fw2.lines.length;
    fw1 = vipd('fw1', { priority: 150, ...sharing(1) });
    await fw1.waitForLine(/"event":"plan","role":"master","ok":true/, 10_000);
    await fw2.waitForLine(/"event":"plan","role":"backup","ok":true/, 5_000, preempted);
    await until('rules back on fw1 only', both, 5_000);
  });

  it('a backend this kernel lacks is refused at start with the alternatives named', async () => {
    const fw1 = vipd('fw1', {
      priority: 150,
      loadSharing: {
        backend: 'clusterip',
        clusterMac: '01:00:5e:00:01:0a',
        totalNodes: 2,
        localNode: 1,
      },
    });
    expect(await fw1.exited).toBe(1);
    expect(fw1.lines.join('\n')).toMatch(
      /could not start: CLUSTERIP is not in this kernel.*use backend .*xt_cluster.* or .*nft/,
    );
    expect(await fx.lab.hasAddress('fw1', VIP)).toBe(false);
  });

  it('firewall marks: HTTP and HTTPS to the VIP are marked on the master, and the table leaves with it', async () => {
    const marks = [
      {
        mark: 80,
        match: [
          { vip: VIP, port: 80, protocol: 'tcp' },
          { vip: VIP, port: 443, protocol: 'tcp' },
        ],
      },
    ];
    const fw1 = vipd('fw1', { priority: 150, marks });
    await fw1.waitForLine(/"event":"plan","role":"master","ok":true/, 10_000);
    for (const port of [80, 443]) {
      // Nothing listens: the SYN is refused, but it crossed prerouting and was marked.
      await fx.lab
        .exec('client', process.execPath, [
          '-e',
          `require('net').connect(${port}, '${VIP}').on('error', () => {})`,
        ])
        .catch(() => undefined);
    }
    const table = await fx.lab.exec('fw1', 'nft', ['list', 'table', 'ip', 'vipd_marks_eth0_51']);
    const counted = [...table.matchAll(/dport (\d+) counter packets (\d+)/g)].map((m) => [
      m[1],
      Number(m[2]) > 0,
    ]);
    expect(counted).toEqual([
      ['80', true],
      ['443', true],
    ]);
    fw1.kill('SIGTERM');
    await fw1.exited;
    expect(await fx.lab.exec('fw1', 'nft', ['list', 'tables'])).not.toMatch(/vipd_marks/);
  });
});
