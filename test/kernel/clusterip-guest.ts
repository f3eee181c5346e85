/**
 * The guest half of test/integration/clusterip-kernel.test.ts: runs inside the Debian 6.1 guest
 * of test/support/qemu-guest.ts (root, no NIC), compiled by the lab tier's global setup:
 *
 *   node dist/test/kernel/clusterip-guest.js RESULTS-FILE PROBE-WINDOW-MS
 *
 * It measures and never judges: each measurement is one JSON line `{"group", "step", "value"}`
 * (or `"error"` instead of `"value"` when a step could not be measured; later steps of that group
 * are then skipped) appended to RESULTS-FILE; the test file holds the expectations. Two groups
 * of work run at once, each in a namespace lab of its own:
 * - kernel: one box `h` and a client with 64 sources. ClusterIpBackend's operations, errors and
 *   the backend selection (group "backend"); rules left with other parameters (totalNodes, hash
 *   mode, seed, another table) rebuilt by install and removed by remove ("backend"); the
 *   kernel's hash of each flow, which CLUSTERIP stamps into the connection's conntrack mark,
 *   for the three hash modes and for the rebuilt rules ("hash", "backend").
 * - daemons: two `vipd run` with a cluster section (backend clusterip, 4 nodes) and a client
 *   with 64 sources; who answered each source, TCP and UDP, with both up, after a box death,
 *   after its return, after a crash of both and a restart with another seed; `vipd cluster
 *   owner`'s predictions for the same moments.
 */
import { appendFileSync, cpSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { ClusterIpBackend, clusterIpRulesFor } from '../../src/cluster/clusterip.js';
import { ClusterIpProc } from '../../src/cluster/clusterip-proc.js';
import { runLocal, runOrThrow, type Run } from '../../src/cluster/command.js';
import { homeNumbers } from '../../src/cluster/ownership.js';
import { createBackend, probeKernel } from '../../src/cluster/select.js';
import type { LoadSharingConfig } from '../../src/config/load-sharing.js';
import { Lab, type LabProcess } from '../lab/lab.js';
import {
  CLUSTER_MAC,
  addSources,
  clientSources,
  notExactlyOnce,
  probe,
  startResponder,
} from '../support/cluster-probe.js';
import { VIPD_CLI } from '../support/paths.js';
import { until } from '../support/until.js';
import { configFile, startVipdWith } from '../support/vipd.js';
import {
  BOXES,
  HASH_TOTAL,
  HASH_VIPS,
  REBUILDS,
  REMOVE_ONLY_VIP,
  SEED,
  SEEDS,
  SHAPE,
  VIP,
  clusterDoc,
  type MarkedFlow,
} from './clusterip-plan.js';

const [RESULTS = 'results.jsonl', WINDOW = '3000', GROUPS = 'kernel,daemons'] =
  process.argv.slice(2);
const WINDOW_MS = Number(WINDOW);
const SOURCES = clientSources(64);
/** Generous: everything here may run emulated (TCG) on a loaded 2-core machine. */
const CONVERGE_MS = 40_000;
const START_MS = 120_000;
const T0 = performance.now();

class Skip extends Error {}

/** Records measurements of one group; after a failed step, the group's later steps are skipped. */
function recorder(group: string) {
  let failed = false;
  const write = (line: object): void => appendFileSync(RESULTS, JSON.stringify(line) + '\n');
  return async <T>(step: string, measure: () => Promise<T>): Promise<T> => {
    if (failed) throw new Skip();
    try {
      const value = await measure();
      write({ group, step, value });
      console.log(`[${((performance.now() - T0) / 1000).toFixed(1)} s] ${group}: ${step}`);
      return value;
    } catch (err) {
      failed = true;
      const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      write({ group, step, error });
      console.log(`${group}: ${step} FAILED: ${error}`);
      throw new Skip();
    }
  };
}

/** An error's text, or 'no error': refusals are measurements too. */
async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
}

const inNetns =
  (lab: Lab, host: string): Run =>
  (cmd, args, input) =>
    runLocal('ip', ['netns', 'exec', lab.host(host).ns, cmd, ...args], input);

/**
 * /proc/PID/net of a process inside the host's namespace: procfs shows a process's own
 * namespace's CLUSTERIP files, so this is how THIS process reads and writes the host's.
 */
