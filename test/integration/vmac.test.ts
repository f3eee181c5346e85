// The virtual MAC's macvlan (src/net/vmac.ts) on the real kernel, in fw1's namespace through
// test/support/vmac-cli.ts (this process cannot enter a namespace itself), which never runs
// `ip` (a logging one placed first in its PATH stays silent):
// - made as asked (macvlan, bridge mode, the MAC, up, on eth0), reused by a second call, a
//   leftover with another MAC or mode replaced, an interface of another kind refused and kept;
// - removed only when it is ours (false when absent; a macvlan with another MAC is kept);
// - IPv6: no link-local of its own, the parent's link-local (nodad) when asked for;
// - ARP: a client resolves a VIP on the macvlan to the virtual MAC, and keeps it after pinging
//   it (with the parent's arp_announce back at 0, the reply's ARP repoints it: why it is set);
//   strict all.rp_filter is refused;
// - a frame sent out of the macvlan puts the virtual MAC on fw1's port in the switch's fdb;
// - a backup's macvlan (up, no VIPs) sends no frame from the virtual MAC in 3 s, IPv4 or IPv6;
//   on a router (IPv6 forwarding 1) an IPv6 one reports ff02::2 by MLD when it comes up, unless
//   it is in protodown, and does once protodown is lifted (a master's).

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { virtualMac } from '../../src/vrrp/vmac-address.js';
import type { VmacOptions, VmacResult, VmacSpec } from '../../src/net/vmac.js';
import { useLab } from '../support/lab-fixture.js';
import { REPO_ROOT } from '../support/paths.js';
import { writeScript } from '../support/script.js';

const CLI = resolve(REPO_ROOT, 'test/support/vmac-cli.ts');
const VIP = '10.99.0.100';

type Op =
  | { ensure: VmacSpec; options?: VmacOptions }
  | { remove: { name: string; mac: string } }
  | { protodown: { name: string; mac: string; on: boolean } };
type Result = { ok: true; value: unknown } | { ok: false; error: string; code?: string };

interface IpLink {
  ifname: string;
  ifindex: number;
  link?: string;
  address: string;
  flags: string[];
  operstate: string;
  inet6_addr_gen_mode?: string;
  linkinfo?: { info_kind?: string; info_data?: { mode?: string } };
}

interface IpAddr {
  addr_info: { family: string; local: string; prefixlen: number; scope: string; nodad?: boolean }[];
}

const v4 = (vrid: number, name = `vrrp4-${vrid}`): VmacSpec => ({
  name,
  parent: 'eth0',
  mac: virtualMac(4, vrid),
  family: 4,
});
const v6 = (vrid: number, name = `vrrp6-${vrid}`): VmacSpec => ({
  name,
  parent: 'eth0',
  mac: virtualMac(6, vrid),
  family: 6,
});

