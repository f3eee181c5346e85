/**
 * The clusterip backend on a real kernel that still has CLUSTERIP (removed in Linux 6.3; this
 * machine's kernel has none, so everywhere else the backend meets test/support/clusterip-standin.ts):
 * Debian bookworm's 6.1, booted ONCE under QEMU (test/support/qemu-guest.ts: KVM where /dev/kvm
 * is hardware KVM, else TCG). The guest program (test/kernel/clusterip-guest.ts) measures inside
 * the VM, in network namespaces of its own; this file judges what it measured:
 * - the hash: the node number the kernel stamps into each new connection's conntrack mark is
 *   vipd's own ownerNode('clusterip', ...), flow by flow, 64 flows for each of the three modes;
 * - the backend: ClusterIpBackend's install / setOwned / owned / remove, idempotence, its errors
 *   on the kernel's refusals, probeKernel and the backend selection, and the rebuild after a
 *   restart with another totalNodes, hash mode or seed (the old rule, which would keep the
 *   kernel hashing the old way, is gone, and the kernel hashes the new way); remove() takes any
 *   CLUSTERIP rule for the VIP, an operator's in another table too;
 * - two `vipd run` with a cluster section (backend clusterip): every one of 64 client sources
 *   answered exactly once (TCP and UDP) by the box `vipd cluster owner` names; after a box dies
 *   (cable pulled, vipd SIGKILLed) the survivor answers all; after it returns, exactly once
 *   again; after both crash and restart with another seed, exactly once by the new owners.
 * Needs root, qemu-system-x86, busybox-static, cpio and apt sources for bookworm (the kernel and
 * kmod packages are fetched once into the lab cache).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerNode } from '../../src/cluster/hash.js';
import { homeNumbers } from '../../src/cluster/ownership.js';
import type { HashMode, LoadSharingConfig } from '../../src/config/load-sharing.js';
import {
  BOXES,
  HASH_TOTAL,
  HASH_VIPS,
  REBUILDS,
  REMOVE_ONLY_VIP,
  SEED,
  SEEDS,
  SHAPE,
  type MarkedFlow,
} from '../kernel/clusterip-plan.js';
import { clientSources, notExactlyOnce, type Answers } from '../support/cluster-probe.js';
import { REPO_ROOT } from '../support/paths.js';
import { accelerator, debianKernel, runInGuest } from '../support/qemu-guest.js';

const SOURCES = clientSources(64);
/** Whole VM run, boot to power-off: a bound for a stuck guest, not a performance goal. */
const GUEST_TIMEOUT_MS = 600_000;

interface Line {
  group: string;
  step: string;
  value?: unknown;
  error?: string;
}

let lines: Line[] = [];
let failure: Error | undefined;
let outDir = '';
let keep = false;

/** A measurement of the guest, or the reason it is missing. */
function measured<T>(group: string, step: string): T {
  if (failure !== undefined) throw failure;
  const line = lines.find((l) => l.group === group && l.step === step);
  if (line?.error !== undefined) throw new Error(`guest, ${group}, ${step}: ${line.error}`);
  if (line === undefined) {
    const why = lines.find((l) => l.group === group && l.error !== undefined);
    throw new Error(
      `guest did not measure ${group}, ${step}${why === undefined ? '' : ` (${why.step} failed: ${why.error})`}; logs in ${outDir}/logs`,
    );
  }
  return line.value as T;
}

/** The rule as iptables-legacy-save prints it (upper-case MAC, decimal seed), with its table. */
function savedRule(vip: string, cfg: Partial<LoadSharingConfig>, table = 'filter'): string {
  const chain = table === 'filter' ? 'INPUT' : 'PREROUTING';
  return (
    `${table} -A ${chain} -d ${vip}/32 -i eth0 -j CLUSTERIP --new --hashmode ${cfg.hashmode ?? 'sourceip'} ` +
    `--clustermac 01:00:5E:00:01:0A --total-nodes ${cfg.totalNodes ?? 4} ` +
    `--local-node ${cfg.localNode ?? 1} --hash-init ${cfg.hashInit ?? SEED}`
  );
}