async function procNetOf(lab: Lab, host: string): Promise<string> {
  const anchor = lab.spawn(host, `anchor-${host}`, 'sleep', ['infinity']);
  const own = readlinkSync('/proc/self/ns/net');
  const ns = (): string => {
    try {
      return readlinkSync(`/proc/${anchor.pid}/ns/net`);
    } catch {
      return own;
    }
  };
  // `ip netns exec` enters the namespace just before it execs the command.
  await until(
    `${host}'s process in its namespace`,
    () => Promise.resolve({ done: ns() !== own, value: ns() }),
    10_000,
  );
  return `/proc/${anchor.pid}/net`;
}

// ---------------------------------------------------------------------------------------------
// kernel: the backend's operations and the hash, on box h

/** Sends one UDP datagram per [source, VIP, destination port], each from a socket of its own. */
const SENDER = `
const dgram = require('node:dgram');
const flows = JSON.parse(process.argv[1]);
let left = flows.length;
for (const [src, vip, dport] of flows) {
  const u = dgram.createSocket('udp4');
  u.on('error', () => {});
  u.bind(0, src, () => u.send('x', dport, vip, () => { u.close(); if (--left === 0) process.exit(0); }));
}
`;

/**
 * 64 flows from the client to each VIP (destination ports 9000..9063, source ports the kernel's
 * pick), then h's conntrack table: the flows by VIP. Every node of every VIP must be owned by h,
 * or the kernel drops the packet before its connection is confirmed.
 */
async function markedFlows(lab: Lab, vips: string[]): Promise<Record<string, MarkedFlow[]>> {
  const flows = vips.flatMap((vip) => SOURCES.map((src, i) => [src, vip, 9000 + i]));
  await lab.exec('client', process.execPath, ['-e', SENDER, JSON.stringify(flows)]);
  const parse = (out: string): Record<string, MarkedFlow[]> => {
    const byVip: Record<string, MarkedFlow[]> = Object.fromEntries(vips.map((v) => [v, []]));
    for (const line of out.split('\n')) {
      const m = /src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) .*mark=(\d+)/.exec(line);
      if (m === null) continue;
      const [, saddr = '', dst = '', sport, dport, mark] = m;
      byVip[dst]?.push({ saddr, sport: Number(sport), dport: Number(dport), mark: Number(mark) });
    }
    return byVip;
  };
  // The datagrams wait for ARP first: poll until every flow is in the table.
  return until(
    `${flows.length} connections in h's conntrack table`,
    async () => {
      const value = parse(await lab.exec('h', 'conntrack', ['-L', '-p', 'udp']));
      return { done: Object.values(value).every((f) => f.length >= SOURCES.length), value };
    },
    15_000,
    250,
  );
}

const sharing = (vips: string[], over: Partial<LoadSharingConfig> = {}): LoadSharingConfig => ({
  backend: 'clusterip',
  interface: 'eth0',
  vips,
  hashmode: 'sourceip',
  clusterMac: CLUSTER_MAC,
  totalNodes: 4,
  localNode: 2,
  hashInit: SEED,
  ...over,
});
const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