describe('virtual MAC macvlan', () => {
  const fx = useLab(['fw1', 'client']);

  // A logging `ip` first in the CLI's PATH: net/vmac.ts must never run it.
  let shim = '';
  beforeAll(async () => {
    shim = mkdtempSync(join(tmpdir(), 'vipd-vmac-ipshim-'));
    const real = (await execa('sh', ['-c', 'command -v ip'])).stdout.trim();
    writeScript(shim, 'ip', `echo "$*" >> ${shim}/ip.log\nexec ${real} "$@"`);
  });
  afterAll(() => rmSync(shim, { recursive: true, force: true }));

  /** Runs the operations in fw1's namespace, in order; one result each. */
  async function vmac(...ops: Op[]): Promise<Result[]> {
    const out = await fx.lab.exec('fw1', 'env', [
      `PATH=${shim}:${process.env.PATH ?? ''}`,
      process.execPath,
      '--import',
      'tsx',
      CLI,
      JSON.stringify(ops),
    ]);
    expect(existsSync(join(shim, 'ip.log')) ? readFileSync(join(shim, 'ip.log'), 'utf8') : '').toBe(
      '',
    );
    return JSON.parse(out) as Result[];
  }

  async function ensured(spec: VmacSpec, options?: VmacOptions): Promise<VmacResult> {
    const [r] = await vmac({ ensure: spec, options });
    if (r?.ok !== true) throw new Error(`ensureVmac(${spec.name}) failed: ${JSON.stringify(r)}`);
    return r.value as VmacResult;
  }

  const ip = (host: string, ...args: string[]): Promise<string> => fx.lab.exec(host, 'ip', args);

  async function link(name: string): Promise<IpLink | undefined> {
    const out = await fx.lab
      .exec('fw1', 'ip', ['-d', '-j', 'link', 'show', 'dev', name])
      .catch((err: Error) => {
        if (/does not exist/.test(err.message)) return '[]';
        throw err;
      });
    return (JSON.parse(out) as IpLink[])[0];
  }

  async function ipv6Addresses(host: string, dev: string): Promise<IpAddr['addr_info']> {
    const out = await ip(host, '-j', '-6', 'addr', 'show', 'dev', dev);
    return (JSON.parse(out) as IpAddr[])[0]?.addr_info ?? [];
  }

  const sysctl = async (host: string, key: string): Promise<string> =>
    (await fx.lab.exec(host, 'sysctl', ['-n', key])).trim();
  const setSysctl = (host: string, key: string, value: string): Promise<string> =>
    fx.lab.exec(host, 'sysctl', ['-qw', `${key}=${value}`]);

  async function macOf(host: string, dev = 'eth0'): Promise<string> {
    return (
      (JSON.parse(await ip(host, '-j', 'link', 'show', 'dev', dev)) as IpLink[])[0]?.address ?? ''
    );
  }

  async function neighbour(host: string, address: string): Promise<string | undefined> {
    const out = await ip(host, '-j', 'neigh', 'show', address, 'dev', 'eth0');
    return (JSON.parse(out) as { lladdr?: string }[])[0]?.lladdr;
  }

  /** Frames crossing the switch from any of `macs` during `ms`, one tcpdump line each. */
  async function framesFrom(
    macs: string[],
    ms: number,
    during?: () => Promise<void>,
  ): Promise<string[]> {
    const capture = await fx.lab.capture(macs.map((m) => `ether src ${m}`).join(' or '));
    await during?.();
    await new Promise((r) => setTimeout(r, ms));
    return capture.stop();
  }

  it('makes a bridge-mode macvlan with the virtual MAC on eth0, up; a second call reuses it', async () => {
    const spec = v4(51);
    const first = await ensured(spec);
    expect(first.action).toBe('created');
    // The parent's settings it changed are named (a fresh namespace has both at 0).
    expect(first.detail).toBe(
      'net.ipv4.conf.eth0.arp_ignore=1 (was 0); net.ipv4.conf.eth0.arp_announce=2 (was 0)',
    );
    const made = await link('vrrp4-51');
    expect(made).toMatchObject({
      ifindex: first.index,
      link: 'eth0',
      address: '00:00:5e:00:01:33',
      operstate: 'UP',
      linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } },
    });
    expect(made?.flags).toContain('UP');
    expect(await ipv6Addresses('fw1', 'vrrp4-51')).toEqual([]);
    for (const [key, value] of [
      ['net.ipv4.conf.vrrp4-51.arp_ignore', '1'],
      ['net.ipv4.conf.vrrp4-51.arp_announce', '2'],
      ['net.ipv4.conf.vrrp4-51.rp_filter', '0'],
      ['net.ipv4.conf.vrrp4-51.promote_secondaries', '1'],
      ['net.ipv6.conf.vrrp4-51.disable_ipv6', '1'],
      ['net.ipv4.conf.eth0.arp_ignore', '1'],
      ['net.ipv4.conf.eth0.arp_announce', '2'],
    ]) {
      expect([key, await sysctl('fw1', key ?? '')]).toEqual([key, value]);
    }

    const again = await ensured(spec);
    expect(again).toEqual({ index: first.index, action: 'reused' });
    // Left down by someone: reused and brought up again.
    await ip('fw1', 'link', 'set', 'vrrp4-51', 'down');
    expect(await ensured(spec)).toEqual({ index: first.index, action: 'reused' });
    expect((await link('vrrp4-51'))?.flags).toContain('UP');
    expect(await vmac({ remove: { name: 'vrrp4-51', mac: spec.mac } })).toEqual([
      { ok: true, value: true },
    ]);
  });

  it('replaces a leftover with another MAC, then one in another mode', async () => {
    await ip(
      'fw1',
      'link',
      'add',
      'vrrp4-52',
      'link',
      'eth0',
      'address',
      '00:00:5e:00:01:99',
      'type',
      'macvlan',
      'mode',
      'bridge',
    );
    const old = await link('vrrp4-52');
    const spec = v4(52);
    const byMac = await ensured(spec);
    expect(byMac.action).toBe('replaced');
    expect(byMac.detail).toMatch(/^replaced a macvlan with MAC 00:00:5e:00:01:99(;|$)/);
    expect(byMac.index).not.toBe(old?.ifindex);
    expect(await link('vrrp4-52')).toMatchObject({ address: spec.mac, ifindex: byMac.index });

    await ip('fw1', 'link', 'set', 'vrrp4-52', 'type', 'macvlan', 'mode', 'private');
    const byMode = await ensured(spec);
    expect(byMode.action).toBe('replaced');
    expect(byMode.detail).toMatch(/^replaced a macvlan with mode private(;|$)/);
    expect(await link('vrrp4-52')).toMatchObject({
      address: spec.mac,
      ifindex: byMode.index,
      linkinfo: { info_data: { mode: 'bridge' } },
    });
    await vmac({ remove: { name: 'vrrp4-52', mac: spec.mac } });
  });

  it('refuses an interface of another kind by that name, and leaves it', async () => {
    await ip('fw1', 'link', 'add', 'vrrp4-53', 'type', 'bridge');
    const spec = v4(53);
    const [ensure, remove] = await vmac(
      { ensure: spec },
      { remove: { name: spec.name, mac: spec.mac } },
    );
    for (const r of [ensure, remove]) {
      expect(r).toMatchObject({ ok: false, code: 'not-macvlan' });
      expect(r?.ok === false && r.error).toMatch(
        /^VmacError: vrrp4-53 exists and is a bridge \(index \d+\), not a macvlan: vipd does not touch it; remove or rename it/,
      );
    }
    expect((await link('vrrp4-53'))?.linkinfo?.info_kind).toBe('bridge');
    await ip('fw1', 'link', 'del', 'vrrp4-53');
  });

  it('removes only its own macvlan: false when absent, a macvlan with another MAC kept', async () => {
    const spec = v4(54);
    await ensured(spec);
    expect(
      await vmac(
        { remove: { name: spec.name, mac: spec.mac } },
        { remove: { name: spec.name, mac: spec.mac } },
      ),
    ).toEqual([
      { ok: true, value: true },
      { ok: true, value: false },
    ]);
    expect(await link(spec.name)).toBeUndefined();

    await ip(
      'fw1',
      'link',
      'add',
      spec.name,
      'link',
      'eth0',
      'address',
      '02:00:00:00:00:54',
      'type',
      'macvlan',
      'mode',
      'bridge',
    );
    const [kept] = await vmac({ remove: { name: spec.name, mac: spec.mac } });
    expect(kept).toMatchObject({ ok: false, code: 'not-ours' });
    expect(kept?.ok === false && kept.error).toBe(
      `VmacError: ${spec.name} is a macvlan with MAC 02:00:00:00:00:54, not ${spec.mac}: not vipd's, left in place`,
    );
    expect((await link(spec.name))?.address).toBe('02:00:00:00:00:54');
    await ip('fw1', 'link', 'del', spec.name);
  });

  it("IPv6: no link-local of its own; the parent's link-local, nodad, when asked for", async () => {
    const spec = v6(51);
    const made = await ensured(spec);
    expect(made).toEqual({ index: made.index, action: 'created' });
    const l = await link(spec.name);
    expect(l).toMatchObject({
      address: '00:00:5e:00:02:33',
      inet6_addr_gen_mode: 'none',
      linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } },
    });
    expect(l?.flags).toContain('UP');
    // Up for a while, and still nothing: no address generated, none from an RA.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await ip('fw1', '-6', 'addr', 'show', 'dev', spec.name)).toBe('');
    expect(await sysctl('fw1', `net.ipv6.conf.${spec.name}.accept_ra`)).toBe('0');

    const parentLl = (await ipv6Addresses('fw1', 'eth0')).find((a) => a.scope === 'link')?.local;
    expect(parentLl).toMatch(/^fe80:/);
    const withLl = await ensured(spec, { linkLocal: parentLl });
    expect(withLl).toEqual({ index: made.index, action: 'reused' });
    expect(await ipv6Addresses('fw1', spec.name)).toEqual([
      expect.objectContaining({ local: parentLl, prefixlen: 64, scope: 'link', nodad: true }),
    ]);
    // Another link-local asked for later (the parent's changed): it replaces the first.
    await ensured(spec, { linkLocal: 'fe80::1234' });
    expect((await ipv6Addresses('fw1', spec.name)).map((a) => a.local)).toEqual(['fe80::1234']);

    const [v4Ll] = await vmac({ ensure: v4(55), options: { linkLocal: 'fe80::1' } });
    expect(v4Ll).toMatchObject({ ok: false, code: 'invalid' });
    expect(await link('vrrp4-55')).toBeUndefined();
    await vmac({ remove: { name: spec.name, mac: spec.mac } });
  });

  describe('ARP for a VIP on the macvlan', () => {
    const spec = v4(51);

    async function resolveVip(): Promise<{ replies: string[]; neighbour: string | undefined }> {
      await ip('client', 'neigh', 'flush', 'dev', 'eth0');
      await ip('fw1', 'neigh', 'flush', 'dev', 'eth0');
      const arping = await fx.lab.exec('client', 'arping', [
        '-c',
        '2',
        '-w',
        '5',
        '-I',
        'eth0',
        VIP,
      ]);
      const replies = [...arping.matchAll(/reply from \S+ \[([0-9A-F:]+)\]/gi)].map((m) =>
        (m[1] ?? '').toLowerCase(),
      );
      await ip('client', 'neigh', 'flush', 'dev', 'eth0');
      await fx.lab.exec('client', 'ping', ['-c', '3', '-i', '0.2', '-W', '2', VIP]);
      return { replies, neighbour: await neighbour('client', VIP) };
    }

    it('a client resolves it to the virtual MAC only, and keeps that after pinging it', async () => {
      await ensured(spec);
      await ip('fw1', 'addr', 'add', `${VIP}/24`, 'dev', spec.name);
      const { replies, neighbour: entry } = await resolveVip();
      expect(replies.length).toBeGreaterThanOrEqual(1);
      expect(new Set(replies)).toEqual(new Set([spec.mac]));
      expect(entry).toBe(spec.mac);
      await vmac({ remove: { name: spec.name, mac: spec.mac } });
    });

    it("with the parent's arp_announce back at 0, the ping's reply repoints the client at the parent", async () => {
      await ensured(spec);
      await ip('fw1', 'addr', 'add', `${VIP}/24`, 'dev', spec.name);
      await setSysctl('fw1', 'net.ipv4.conf.eth0.arp_announce', '0');
      try {
        const { replies, neighbour: entry } = await resolveVip();
        expect(new Set(replies)).toEqual(new Set([spec.mac]));
        expect(entry).toBe(await macOf('fw1'));
      } finally {
        await setSysctl('fw1', 'net.ipv4.conf.eth0.arp_announce', '2');
        await vmac({ remove: { name: spec.name, mac: spec.mac } });
      }
    });

    it('strict all.rp_filter is refused before anything is made, with what to set', async () => {
      await setSysctl('fw1', 'net.ipv4.conf.all.rp_filter', '1');
      try {
        const [r] = await vmac({ ensure: spec });
        expect(r).toMatchObject({ ok: false, code: 'rp-filter' });
        expect(r?.ok === false && r.error).toMatch(
          /net\.ipv4\.conf\.all\.rp_filter=1 \(strict\) makes the kernel drop .* set net\.ipv4\.conf\.all\.rp_filter=2 \(loose\) or 0/,
        );
        expect(await link(spec.name)).toBeUndefined();
      } finally {
        await setSysctl('fw1', 'net.ipv4.conf.all.rp_filter', '0');
      }
    });
  });

  it("a frame sent out of the macvlan puts the virtual MAC on fw1's switch port", async () => {
    const spec = v4(56);
    await ensured(spec);
    await ip('fw1', 'addr', 'add', '10.99.0.101/24', 'dev', spec.name);
    expect(await switchFdb(spec.mac)).toEqual([]);
    await fx.lab.exec('fw1', 'ping', [
      '-c',
      '1',
      '-W',
      '2',
      '-I',
      spec.name,
      fx.lab.host('client').address,
    ]);
    expect(await switchFdb(spec.mac)).toEqual([fx.lab.host('fw1').port]);
    await vmac({ remove: { name: spec.name, mac: spec.mac } });
  });

  describe('a backup: up, no VIPs', () => {
    it('sends no frame from the virtual MAC in 3 s, IPv4 or IPv6', async () => {
      const four = v4(57);
      const six = v6(57);
      const frames = await framesFrom([four.mac, six.mac], 3_000, async () => {
        await vmac({ ensure: four }, { ensure: six });
      });
      console.log(
        `backup macvlans, 3 s from creation: ${frames.length} frames from the virtual MACs`,
      );
      expect(frames).toEqual([]);
      await vmac(
        { remove: { name: four.name, mac: four.mac } },
        { remove: { name: six.name, mac: six.mac } },
      );
    });

    it('on a router, an IPv6 one reports ff02::2 by MLD unless in protodown; lifting it reports', async () => {
      await setSysctl('fw1', 'net.ipv6.conf.all.forwarding', '1');
      try {
        const plain = v6(58);
        const reported = await framesFrom([plain.mac], 3_000, async () => {
          await vmac({ ensure: plain });
        });
        console.log(`router, IPv6 macvlan up without protodown:\n${reported.join('\n')}`);
        expect(reported.length).toBeGreaterThanOrEqual(1);
        expect(reported.every((l) => /multicast listener report/.test(l))).toBe(true);
        await vmac({ remove: { name: plain.name, mac: plain.mac } });

        const spec = v6(59);
        const parentLl = (await ipv6Addresses('fw1', 'eth0')).find(
          (a) => a.scope === 'link',
        )?.local;
        const quiet = await framesFrom([spec.mac], 3_000, async () => {
          await vmac({ ensure: spec, options: { protodown: true, linkLocal: parentLl } });
        });
        expect(quiet).toEqual([]);
        expect(await ip('fw1', '-d', 'link', 'show', 'dev', spec.name)).toMatch(/protodown on/);

        const master = await framesFrom([spec.mac], 2_000, async () => {
          await vmac({ protodown: { name: spec.name, mac: spec.mac, on: false } });
        });
        console.log(`protodown lifted (a master):\n${master.join('\n')}`);
        expect(master.length).toBeGreaterThanOrEqual(1);
        expect(master.every((l) => /multicast listener report/.test(l))).toBe(true);
        await vmac({ remove: { name: spec.name, mac: spec.mac } });
      } finally {
        await setSysctl('fw1', 'net.ipv6.conf.all.forwarding', '0');
      }
    });
  });

  /** The switch ports on which the bridge's fdb lists `mac`. */
  async function switchFdb(mac: string): Promise<string[]> {
    const out = await execa('bridge', ['-n', fx.lab.switchNs, '-j', 'fdb', 'show', 'br', 'br0']);
    return (JSON.parse(out.stdout) as { mac: string; ifname: string }[])
      .filter((e) => e.mac === mac)
      .map((e) => e.ifname);
  }
});