/** The flows the kernel hashed to another node than ownerNode with `cfg`. */
function misHashed(flows: readonly MarkedFlow[], cfg: Partial<LoadSharingConfig>): MarkedFlow[] {
  const mode: HashMode = cfg.hashmode ?? 'sourceip';
  return flows.filter(
    (f) => f.mark !== ownerNode('clusterip', mode, f, cfg.totalNodes ?? 4, cfg.hashInit ?? SEED),
  );
}

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'vipd-clusterip-kernel-'));
  try {
    const kernel = await debianKernel();
    const guest = await runInGuest({
      kernel,
      // The guest program as the lab's global setup compiled it; the node running this test.
      command: [
        process.execPath,
        join(REPO_ROOT, 'dist/test/kernel/clusterip-guest.js'),
        join(outDir, 'results.jsonl'),
        // The probe's answer window: emulated, every box answers about ten times slower.
        accelerator() === 'kvm' ? '1000' : '5000',
      ],
      outDir,
      timeoutMs: GUEST_TIMEOUT_MS,
    });
    console.log(
      `[measure] ${kernel.release} (${kernel.version}) guest under ${guest.accel}: ${(guest.wallMs / 1000).toFixed(1)} s from QEMU start to power-off`,
    );
    const text = readFileSync(join(outDir, 'results.jsonl'), 'utf8');
    lines = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line);
    if (guest.exitCode !== 0) {
      throw new Error(
        `the guest program exited ${guest.exitCode}; console:\n${guest.console.split('\n').slice(-30).join('\n')}`,
      );
    }
  } catch (err) {
    keep = true;
    failure = new Error(
      `the CLUSTERIP kernel guest could not run (results and logs in ${outDir}): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}, GUEST_TIMEOUT_MS + 120_000);

afterAll(() => {
  if (!keep) rmSync(outDir, { recursive: true, force: true });
});

describe('clusterip backend on a real Linux 6.1 kernel (QEMU)', () => {
  it("the kernel's CLUSTERIP hash is vipd's ownerNode, flow by flow, in every hash mode", ({
    onTestFailed,
  }) => {
    onTestFailed(() => {
      keep = true;
    });
    const flows = measured<Record<string, MarkedFlow[]>>('hash', 'flows');
    for (const [vip, hashmode] of Object.entries(HASH_VIPS)) {
      const mine = flows[vip] ?? [];
      expect(mine.length, `${hashmode}: flows in conntrack`).toBe(SOURCES.length);
      expect(
        misHashed(mine, { hashmode, totalNodes: HASH_TOTAL }),
        `${hashmode}: flows the kernel hashed to another node than ownerNode`,
      ).toEqual([]);
    }
  });

  it('ClusterIpBackend installs, owns, refuses, removes and rebuilds on the real kernel', ({
    onTestFailed,
  }) => {
    onTestFailed(() => {
      keep = true;
    });
    const step = <T>(name: string): T => measured<T>('backend', name);
    expect(step('probeKernel')).toEqual({
      release: expect.stringMatching(/^6\.1\./) as unknown,
      clusterip: true,
    });
    expect(step('createBackend')).toEqual({ clusterip: 'clusterip', auto: 'clusterip' });

    const rules = ['10.99.0.10', '10.99.0.11'].map((v) => savedRule(v, { localNode: 2 }));
    const installed = { owned: [1, 3], files: ['1,3\n', '1,3\n'], rules };
    expect(step('install [1,3]')).toEqual(installed);
    expect(step('install [1,3] again'), 'install is idempotent').toEqual(installed);
    expect(step('setOwned [2]')).toEqual([2]);
    expect(step('setOwned [1,2,3,4]')).toEqual([1, 2, 3, 4]);
    expect(step('setOwned []')).toEqual({ owned: [], files: ['', ''], rules });
    expect(step('install []')).toEqual([]);
    expect(step('refusals')).toEqual({
      procAboveTotal: expect.stringMatching(
        /^ClusterIpProcError: cannot take node 5 of CLUSTERIP VIP 10\.99\.0\.10: it is above the rule's --total-nodes.*kernel: ENOMEM/,
      ) as unknown,
      backendAboveTotal: 'LoadSharingConfigError: owned: node 5 is outside 1..4 (totalNodes)',
    });
    // owned() is what every VIP has: a node released behind vipd's back is not owned, and
    // setOwned puts it back.
    expect(step('node 1 released behind vipd')).toEqual({ owned: [], repaired: ['1\n', '1\n'] });
    expect(step('remove')).toEqual({ owned: [], files: [null, null], rules: [] });
    const noRule = expect.stringContaining(
      'no CLUSTERIP rule for 10.99.0.10 in this network namespace',
    ) as unknown;
    expect(step('after remove')).toEqual({
      removeAgain: 'no error',
      read: noRule,
      setOwned: noRule,
    });
    expect(step('other hash modes'), '[rules after two installs, after remove]').toEqual({
      'sourceip-sourceport': [1, 0],
      'sourceip-sourceport-destport': [1, 0],
    });

    // A restart with another totalNodes, hash mode or seed while the old rule is in the kernel.
    const entries = Object.entries(REBUILDS);
    expect(step('rebuild: rules a previous run left')).toEqual({
      ...Object.fromEntries(entries.map(([v, r]) => [v, [savedRule(v, r.old)]])),
      [REMOVE_ONLY_VIP]: [savedRule(REMOVE_ONLY_VIP, { totalNodes: 2, hashInit: 0 }, 'mangle')],
    });
    expect(step('rebuild: after install and remove')).toEqual({
      ...Object.fromEntries(
        entries.map(([v, r]) => [v, { rules: [savedRule(v, r.new)], file: '1,2,3,4\n' }]),
      ),
      [REMOVE_ONLY_VIP]: { rules: [], file: null },
    });
    const flows = step<Record<string, MarkedFlow[]>>('rebuild: flows');
    for (const [vip, r] of entries) {
      const mine = flows[vip] ?? [];
      expect(mine.length, `${vip}: flows in conntrack`).toBe(SOURCES.length);
      expect(misHashed(mine, r.new), `${vip}: hashed otherwise than the new config`).toEqual([]);
      // The change matters: the old parameters would have put some flows elsewhere.
      expect(
        misHashed(mine, r.old).length,
        `${vip}: flows the old rule hashes alike`,
      ).toBeGreaterThan(0);
    }
    expect(step('rebuild: remove'), 'rules left after remove').toEqual([]);
  });

  it('two vipd with the clusterip backend answer every source exactly once, through a box death and a restart with another seed', ({
    onTestFailed,
  }) => {
    onTestFailed(() => {
      keep = true;
    });
    interface Phase {
      owned: Record<string, number[] | 'none'>;
      ms: number;
      answers: Record<string, Answers>;
    }
    const phase = (name: string): Phase => measured<Phase>('daemons', name);
    const home = Object.fromEntries(BOXES.map((b, i) => [b, homeNumbers(i + 1, SHAPE)]));
    const once = (p: Phase, what: string): void =>
      expect(
        notExactlyOnce(new Map(Object.entries(p.answers)), SOURCES, true),
        `${what}: sources not answered exactly once`,
      ).toEqual([]);
    const byOwner = (p: Phase, owners: { client: string; box: string }[], what: string): void => {
      expect(owners.map((o) => o.client)).toEqual(SOURCES);
      expect(
        owners.filter((o) => p.answers[o.client]?.tcp !== o.box),
        `${what}: sources answered by another box than vipd cluster owner names`,
      ).toEqual([]);
    };

    const up = phase('both up');
    expect(up.owned).toEqual(home);
    once(up, 'both up');
    const owners = measured<Record<string, { client: string; box: string }[]>>('daemons', 'owners');
    const ownersA = owners[SEEDS[0]] ?? [];
    byOwner(up, ownersA, 'both up');

    const dead = phase('fw2 dead');
    expect(dead.owned).toEqual({ fw1: [1, 2, 3, 4], fw2: home.fw2 });
    once(dead, 'fw2 dead');
    expect(
      SOURCES.filter((s) => dead.answers[s]?.tcp !== 'fw1'),
      'not answered by fw1',
    ).toEqual([]);

    const back = phase('fw2 back');
    expect(back.owned).toEqual(home);
    once(back, 'fw2 back');
    byOwner(back, ownersA, 'fw2 back');

    const restart = measured<
      Phase & { left: Record<string, string[]>; rules: Record<string, string[]> }
    >('daemons', 'restart with another seed');
    const boxRule = (seed: number, box: number): string =>
      savedRule('10.99.0.10', { hashInit: seed, localNode: box }).replace(/^filter /, '');
    expect(restart.left, 'rules the crashed daemons left').toEqual({
      fw1: [boxRule(SEEDS[0], 1)],
      fw2: [boxRule(SEEDS[0], 2)],
    });
    expect(restart.rules, 'rules after the restart').toEqual({
      fw1: [boxRule(SEEDS[1], 1)],
      fw2: [boxRule(SEEDS[1], 2)],
    });
    expect(restart.owned).toEqual(home);
    once(restart, 'restart with another seed');
    const ownersB = owners[SEEDS[1]] ?? [];
    byOwner(restart, ownersB, 'restart with another seed');
    // The new seed moves clients: the old predictions no longer hold for some.
    expect(
      ownersB.filter((o, i) => ownersA[i]?.box !== o.box).length,
      'sources whose box the new seed changed',
    ).toBeGreaterThan(0);

    expect(measured('daemons', 'stopped'), 'after SIGTERM').toEqual({
      exitCodes: [0, 0],
      rules: { fw1: [], fw2: [] },
      owned: { fw1: 'none', fw2: 'none' },
    });
  });
});
