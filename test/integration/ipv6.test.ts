/**
 * Two vipd boxes electing over VRRPv3 for IPv6 (RFC 5798 / RFC 9568) on a namespace LAN, with a
 * client: election (its adverts, captured on the wire, decoded by tshark), crash failover,
 * preemption, graceful hand-over and a split brain healed.
 * After every move the client's neighbour entry for the VIP must point at the new master's MAC,
 * through the master's unsolicited neighbour advertisements alone (the client sends nothing
 * after its first contact).
 */
import { describe, expect, it } from 'vitest';
import type { LabProcess } from '../lab/lab.js';
import { instanceStatus } from '../support/control.js';
import { macOf, neighbourBecomes } from '../support/arp.js';
import { useLab } from '../support/lab-fixture.js';
import { tsharkFrames } from '../support/tshark.js';
import { until } from '../support/until.js';
import { startVipd, transitions } from '../support/vipd.js';

const VIP = '2001:db8:99::100';
const VIPS = ['fe80::200:5eff:fe00:233/64', `${VIP}/64`];
const CLIENT = '2001:db8:99::10/64';
// Backup priority 100 at 1 s: Master_Down_Interval = 3 s + 156/256 s.
const MASTER_DOWN_MS = 3000 + (156 / 256) * 1000;
const SLACK_MS = 1_500;

