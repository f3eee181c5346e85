/**
 * The cluster member's owned-set bookkeeping, through the real CLUSTERIP backend writing to the
 * stand-in of /proc/net/ipt_CLUSTERIP (the kernel here has no CLUSTERIP): the per-number routers
 * config (VRID, rotated priority), claims arriving together folded into one backend call with
 * every +N before any -N, a refused write failing exactly the duties that waited on it, and a
 * VIP the interface lost put back before a number is claimed (the interface is a list here).
 */
import type { Role } from '../../src/actions/plan.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { parseConfig } from '../../src/config/config.js';
import type { ClusterConfig } from '../../src/config/cluster.js';
import { ClusterIpBackend } from '../../src/cluster/clusterip.js';
import { ClusterIpProc } from '../../src/cluster/clusterip-proc.js';
import { ClusterMember, type VipCalls } from '../../src/cluster/member.js';
import { monotonicClock } from '../../src/ports/clock.js';
import { ClusterIpStandIn } from '../support/clusterip-standin.js';

const VIP = '10.99.0.10';

function cluster(): ClusterConfig {
  const config = parseConfig({
    node: { name: 'fw2' },
    cluster: {
      name: 'web',
      boxes: ['fw1', 'fw2', 'fw3'],
      totalNodes: 6,
      vridBase: 100,
      backend: 'clusterip',
      clusterMac: '01:00:5e:00:01:0a',
      interface: 'eth0',
      vips: [`${VIP}/24`],
    },
  });
  if (config.cluster === null) throw new Error('no cluster parsed');
  return config.cluster;
}

let kernel: ClusterIpStandIn;
let member: ClusterMember;
/** The VIPs on the member's interface, and each add it made: never this machine's interfaces. */
let onInterface: string[];
let added: string[][];
const vipCalls: VipCalls = {
  read: () =>
    Promise.resolve(
      onInterface.map((address) => ({
        family: 4 as const,
        address,
        prefix: 24,
        secondary: false,
        tentative: false,
      })),
    ),
  add: (_ifname, vips) => {
    added.push(vips.map((v) => v.address));
    onInterface = [...new Set([...onInterface, ...vips.map((v) => v.address)])];
    return Promise.resolve();
  },
  remove: () => Promise.reject(new Error('no removal in this test')),
};

beforeEach(async () => {
  kernel = await ClusterIpStandIn.create();
  const cfg = cluster();
  // As the CLUSTERIP rule leaves it: the file exists; start from "nothing owned".
  await kernel.addVip(VIP, 6, 2);
  await kernel.force(VIP, []);
  const backend = new ClusterIpBackend(
    cfg.sharing,
    () => Promise.reject(new Error('no iptables in this test')),
    new ClusterIpProc(kernel.dir, kernel),
  );
  onInterface = [VIP];
  added = [];
  member = new ClusterMember(cfg, backend, monotonicClock, pino({ level: 'silent' }), vipCalls);
});
afterEach(async () => {
  await kernel.cleanup();
});

function duty(node: number): ReturnType<ClusterMember['routers']>[number]['duties'] {
  const r = member.routers().find((x) => x.node === node);
  if (r === undefined) throw new Error(`no router for node ${node}`);
  return r.duties;
}

/** Carries out `role` for node `node`'s router; true when the owned set was applied. */
async function carry(node: number, role: Role): Promise<boolean> {
  return (await duty(node).carryOut(role, new AbortController().signal)).ok;
}

describe('cluster member', () => {
  it('one router per number: VRID vridBase + n - 1, this box (fw2) ranked per number', () => {
    const routers = member.routers();
    expect(routers.map((r) => [r.node, r.cfg.name, r.cfg.vrid, r.cfg.priority])).toEqual([
      // Orders: 1 [fw1 fw2 fw3], 3 [fw3 fw1 fw2], 4 [fw1 fw3 fw2], 6 [fw3 fw2 fw1].
      [1, 'web#1', 100, 245],
      [2, 'web#2', 101, 250],
      [3, 'web#3', 102, 240],
      [4, 'web#4', 103, 240],
      [5, 'web#5', 104, 250],
      [6, 'web#6', 105, 245],
    ]);
    expect(routers.every((r) => r.cfg.vips[0]?.address === VIP)).toBe(true);
  });

  it('claims arriving together become one set; then +N before -N', async () => {
    const claims = await Promise.all([2, 5, 1].map((n) => carry(n, 'master')));
    expect(claims).toEqual([true, true, true]);
    expect(await kernel.readFile(`${kernel.dir}/${VIP}`)).toBe('1,2,5\n');
    expect(member.owned()).toEqual([1, 2, 5]);
    const first = kernel.writes.length;
    const moves = await Promise.all([carry(1, 'backup'), carry(3, 'master'), carry(4, 'master')]);
    expect(moves).toEqual([true, true, true]);
    expect(kernel.writes.slice(first).map(([, w]) => w)).toEqual(['+3', '+4', '-1']);
    expect(member.owned()).toEqual([2, 3, 4, 5]);
  });

  it('a refused write fails the duties waiting on it and leaves the applied set as it was', async () => {
    expect(await carry(2, 'master')).toBe(true);
    // Another writer takes node 5 just before our +5 lands: the kernel answers ENOMEM.
    kernel.raceNextWrite([2, 5]);
    expect(await carry(5, 'master')).toBe(false);
    expect(member.owned()).toEqual([2]);
    // The failed router goes to FAULT and releases: the set it leaves is applied cleanly.
    await kernel.force(VIP, [2]);
    expect(await carry(5, 'fault')).toBe(true);
    expect(member.owned()).toEqual([2]);
  });

  it('a set gaining a number first puts back a VIP the interface lost; releasing never adds', async () => {
    expect(await carry(2, 'master')).toBe(true);
    expect(added).toEqual([]);
    // A link going down: the IPv6 VIPs go with it and every router faults.
    onInterface = [];
    expect(await carry(2, 'fault')).toBe(true);
    expect(added).toEqual([]);
    expect(await carry(2, 'master')).toBe(true);
    expect(added).toEqual([[VIP]]);
    expect(await kernel.readFile(`${kernel.dir}/${VIP}`)).toBe('2\n');
  });
});
