/**
 * A VIP block outside the interface's own prefix (issue 13): 256 VIPs in 10.77.0.0/16 on eth0s
 * whose own addresses are 10.77.0.1/24 (fw1, priority 150) and 10.77.0.2/24 (fw2, 100). The
 * kernel makes 10.77.1.0/16, the first VIP added, the primary of the /16 and the other 255 its
 * secondaries; with promote_secondaries 0 (the kernel default) deleting it deletes them all, and
 * vipd's further deletes got EADDRNOTAVAIL: the backup plan failed and the box sat in FAULT.
 *
 * Each case runs twice: with vipd's default (it sets promote_secondaries=1) and with
 * node.promoteSecondaries false on eth0s left at 0, where vipd's removal order and put-back alone
 * must keep the VIPs right.
 * - fw2 preempts (its priority reloaded to 200): fw1 releases all 256, no step fails, no FAULT;
 *   fw2 killed, fw1 takes over, fw2 restarted (removing the 256 its crash left), preempts: the
 *   block ends on fw2 alone, no FAULT anywhere; a reload of fw2 that drops the block's first
 *   VIP leaves the other 255 on fw2 alone.
 * - Two instances on one eth0: HEAD holds 10.77.1.0/16 (the primary), BLOCK the next 255; a
 *   reload that removes HEAD keeps BLOCK's 255 on fw1 with no transition of BLOCK.
 * - The address queue itself (test/support/vip-cli.ts): two removals in one run naming the
 *   primary both succeed, the second finding it gone.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ipv4ToUint32, uint32ToIpv4 } from '../../src/net/address.js';
import { Lab, LabError, type LabProcess } from '../lab/lab.js';
import { reload } from '../support/control.js';
import { REPO_ROOT } from '../support/paths.js';
import { until } from '../support/until.js';
import { configFile, logEvents, startVipdWith, transitions } from '../support/vipd.js';

const BLOCK = Array.from({ length: 256 }, (_, i) => uint32ToIpv4(ipv4ToUint32('10.77.1.0') + i));
const FIRST = BLOCK[0] ?? '';
const cidr = (a: string): string => `${a}/16`;
/** Generous: a loaded 2-core box; the elections themselves take about a second. */
const SETTLE_MS = 30_000;
const ADVERT = 0.2;

interface Box {
  host: 'fw1' | 'fw2';
  priority: number;
}

function instance(name: string, vrid: number, priority: number, vips: string[]): object {
  // At most 255 VIPs fit in an advert: the rest are excluded ones, moved all the same.
  return {
    name,
    interface: 'eth0',
    vrid,
    priority,
    advertInterval: ADVERT,
    vips: vips.slice(0, 255).map(cidr),
    excludedVips: vips.slice(255).map(cidr),
  };
}

function doc(host: string, promoteSecondaries: boolean, instances: object[]): object {
  return {
    node: { name: host, promoteSecondaries },
    log: { level: process.env.VIPD_TEST_LOG_LEVEL ?? 'debug' },
    instances,
  };
}

