/**
 * Interoperability with FRR 8.4's vrrpd (Debian), a second independent VRRP implementation.
 * Over IPv4, VRRPv3 and VRRPv2: fw1 runs FRR (zebra + vrrpd, its VIP on a macvlan with the
 * virtual MAC), fw2 runs vipd (the VIP on eth0 and its own MAC, or on its own virtual MAC's
 * macvlan with `vmac`), cl is a client talking to the VIP. Over IPv6 both use the virtual MAC.
 * Who is master is judged by the client's ARP entry for the VIP and by who can use the VIP, not
 * by ping loss: a crashed FRR leaves its macvlan up with the VIP, still answering.

 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LabProcess } from '../lab/lab.js';
import { macOf, neighbourBecomes } from '../support/arp.js';
import { daemonStatus, instanceStatus } from '../support/control.js';
import { Frr, type FrrOptions } from '../support/frr.js';
import { virtualMac } from '../../src/vrrp/vmac-address.js';
import { useLab, type LabFixture } from '../support/lab-fixture.js';
import { until } from '../support/until.js';
import { startVipd } from '../support/vipd.js';

const VIP = '10.99.0.100';
const VRID = 51;
const VMAC = virtualMac(4, VRID);

/** Skew time of a backup at `priority` with 1 s adverts (RFC 5798 6.1), in ms. */
const skewMs = (priority: number): number => ((256 - priority) / 256) * 1000;
/** Its master-down interval: three adverts and the skew time. */
const masterDownMs = (priority: number): number => 3000 + skewMs(priority);

let frr: Frr | undefined;
afterEach(async () => {
  await frr?.stop();
  frr = undefined;
});
async function startFrr(fx: LabFixture, o: FrrOptions): Promise<Frr> {
  frr = await Frr.start(fx.lab, 'fw1', o);
  return frr;
}

const variants = [
  { version: 3, vmac: false },
  { version: 2, vmac: false },
  // RFC 5798 7.3 on both sides: the MAC the client resolves never changes, the switch moves it.
  { version: 3, vmac: true },
] as const;

