import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, it, expect } from 'vitest';
import { ownerNode } from '../../src/cluster/hash.js';
import { clusterOwner, type OwnerAnswer } from '../../src/cluster/owner-cli.js';
import { homeBox, preferenceOrder, type ClusterShape } from '../../src/cluster/ownership.js';
import { UsageError } from '../../src/usage.js';
import { removeTempDirs, tempDir } from '../support/temp-dir.js';

afterAll(removeTempDirs);

function writeConfig(doc: unknown): string {
  const file = join(tempDir('vipd-owner-'), 'vipd.json');
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

function configFile(loadSharing: Record<string, unknown>): string {
  return writeConfig({
    node: { name: 'fw1' },
    instances: [{ name: 'EXT', interface: 'eth0', vrid: 51, vips: ['192.0.2.10/24'], loadSharing }],
  });
}

const BOXES = ['fw1', 'fw2', 'fw3'];
const SHAPE: ClusterShape = { boxes: BOXES.length, totalNodes: 6 };
const SEED = 7;
// With this seed these twelve clients hash onto all six numbers (checked below), so every box is
// home to some of them and a downed box always has clients to hand over.
const CLIENTS = Array.from({ length: 12 }, (_, i) => `198.51.100.${i + 1}`);

function clusterFile(keys: Record<string, unknown> = {}): string {
  return writeConfig({
    node: { name: 'fw1' },
    cluster: {
      name: 'web',
      boxes: BOXES,
      totalNodes: SHAPE.totalNodes,
      vridBase: 100,
      hashInit: SEED,
      clusterMac: '01:00:5e:00:01:0a',
      interface: 'eth0',
      vips: ['192.0.2.10/24'],
      backend: 'nft',
      ...keys,
    },
  });
}

const boxName = (b: number): string => BOXES[b - 1] ?? `box ${b}`;

/** A cluster answer without --live (which would read this machine's kernel). */
type ClusterAnswer = Required<Omit<OwnerAnswer, 'answersHere'>>;

/** What the command should say about `client` while the boxes in `down` are gone. */
function expectedAnswer(client: string, down: readonly string[] = []): ClusterAnswer {
  const node = ownerNode('nft', 'sourceip', { saddr: client }, SHAPE.totalNodes, SEED);
  const order = preferenceOrder(node, SHAPE).map(boxName);
  return {
    client,
    node,
    totalNodes: SHAPE.totalNodes,
    box: order.find((b) => !down.includes(b)) ?? '(none)',
    home: boxName(homeBox(node, SHAPE)),
    order,
  };
}

function expectedLine(client: string, down: readonly string[] = []): string {
  const a = expectedAnswer(client, down);
  const fallback = a.box === a.home ? ' (home)' : ` (home ${a.home} down)`;
  return `${client} -> node ${a.node} of ${a.totalNodes}, box ${a.box}${fallback}; order ${a.order.join(' > ')} [cluster web, nft, sourceip, seed 0x7]`;
}

describe('vipd cluster owner', () => {
  it('names the node the kernel hash gives, and whether it is this box', async () => {
    const file = configFile({
      backend: 'nft',
      clusterMac: '01:00:5e:00:01:0a',
      totalNodes: 3,
      localNode: 2,
      hashInit: 7,
    });
    for (const client of ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4']) {
      const node = ownerNode('nft', 'sourceip', { saddr: client }, 3, 7);
      const line = await clusterOwner([client, '--config', file]);
      expect(line).toContain(
        `${client} -> node ${node} of 3${node === 2 ? ' (this box, fw1)' : ''}`,
      );
    }
  });

  it('port hash modes need the ports; bad input is a usage error', async () => {
    const file = configFile({
      backend: 'nft',
      hashmode: 'sourceip-sourceport-destport',
      clusterMac: '01:00:5e:00:01:0a',
      totalNodes: 4,
      localNode: 1,
    });
    const node = ownerNode(
      'nft',
      'sourceip-sourceport-destport',
      { saddr: '198.51.100.9', sport: 40000, dport: 443 },
      4,
      0,
    );
    expect(
      await clusterOwner(['198.51.100.9', '--sport', '40000', '--dport', '443', '--config', file]),
    ).toContain(`node ${node} of 4`);
    await expect(clusterOwner(['198.51.100.9', '--config', file])).rejects.toThrow(/source port/);
    await expect(clusterOwner(['not-an-ip', '--config', file])).rejects.toThrow(
      /not a client IP address: not-an-ip/,
    );
    await expect(
      clusterOwner(['198.51.100.9', '--sport', '70000', '--config', file]),
    ).rejects.toThrow(/--sport/);
  });
});

describe('vipd cluster owner with a cluster section', () => {
  it('the sample clients reach every node number', () => {
    const nodes = new Set(CLIENTS.map((c) => expectedAnswer(c).node));
    expect(nodes.size).toBe(SHAPE.totalNodes);
  });

  it('names the node number and its home box, one line per client', async () => {
    const out = await clusterOwner([...CLIENTS, '--config', clusterFile()]);
    expect(out.split('\n')).toEqual(CLIENTS.map((c) => expectedLine(c)));
  });

  it("--down moves only the downed box's clients, each to the next box in its order", async () => {
    const file = clusterFile();
    const before = (await clusterOwner([...CLIENTS, '--config', file])).split('\n');
    const after = (await clusterOwner([...CLIENTS, '--down', 'fw2', '--config', file])).split('\n');
    expect(after).toEqual(CLIENTS.map((c) => expectedLine(c, ['fw2'])));
    const homedOnFw2 = CLIENTS.map((c) => expectedAnswer(c).home === 'fw2');
    expect(homedOnFw2).toContain(true);
    after.forEach((line, i) => {
      if (homedOnFw2[i] === true) expect(line).toMatch(/, box fw[13] \(home fw2 down\)/);
      else expect(line).toBe(before[i]);
    });
  });

  it('--down with a box the cluster does not have is a usage error naming it', async () => {
    const run = clusterOwner(['198.51.100.1', '--down', 'fw9', '--config', clusterFile()]);
    await expect(run).rejects.toThrow(UsageError);
    await expect(run).rejects.toThrow(/fw9/);
  });

  it('--json gives one object per client with the node, its boxes and their order', async () => {
    const args = [...CLIENTS, '--json', '--down', 'fw2', '--config', clusterFile()];
    const parsed = JSON.parse(await clusterOwner(args)) as unknown;
    expect(parsed).toStrictEqual(CLIENTS.map((c) => expectedAnswer(c, ['fw2'])));
  });
});

describe('vipd cluster owner for IPv6 VIPs', () => {
  const CLIENTS6 = ['2001:db8:1::5', '2a00:1450::1', '2001:db8:1::6', 'fd00:7::100'];
  const file = (backend: 'nft' | 'xt_cluster'): string =>
    clusterFile({ backend, clusterMac: '33:33:ff:00:00:10', vips: ['2001:db8::10/64'] });

  it('answers IPv6 clients with the kernel hash of the backend (nft: all 128 bits)', async () => {
    const parsed = JSON.parse(
      await clusterOwner([...CLIENTS6, '--json', '--config', file('nft')]),
    ) as OwnerAnswer[];
    expect(parsed.map((a) => [a.client, a.node, a.box])).toEqual(
      CLIENTS6.map((client) => {
        const node = ownerNode('nft', 'sourceip', { saddr: client }, SHAPE.totalNodes, SEED);
        return [client, node, boxName(homeBox(node, SHAPE))];
      }),
    );
  });

  it('xt_cluster: clients of one /32 share a node, and the answer says why', async () => {
    const out = (await clusterOwner([...CLIENTS6, '--config', file('xt_cluster')])).split('\n');
    const node = (line: string | undefined): string | undefined =>
      / -> node (\d+)/.exec(line ?? '')?.[1];
    expect(node(out[0])).toBe(node(out[2]));
    expect(out[0]).toContain(
      '[cluster web, xt_cluster (first 32 bits of the IPv6 source), sourceip',
    );
  });

  it('a client of the other family is a usage error', async () => {
    await expect(clusterOwner(['198.51.100.1', '--config', file('nft')])).rejects.toThrow(
      new UsageError(
        '198.51.100.1: the VIPs of cluster web are IPv6, a client of the other family never reaches them',
      ),
    );
    await expect(clusterOwner(['2001:db8::1', '--config', clusterFile()])).rejects.toThrow(
      /2001:db8::1: the VIPs of cluster web are IPv4/,
    );
  });
});