async function kernelGroup(lab: Lab): Promise<void> {
  const backendStep = recorder('backend');
  const hashStep = recorder('hash');
  const run = inNetns(lab, 'h');
  const net = await procNetOf(lab, 'h');
  const proc = new ClusterIpProc(`${net}/ipt_CLUSTERIP`);
  const file = (vip: string): Promise<string | null> =>
    readFile(`${net}/ipt_CLUSTERIP/${vip}`, 'utf8').catch(() => null);
  const rules = async (vip: string): Promise<string[]> => {
    const save = await runOrThrow(run, 'saving', 'iptables-legacy-save', []);
    return clusterIpRulesFor(save, vip).map((r) => `${r.table} ${r.line}`);
  };
  const backend = (cfg: LoadSharingConfig): ClusterIpBackend =>
    new ClusterIpBackend(cfg, run, proc);

  const addrs = ['10', '11', '12', '20', '21', '22', '30', '31', '32', '33'];
  await runOrThrow(
    runLocal,
    "adding h's VIPs",
    'ip',
    ['-n', lab.host('h').ns, '-batch', '-'],
    addrs.map((a) => `addr add 10.99.0.${a}/24 dev eth0`).join('\n') + '\n',
  );
  await addSources(lab, 'client', SOURCES);

  // Backend selection: this kernel has CLUSTERIP, so auto keeps it.
  const cfg = sharing(['10.99.0.10', '10.99.0.11']);
  await backendStep('probeKernel', () => probeKernel());
  await backendStep('createBackend', async () => ({
    clusterip: (await createBackend(cfg)).name,
    auto: (await createBackend({ ...cfg, backend: 'auto' })).name,
  }));

  const b = backend(cfg);
  const state = async (): Promise<object> => ({
    owned: await b.owned(),
    files: await Promise.all(cfg.vips.map(file)),
    rules: (await Promise.all(cfg.vips.map(rules))).flat(),
  });
  await backendStep('install [1,3]', async () => (await b.install([1, 3]), state()));
  await backendStep('install [1,3] again', async () => (await b.install([1, 3]), state()));
  await backendStep('setOwned [2]', async () => (await b.setOwned([2]), b.owned()));
  await backendStep('setOwned [1,2,3,4]', async () => (await b.setOwned([1, 2, 3, 4]), b.owned()));
  await backendStep('setOwned []', async () => (await b.setOwned([]), state()));
  await backendStep('install []', async () => (await b.install([]), b.owned()));
  await backendStep('refusals', async () => ({
    procAboveTotal: await errorOf(proc.setOwned('10.99.0.10', [5])),
    backendAboveTotal: await errorOf(b.setOwned([5])),
  }));
  await backendStep('node 1 released behind vipd', async () => {
    await b.setOwned([1]);
    await runOrThrow(run, 'releasing node 1', 'sh', [
      '-c',
      'echo -1 > /proc/net/ipt_CLUSTERIP/10.99.0.10',
    ]);
    const owned = await b.owned();
    await b.setOwned([1]);
    return { owned, repaired: await Promise.all(cfg.vips.map(file)) };
  });
  await backendStep('remove', async () => (await b.remove(), state()));
  await backendStep('after remove', async () => ({
    removeAgain: await errorOf(b.remove()),
    read: await errorOf(proc.read('10.99.0.10')),
    setOwned: await errorOf(proc.setOwned('10.99.0.10', [1])),
  }));
  await backendStep('other hash modes', async () => {
    const counts: Record<string, number[]> = {};
    for (const hashmode of ['sourceip-sourceport', 'sourceip-sourceport-destport'] as const) {
      const c = backend(sharing(['10.99.0.12'], { hashmode, hashInit: 0 }));
      await c.install([4]);
      await c.install([4]);
      const twice = (await rules('10.99.0.12')).length;
      await c.remove();
      counts[hashmode] = [twice, (await rules('10.99.0.12')).length];
    }
    return counts;
  });

  // A restart with changed parameters: the old run's rules are still in the kernel.
  const rebuilt = Object.entries(REBUILDS).map(([vip, r]) => ({
    old: sharing([vip], { localNode: 1, ...r.old }),
    neu: sharing([vip], { localNode: 1, ...r.new }),
  }));
  await backendStep('rebuild: rules a previous run left', async () => {
    for (const { old } of rebuilt) await backend(old).install(all(old.totalNodes));
    await runOrThrow(run, "an operator's rule", 'iptables-legacy', [
      ...['-t', 'mangle', '-A', 'PREROUTING', '-d', REMOVE_ONLY_VIP, '-i', 'eth0', '-j'],
      ...['CLUSTERIP', '--new', '--hashmode', 'sourceip', '--clustermac', CLUSTER_MAC],
      ...['--total-nodes', '2', '--local-node', '1'],
    ]);
    return Object.fromEntries(
      await Promise.all(
        [...Object.keys(REBUILDS), REMOVE_ONLY_VIP].map(async (v) => [v, await rules(v)]),
      ),
    );
  });
  await backendStep('rebuild: after install and remove', async () => {
    for (const { neu } of rebuilt) await backend(neu).install(all(neu.totalNodes));
    await backend(sharing([REMOVE_ONLY_VIP], { localNode: 1, hashInit: 9 })).remove();
    return Object.fromEntries(
      await Promise.all(
        [...Object.keys(REBUILDS), REMOVE_ONLY_VIP].map(async (v) => [
          v,
          { rules: await rules(v), file: await file(v) },
        ]),
      ),
    );
  });

  // The hash, bit for bit: h owns every node of every VIP, the kernel stamps each flow's node.
  await hashStep('install', async () => {
    for (const [vip, hashmode] of Object.entries(HASH_VIPS)) {
      await backend(sharing([vip], { hashmode, totalNodes: HASH_TOTAL, localNode: 1 })).install(
        all(HASH_TOTAL),
      );
    }
    return Object.keys(HASH_VIPS).length;
  });
  const flows = await hashStep('flows', () =>
    markedFlows(lab, [...Object.keys(HASH_VIPS), ...Object.keys(REBUILDS)]),
  );
  await backendStep('rebuild: flows', () =>
    Promise.resolve(Object.fromEntries(Object.keys(REBUILDS).map((v) => [v, flows[v]]))),
  );
  await backendStep('rebuild: remove', async () => {
    for (const { neu } of rebuilt) await backend(neu).remove();
    return (await Promise.all(Object.keys(REBUILDS).map(rules))).flat();
  });
}

