import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoadSharingConfig } from '../../src/config/load-sharing.js';
import { ClusterIpBackend } from '../../src/cluster/clusterip.js';
import {
  ClusterIpProc,
  ClusterIpProcError,
  describeWriteError,
} from '../../src/cluster/clusterip-proc.js';
import type { Run } from '../../src/cluster/command.js';
import { ClusterIpStandIn } from '../support/clusterip-standin.js';

const VIP = '10.99.0.10';
let kernel: ClusterIpStandIn;
let proc: ClusterIpProc;

beforeEach(async () => {
  kernel = await ClusterIpStandIn.create();
  proc = new ClusterIpProc(kernel.dir, kernel);
  await kernel.addVip(VIP, 4, 1);
});
afterEach(async () => {
  await kernel.cleanup();
});

async function rejection(p: Promise<unknown>): Promise<ClusterIpProcError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ClusterIpProcError))
    throw new Error(`expected ClusterIpProcError, got ${String(err)}`);
  return err;
}

describe('the stand-in behaves like the kernel file', () => {
  const write = (data: string): Promise<void> => kernel.writeFile(join(kernel.dir, VIP), data);
  const codeOf = (data: string): Promise<string | undefined> =>
    write(data).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e.code,
    );

  it('reads "1,3\\n", and nothing at all when no node is owned', async () => {
    await kernel.force(VIP, [3, 1]);
    expect(await readFile(join(kernel.dir, VIP), 'utf8')).toBe('1,3\n');
    await kernel.force(VIP, []);
    expect(await readFile(join(kernel.dir, VIP), 'utf8')).toBe('');
  });

  it('returns the kernel errno for each refused write', async () => {
    expect(await codeOf('+0')).toBe('ENOMEM');
    expect(await codeOf('+5')).toBe('ENOMEM');
    expect(await codeOf('+1')).toBe('ENOMEM');
    expect(await codeOf('-0')).toBe('ENOENT');
    expect(await codeOf('-5')).toBe('ENOENT');
    expect(await codeOf('-2')).toBe('ENOENT');
    expect(await codeOf('*2')).toBe('EIO');
    expect(await codeOf('')).toBe('EIO');
    expect(await codeOf('+0000000002')).toBe('EIO');
    expect(await codeOf('+x')).toBe('EINVAL');
    expect(await codeOf('--2')).toBe('EINVAL');
    expect(kernel.writes).toEqual([]);
  });

  it('parses like kstrtoul and truncates to u16 like the kernel', async () => {
    expect(await codeOf('+2\n')).toBeUndefined();
    expect(await codeOf('++3')).toBeUndefined();
    expect(await codeOf('+65540')).toBeUndefined(); // 65540 & 0xffff = node 4
    expect(await proc.read(VIP)).toEqual([1, 2, 3, 4]);
  });
});