describe('two vipd over IPv6 (VRRPv3, ff02::12)', () => {
  const fx = useLab(['fw1', 'fw2', 'cl']);
  const start = (host: string, priority: number): LabProcess =>
    fx.track(startVipd(fx.lab, host, [{ priority, version: 3, advertInterval: 1, vips: VIPS }]));

  /** Each box's own link-local, read before vipd adds the virtual one next to it. */
  const own = new Map<string, string | undefined>();

  async function ready(): Promise<void> {
    const cl = await fx.lab.exec('cl', 'ip', ['-6', 'addr', 'show', 'dev', 'eth0']);
    if (!cl.includes(CLIENT.split('/')[0] ?? '')) {
      await fx.lab.exec('cl', 'ip', ['-6', 'addr', 'add', CLIENT, 'dev', 'eth0', 'nodad']);
    }
    for (const host of ['fw1', 'fw2', 'cl']) await fx.lab.dadDone(host);
    for (const host of ['fw1', 'fw2']) own.set(host, await fx.lab.linkLocal(host));
  }

  /** Until `host` holds the VIP (alone, unless a crashed box left it behind). */
  async function holder(host: string, timeoutMs: number, alone = true): Promise<number> {
    const t0 = performance.now();
    await until(
      `${VIP} on ${host}${alone ? ' alone' : ''}`,
      async () => {
        const on = await fx.lab.holders(VIP, ['fw1', 'fw2']);
        return { done: alone ? on.join() === host : on.includes(host), value: on };
      },
      timeoutMs,
    );
    return performance.now() - t0;
  }

  /** Until the client's neighbour entry for the VIP is `host`'s MAC. */
  async function clientPointsAt(host: string, timeoutMs: number): Promise<void> {
    await neighbourBecomes(fx.lab, 'cl', VIP, await macOf(fx.lab, host), timeoutMs);
  }

  async function electedPair(): Promise<{ fw1: LabProcess; fw2: LabProcess }> {
    await ready();
    // fw2 joins a running master: started together on a loaded machine, the one that comes up
    // first rightly wins the first round, and a later wait for fw2's "to master" would find it.
    const fw1 = start('fw1', 150);
    await fw1.waitForLine(/"to":"master"/, 20_000);
    const fw2 = start('fw2', 100);
    await fw2.waitForLine(/"to":"backup"/, 20_000);
    await holder('fw1', 10_000);
    // The client learns the VIP (neighbour solicitation) once; after this only NAs move it.
    await fx.lab.exec('cl', 'ping', ['-6', '-c', '1', '-W', '2', VIP]);
    await clientPointsAt('fw1', 5_000);
    return { fw1, fw2 };
  }

  it('elects the higher priority; adverts leave its link-local for ff02::12 with hop limit 255', async () => {
    const { fw2 } = await electedPair();
    const vrrp6 = 'ip6 and ip6[6] == 112';
    const [good, offLink] = await Promise.all([
      fx.lab.countPackets(`${vrrp6} and ip6[7] == 255 and dst host ff02::12`, 2_500),
      fx.lab.countPackets(`${vrrp6} and ip6[7] != 255`, 2_500),
    ]);
    expect({ good: good >= 2, offLink }).toEqual({ good: true, offLink: 0 });
    // The adverts as they were on the wire, read by an independent decoder.
    const frames = await tsharkFrames(await fx.lab.captureFile(vrrp6, 2_500));
    expect(frames.length).toBeGreaterThanOrEqual(2);
    for (const text of frames) {
      const lines = text.split('\n').map((l) => l.trim());
      expect(lines).toEqual(
        expect.arrayContaining([
          'Version 3, Packet type 1 (Advertisement)',
          'Hop Limit: 255',
          `Source Address: ${own.get('fw1') ?? '?'}`,
          'Destination Address: ff02::12',
          'Virtual Rtr ID: 51',
          'Addr Count: 2',
          'IPv6 Address: fe80::200:5eff:fe00:233',
          `IPv6 Address: ${VIP}`,
          '[Checksum Status: Good]',
        ]),
      );
      expect(lines.some((l) => l.includes('= Traffic Class: 0xc0 '))).toBe(true);
      expect(text).not.toMatch(/Malformed|Expert Info/);
    }
    expect(transitions(fw2).filter((t) => t.to === 'master')).toEqual([]);
    const [s1, s2] = await Promise.all([
      instanceStatus(fx.lab, 'fw1'),
      instanceStatus(fx.lab, 'fw2'),
    ]);
    expect({ state: s1?.state, family: s1?.family, master: s1?.master }).toEqual({
      state: 'master',
      family: 6,
      master: own.get('fw1'),
    });
    // The backup knows the master by its link-local source.
    expect(s2?.master).toBe(own.get('fw1'));
    expect(s2?.counters.rejected).toEqual({});
  });

  it('SIGKILL of the master: the backup takes the VIP and the client follows it; the master preempts back', async () => {
    const { fw1 } = await electedPair();
    fw1.kill('SIGKILL');
    // A crashed box keeps its VIPs (nothing removes them); the NAs decide where clients go.
    const ms = await holder('fw2', MASTER_DOWN_MS + SLACK_MS + 2_000, false);
    expect(ms).toBeLessThan(MASTER_DOWN_MS + SLACK_MS + 2_000);
    await clientPointsAt('fw2', 5_000);
    const back = start('fw1', 150);
    await back.waitForLine(/"to":"master"/, 20_000);
    await holder('fw1', 10_000);
    await clientPointsAt('fw1', 5_000);
  });

  it('graceful stop of the master: priority 0 hands over within the skew time', async () => {
    const { fw1, fw2 } = await electedPair();
    const t0 = performance.now();
    await fw1.stop();
    const line = JSON.parse(await fw2.waitForLine(/"to":"master"/, 10_000)) as { reason: string };
    expect(line.reason).toBe('priority-zero-heard');
    await holder('fw2', 5_000);
    // Skew time is 0.61 s; the rest is a loaded 2-core machine.
    expect(performance.now() - t0).toBeLessThan(MASTER_DOWN_MS);
    await clientPointsAt('fw2', 5_000);
  });

  it('split brain: both masters while the election is cut; healed, one master and the client on it', async () => {
    const { fw2 } = await electedPair();
    const heal = await fx.lab.cutElection('fw2');
    await fw2.waitForLine(/"to":"master"/, MASTER_DOWN_MS + SLACK_MS + 5_000);
    await until(
      'both boxes hold the VIP',
      async () => {
        const on = await fx.lab.holders(VIP, ['fw1', 'fw2']);
        return { done: on.length === 2, value: on };
      },
      5_000,
    );
    await heal();
    await fw2.waitForLine(/"from":"master","to":"backup"/, 10_000);
    await holder('fw1', 10_000);
    await clientPointsAt('fw1', 5_000);
  });
});