// ---------------------------------------------------------------------------------------------
// daemons: two vipd with the clusterip backend

async function daemonsGroup(lab: Lab): Promise<void> {
  const step = recorder('daemons');
  const vipds = new Map<string, LabProcess>();
  const nets = new Map<string, string>();

  await addSources(lab, 'client', SOURCES);
  // The boxes know the clients already, as on a LAN in use: emulated, a box's first ARP for 64
  // clients at once can outlast the probe's window, and a UDP answer waiting on it is dropped.
  const clientMac = /link\/ether (\S+)/.exec(
    await lab.exec('client', 'ip', ['link', 'show', 'eth0']),
  )?.[1];
  const known = SOURCES.map(
    (s) => `neigh replace ${s} lladdr ${clientMac ?? ''} dev eth0 nud stale`,
  );
  for (const b of BOXES) {
    await runOrThrow(
      runLocal,
      `${b} learns the clients`,
      'ip',
      ['-n', lab.host(b).ns, '-batch', '-'],
      known.join('\n') + '\n',
    );
  }
  // The responders bind the VIP before vipd puts it there (they start at the same time).
  await Promise.all(
    BOXES.map((b) => lab.exec(b, 'sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1'])),
  );
  const responders = BOXES.map(async (b) => {
    nets.set(b, await procNetOf(lab, b));
    await startResponder(lab, b, VIP);
  });

  /** Starts vipd on a box; resolves once it has joined the cluster (its rules installed). */
  const start = (box: string, seed: number): Promise<string> => {
    const vipd = startVipdWith(lab, box, clusterDoc(box, seed));
    vipds.set(box, vipd);
    return vipd.waitForLine(/"event":"cluster-joined"/, START_MS);
  };
  const kill = async (box: string): Promise<void> => {
    const vipd = vipds.get(box);
    vipd?.kill('SIGKILL');
    await vipd?.exited;
  };
  /** Each box's owned numbers as its kernel has them ('none': no rule). */
  const ownership = async (): Promise<Record<string, number[] | 'none'>> =>
    Object.fromEntries(
      await Promise.all(
        BOXES.map(async (b) => {
          const proc = new ClusterIpProc(`${nets.get(b) ?? ''}/ipt_CLUSTERIP`);
          return [b, await proc.read(VIP).catch(() => 'none' as const)] as const;
        }),
      ),
    );
  const converge = async (want: Record<string, number[]>): Promise<object> => {
    const t0 = performance.now();
    const owned = await until(
      `ownership ${JSON.stringify(want)}`,
      async () => {
        const have = await ownership();
        return { done: JSON.stringify(have) === JSON.stringify(want), value: have };
      },
      CONVERGE_MS,
      100,
    );
    return { owned, ms: Math.round(performance.now() - t0) };
  };
  /** What the boxes and the client saw, when a probe was not answered exactly once. */
  const diagnosis = async (): Promise<object> => {
    const on = (host: string, cmd: string, args: string[]): Promise<string> =>
      lab.exec(host, cmd, args).catch((err: unknown) => String(err));
    const box = async (b: string): Promise<object> => ({
      rule: (await on(b, 'iptables-legacy', ['-L', 'INPUT', '-v', '-n', '-x']))
        .split('\n')
        .slice(2),
      counters: (await on(b, 'nstat', ['-az']))
        .split('\n')
        .filter((l) =>
          /^(IpInReceives|IpInDelivers|IpOutRequests|TcpPassiveOpens|UdpInDatagrams|UdpNoPorts|TcpExtListenDrops|IpExtInMcastPkts)\s/.test(
            l,
          ),
        ),
      neighbours: (await on(b, 'ip', ['neigh', 'show', 'dev', 'eth0'])).split('\n').slice(0, 4),
      addresses: await on(b, 'ip', ['-br', 'addr', 'show', 'dev', 'eth0']),
    });
    return {
      client: await on('client', 'ip', ['neigh', 'show', VIP]),
      ...Object.fromEntries(await Promise.all(BOXES.map(async (b) => [b, await box(b)]))),
    };
  };
  const answers = async (): Promise<object> => {
    const got = await probe(lab, 'client', VIP, SOURCES, WINDOW_MS);
    const bad = notExactlyOnce(got, SOURCES, true).length;
    return {
      answers: Object.fromEntries(got),
      ...(bad > 0 ? { diagnosis: await diagnosis() } : {}),
    };
  };
  /** `vipd cluster owner` for every source with a config file. */
  const owner = async (config: string): Promise<{ client: string; box: string }[]> =>
    JSON.parse(
      await runOrThrow(runLocal, 'vipd cluster owner', process.execPath, [
        ...[VIPD_CLI, 'cluster', 'owner', ...SOURCES, '--json', '--config', config],
      ]),
    ) as { client: string; box: string }[];
  const rules = async (): Promise<Record<string, string[]>> =>
    Object.fromEntries(
      await Promise.all(
        BOXES.map(async (b) => {
          const save = await lab.exec(b, 'iptables-legacy-save', []);
          return [b, clusterIpRulesFor(save, VIP).map((r) => r.line)] as const;
        }),
      ),
    );
  const home = Object.fromEntries(BOXES.map((b, i) => [b, homeNumbers(i + 1, SHAPE)]));

  // `vipd cluster owner` runs once the probes are done: a node process loading the whole CLI
  // starves the responders of the emulated CPU, and answers arrive after the probe's window.
  await step('both up', async () => {
    await Promise.all([...responders, ...BOXES.map((b) => start(b, SEEDS[0]))]);
    return { ...(await converge(home)), ...(await answers()) };
  });
  // SIGKILL before the cable goes: a vipd that saw its link go down would resign its numbers
  // first, and a dead box does not. Its kernel keeps them, unreachable.
  let plug = (): Promise<void> => Promise.resolve();
  await step('fw2 dead', async () => {
    await kill('fw2');
    plug = await lab.cutLink('fw2');
    const converged = await converge({ fw1: all(4), fw2: home.fw2 ?? [] });
    return { ...converged, ...(await answers()) };
  });
  await step('fw2 back', async () => {
    await plug();
    await start('fw2', SEEDS[0]);
    return { ...(await converge(home)), ...(await answers()) };
  });
  // Both crash, so their kernels keep the old seed's rules; vipd comes back with another seed.
  await step('restart with another seed', async () => {
    await Promise.all(BOXES.map(kill));
    const left = await rules();
    await Promise.all(BOXES.map((b) => start(b, SEEDS[1])));
    const converged = await converge(home);
    return { left, rules: await rules(), ...converged, ...(await answers()) };
  });
  await step('owners', async () => {
    const seedB = await owner(configFile(lab, 'fw1'));
    const seedA = join(lab.logDir, 'seed-a.json');
    writeFileSync(seedA, JSON.stringify(clusterDoc('fw1', SEEDS[0])));
    return { [SEEDS[0]]: await owner(seedA), [SEEDS[1]]: seedB };
  });
  await step('stopped', async () => {
    const codes = await Promise.all(
      BOXES.map(async (b) => {
        const vipd = vipds.get(b);
        await vipd?.stop(10_000);
        return vipd === undefined ? null : vipd.exited;
      }),
    );
    return { exitCodes: codes, rules: await rules(), owned: await ownership() };
  });
}