describe('ClusterIpProc', () => {
  it('adds every missing node before removing any, one write per node', async () => {
    await proc.setOwned(VIP, [3, 2]);
    expect(kernel.writes).toEqual([
      [VIP, '+2'],
      [VIP, '+3'],
      [VIP, '-1'],
    ]);
    expect(await proc.read(VIP)).toEqual([2, 3]);
    expect(await readFile(join(kernel.dir, VIP), 'utf8')).toBe('2,3\n');
  });

  it('re-setting the same set writes nothing', async () => {
    await proc.setOwned(VIP, [1, 4]);
    const before = kernel.writes.length;
    await proc.setOwned(VIP, [4, 1, 4]);
    expect(kernel.writes.length).toBe(before);
  });

  it('releases everything, leaving the file empty', async () => {
    await proc.setOwned(VIP, []);
    expect(await proc.read(VIP)).toEqual([]);
  });

  it('a VIP without a rule: says to install the rules (ENOENT on open)', async () => {
    const err = await rejection(proc.setOwned('10.99.0.11', [1]));
    expect(err.message).toBe(
      `no CLUSTERIP rule for 10.99.0.11 in this network namespace (${kernel.dir}/10.99.0.11 does not exist): install the load-sharing rules first`,
    );
    expect(err.code).toBe('ENOENT');
  });

  it('node 0 (kernel ENOMEM): node numbers start at 1', () => {
    const err = Object.assign(new Error('ENOMEM: write'), { code: 'ENOMEM', syscall: 'write' });
    expect(describeWriteError(VIP, `${kernel.dir}/${VIP}`, '+0', err, [1])).toBe(
      'node 0 of CLUSTERIP VIP 10.99.0.10 does not exist: node numbers start at 1 (kernel: ENOMEM)',
    );
  });

  it('node above total (kernel ENOMEM): the rule and the config disagree', async () => {
    const err = await rejection(proc.setOwned(VIP, [1, 5]));
    expect(err.message).toBe(
      "cannot take node 5 of CLUSTERIP VIP 10.99.0.10: it is above the rule's --total-nodes; totalNodes must be the same in the config and in the rule (kernel: ENOMEM, which here means refused, not out of memory)",
    );
    expect(err.code).toBe('ENOMEM');
  });

  it('node taken by another writer meanwhile (kernel ENOMEM on an already set bit)', async () => {
    kernel.raceNextWrite([1, 2]);
    const err = await rejection(proc.setOwned(VIP, [1, 2]));
    expect(err.message).toBe(
      `node 2 of CLUSTERIP VIP 10.99.0.10 was taken meanwhile: another process writes ${kernel.dir}/10.99.0.10 at the same time as vipd (kernel: ENOMEM)`,
    );
  });

  it('node released by another writer meanwhile (kernel ENOENT on -N)', async () => {
    await kernel.force(VIP, [1, 2]);
    kernel.raceNextWrite([1]);
    const err = await rejection(proc.setOwned(VIP, [1]));
    expect(err.message).toBe(
      `node 2 of CLUSTERIP VIP 10.99.0.10 was released meanwhile: another process writes ${kernel.dir}/10.99.0.10 at the same time as vipd (kernel: ENOENT)`,
    );
    expect(err.code).toBe('ENOENT');
  });

  it('refuses what no CLUSTERIP rule can have (1..16, CLUSTERIP_MAX_NODES), before writing', async () => {
    for (const bad of [0, 1.5, -1, 17, 65537]) {
      const err = await rejection(proc.setOwned(VIP, [bad, 1]));
      expect(err.message).toBe(
        `CLUSTERIP VIP 10.99.0.10: ${bad} is not a node number (whole numbers 1..16, the kernel's CLUSTERIP_MAX_NODES)`,
      );
    }
    expect(kernel.writes).toEqual([]);
  });

  it('explains malformed-write errors (EIO, EINVAL) and passes anything else through', () => {
    const err = (code: string): NodeJS.ErrnoException =>
      Object.assign(new Error(`${code}: write`), { code, syscall: 'write' });
    const path = '/proc/net/ipt_CLUSTERIP/10.99.0.10';
    expect(describeWriteError(VIP, path, '+1', err('EIO'), [])).toBe(
      'the kernel refused "+1" written to /proc/net/ipt_CLUSTERIP/10.99.0.10 as malformed (kernel: EIO); it takes "+N" or "-N", at most 10 bytes: this kernel\'s CLUSTERIP differs from the one vipd knows',
    );
    expect(describeWriteError(VIP, path, '+1', err('EINVAL'), [])).toContain('(kernel: EINVAL)');
    expect(describeWriteError(VIP, path, '+1', err('EACCES'), undefined)).toBe(
      'writing "+1" to /proc/net/ipt_CLUSTERIP/10.99.0.10 for CLUSTERIP VIP 10.99.0.10 failed: EACCES: write',
    );
  });
});

