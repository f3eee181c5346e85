import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import type { InstanceConfig } from '../../src/config/instance.js';
import { describeStep, masterPlan, releasePlan } from '../../src/actions/plan.js';

function inst(extra: Record<string, unknown> = {}): InstanceConfig {
  const c = parseConfig({
    instances: [
      {
        name: 'VI_1',
        interface: 'eth0',
        vrid: 51,
        vips: ['10.99.0.100/24', '10.99.0.101/24'],
        ...extra,
      },
    ],
  }).instances[0];
  if (c === undefined) throw new Error('no instance');
  return c;
}
const all = new Set(['10.99.0.1', '10.99.0.100', '10.99.0.101']);

describe('action plans', () => {
  it('master, in the order the issue fixes: commit, VIPs, ARP, resync, up hooks (one per VIP, ucarp args)', () => {
    const cfg = inst({
      conntrackd: { enabled: true },
      hooks: { up: '/etc/vipd/up.sh', extra: 'fw1' },
    });
    expect(masterPlan(cfg).map(describeStep)).toEqual([
      'conntrackd commit',
      'VIPs add 10.99.0.100/24 10.99.0.101/24',
      'gratuitous ARP / unsolicited NA for 2 VIP(s)',
      'conntrackd flush-caches, resync-kernel, bulk-send',
      'hook /etc/vipd/up.sh eth0 10.99.0.100 fw1',
      'hook /etc/vipd/up.sh eth0 10.99.0.101 fw1',
    ]);
    const hook = masterPlan(cfg).at(-1);
    expect(hook).toMatchObject({
      env: {
        VIPD_STATE: 'master',
        VIPD_INSTANCE: 'VI_1',
        VIPD_VRID: '51',
        VIPD_VIPS: '10.99.0.100 10.99.0.101',
        VIPD_FAMILY: 'ipv4',
        VIPD_PROTOCOL: 'vrrp',
        VIPD_VIP_INTERFACE: 'eth0',
      },
    });
    const v6 = inst({
      vips: ['2001:db8::100/64', 'fe80::1/64'],
      vmac: true,
      hooks: { up: '/u.sh', down: '/d.sh', perVip: false },
    });
    // The macvlan gets its carrier before the VIPs go on it, and loses it after they are gone.
    expect(masterPlan(v6).map(describeStep).slice(0, 2)).toEqual([
      'virtual MAC carrier on',
      'VIPs add fe80::1/64 2001:db8::100/64',
    ]);
    expect(
      releasePlan('backup', v6, { addresses: new Set(['2001:db8::100']) }).map(describeStep),
    ).toEqual([
      'VIPs remove 2001:db8::100/64',
      'virtual MAC carrier off (protodown)',
      'hook /d.sh eth0 fe80::1',
    ]);
    expect(masterPlan(v6).at(-1)).toMatchObject({
      args: ['eth0', 'fe80::1'],
      env: {
        VIPD_VIPS: 'fe80::1 2001:db8::100',
        VIPD_FAMILY: 'ipv6',
        VIPD_PROTOCOL: 'vrrp',
        VIPD_VIP_INTERFACE: 'vrrp6-51',
      },
    });
  });

  it('backup: VIPs that are present first, conntrackd backup, down hooks last; fault: -t only', () => {
    const cfg = inst({ conntrackd: { enabled: true }, hooks: { down: '/d.sh', perVip: false } });
    expect(releasePlan('backup', cfg, { addresses: all }).map(describeStep)).toEqual([
      'VIPs remove 10.99.0.100/24 10.99.0.101/24',
      'conntrackd ensure-running, schedule-flush, request-resync',
      'hook /d.sh eth0 10.99.0.100',
    ]);
    expect(
      releasePlan('fault', cfg, { addresses: new Set(['10.99.0.101']) }).map(describeStep),
    ).toEqual([
      'VIPs remove 10.99.0.101/24',
      'conntrackd schedule-flush',
      'hook /d.sh eth0 10.99.0.100',
    ]);
  });

  it('without conntrackd and hooks, releasing an already released box does nothing', () => {
    expect(releasePlan('backup', inst(), { addresses: new Set(['10.99.0.1']) })).toEqual([]);
    expect(masterPlan(inst()).map((s) => s.kind)).toEqual(['vips', 'garp']);
  });
});

describe('load-sharing steps', () => {
  const sharing = { clusterMac: '01:00:5e:00:01:0a', totalNodes: 2, localNode: 2 };
  it('installed after the VIPs owning our node, removed before the VIPs go', () => {
    const cfg = inst({ loadSharing: sharing });
    expect(masterPlan(cfg).map(describeStep)).toEqual([
      'VIPs add 10.99.0.100/24 10.99.0.101/24',
      'load sharing install owning node(s) 2',
      'gratuitous ARP / unsolicited NA for 2 VIP(s)',
    ]);
    expect(releasePlan('backup', cfg, { addresses: new Set() }).map(describeStep)).toEqual([
      'load sharing remove',
    ]);
    expect(cfg.loadSharing).toMatchObject({
      backend: 'auto',
      hashmode: 'sourceip',
      hashInit: 0,
      interface: 'eth0',
    });
  });
  it('a bad loadSharing section is refused with its key', () => {
    expect(() => inst({ loadSharing: { ...sharing, localNode: 3 } })).toThrow(
      /instances\[0\]\.loadSharing\.localNode/,
    );
    expect(() => inst({ loadSharing: { ...sharing, clusterMac: '00:11:22:33:44:55' } })).toThrow(
      /loadSharing\.clusterMac/,
    );
    expect(() => inst({ loadSharing: { ...sharing, bogus: 1 } })).toThrow(
      /instances\[0\]\.loadSharing\.bogus: unknown key/,
    );
  });
});