describe.each(variants)(
  'vipd and FRR vrrpd over IPv4, VRRPv$version, vipd vmac $vmac',
  ({ version, vmac }) => {
    const fx = useLab(['fw1', 'fw2', 'cl']);
    /** The MAC a client reaches vipd's VIP at, and where vipd puts the VIP. */
    let vipdMac = '';
    const vipdIf = vmac ? `vrrp4-${VRID}` : 'eth0';

    beforeAll(async () => {
      vipdMac = vmac ? VMAC : await macOf(fx.lab, 'fw2');
      // The client keeps talking to the VIP so it always has an ARP entry for it (a failed
      // resolution is retried by the next ping).
      fx.lab.spawn('cl', 'client-ping', 'ping', ['-i', '0.2', '-W', '1', VIP]);
    });

    const frrAt = (priority: number): Promise<Frr> =>
      startFrr(fx, {
        vrid: VRID,
        version,
        priority,
        intervalMs: 1000,
        vips: [`${VIP}/24`],
        family: 4,
      });
    const vipd = (priority: number): LabProcess =>
      fx.track(startVipd(fx.lab, 'fw2', [{ priority, version, advertInterval: 1, vmac }]));

    interface View {
      frr: string | undefined;
      frrUsesVip: boolean;
      /** The switch port the virtual MAC was last seen on. */
      vmacPort: string | undefined;
      vipd: string | undefined;
      /** The master vipd hears (itself when master). */
      vipdHears: string | undefined;
      vipdHoldsVip: boolean;
      client: string | undefined;
      clientState: string;
    }
    async function view(f: Frr): Promise<View> {
      // Not yet listening just after its start: nothing known yet.
      const vipdView = await instanceStatus(fx.lab, 'fw2').catch(() => undefined);
      const entry = (await fx.lab.neighbours('cl', 4)).find((e) => e.address === VIP);
      return {
        frr: f.vrrpd.running ? (await f.status().catch(() => undefined))?.status : undefined,
        frrUsesVip: await f.holdsVips(),
        vmacPort: (await fx.lab.fdb()).find((e) => e.mac === VMAC)?.port,
        vipd: vipdView?.state,
        vipdHears: vipdView?.master,
        // The macvlan exists only while vipd runs (vmac).
        vipdHoldsVip: await fx.lab.hasAddress('fw2', VIP, vipdIf).catch(() => false),
        client: entry?.mac,
        clientState: entry?.state.join() ?? 'none',
      };
    }
    const frrMaster = (v: View): boolean =>
      v.frr === 'Master' &&
      v.frrUsesVip &&
      v.vmacPort === fx.lab.host('fw1').port &&
      v.vipd === 'backup' &&
      v.vipdHears === fx.lab.host('fw1').address &&
      !v.vipdHoldsVip &&
      v.client === VMAC;
    const vipdMaster = (v: View): boolean =>
      v.frr === 'Backup' &&
      !v.frrUsesVip &&
      v.vipd === 'master' &&
      v.vipdHoldsVip &&
      v.client === vipdMac &&
      (!vmac || v.vmacPort === fx.lab.host('fw2').port);
    async function settled(
      f: Frr,
      what: string,
      ok: (v: View) => boolean,
      timeoutMs: number,
    ): Promise<void> {
      await until(
        what,
        async () => {
          const now = await view(f);
          return { done: ok(now), value: now };
        },
        timeoutMs,
        100,
      );
    }

    /** Neither side refused an advert of the other, and each accepted some. */
    async function noRejections(f: Frr, heardByFrr: boolean): Promise<void> {
      const counters = (await daemonStatus(fx.lab, 'fw2')).instances[0]?.counters;
      expect(counters?.rejected).toEqual({});
      expect(counters?.advertsReceived).toBeGreaterThan(0);
      expect(f.rejections()).toEqual([]);
      if (heardByFrr) expect((await f.status())?.adverRx).toBeGreaterThan(0);
    }

    it('FRR with the higher priority preempts vipd; its graceful withdrawal hands over within skew time', async () => {
      const v = vipd(100);
      await v.waitForLine(/"to":"master"/, 10_000);
      const f = await frrAt(200);
      await settled(f, 'FRR preempted vipd', frrMaster, masterDownMs(200) + 8_000);
      await v.waitForLine(/"from":"master","to":"backup","reason":"higher-priority"/, 2_000);
      await noRejections(f, true);

      const appeared = await fx.lab.watchAddress('fw2', VIP);
      const from = v.lines.length;
      const t0 = performance.now();
      await f.withdraw();
      const ms = (await appeared(masterDownMs(100) + 2_000)) - t0;
      console.log(`[measure] FRR v${version} 'no vrrp' -> vipd holds the VIP: ${ms.toFixed(0)} ms`);
      // FRR's priority-0 advert: vipd waited its skew time, not its master-down interval (the
      // bound includes starting vtysh on a loaded machine).
      expect(ms).toBeLessThan(skewMs(100) + 1_500);
      await v.waitForLine(/"to":"master","reason":"priority-zero-heard"/, 2_000, from);
      await neighbourBecomes(fx.lab, 'cl', VIP, vipdMac);
      expect(await f.holdsVips()).toBe(false);
      expect(f.rejections()).toEqual([]);
    });

    it('vipd takes over when FRR vrrpd crashes, and the client follows to its MAC', async () => {
      const f = await frrAt(200);
      await f.waitForStatus('Master', masterDownMs(200) + 5_000);
      const v = vipd(100);
      await settled(f, 'FRR master, vipd its backup', frrMaster, masterDownMs(100) + 8_000);

      const appeared = await fx.lab.watchAddress('fw2', VIP);
      const from = v.lines.length;
      const t0 = performance.now();
      await f.kill();
      const ms = (await appeared(masterDownMs(100) + 5_000)) - t0;
      console.log(`[measure] FRR v${version} SIGKILL -> vipd holds the VIP: ${ms.toFixed(0)} ms`);
      await v.waitForLine(/"to":"master","reason":"master-down"/, 2_000, from);
      // vipd's gratuitous ARP moves the client, although the dead FRR's macvlan still has the
      // VIP and is up: nothing took it down.
      await neighbourBecomes(fx.lab, 'cl', VIP, vipdMac);
      await noRejections(f, false);
    });

    it('vipd with the higher priority preempts FRR; when vipd stops FRR takes over within skew time', async () => {
      const f = await frrAt(100);
      await f.waitForStatus('Master', masterDownMs(100) + 5_000);
      const v = vipd(200);
      await settled(f, 'vipd preempted FRR', vipdMaster, masterDownMs(200) + 8_000);
      await v.waitForLine(/"from":"backup","to":"master"/, 2_000);
      await noRejections(f, true);

      const t0 = performance.now();
      await v.stop();
      await f.waitForStatus('Master', masterDownMs(100) + 2_000);
      const ms = performance.now() - t0;
      console.log(`[measure] FRR v${version}: vipd SIGTERM -> FRR master: ${ms.toFixed(0)} ms`);
      // vipd's priority-0 advert: FRR waited its skew time, not its master-down interval.
      expect(ms).toBeLessThan(skewMs(100) + 1_500);
      await neighbourBecomes(fx.lab, 'cl', VIP, VMAC);
      // With vmac, the graceful stop removed the macvlan itself.
      expect(await fx.lab.hasAddress('fw2', VIP, vipdIf).catch(() => 'no interface')).toBe(
        vmac ? 'no interface' : false,
      );
      expect(f.rejections()).toEqual([]);
    });
  },
);

