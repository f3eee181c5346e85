/**
 * A dual-stack pair: on each box an IPv4 instance and an IPv6 instance (VRRPv3 to 224.0.0.18
 * and to ff02::12, the same VRID, each on its own virtual MAC), tied by a sync group. The two
 * move together: demoting the IPv4 one moves both to the peer, promoting it brings both back, a
 * priority reloaded in place makes the peer preempt both.
 * Clients resolve each VIP to its virtual MAC and never relearn it; the switch learns each
 * virtual MAC on the master's port (a backup's macvlans, in protodown, say nothing that would
 * pull it back).
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LabProcess } from '../lab/lab.js';
import { virtualMac } from '../../src/vrrp/vmac-address.js';
import { neighbourBecomes, neighbourOf } from '../support/arp.js';
import { demote, instanceStatus, promote, reload } from '../support/control.js';
import { useLab } from '../support/lab-fixture.js';
import { until } from '../support/until.js';
import { configFile, controlSocket, startVipdWith } from '../support/vipd.js';

const VIP4 = '10.99.0.100';
const VIP6 = '2001:db8:99::100';
const VMAC4 = virtualMac(4, 51);
const VMAC6 = virtualMac(6, 51);
const PRIORITY: Record<string, number> = { fw1: 150, fw2: 100 };

describe('a dual-stack pair: one sync group, two families, two virtual MACs', () => {
  const fx = useLab(['fw1', 'fw2', 'cl']);

  function config(host: string, priority = PRIORITY[host]): unknown {
    const common = { interface: 'eth0', vrid: 51, priority, vmac: true };
    return {
      node: { name: host },
      log: { level: 'info' },
      instances: [
        { ...common, name: 'VI_4', vips: [`${VIP4}/24`] },
        { ...common, name: 'VI_6', vips: ['fe80::200:5eff:fe00:233/64', `${VIP6}/64`] },
      ],
      syncGroups: [{ name: 'gw', instances: ['VI_4', 'VI_6'] }],
    };
  }
  const start = (host: string): LabProcess => fx.track(startVipdWith(fx.lab, host, config(host)));

  /** Both VIPs on `host`'s macvlans and nowhere else, and the switch has both MACs on its port. */
  async function bothOn(host: string, timeoutMs: number): Promise<void> {
    const other = host === 'fw1' ? 'fw2' : 'fw1';
    const port = fx.lab.host(host).port;
    await until(
      `VI_4 and VI_6 master on ${host} alone, the virtual MACs behind its port`,
      async () => {
        const held = async (h: string, vip: string, dev: string): Promise<boolean> =>
          fx.lab.hasAddress(h, vip, dev).catch(() => false);
        const fdb = await fx.lab.fdb();
        const value = {
          v4: await held(host, VIP4, 'vrrp4-51'),
          v6: await held(host, VIP6, 'vrrp6-51'),
          otherV4: await held(other, VIP4, 'vrrp4-51'),
          otherV6: await held(other, VIP6, 'vrrp6-51'),
          vmac4Port: fdb.find((e) => e.mac === VMAC4)?.port,
          vmac6Port: fdb.find((e) => e.mac === VMAC6)?.port,
        };
        return {
          done:
            value.v4 &&
            value.v6 &&
            !value.otherV4 &&
            !value.otherV6 &&
            value.vmac4Port === port &&
            value.vmac6Port === port,
          value,
        };
      },
      timeoutMs,
      100,
    );
  }

  it('moves both families together, clients stay on the virtual MACs, the switch follows', async () => {
    for (const host of ['fw1', 'fw2', 'cl']) await fx.lab.dadDone(host);
    await fx.lab.exec('cl', 'ip', [
      '-6',
      'addr',
      'add',
      '2001:db8:99::10/64',
      'dev',
      'eth0',
      'nodad',
    ]);
    const fw1 = start('fw1');
    start('fw2');
    await fw1.waitForLine(
      /"instance":"VI_6".*"to":"master"|"to":"master".*"instance":"VI_6"/,
      20_000,
    );
    await bothOn('fw1', 15_000);
    // The client resolves each VIP once: to its virtual MAC, never to a box's own.
    await fx.lab.exec('cl', 'ping', ['-c', '1', '-W', '2', VIP4]);
    await fx.lab.exec('cl', 'ping', ['-6', '-c', '1', '-W', '2', VIP6]);
    await neighbourBecomes(fx.lab, 'cl', VIP4, VMAC4);
    await neighbourBecomes(fx.lab, 'cl', VIP6, VMAC6);
    const s1 = await instanceStatus(fx.lab, 'fw1', 'VI_6');
    expect({ family: s1?.family, mac: s1?.mac, vmac: s1?.vmac }).toEqual({
      family: 6,
      mac: VMAC6,
      vmac: 'vrrp6-51',
    });

    // Demoting the IPv4 instance holds the IPv6 one in FAULT too (the sync group): both move.
    await demote(fx.lab, 'fw1', 'VI_4');
    await bothOn('fw2', 15_000);
    expect((await instanceStatus(fx.lab, 'fw1', 'VI_6'))?.state).toBe('fault');
    // The entries never needed to change: the MACs moved, not the addresses' owners.
    expect(await neighbourOf(fx.lab, 'cl', VIP4)).toBe(VMAC4);
    expect(await neighbourOf(fx.lab, 'cl', VIP6)).toBe(VMAC6);
    await fx.lab.exec('cl', 'ping', ['-c', '1', '-W', '2', VIP4]);
    await fx.lab.exec('cl', 'ping', ['-6', '-c', '1', '-W', '2', VIP6]);

    await promote(fx.lab, 'fw1', 'VI_4');
    await bothOn('fw1', 20_000);
    await fx.lab.exec('cl', 'ping', ['-c', '1', '-W', '2', VIP4]);
    await fx.lab.exec('cl', 'ping', ['-6', '-c', '1', '-W', '2', VIP6]);

    // A priority reloaded in place keeps the routers on their virtual MACs: fw2 preempts.
    const doc = {
      control: { socket: controlSocket(fx.lab, 'fw2') },
      ...(config('fw2', 200) as object),
    };
    writeFileSync(configFile(fx.lab, 'fw2'), JSON.stringify(doc));
    expect(await reload(fx.lab, 'fw2')).toMatchObject({
      ok: true,
      report: { updated: ['VI_4 (priority)', 'VI_6 (priority)'] },
    });
    await bothOn('fw2', 20_000);
    await fx.lab.exec('cl', 'ping', ['-c', '1', '-W', '2', VIP4]);
    await fx.lab.exec('cl', 'ping', ['-6', '-c', '1', '-W', '2', VIP6]);
  });
});