describe.each([
  ['vipd sets promote_secondaries', true],
  ['promote_secondaries left at 0', false],
])('a 256-VIP block in a /16 outside the interfaces /24 (%s)', (_title, promote) => {
  let lab: Lab | undefined;
  let procs: LabProcess[] = [];
  const labOf = (): Lab => {
    if (lab === undefined) throw new LabError('the lab was not built (see the beforeAll error)');
    return lab;
  };
  const start = (host: string, config: object): LabProcess => {
    const proc = startVipdWith(labOf(), host, config);
    procs.push(proc);
    return proc;
  };
  /** The block's addresses on a host's eth0. */
  const blockOn = async (host: string): Promise<string[]> => {
    const mine = new Set(BLOCK);
    return (await labOf().addresses(host)).filter((a) => mine.has(a));
  };
  const sysctl = async (host: string, value?: string): Promise<string> => {
    const path = '/proc/sys/net/ipv4/conf/eth0/promote_secondaries';
    if (value !== undefined) await labOf().exec(host, 'sh', ['-c', `echo ${value} > ${path}`]);
    return (await labOf().exec(host, 'cat', [path])).trim();
  };
  /** What went wrong in a vipd's log: FAULT transitions, failed steps and plans. */
  const trouble = (proc: LabProcess): string[] => [
    ...transitions(proc)
      .filter((t) => t.to === 'fault')
      .map((t) => `${t.instance} -> fault: ${t.reason}`),
    ...logEvents(proc, 'step')
      // A step cancelled because its router left the state (router.ts) is by design, not a failure.
      .filter((s) => s.ok === false && !String(s.error).startsWith('the router is now '))
      .map((s) => `step ${String(s.step)}: ${String(s.error)}`),
    ...logEvents(proc, 'plan')
      .filter((p) => p.ok === false)
      .map((p) => `${String(p.role)} plan failed`),
  ];

  beforeAll(async () => {
    lab = await Lab.create({ hosts: ['fw1', 'fw2'], subnet: '10.77.0' });
  });
  afterEach(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    procs = [];
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('released master -> backup without FAULT; a crash, restart and preemption leave it on one box; a reload dropping its first VIP keeps the other 255', async () => {
    const lab = labOf();
    // A fresh namespace may inherit the host's value: the kernel default, set explicitly.
    for (const host of ['fw1', 'fw2']) await sysctl(host, '0');
    const config = (box: Box, vips = BLOCK): object =>
      doc(box.host, promote, [instance('VI_1', 51, box.priority, vips)]);
    const fw1 = start('fw1', config({ host: 'fw1', priority: 150 }));
    let fw2 = start('fw2', config({ host: 'fw2', priority: 100 }));

    /** Waits until `master` holds `want` of the block (the other box none) and both agree. */
    const settled = async (
      what: string,
      master: { host: string; proc: LabProcess },
      backup: LabProcess,
      want: number,
    ): Promise<void> => {
      const other = master.host === 'fw1' ? 'fw2' : 'fw1';
      await until(
        what,
        async () => {
          const on = {
            [master.host]: (await blockOn(master.host)).length,
            [other]: (await blockOn(other)).length,
          };
          const last = [transitions(master.proc).at(-1)?.to, transitions(backup).at(-1)?.to];
          return {
            done: on[master.host] === want && on[other] === 0 && last.join() === 'master,backup',
            value: { on, last },
          };
        },
        SETTLE_MS,
      );
    };

    await settled('fw1 master with the 256', { host: 'fw1', proc: fw1 }, fw2, 256);
    const primaries = await lab.exec('fw1', 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    expect(primaries, 'the first VIP is the primary of the /16').toMatch(
      new RegExp(`inet ${FIRST.replace(/\./g, '\\.')}/16 (?!.*secondary)`),
    );
    const set = { fw1: await sysctl('fw1'), fw2: await sysctl('fw2') };
    expect(set).toEqual(promote ? { fw1: '1', fw2: '1' } : { fw1: '0', fw2: '0' });
    expect(logEvents(fw1, 'promote-secondaries').length).toBe(promote ? 1 : 0);

    // fw2 preempts: fw1 goes master -> backup and gives up all 256.
    writeFileSync(
      configFile(lab, 'fw2'),
      JSON.stringify({
        ...(JSON.parse(readFileSync(configFile(lab, 'fw2'), 'utf8')) as object),
        instances: [instance('VI_1', 51, 200, BLOCK)],
      }),
    );
    const fromPreempt = fw1.lines.length;
    const raised = await reload(lab, 'fw2');
    expect(raised.ok).toBe(true);
    await settled('fw2 preempted, the 256 on fw2 alone', { host: 'fw2', proc: fw2 }, fw1, 256);
    const releaseSteps = fw1.lines
      .slice(fromPreempt)
      .filter((l) => l.includes('"event":"step"') && l.includes('VIPs remove'))
      .map((l) => JSON.parse(l) as { step: string; ms: number; ok: boolean });

    // fw2 crashes (its 256 stay on the dead box); fw1 takes over; fw2 restarts and preempts.
    fw2.kill('SIGKILL');
    await fw2.exited;
    await until(
      'fw1 master again with the 256',
      async () => ({
        done: (await blockOn('fw1')).length === 256 && transitions(fw1).at(-1)?.to === 'master',
        value: transitions(fw1).at(-1),
      }),
      SETTLE_MS,
    );
    const crashed = fw2;
    fw2 = start('fw2', JSON.parse(readFileSync(configFile(lab, 'fw2'), 'utf8')) as object);
    await settled('fw2 restarted and preempted', { host: 'fw2', proc: fw2 }, fw1, 256);
    const stale = logEvents(fw2, 'stale-vips-removed').map((e) => (e.vips as string[]).length);

    // fw2 reloads without the block's first VIP (the /16's primary on fw2): 255 stay, on fw2.
    writeFileSync(
      configFile(lab, 'fw2'),
      JSON.stringify({
        ...(JSON.parse(readFileSync(configFile(lab, 'fw2'), 'utf8')) as object),
        instances: [instance('VI_1', 51, 200, BLOCK.slice(1))],
      }),
    );
    const dropped = await reload(lab, 'fw2');
    expect(dropped.ok).toBe(true);
    await until(
      'fw2 master with the other 255, fw1 none',
      async () => {
        const on = { fw1: await blockOn('fw1'), fw2: await blockOn('fw2') };
        const last = [transitions(fw2).at(-1)?.to, transitions(fw1).at(-1)?.to];
        return {
          done:
            on.fw1.length === 0 &&
            on.fw2.length === 255 &&
            !on.fw2.includes(FIRST) &&
            last.join() === 'master,backup',
          value: { fw1: on.fw1.length, fw2: on.fw2.length, last },
        };
      },
      SETTLE_MS,
    );

    console.log(
      `[measure] 256-VIP /16 block, promote_secondaries ${promote ? 'set by vipd' : '0'}: ` +
        `fw1's release on preemption: ${releaseSteps.map((r) => `${r.ms} ms ok ${r.ok}`).join(', ')}; fw2's restart removed ${stale.join(', ')} stale VIPs; ` +
        `trouble: fw1 ${JSON.stringify(trouble(fw1))}, fw2 ${JSON.stringify([...trouble(crashed), ...trouble(fw2)])}`,
    );
    expect(releaseSteps.length, 'one VIP removal step on fw1 at the preemption').toBe(1);
    expect(stale).toEqual([256]);
    expect(trouble(fw1)).toEqual([]);
    expect(trouble(crashed)).toEqual([]);
    expect(trouble(fw2)).toEqual([]);
  }, 180_000);

  it("a reload removing the instance that holds the /16's primary keeps the other instance's 255, without a transition", async () => {
    const lab = labOf();
    for (const host of ['fw1', 'fw2']) await sysctl(host, '0');
    const head = (priority: number): object => instance('HEAD', 52, priority, [FIRST]);
    const block = (priority: number): object => instance('BLOCK', 51, priority, BLOCK.slice(1));
    const fw1 = start('fw1', doc('fw1', promote, [head(150)]));
    const fw2 = start('fw2', doc('fw2', promote, [head(100)]));
    await until(
      'fw1 master of HEAD',
      async () => ({
        done: (await blockOn('fw1')).join() === FIRST && transitions(fw1).at(-1)?.to === 'master',
        value: await blockOn('fw1'),
      }),
      SETTLE_MS,
    );
    // BLOCK comes in second, so its 255 are secondaries of HEAD's address.
    for (const [host, priority] of [
      ['fw1', 150],
      ['fw2', 100],
    ] as const) {
      const current = JSON.parse(readFileSync(configFile(lab, host), 'utf8')) as object;
      writeFileSync(
        configFile(lab, host),
        JSON.stringify({ ...current, instances: [head(priority), block(priority)] }),
      );
      expect((await reload(lab, host)).ok).toBe(true);
    }
    await until(
      'fw1 master of BLOCK with its 255',
      async () => ({
        done:
          (await blockOn('fw1')).length === 256 &&
          transitions(fw1).some((t) => t.instance === 'BLOCK' && t.to === 'master'),
        value: (await blockOn('fw1')).length,
      }),
      SETTLE_MS,
    );
    const shown = await lab.exec('fw1', 'ip', ['-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    const secondaries = shown
      .split('\n')
      .filter((l) => /inet 10\.77\.1\.\d+\/16 .*secondary/.test(l));
    expect(secondaries.length, "BLOCK's VIPs are secondaries of HEAD's").toBe(255);

    const watched = BLOCK[1] ?? '';
    const watch = await lab.watchHolders(watched, ['fw1', 'fw2']);
    const blockTransitions = (): number =>
      [fw1, fw2].flatMap((p) => transitions(p)).filter((t) => t.instance === 'BLOCK').length;
    const before = blockTransitions();
    const file = configFile(lab, 'fw1');
    const current = JSON.parse(readFileSync(file, 'utf8')) as { instances: { name: string }[] };
    const onlyBlock = current.instances.filter((i) => i.name === 'BLOCK');
    writeFileSync(file, JSON.stringify({ ...current, instances: onlyBlock }));
    const removed = await reload(lab, 'fw1');
    expect(removed.ok).toBe(true);
    // HEAD resigned on fw1: fw2 takes its address; BLOCK stays where it was.
    await until(
      "HEAD's address on fw2, BLOCK's 255 on fw1",
      async () => {
        const on = { fw1: await blockOn('fw1'), fw2: await blockOn('fw2') };
        return {
          done: on.fw2.join() === FIRST && on.fw1.length === 255 && !on.fw1.includes(FIRST),
          value: { fw1: on.fw1.length, fw2: on.fw2 },
        };
      },
      SETTLE_MS,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const timeline = await watch.stop();
    const offFw1 = Math.round(timeline.msWhen((h) => !h.includes('fw1')));
    const putBack = logEvents(fw1, 'vips-put-back').map((e) => e.count);
    console.log(
      `[measure] reload removing HEAD (the /16's primary), promote_secondaries ${promote ? 'set by vipd' : '0'}: ` +
        `${watched} off fw1 for ${offFw1} ms (${timeline.describe(timeline.startedAt)}); put back: ${JSON.stringify(putBack)}; ` +
        `BLOCK transitions since: ${blockTransitions() - before}; trouble: ${JSON.stringify([...trouble(fw1), ...trouble(fw2)])}`,
    );
    expect((await blockOn('fw1')).length).toBe(255);
    expect(blockTransitions() - before, 'transitions of BLOCK').toBe(0);
    expect(putBack).toEqual(promote ? [] : [255]);
    // Without the sysctl the kernel drops them and vipd puts them back at once; with it, never.
    if (promote) expect(offFw1).toBe(0);
    else expect(offFw1).toBeLessThan(1_000);
    expect([...trouble(fw1), ...trouble(fw2)]).toEqual([]);
  }, 180_000);

  it('two removals in one run naming the primary: both succeed, the second finds it gone', async () => {
    const lab = labOf();
    await sysctl('fw1', promote ? '1' : '0');
    const vips = BLOCK.map((address) => ({ address, prefix: 16 }));
    const out = await lab.exec('fw1', process.execPath, [
      '--import',
      'tsx',
      resolve(REPO_ROOT, 'test/support/vip-cli.ts'),
      'eth0',
      JSON.stringify([
        [{ add: vips }],
        [{ del: vips }, { del: vips.slice(0, 1) }],
        [{ read: true }],
      ]),
    ]);
    const [added, removed, read] = JSON.parse(out) as { ok: boolean; value: unknown }[][];
    expect(added?.map((r) => r.ok)).toEqual([true]);
    expect(removed?.map((r) => [r.ok, (r.value as unknown[]).length])).toEqual([
      [true, 256],
      [true, 1],
    ]);
    expect((read?.[0]?.value as string[]).filter((a) => a.startsWith('10.77.1.'))).toEqual([]);
  }, 60_000);
});