// ---------------------------------------------------------------------------------------------

async function inLab(
  name: string,
  hosts: string[],
  work: (lab: Lab) => Promise<void>,
): Promise<void> {
  // Not in the results directory: 9p cannot hold vipd's control socket.
  const logDir = `/tmp/vipd-guest/${name}`;
  let lab: Lab | undefined;
  try {
    lab = await Lab.create({ hosts, logDir });
    await work(lab);
  } catch (err) {
    if (!(err instanceof Skip)) {
      const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      appendFileSync(RESULTS, JSON.stringify({ group: name, step: 'lab', error }) + '\n');
      console.log(`${name}: ${error}`);
    }
  } finally {
    await lab?.destroy();
    // The processes' logs, for a failure's post-mortem on the host.
    cpSync(logDir, `logs/${name}`, { recursive: true, filter: (f) => !statSync(f).isSocket() });
  }
}

await runOrThrow(runLocal, 'loading the modules a clusterip box loads', 'modprobe', [
  '-a',
  ...['ip_tables', 'iptable_filter', 'iptable_mangle', 'ipt_CLUSTERIP', 'nf_conntrack_netlink'],
  ...['veth', 'bridge'],
]);
// A subset of the groups (third argument) when debugging one of them.
const groups = GROUPS.split(',');
await Promise.all([
  groups.includes('kernel') ? inLab('kernel', ['h', 'client'], kernelGroup) : undefined,
  groups.includes('daemons') ? inLab('daemons', [...BOXES, 'client'], daemonsGroup) : undefined,
]);
console.log(`guest done in ${((performance.now() - T0) / 1000).toFixed(1)} s`);
process.exit(0);
