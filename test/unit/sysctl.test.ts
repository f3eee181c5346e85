// promote_secondaries written straight to /proc/sys (net/sysctl.ts), against a stand-in tree:
// set when it is 0, left unwritten when already 1, and every failure a SysctlError naming the
// key, the path and what the operator can do.
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
import { setPromoteSecondaries, SysctlError } from '../../src/net/sysctl.js';

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