describe('ClusterIpBackend over the stand-in', () => {
  const cfg: LoadSharingConfig = {
    backend: 'clusterip',
    interface: 'eth0',
    vips: [VIP],
    hashmode: 'sourceip',
    clusterMac: '01:00:5e:00:01:0a',
    totalNodes: 4,
    localNode: 1,
    hashInit: 0,
  };

  const ours = (c: LoadSharingConfig): string =>
    `-A INPUT -d ${VIP}/32 -i eth0 -j CLUSTERIP --new --hashmode ${c.hashmode} --clustermac ${c.clusterMac.toUpperCase()} --total-nodes ${c.totalNodes} --local-node ${c.localNode} --hash-init ${c.hashInit}`;
  /** Rules that are not vipd's: they must survive install and remove. */
  const foreign = [
    '-A INPUT -i eth0 -p tcp -m tcp --dport 22 -j ACCEPT',
    '-A INPUT -d 10.99.0.100/32 -i eth0 -j CLUSTERIP --new --hashmode sourceip --clustermac 01:00:5E:00:01:0B --total-nodes 2 --local-node 1 --hash-init 0',
  ];

  /** Commands the backend ran, as "command first-argument". */
  function recorded(calls: string[]): Run {
    return (cmd, args, input) => {
      calls.push(`${cmd} ${args.slice(0, 1).join(' ')}`.trim());
      return kernel.iptables(cmd, args, input);
    };
  }

  beforeEach(async () => {
    await kernel.removeVip(VIP);
    for (const line of foreign) await kernel.seedRule('filter', line);
  });

  it('inserts the rule once, then owns through the proc file; remove deletes it', async () => {
    const calls: string[] = [];
    const backend = new ClusterIpBackend(cfg, recorded(calls), proc);
    expect(await backend.owned()).toEqual([]);
    await backend.install([1, 3]);
    await backend.install([1, 3]);
    // The second install finds its own rule alone for the VIP and keeps it: no churn.
    expect(calls).toEqual([
      'iptables-legacy-save',
      'iptables-legacy -I',
      'iptables-legacy-save',
      'iptables-legacy -C',
    ]);
    expect(kernel.rules()).toEqual([ours(cfg), ...foreign]);
    expect(await backend.owned()).toEqual([1, 3]);
    await backend.setOwned([2]);
    expect(kernel.writes.map(([, data]) => data)).toEqual(['+3', '+2', '-1', '-3']);
    await backend.remove();
    await backend.remove();
    expect(await backend.owned()).toEqual([]);
    expect(kernel.rules()).toEqual(foreign);
  });

  // A restart with a changed config: the rule the previous run left holds the VIP's config, and
  // the kernel would go on hashing with it (or, for another MAC, refuse the new rule).
  it.each([
    ['totalNodes', { totalNodes: 2 }],
    ['hashmode', { hashmode: 'sourceip-sourceport' }],
    ['seed', { hashInit: 7 }],
    ['clusterMac', { clusterMac: '01:00:5e:00:01:0c' }],
    ['localNode only', { localNode: 2 }],
  ] as const)(
    'install replaces the rule of a previous run with another %s; remove deletes it',
    async (_, change) => {
      const previous = { ...cfg, ...change };
      await kernel.seedRule('filter', ours(previous));
      const backend = new ClusterIpBackend(cfg, kernel.iptables, proc);
      await backend.install([1, 3]);
      expect(kernel.params(VIP)).toEqual({
        hashmode: 'sourceip',
        clusterMac: '01:00:5E:00:01:0A',
        total: 4,
        hashInit: 0,
      });
      expect(kernel.rules()).toEqual([ours(cfg), ...foreign]);
      expect(await backend.owned()).toEqual([1, 3]);

      // Beside ours, a rule with other parameters (the kernel refuses another MAC meanwhile).
      await kernel.seedRule('filter', ours({ ...previous, clusterMac: cfg.clusterMac }));
      await backend.remove();
      expect(kernel.rules()).toEqual(foreign);
      expect(await backend.owned()).toEqual([]);
    },
  );

  it('deletes every CLUSTERIP rule for the VIP, in any table, even one equal to its own', async () => {
    const other = { ...cfg, totalNodes: 2, hashInit: 7 };
    await kernel.seedRule('filter', ours(other));
    await kernel.seedRule('filter', ours(cfg));
    await kernel.seedRule('mangle', ours(cfg).replace('-A INPUT', '-A PREROUTING'));
    expect(kernel.params(VIP)?.total).toBe(2);
    const backend = new ClusterIpBackend(cfg, kernel.iptables, proc);
    await backend.install([4]);
    expect(kernel.params(VIP)?.total).toBe(4);
    expect(kernel.rules()).toEqual([ours(cfg), ...foreign]);
    expect(kernel.rules('mangle')).toEqual([]);
    expect(await backend.owned()).toEqual([4]);
  });

  it('a failed read of the rules is reported, naming the command', async () => {
    const backend = new ClusterIpBackend(
      cfg,
      async () => ({ exitCode: 4, stdout: '', stderr: "can't initialize iptables table `filter'" }),
      proc,
    );
    await expect(backend.remove()).rejects.toThrow(
      "reading the iptables rules: `iptables-legacy-save` failed (exit 4): can't initialize iptables table `filter'",
    );
  });
});
