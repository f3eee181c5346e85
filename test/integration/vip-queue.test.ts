// The per-interface address queue of actions/vip.ts against the real kernel, in a lab namespace:
// 128 routers' requests made together all land through rtnetlink without spawning `ip` (a
// logging `ip` placed first in PATH stays silent), a read sees every change asked for before
// it, one bad request among many fails alone with the kernel's reason, and an index taken from
// the daemon's view that has gone stale costs nothing but a retry. The requests run in
// fw1's namespace through test/support/vip-cli.ts.

import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { ipv4ToUint32, uint32ToIpv4 } from '../../src/net/address.js';
import { useLab } from '../support/lab-fixture.js';
import { REPO_ROOT } from '../support/paths.js';
import { writeScript } from '../support/script.js';

const CLI = resolve(REPO_ROOT, 'test/support/vip-cli.ts');

type Vip = { address: string; prefix: number };
type Result = { ok: true; value: unknown } | { ok: false; error: string };

function vips(first: string, n: number, prefix = 32): Vip[] {
  return Array.from({ length: n }, (_, i) => ({
    address: uint32ToIpv4(ipv4ToUint32(first) + i),
    prefix,
  }));
}

describe('address queue', () => {
  const fx = useLab(['fw1']);

  /** Runs the waves on fw1's eth0; returns the results and every `ip` command line it ran. */
  async function run(waves: object[][]): Promise<{ results: Result[][]; ip: string[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-ipshim-'));
    try {
      const real = (await execa('sh', ['-c', 'command -v ip'])).stdout.trim();
      const log = join(dir, 'ip.log');
      writeScript(dir, 'ip', `echo "$*" >> ${log}\nexec ${real} "$@"`);
      const out = await fx.lab.exec('fw1', 'env', [
        `PATH=${dir}:${process.env.PATH ?? ''}`,
        process.execPath,
        '--import',
        'tsx',
        CLI,
        'eth0',
        JSON.stringify(waves),
      ]);
      const ip = readFileSync(log, { encoding: 'utf8', flag: 'a+' }).split('\n').filter(Boolean);
      return { results: JSON.parse(out) as Result[][], ip };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('128 routers adding, then removing, together: all land, none spawns ip', async () => {
    const each = vips('10.99.1.1', 128).map((v) => [v]);
    const { results, ip } = await run([
      each.map((v) => ({ add: v })),
      [...each.map((v) => ({ del: v })), { read: true }],
    ]);
    expect(results[0]?.every((r) => r.ok)).toBe(true);
    // Each removal returns its own VIP, found on the interface.
    expect(results[1]?.slice(0, 128)).toEqual(each.map((v) => ({ ok: true, value: v })));
    // The read was asked for after the removals: none of the VIPs.
    const read = results[1]?.[128];
    expect(read?.ok).toBe(true);
    const left = (read as { value: string[] }).value;
    expect(left).toContain(fx.lab.host('fw1').address);
    expect(left.filter((a) => a.startsWith('10.99.1.'))).toEqual([]);
    expect(ip).toEqual([]);
    expect((await fx.lab.addresses('fw1')).filter((a) => a.startsWith('10.99.1.'))).toEqual([]);
  });

  it('reads of the whole link made meanwhile interleave with the changes and all succeed', async () => {
    // A dump answered in parts with another reply between them failed in the binding.
    const each = vips('10.99.3.1', 128).map((v) => [v]);
    const links = Array.from({ length: 8 }, () => ({ link: true }));
    const { results } = await run([
      [...each.map((v) => ({ add: v })), ...links],
      [...links, ...each.map((v) => ({ del: v })), ...links],
    ]);
    const failures = results.flat().filter((r) => !r.ok);
    expect(failures).toEqual([]);
    expect((await fx.lab.addresses('fw1')).filter((a) => a.startsWith('10.99.3.'))).toEqual([]);
  });

  it("fails only the bad request of a shared run, with the kernel's reason; the others land", async () => {
    const good = vips('10.99.2.1', 9).map((v) => [v]);
    const bad = [{ address: '10.99.2.100', prefix: 33 }];
    const { results } = await run([
      [...good.slice(0, 4), bad, ...good.slice(4)].map((v) => ({ add: v })),
    ]);
    const wave = results[0] ?? [];
    expect(wave.filter((r) => !r.ok)).toHaveLength(1);
    const failed = wave[4];
    expect(failed?.ok).toBe(false);
    expect(failed?.ok === false && failed.error).toMatch(
      /^VipError: could not add 10\.99\.2\.100\/33 on eth0: EINVAL$/,
    );
    const present = await fx.lab.addresses('fw1');
    for (const [v] of good) expect(present).toContain(v?.address);
    expect(present).not.toContain('10.99.2.100');
    await fx.lab.exec('fw1', 'ip', ['addr', 'flush', 'dev', 'eth0', 'to', '10.99.2.0/24']);
  });

  it("an add with a stale interface index (ENODEV) lands with the kernel's; removals never use it", async () => {
    // 2^31 - 1: no interface has it, as a monitor's index for a link made again under its name.
    const stale = 2147483647;
    const [v] = vips('10.99.4.1', 1);
    const { results } = await run([
      [{ index: stale }],
      [{ add: [v] }],
      [{ read: true }],
      [{ del: [v] }],
    ]);
    expect(results.map((w) => w[0]?.ok)).toEqual([true, true, true, true]);
    expect((results[2]?.[0] as { value: string[] }).value).toContain('10.99.4.1');
    // The removal read the link by name and found the VIP the add put there.
    expect(results[3]?.[0]).toEqual({ ok: true, value: [v] });
    expect(await fx.lab.addresses('fw1')).not.toContain('10.99.4.1');
  });
});