describe('vipd and FRR vrrpd over IPv6 (VRRPv3), both on the virtual MAC', () => {
  const fx = useLab(['fw1', 'fw2', 'cl']);
  const GLOBAL_VIP = '2001:db8:99::100';
  // RFC 5798 5.2.9: the virtual router's link-local first, the same list on both sides.
  const vips = ['fe80::200:5eff:fe00:233/64', `${GLOBAL_VIP}/64`];
  const VMAC6 = virtualMac(6, VRID);
  const frr6 = (priority: number): Promise<Frr> =>
    startFrr(fx, { vrid: VRID, version: 3, priority, intervalMs: 1000, vips, family: 6 });
  const vipd6 = (priority: number): LabProcess =>
    fx.track(
      startVipd(fx.lab, 'fw2', [{ priority, version: 3, advertInterval: 1, vips, vmac: true }]),
    );

  beforeAll(async () => {
    for (const host of ['fw1', 'fw2', 'cl']) await fx.lab.dadDone(host);
    await fx.lab.exec('cl', 'ip', ['addr', 'add', '2001:db8:99::3/64', 'dev', 'eth0', 'nodad']);
    fx.lab.spawn('cl', 'client-ping6', 'ping', ['-6', '-i', '0.2', '-W', '1', GLOBAL_VIP]);
  });

  /** The switch has the virtual MAC behind `host`'s port, and the client uses it. */
  async function vmacOn(host: string, timeoutMs: number): Promise<void> {
    const port = fx.lab.host(host).port;
    await until(
      `${VMAC6} behind ${host}'s port`,
      async () => {
        const at = (await fx.lab.fdb()).find((e) => e.mac === VMAC6)?.port;
        return { done: at === port, value: at };
      },
      timeoutMs,
      100,
    );
    await neighbourBecomes(fx.lab, 'cl', GLOBAL_VIP, VMAC6);
  }

  async function noRejections(f: Frr): Promise<void> {
    const counters = (await daemonStatus(fx.lab, 'fw2')).instances[0]?.counters;
    expect(counters?.rejected).toEqual({});
    expect(counters?.advertsReceived).toBeGreaterThan(0);
    expect(f.rejections()).toEqual([]);
    expect((await f.status())?.adverRx).toBeGreaterThan(0);
  }

  it('FRR preempts vipd and hands back within skew time when it withdraws', async () => {
    const v = vipd6(100);
    await v.waitForLine(/"to":"master"/, 15_000);
    await vmacOn('fw2', 10_000);
    const f = await frr6(200);
    await f.waitForStatus('Master', masterDownMs(200) + 8_000);
    await v.waitForLine(/"from":"master","to":"backup","reason":"higher-priority"/, 10_000);
    await vmacOn('fw1', 10_000);
    expect(await fx.lab.hasAddress('fw2', GLOBAL_VIP, 'vrrp6-51')).toBe(false);
    await noRejections(f);

    const from = v.lines.length;
    const t0 = performance.now();
    await f.withdraw();
    await v.waitForLine(/"to":"master","reason":"priority-zero-heard"/, skewMs(100) + 3_000, from);
    console.log(
      `[measure] FRR IPv6 'no vrrp' -> vipd master: ${(performance.now() - t0).toFixed(0)} ms`,
    );
    await vmacOn('fw2', 10_000);
    expect(await fx.lab.hasAddress('fw2', GLOBAL_VIP, 'vrrp6-51')).toBe(true);
    expect(f.rejections()).toEqual([]);
  });

  it('vipd takes over when FRR crashes; vipd preempting, then stopping, hands back to FRR', async () => {
    const f = await frr6(150);
    await f.waitForStatus('Master', masterDownMs(150) + 8_000);
    const v = vipd6(100);
    await v.waitForLine(/"to":"backup"/, 15_000);
    await vmacOn('fw1', 10_000);
    const from = v.lines.length;
    await f.kill();
    await v.waitForLine(/"to":"master","reason":"master-down"/, masterDownMs(100) + 5_000, from);
    // The dead FRR's macvlan keeps the VIP, but vipd's frames pull the MAC to its port.
    await vmacOn('fw2', 10_000);
    await v.stop();

    const f2 = await frr6(100);
    await f2.waitForStatus('Master', masterDownMs(100) + 8_000);
    const w = vipd6(200);
    await w.waitForLine(/"to":"master"/, masterDownMs(200) + 8_000);
    await f2.waitForStatus('Backup', 10_000);
    await vmacOn('fw2', 10_000);
    await noRejections(f2);
    const t0 = performance.now();
    await w.stop();
    await f2.waitForStatus('Master', masterDownMs(100) + 3_000);
    expect(performance.now() - t0).toBeLessThan(skewMs(100) + 2_000);
    await vmacOn('fw1', 10_000);
  });
});
