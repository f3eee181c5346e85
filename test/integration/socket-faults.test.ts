/**
 * Socket and netlink failures inside a running vipd (issue 13), injected through the addon's test
 * hook (VIPD_TEST_FAULTS, armed by SIGUSR2: the kernel's own errno, returned by the next sends or
 * reads), and a netlink storm from the kernel itself. fw1 (150) and fw2 (100) share VI_1.
 * - The master's VRRP socket fails its sends: after the second error running it is in FAULT
 *   (cause `socket eth0`) and releases, fw2 takes over within its master-down interval (plus a
 *   loaded machine's slack), and once the socket carries adverts again fw1 is master again.
 *   The errors are counted by errno in the status and logged each with its errno.
 * - The backup's reads fail: it reopens its socket; the master never notices.
 * - The kernel monitor overruns (ENOBUFS): it re-reads the interfaces, nothing transitions.
 * - 100,000 routes added and flushed and 5,000 addresses added on another interface on the
 *   master at 0.1 s adverts: the process survives, no transition, no VIP lost.
 */
import { describe, expect, it } from 'vitest';
import { daemonStatus } from '../support/control.js';
import { useLab } from '../support/lab-fixture.js';
import { PAIR_VIP, settledOn, startBox } from '../support/pair.js';
import { until } from '../support/until.js';
import { logEvents, transitions } from '../support/vipd.js';

const MDI_MS = 3_000 + (156 / 256) * 1_000;
const SLACK_MS = 1_000;

describe('socket and netlink failures under a running pair', () => {
  const fx = useLab(['fw1', 'fw2']);

  it("the master's socket fails: FAULT and release, fw2 takes over, then fw1 is master again", async () => {
    const fw1 = startBox(fx, 'fw1', {}, { env: { VIPD_TEST_FAULTS: 'raw:send:EIO:4' } });
    const fw2 = startBox(fx, 'fw2');
    await settledOn(fx.lab, { host: 'fw1', proc: fw1 }, [fw2], 3 * MDI_MS);
    const t0 = performance.now();
    fw1.kill('SIGUSR2');
    await until(
      'fw2 master, the VIP on it alone',
      async () => {
        const on = await fx.lab.holders(PAIR_VIP, ['fw1', 'fw2']);
        return { done: on.join() === 'fw2', value: on };
      },
      // Two adverts fail before the FAULT (up to 2 s at 1 s adverts), then fw2's MDI.
      2_000 + MDI_MS + SLACK_MS,
    );
    console.log(
      `[measure] master socket failing: VIP on fw2 alone after ${(performance.now() - t0).toFixed(0)} ms`,
    );
    const faults = logEvents(fw1, 'fault-raised').map((l) => String(l.cause));
    expect(faults).toContain('socket eth0');
    // The injected errors run out: the socket carries adverts again and fw1 preempts.
    await settledOn(fx.lab, { host: 'fw1', proc: fw1 }, [fw2], 20_000);
    const link = (await daemonStatus(fx.lab, 'fw1')).links[0];
    expect(link?.errors.EIO).toBe(4);
    expect(link?.state).toBe('open');
    expect(logEvents(fw1, 'socket-error').every((l) => l.errno === 'EIO')).toBe(true);
    expect(fw1.running).toBe(true);
  });

  it("the backup's reads fail: it reopens its socket and the master never notices", async () => {
    const fw1 = startBox(fx, 'fw1');
    const fw2 = startBox(fx, 'fw2', {}, { env: { VIPD_TEST_FAULTS: 'raw:recv:EIO:1' } });
    await settledOn(fx.lab, { host: 'fw1', proc: fw1 }, [fw2], 3 * MDI_MS);
    const before = transitions(fw1).length;
    fw2.kill('SIGUSR2');
    await until(
      'fw2 reopened its socket',
      () =>
        Promise.resolve({
          done: logEvents(fw2, 'socket-reopen').length > 0,
          value: logEvents(fw2, 'socket-error'),
        }),
      5_000,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    expect(transitions(fw1).length).toBe(before);
    expect(transitions(fw2).at(-1)?.to).toBe('backup');
    expect((await daemonStatus(fx.lab, 'fw2')).links[0]?.errors.EIO).toBe(1);
  });

  it('the kernel monitor overruns: it re-reads the interfaces and nothing transitions', async () => {
    const fw1 = startBox(fx, 'fw1', {}, { env: { VIPD_TEST_FAULTS: 'netlink:recv:ENOBUFS:1' } });
    const fw2 = startBox(fx, 'fw2');
    await settledOn(fx.lab, { host: 'fw1', proc: fw1 }, [fw2], 3 * MDI_MS);
    const before = transitions(fw1).length;
    fw1.kill('SIGUSR2');
    // The monitor reads only when the kernel has something for it: give it an event.
    await fx.lab.exec('fw1', 'ip', [
      'link',
      'add',
      'probe0',
      'type',
      'veth',
      'peer',
      'name',
      'probe1',
    ]);
    await until(
      'fw1 re-read the kernel after the overrun',
      async () => {
        const m = (await daemonStatus(fx.lab, 'fw1')).monitor;
        return { done: m.overruns >= 1 && m.resyncs >= 1, value: m };
      },
      5_000,
    );
    await fx.lab.exec('fw1', 'ip', ['link', 'del', 'probe0']);
    expect(transitions(fw1).length).toBe(before);
    expect(await fx.lab.holders(PAIR_VIP, ['fw1', 'fw2'])).toEqual(['fw1']);
  });

  it('100,000 routes and 5,000 addresses churned on the master at 0.1 s adverts: no transition, no VIP lost', async () => {
    const fast = { advertInterval: 0.1 };
    const fw1 = startBox(fx, 'fw1', fast);
    const fw2 = startBox(fx, 'fw2', fast);
    await settledOn(fx.lab, { host: 'fw1', proc: fw1 }, [fw2], 10_000);
    const before = [transitions(fw1).length, transitions(fw2).length];
    await fx.lab.exec('fw1', 'sh', [
      '-c',
      'ip link add churn0 type veth peer name churn1 && ip link set churn1 up && ip link set churn0 up && ' +
        'awk \'BEGIN { for (i = 0; i < 100000; i++) printf "route add 10.%d.%d.%d/32 dev churn0\\n", 100 + int(i / 65536), int(i / 256) % 256, i % 256 }\' | ip -batch - && ' +
        'ip route flush dev churn0 && ' +
        'awk \'BEGIN { for (i = 0; i < 5000; i++) printf "addr add 172.16.%d.%d/32 dev churn0\\n", int(i / 250), 1 + i % 250 }\' | ip -batch -',
    ]);
    await new Promise((r) => setTimeout(r, 2_000));
    const status = await daemonStatus(fx.lab, 'fw1');
    console.log(`[measure] churn on the master: kernel monitor ${JSON.stringify(status.monitor)}`);
    expect([transitions(fw1).length, transitions(fw2).length]).toEqual(before);
    expect(await fx.lab.holders(PAIR_VIP, ['fw1', 'fw2'])).toEqual(['fw1']);
    expect(fw1.running).toBe(true);
    await fx.lab.exec('fw1', 'ip', ['link', 'del', 'churn0']);
  });
});
