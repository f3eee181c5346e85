// Interface settings written straight to /proc/sys (net/sysctl.ts), against a stand-in tree:
// promote_secondaries set when it is 0, left unwritten when already 1; any setting of either
// family read, or set unless the value there will do; every failure a SysctlError naming the
// key, the path and what the operator can do, with the errno as its code.
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  readInterfaceSetting,
  setInterfaceSetting,
  setPromoteSecondaries,
  SysctlError,
} from '../../src/net/sysctl.js';

let root: string;
const file = (ifname: string): string => join(root, 'net/ipv4/conf', ifname, 'promote_secondaries');

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vipd-sysctl-'));
  for (const [ifname, value] of [
    ['eth0', '0'],
    ['eth0.100', '1'],
  ] as const) {
    mkdirSync(join(root, 'net/ipv4/conf', ifname), { recursive: true });
    writeFileSync(file(ifname), `${value}\n`);
  }
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('setPromoteSecondaries', () => {
  it('sets 1 and returns what was there', async () => {
    await expect(setPromoteSecondaries('eth0', root)).resolves.toBe('0');
    expect(readFileSync(file('eth0'), 'utf8')).toBe('1\n');
  });

  it('writes nothing when it is already 1; a VLAN keeps its dotted name in the path', async () => {
    // An old mtime that a write would change (a mode bit would not stop root).
    utimesSync(file('eth0.100'), 1_000_000, 1_000_000);
    await expect(setPromoteSecondaries('eth0.100', root)).resolves.toBe('1');
    expect(statSync(file('eth0.100')).mtimeMs).toBe(1_000_000_000);
  });

  it('an interface without IPv4 settings: a SysctlError naming key and path', async () => {
    const err = await setPromoteSecondaries('nosuch0', root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SysctlError);
    expect((err as Error).message).toBe(
      `could not set net.ipv4.conf.nosuch0.promote_secondaries=1: ${file('nosuch0')} does not exist: nosuch0 has no IPv4 settings (is the interface there?)`,
    );
  });

  it('a path that cannot be written says where to set it instead', async () => {
    // A directory in the file's place fails for root too (chmod would not stop root).
    rmSync(file('eth0'));
    mkdirSync(file('eth0'));
    const err = await setPromoteSecondaries('eth0', root).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SysctlError);
    expect((err as Error).message).toMatch(
      /^could not set net\.ipv4\.conf\.eth0\.promote_secondaries=1: .*promote_secondaries: EISDIR/,
    );
  });
});

describe('any interface setting', () => {
  const ipv6 = (ifname: string, name: string): string => join(root, 'net/ipv6/conf', ifname, name);

  beforeEach(() => {
    mkdirSync(join(root, 'net/ipv6/conf/vrrp6-51'), { recursive: true });
    writeFileSync(ipv6('vrrp6-51', 'accept_ra'), '1\n');
    writeFileSync(join(root, 'net/ipv4/conf/eth0/arp_ignore'), '2\n');
  });

  it('reads and sets one of either family; returns the value before', async () => {
    const acceptRa = { family: 'ipv6', ifname: 'vrrp6-51', name: 'accept_ra' } as const;
    await expect(readInterfaceSetting(acceptRa, root)).resolves.toBe('1');
    await expect(setInterfaceSetting(acceptRa, '0', { procSys: root })).resolves.toBe('1');
    expect(readFileSync(ipv6('vrrp6-51', 'accept_ra'), 'utf8')).toBe('0\n');
  });

  it('writes nothing when `keep` says the value there will do', async () => {
    const ignore = { family: 'ipv4', ifname: 'eth0', name: 'arp_ignore' } as const;
    const path = join(root, 'net/ipv4/conf/eth0/arp_ignore');
    utimesSync(path, 1_000_000, 1_000_000);
    const was = await setInterfaceSetting(ignore, '1', { procSys: root, keep: (v) => v !== '0' });
    expect(was).toBe('2');
    expect(statSync(path).mtimeMs).toBe(1_000_000_000);
  });

  it('a missing setting: a SysctlError with code ENOENT naming the family', async () => {
    const err = await readInterfaceSetting(
      { family: 'ipv6', ifname: 'nosuch0', name: 'accept_ra' },
      root,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SysctlError);
    expect((err as SysctlError).code).toBe('ENOENT');
    expect((err as Error).message).toBe(
      `could not read net.ipv6.conf.nosuch0.accept_ra: ${ipv6('nosuch0', 'accept_ra')} does not exist: nosuch0 has no IPv6 settings (is the interface there?)`,
    );
  });
});
