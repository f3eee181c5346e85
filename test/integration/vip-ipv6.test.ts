// IPv6 VIPs through actions/vip.ts on the real kernel, in fw1's namespace (through
// test/support/vip-cli.ts): added next to an IPv4 one, they are usable at once (IFA_F_NODAD: `ip`
// shows no 'tentative' while DAD is made to last 30 s, where an address added without it is),
// both reads list both families, and removing them takes exactly them, whatever prefix they
// carry, leaving the interface's own addresses; removing them again finds nothing.

import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { useLab } from '../support/lab-fixture.js';
import { REPO_ROOT } from '../support/paths.js';

const CLI = resolve(REPO_ROOT, 'test/support/vip-cli.ts');

type Vip = { address: string; prefix: number };
type Result = { ok: true; value: unknown } | { ok: false; error: string };
interface AddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  tentative?: boolean;
}

describe('IPv6 VIPs', () => {
  const fx = useLab(['fw1']);

  async function run(waves: object[][]): Promise<Result[][]> {
    const out = await fx.lab.exec('fw1', process.execPath, [
      '--import',
      'tsx',
      CLI,
      'eth0',
      JSON.stringify(waves),
    ]);
    return JSON.parse(out) as Result[][];
  }

  async function onEth0(): Promise<AddrInfo[]> {
    const out = await fx.lab.exec('fw1', 'ip', ['-j', 'addr', 'show', 'dev', 'eth0']);
    return (JSON.parse(out) as { addr_info?: AddrInfo[] }[])[0]?.addr_info ?? [];
  }

  const sysctl = (key: string, value: number): Promise<string> =>
    fx.lab.exec('fw1', 'sysctl', ['-w', `net.ipv6.conf.eth0.${key}=${value}`]);

  it('added without DAD next to an IPv4 VIP, listed by both reads, removed exactly', async () => {
    // The interface's own link-local must be out of DAD: only the control address stays tentative.
    await fx.lab.dadDone('fw1');
    const own = (await onEth0()).map((a) => a.local);
    expect(own).toContain(fx.lab.host('fw1').address);
    expect(own.some((a) => a.startsWith('fe80:'))).toBe(true);
    const vips: Vip[] = [
      { address: '2001:db8:99::100', prefix: 64 },
      { address: 'fe80::100', prefix: 64 },
      { address: '10.99.0.100', prefix: 24 },
    ];
    // DAD for 30 s: an address added with it stays tentative all through this test.
    await sysctl('dad_transmits', 30);
    try {
      await fx.lab.exec('fw1', 'ip', ['addr', 'add', '2001:db8:99::200/64', 'dev', 'eth0']);
      const [added, read] = await run([[{ add: vips }], [{ read: true }, { link: true }]]);
      expect(added).toEqual([{ ok: true, value: null }]);
      const listed = [...own, ...vips.map((v) => v.address), '2001:db8:99::200'].sort();
      for (const r of read ?? []) {
        expect(r.ok).toBe(true);
        expect([...(r as { value: string[] }).value].sort()).toEqual(listed);
      }
      const now = await onEth0();
      const tentative = now.filter((a) => a.tentative === true).map((a) => a.local);
      expect(tentative).toEqual(['2001:db8:99::200']);
      for (const v of vips) {
        expect(now.find((a) => a.local === v.address)).toMatchObject({ prefixlen: v.prefix });
      }

      const [removed] = await run([[{ del: vips }]]);
      expect(removed).toEqual([{ ok: true, value: expect.arrayContaining(vips) }]);
      expect(((removed?.[0] as { value: Vip[] }).value ?? []).length).toBe(3);
      expect((await onEth0()).map((a) => a.local).sort()).toEqual(
        [...own, '2001:db8:99::200'].sort(),
      );
      const [again] = await run([[{ del: vips }]]);
      expect(again).toEqual([{ ok: true, value: [] }]);
    } finally {
      await fx.lab.exec('fw1', 'ip', ['addr', 'del', '2001:db8:99::200/64', 'dev', 'eth0']);
      await sysctl('dad_transmits', 1);
    }
  });

  it('removes an IPv6 VIP whatever prefix it carries, and nothing else', async () => {
    await fx.lab.exec('fw1', 'ip', ['addr', 'add', '2001:db8:97::1/128', 'dev', 'eth0', 'nodad']);
    await fx.lab.exec('fw1', 'ip', ['addr', 'add', '2001:db8:97::2/64', 'dev', 'eth0', 'nodad']);
    try {
      const [removed] = await run([[{ del: [{ address: '2001:db8:97::1', prefix: 64 }] }]]);
      expect(removed).toEqual([{ ok: true, value: [{ address: '2001:db8:97::1', prefix: 128 }] }]);
      const left = (await onEth0()).map((a) => a.local);
      expect(left).not.toContain('2001:db8:97::1');
      expect(left).toContain('2001:db8:97::2');
    } finally {
      await fx.lab.exec('fw1', 'ip', ['addr', 'del', '2001:db8:97::2/64', 'dev', 'eth0']);
    }
  });
});
