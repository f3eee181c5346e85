import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, it, expect } from 'vitest';
import { parseConfig, toFileShape } from '../../src/config/config.js';
import { ConfigError, type ConfigIssue } from '../../src/config/formats.js';
import { hostChecks, type PresentAddress } from '../../src/config/host-checks.js';
import { removeTempDirs, tempDir } from '../support/temp-dir.js';

afterAll(removeTempDirs);

const base = { name: 'VI_1', interface: 'eth0', vrid: 51, vips: ['10.99.0.100/24'] };

function configIssues(doc: unknown): ConfigIssue[] {
  try {
    parseConfig(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

function issues(doc: unknown): string[] {
  return configIssues(doc).map((i) => `${i.key}: ${i.reason}`);
}

describe('config', () => {
  it('fills defaults and normalises intervals and VIPs', () => {
    const c = parseConfig({ instances: [{ ...base, advertInterval: 0.35 }] });
    expect(c.instances[0]).toMatchObject({
      priority: 100,
      version: 3,
      advertIntervalCs: 35,
      preempt: true,
      transport: 'raw',
      checksum: 'rfc5798',
      reassertOnLower: true,
      auth: undefined,
      vips: [{ address: '10.99.0.100', prefix: 24 }],
    });
  });

  it('node.promoteSecondaries: on unless set false; true or false only; printed back', () => {
    expect(parseConfig({ instances: [base] }).node.promoteSecondaries).toBe(true);
    const off = parseConfig({ node: { promoteSecondaries: false }, instances: [base] });
    expect(off.node).toEqual({ name: 'vipd', promoteSecondaries: false });
    expect(parseConfig(toFileShape(off)).node.promoteSecondaries).toBe(false);
    expect(issues({ node: { promoteSecondaries: 'yes' }, instances: [base] })).toEqual([
      'node.promoteSecondaries: must be true or false, got "yes"',
    ]);
  });

  it('v2 carries the PASS password and refuses fractional intervals', () => {
    const c = parseConfig({
      instances: [{ ...base, version: 2, advertInterval: 2, authPassword: 's3cr3t' }],
    });
    expect(c.instances[0]?.auth).toEqual({ type: 1, password: 's3cr3t' });
    expect(c.instances[0]?.advertIntervalCs).toBe(200);
    expect(issues({ instances: [{ ...base, version: 2, advertInterval: 0.5 }] })).toEqual([
      'instances[0].advertInterval: VRRPv2 carries whole seconds from 1 to 255, got 0.5',
    ]);
  });

  it('reports every problem with its key path, not only the first', () => {
    const got = issues({
      x: 1,
      instances: [
        { ...base, vrid: 300, bogus: true, vips: ['10.0.0.1'] },
        { ...base, name: 'VI_2', priority: 0, transport: 'tcp', unicastPeers: ['10.0.0.300'] },
      ],
    });
    expect(got).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^x: unknown key \(this section takes node, log, instances/),
        'instances[0].vrid: must be an integer from 1 to 255, got 300',
        expect.stringMatching(/^instances\[0\]\.bogus: unknown key \(this section takes name, /),
        'instances[0].vips[0]: must be an IP address with its prefix length, like 10.99.0.100/24 or 2001:db8::100/64, got "10.0.0.1"',
        'instances[1].priority: must be an integer from 1 to 255, got 0',
        'instances[1].transport: must be one of raw, udp, got "tcp"',
        'instances[1].unicastPeers[0]: must be an IPv4 address, got "10.0.0.300"',
      ]),
    );
    expect(got).toHaveLength(7);
  });

  it('refuses duplicate names, VRIDs per interface, duplicate VIPs and v3 passwords', () => {
    expect(issues({ instances: [base, { ...base, vips: ['10.99.0.101/24'] }] })).toEqual([
      'instances[1].name: "VI_1" is already used by instances[0]',
      'instances[1].vrid: VRID 51 (IPv4) on eth0 is already used by instances[0]',
    ]);
    expect(issues({ instances: [{ ...base, vips: ['10.0.0.1/24', '10.0.0.1/24'] }] })).toEqual([
      'instances[0].vips: 10.0.0.1 is listed twice',
    ]);
    expect(issues({ instances: [{ ...base, authPassword: 'x' }] })).toEqual([
      'instances[0].authPassword: only VRRPv2 has authentication; remove it or set version 2',
    ]);
    expect(issues({ instances: [{ ...base, advertInterval: 41 }] })).toEqual([
      'instances[0].advertInterval: VRRPv3 allows at most 40.95 s, got 41',
    ]);
  });

  it('refuses documents that are not objects and missing required keys', () => {
    expect(issues([])).toEqual(['(config): must be a JSON object']);
    expect(issues({ instances: [] })).toEqual([
      'instances: at least one instance (or a cluster) is required',
    ]);
    expect(issues({ instances: [{ name: 'a' }] })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^instances\[0\]\.interface: /),
        expect.stringMatching(/^instances\[0\]\.vrid: /),
      ]),
    );
  });

  it('prints back in the file shape with the password masked', () => {
    const c = parseConfig({ instances: [{ ...base, version: 2, authPassword: 'pw' }] });
    const shape = toFileShape(c) as { instances: Record<string, unknown>[] };
    expect(shape.instances[0]).toMatchObject({
      advertInterval: 1,
      authPassword: '********',
      vips: ['10.99.0.100/24'],
    });
    expect(
      parseConfig({
        ...(shape as object),
        instances: [{ ...shape.instances[0], authPassword: 'pw' }],
      }),
    ).toEqual(c);
  });

  it('VIPs beyond an advert go in excludedVips: moved with the instance, not advertised', () => {
    const many = Array.from({ length: 300 }, (_, n) => `10.100.${n >> 8}.${n & 255}/32`);
    expect(issues({ instances: [{ ...base, vips: many }] })).toEqual([
      'instances[0].vips: at most 255 addresses fit in an advert, got 300; list the rest in excludedVips',
    ]);
    const c = parseConfig({ instances: [{ ...base, excludedVips: many }] }).instances[0];
    expect(c?.vips.length).toBe(301);
    expect(c?.advertisedCount).toBe(1);
    expect(issues({ instances: [{ ...base, excludedVips: ['10.99.0.100/24'] }] })).toEqual([
      'instances[0].vips: 10.99.0.100 is listed twice',
    ]);
  });
});

/** Three boxes sharing six node numbers; this box is the second. */
const cluster = {
  boxes: ['fw1', 'fw2', 'fw3'],
  totalNodes: 6,
  vridBase: 100,
  clusterMac: '01:00:5e:00:01:0a',
  interface: 'eth0',
  vips: ['10.99.0.10/24'],
  backend: 'nft',
};

function withCluster(
  section: unknown,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { node: { name: 'fw2' }, cluster: section, ...extra };
}

/** An instance that only collides with `cluster` through what the test adds to it. */
function withInstance(instance: Record<string, unknown>): Record<string, unknown> {
  return withCluster(cluster, { instances: [{ ...base, ...instance }] });
}

describe('split-brain keys', () => {
  it('quorum: witnesses (ping or TCP), peers defaulting to unicastPeers, timeouts in ms; round trip', () => {
    const c = parseConfig({
      instances: [
        {
          ...base,
          unicastPeers: ['10.99.0.2'],
          quorum: { witnesses: ['10.99.0.254', '10.99.0.253:443'], timeout: 0.2 },
          oneWayHoldDown: 30,
        },
      ],
    });
    expect(c.instances[0]).toMatchObject({
      quorum: {
        witnesses: ['10.99.0.254', '10.99.0.253:443'],
        peers: ['10.99.0.2'],
        timeoutMs: 200,
        intervalMs: 1000,
      },
      holdDownMs: 30_000,
    });
    expect(parseConfig(toFileShape(c))).toEqual(c);
  });

  it.each([
    [{}, 'witnesses', 'is required: a list of witnesses'],
    [{ witnesses: [] }, 'witnesses', 'must list at least one witness'],
    [{ witnesses: ['gw.example'] }, 'witnesses[0]', 'got "gw.example"'],
    [
      { witnesses: ['10.0.0.1'], peers: ['10.0.0.2:22'] },
      'peers[0]',
      'an address (pinged; no port)',
    ],
    [{ witnesses: ['10.0.0.1'], timeout: 0 }, 'timeout', 'must be a number of seconds from 0.01'],
    [{ witnesses: ['10.0.0.1'], ping: true }, 'ping', 'unknown key'],
    ['10.0.0.1', '', 'must be an object { witnesses, peers, timeout, interval } or null'],
  ])('quorum %j is refused at quorum.%s: %s', (quorum, key, reason) => {
    expect(configIssues({ instances: [{ ...base, quorum }] })).toEqual([
      {
        key: `instances[0].quorum${key === '' ? '' : `.${key}`}`,
        reason: expect.stringContaining(reason) as string,
      },
    ]);
  });
});

describe('tracking and sync groups', () => {
  it('track: defaults filled, seconds to ms, round trip', () => {
    const c = parseConfig({
      instances: [
        {
          ...base,
          track: {
            interfaces: [{ name: 'eth1' }],
            scripts: [{ script: '/usr/local/bin/chk', weight: -20, fall: 3 }],
            files: [{ path: '/run/vipd/w' }],
          },
        },
      ],
    });
    expect(c.instances[0]?.track).toEqual({
      interfaces: [{ name: 'eth1', weight: 0 }],
      scripts: [
        {
          name: '/usr/local/bin/chk',
          script: '/usr/local/bin/chk',
          args: [],
          intervalMs: 2000,
          timeoutMs: 2000,
          rise: 1,
          fall: 3,
          weight: -20,
        },
      ],
      files: [{ path: '/run/vipd/w', weight: 1, intervalMs: 1000 }],
    });
    expect(parseConfig(toFileShape(c))).toEqual(c);
  });

  it.each([
    [{ scripts: [{ script: 'chk' }] }, 'scripts[0].script', 'must be an absolute path, got "chk"'],
    [
      { scripts: [{ script: '/x', weight: 300 }] },
      'scripts[0].weight',
      'from -253 to 253, got 300',
    ],
    [{ interfaces: [{ name: 'eth 1' }] }, 'interfaces[0].name', 'must be an interface name'],
    [{ files: [{ path: '/x', every: 1 }] }, 'files[0].every', 'unknown key'],
    [{ probes: [] }, 'probes', 'unknown key (this section takes interfaces, scripts, files)'],
    [
      { scripts: [{ script: '/x', intreval: 1 }] },
      'scripts[0].intreval',
      'did you mean "interval"?',
    ],
  ])('track %j is refused at track.%s: %s', (track, key, reason) => {
    expect(configIssues({ instances: [{ ...base, track }] })).toEqual([
      { key: `instances[0].track.${key}`, reason: expect.stringContaining(reason) as string },
    ]);
  });

  it('sync groups name existing instances, each in one group at most', () => {
    const two = [base, { ...base, name: 'VI_2', vrid: 52, vips: ['10.99.0.101/24'] }];
    const ok = parseConfig({
      instances: two,
      syncGroups: [{ name: 'g', instances: ['VI_1', 'VI_2'] }],
    });
    expect(ok.syncGroups).toEqual([{ name: 'g', instances: ['VI_1', 'VI_2'] }]);
    expect(
      issues({
        instances: two,
        syncGroups: [
          { name: 'g', instances: ['VI_1', 'VI_9'] },
          { name: 'h', instances: ['VI_1', 'VI_2'] },
        ],
      }),
    ).toEqual([
      'syncGroups[0].instances: no instance named "VI_9"',
      'syncGroups[1].instances: "VI_1" is already in sync group "g": an instance is in one group at most',
    ]);
  });
});

describe('cluster section', () => {
  it('parses: this box is its position in boxes, VIPs lose their prefix for the backend', () => {
    const c = parseConfig(withCluster(cluster)).cluster;
    expect(c?.self).toBe(2);
    expect(c?.sharing).toMatchObject({ totalNodes: 6, vips: ['10.99.0.10'], backend: 'nft' });
    expect(c?.election.advertIntervalCs).toBe(100);
  });

  it('is enough on its own: no instance is needed next to a cluster', () => {
    const c = parseConfig(withCluster(cluster));
    expect(c.instances).toEqual([]);
    expect(c.cluster?.boxes).toEqual(['fw1', 'fw2', 'fw3']);
  });

  it('prints back in the file shape and re-parses to the same config', () => {
    const c = parseConfig(withCluster({ ...cluster, name: 'web', hashInit: 7, preempt: false }));
    expect(parseConfig(toFileShape(c))).toEqual(c);
  });

  it.each([
    {
      what: 'a node.name not among the boxes',
      doc: { ...withCluster(cluster), node: { name: 'fw9' } },
      key: 'cluster.boxes',
      reason: '(node.name "fw9") is not listed',
    },
    {
      what: 'a box listed twice',
      doc: withCluster({ ...cluster, boxes: ['fw1', 'fw2', 'fw2'] }),
      key: 'cluster.boxes',
      reason: 'fw2 is listed twice',
    },
    {
      what: 'fewer node numbers than boxes',
      doc: withCluster({ ...cluster, totalNodes: 2 }),
      key: 'cluster.totalNodes',
      reason: '2 node numbers for 3 boxes',
    },
    {
      what: 'node numbers whose VRIDs run past 255',
      doc: withCluster({ ...cluster, vridBase: 251 }),
      key: 'cluster.vridBase',
      reason: 'VRIDs 251..256, past 255',
    },
    {
      what: 'an instance key that has no meaning for a cluster',
      doc: withCluster({ ...cluster, hooks: { up: '/bin/true' } }),
      key: 'cluster.hooks',
      reason: 'unknown key',
    },
    {
      what: 'an election key the instance schema refuses',
      doc: withCluster({ ...cluster, version: 3, advertInterval: 50 }),
      key: 'cluster.advertInterval',
      reason: 'VRRPv3 allows at most 40.95 s, got 50',
    },
    {
      what: 'a unicast clusterMac',
      doc: withCluster({ ...cluster, clusterMac: '00:11:22:33:44:55' }),
      key: 'cluster.clusterMac',
      reason: 'not a multicast MAC',
    },
    {
      what: 'a hash mode the backend cannot do',
      doc: withCluster({ ...cluster, backend: 'xt_cluster', hashmode: 'sourceip-sourceport' }),
      key: 'cluster.hashmode',
      reason: 'xt_cluster only hashes the source address',
    },
    {
      what: "an instance VRID inside the cluster's range on its interface",
      doc: withInstance({ vrid: 103 }),
      key: 'instances[0].vrid',
      reason: 'VRID 103 on eth0 is used by cluster',
    },
    {
      what: 'an instance moving a VIP the cluster shares',
      doc: withInstance({ vips: ['10.99.0.10/24'] }),
      key: 'instances[0].vips',
      reason: '10.99.0.10 also belongs to cluster "cluster"',
    },
    {
      what: 'an instance with load sharing of its own',
      doc: withInstance({
        loadSharing: {
          backend: 'nft',
          clusterMac: '01:00:5e:00:01:0b',
          totalNodes: 2,
          localNode: 1,
        },
      }),
      key: 'instances[0].loadSharing',
      reason: 'the cluster section already owns',
    },
    {
      what: 'a cluster that is not an object',
      doc: withCluster(['fw1', 'fw2']),
      key: 'cluster',
      reason: 'must be an object',
    },
    {
      what: 'a document with neither instances nor a cluster',
      doc: { node: { name: 'fw2' } },
      key: 'instances',
      reason: 'at least one instance (or a cluster)',
    },
  ])('refuses $what', ({ doc, key, reason }) => {
    expect(configIssues(doc)).toEqual([{ key, reason: expect.stringContaining(reason) }]);
  });

  it('leaves VRIDs on other interfaces to the instances', () => {
    // The cluster's routers only exist on its own link; the same VRID elsewhere is another router.
    const c = parseConfig(withInstance({ interface: 'eth1', vrid: 103 }));
    expect(c.instances[0]?.vrid).toBe(103);
  });
});

describe('every mistake at once', () => {
  /** Fifteen independent mistakes, most nested: each must come back with its own key path. */
  const mistakes = {
    node: { name: 'fw1' },
    instances: [
      base,
      {
        name: 'VI_2',
        interface: 'eth1',
        vrid: 300,
        vips: ['10.99.1.100/24'],
        garp: { count: 0 },
        hooks: { up: 'up.sh' },
        track: {
          scripts: [{ script: '/usr/local/bin/chk', fall: 0 }],
          files: [{ path: 'weight' }],
        },
        quorum: { witnesses: ['gw.example'], timeout: 0 },
        hmac: { keys: [{ id: 1, secret: 'short' }], window: 0 },
        loadSharing: { clusterMac: '00:11:22:33:44:55', totalNodes: 2, localNode: 1 },
        marks: [{ mark: 1, match: [{ vip: '10.99.1.100', port: 80, protocol: 'icmp' }] }],
      },
      { name: 'VI_3', interface: 'this-is-too-long', vrid: 53, vips: ['10.99.3.100/24'] },
      { ...base, name: 'VI_4', vrid: 54, vips: ['10.99.4.100/24'], excludedVips: base.vips },
    ],
    syncGroups: [{ name: 'g', instances: ['VI_1', 'VI_9'] }],
    cluster: { ...cluster, boxes: ['fw1', 'fw2'], totalNodes: 2, vridBase: 255 },
  };

  it('reports all of them, each with its key path and what was expected', () => {
    const got = configIssues(mistakes);
    const expected: [string, string][] = [
      ['instances[1].vrid', 'must be an integer from 1 to 255, got 300'],
      ['instances[1].garp.count', 'must be an integer from 1 to 100, got 0'],
      ['instances[1].hooks.up', 'must be an absolute path or null, got "up.sh"'],
      ['instances[1].track.scripts[0].fall', 'must be an integer from 1 to 100, got 0'],
      ['instances[1].track.files[0].path', 'must be an absolute path, got "weight"'],
      ['instances[1].quorum.witnesses[0]', 'got "gw.example"'],
      ['instances[1].quorum.timeout', 'seconds from 0.01 to 10, got 0'],
      ['instances[1].hmac.keys[0].secret', 'at least 16 bytes'],
      ['instances[1].hmac.window', 'seconds from 0.1 to 3600, got 0'],
      ['instances[1].loadSharing.clusterMac', 'not a multicast MAC'],
      ['instances[1].marks[0].match[0].protocol', 'one of tcp, udp, sctp, got "icmp"'],
      ['instances[2].interface', 'must be an interface name'],
      ['instances[3].excludedVips', '10.99.0.100 is also a VIP of instances[0] ("VI_1")'],
      ['syncGroups[0].instances', 'no instance named "VI_9"'],
      ['cluster.vridBase', 'need VRIDs 255..256, past 255'],
    ];
    console.log(`[measure] config with ${expected.length} mistakes: ${got.length} reported`);
    expect(got).toHaveLength(expected.length);
    for (const [key, reason] of expected) {
      expect(got).toContainEqual({ key, reason: expect.stringContaining(reason) as string });
    }
  });

  it('words every reason for an operator: no stack, no bare "Invalid input"', () => {
    for (const { reason } of configIssues(mistakes)) {
      expect(reason).not.toMatch(/^Invalid|\n\s+at |ZodError|received/);
      expect(reason.length).toBeGreaterThan(10);
    }
  });

  it('never echoes a secret back', () => {
    const secret = 'hunter2-but-longer-than-eight';
    const text = JSON.stringify(
      configIssues({
        instances: [
          {
            ...base,
            version: 2,
            authPassword: secret,
            hmac: { keys: [{ id: 1, secret: 'tiny' }] },
          },
        ],
      }),
    );
    expect(text).not.toContain(secret);
    expect(text).not.toContain('tiny');
  });
});

describe('VIPs and interface names', () => {
  const second = { ...base, name: 'VI_2', vrid: 52 };

  it('refuses a VIP in two instances, advertised or excluded, on any interface', () => {
    expect(issues({ instances: [base, { ...second, interface: 'eth1' }] })).toEqual([
      'instances[1].vips: 10.99.0.100 is also a VIP of instances[0] ("VI_1"): an instance in backup removes its VIPs, so each would take it from the other\'s master',
    ]);
    expect(
      configIssues({
        instances: [
          base,
          { ...second, vips: ['10.99.0.101/24'], excludedVips: ['10.99.0.100/32'] },
        ],
      }),
    ).toEqual([
      { key: 'instances[1].excludedVips', reason: expect.stringContaining('instances[0]') },
    ]);
  });

  it('still checks VIPs across instances when another instance is wrong', () => {
    const got = issues({
      instances: [base, { ...second, vrid: 0 }, { ...second, name: 'VI_3', vrid: 53 }],
    });
    expect(got).toEqual([
      'instances[1].vrid: must be an integer from 1 to 255, got 0',
      expect.stringMatching(
        /^instances\[2\]\.vips: 10\.99\.0\.100 is also a VIP of instances\[0\]/,
      ),
    ]);
  });

  it.each([
    ['eth0', true],
    ['bond0.100', true],
    ['fifteen-bytes15', true],
    ['sixteen-bytes-16', false],
    ['ethé1234567890a', false], // 15 characters, 16 bytes
    ['', false],
    ['.', false],
    ['..', false],
    ['eth 0', false],
    ['eth0\t', false],
    ['eth0:1', false],
    ['a/b', false],
  ])('interface name %j: valid %s', (name, valid) => {
    const got = configIssues({ instances: [{ ...base, interface: name }] });
    expect(got).toEqual(
      valid
        ? []
        : [
            {
              key: 'instances[0].interface',
              reason: expect.stringContaining('must be an interface name'),
            },
          ],
    );
  });

  it('takes IPv6 VIPs in canonical form, a listed link-local first in adverts', () => {
    const v6 = { ...base, vips: ['2001:DB8:0:0::100/64', '2001:db8::101/64'] };
    const [plain] = parseConfig({ instances: [v6] }).instances;
    expect(plain?.family).toBe(6);
    // None listed, none added: a keepalived peer drops adverts whose address count differs.
    expect(plain?.vips.map((v) => `${v.address}/${v.prefix}`)).toEqual([
      '2001:db8::100/64',
      '2001:db8::101/64',
    ]);
    const listed = { ...base, vips: ['2001:db8::100/64', 'fe80::1/64'] };
    const [own] = parseConfig({ instances: [listed] }).instances;
    expect(own?.vips.map((v) => v.address)).toEqual(['fe80::1', '2001:db8::100']);
    expect(own?.advertisedCount).toBe(2);
    expect(parseConfig({ instances: [base] }).instances[0]?.family).toBe(4);
  });

  it('warns when an IPv6 instance lists no link-local address', async () => {
    const none = async (): Promise<PresentAddress[]> => [];
    const v6 = parseConfig({ instances: [{ ...base, vips: ['2001:db8::100/64'] }] });
    expect((await hostChecks(v6, none)).warnings).toEqual([
      {
        key: 'instances[0].vips',
        reason: expect.stringContaining('e.g. fe80::200:5eff:fe00:233/64'),
      },
    ]);
    const ll = parseConfig({ instances: [{ ...base, vips: ['2001:db8::100/64', 'fe80::1/64'] }] });
    expect((await hostChecks(ll, none)).warnings).toEqual([]);
  });

  it('refuses what IPv6 cannot do, with the key and the reason', () => {
    expect(
      issues({ instances: [{ ...base, vips: ['10.99.0.100/24', '2001:db8::1/64'] }] }),
    ).toEqual([
      'instances[0].vips: mixes IPv4 and IPv6 addresses: an instance is one address family; make one instance per family (and a sync group to move them together)',
    ]);
    const v6 = { ...base, vips: ['2001:db8::1/64'] };
    expect(
      issues({
        instances: [
          {
            ...v6,
            version: 2,
            transport: 'udp',
            unicastPeers: ['10.0.0.2'],
            marks: [{ mark: 1, match: [{ vip: '10.0.0.9', port: 80, protocol: 'tcp' }] }],
          },
        ],
      }),
    ).toEqual([
      'instances[0].version: VRRPv2 has no IPv6: IPv6 VIPs need version 3',
      'instances[0].transport: transport udp carries IPv4 only: IPv6 instances use raw (ff02::12)',
      'instances[0].unicastPeers: unicast peers are IPv4 addresses and an IPv6 instance advertises to ff02::12: remove them',
      'instances[0].marks: firewall marks match IPv4 VIPs only (an nft ip table): not for an IPv6 instance',
    ]);
    expect(issues({ instances: [{ ...v6, vips: ['2001:db8::1/129'] }] })).toEqual([
      'instances[0].vips[0]: must be an IP address with its prefix length, like 10.99.0.100/24 or 2001:db8::100/64, got "2001:db8::1/129"',
    ]);
  });

  it('lets an IPv4 and an IPv6 instance share a VRID on one interface, and a link-local on two', () => {
    const v6 = { ...base, name: 'VI_6', vips: ['fe80::1/64', '2001:db8::1/64'] };
    expect(issues({ instances: [base, v6] })).toEqual([]);
    expect(
      issues({ instances: [v6, { ...v6, name: 'VI_7', interface: 'eth1', vips: ['fe80::1/64'] }] }),
    ).toEqual([]);
    expect(
      issues({ instances: [v6, { ...v6, name: 'VI_7', vrid: 52, vips: ['fe80::1/64'] }] }),
    ).toEqual([
      'instances[1].vips: fe80::1 is also a VIP of instances[0] ("VI_6"): an instance in backup removes its VIPs, so each would take it from the other\'s master',
    ]);
  });

  it('names the virtual MAC interface and refuses two routers on one', () => {
    const [v4] = parseConfig({ instances: [{ ...base, vmac: true }] }).instances;
    expect(v4?.vmac).toEqual({ name: 'vrrp4-51', mac: '00:00:5e:00:01:33' });
    const [v6] = parseConfig({
      instances: [{ ...base, vips: ['2001:db8::1/64'], vmac: 'vmac6' }],
    }).instances;
    expect(v6?.vmac).toEqual({ name: 'vmac6', mac: '00:00:5e:00:02:33' });
    expect(parseConfig({ instances: [base] }).instances[0]?.vmac).toBeNull();
    expect(
      issues({
        instances: [
          { ...base, vmac: true },
          { ...base, name: 'VI_2', interface: 'eth1', vips: ['10.98.0.1/24'], vmac: true },
          { ...base, name: 'VI_3', vrid: 52, vips: ['10.97.0.1/24'], vmac: 'eth1' },
          { ...base, name: 'VI_4', vrid: 53, vips: ['10.96.0.1/24'], vmac: 3 },
        ],
      }),
    ).toEqual([
      'instances[3].vmac: must be true, false or the name of the interface to create, got 3',
      'instances[1].vmac: vrrp4-51 is already the virtual MAC interface of instances[0]: name one with vmac: "<name>"',
      'instances[2].vmac: eth1 is an election interface: vipd would replace it with a macvlan',
    ]);
  });

  it('checks the cluster and tracked interfaces the same way', () => {
    expect(configIssues(withCluster({ ...cluster, interface: 'a-very-long-name0' }))).toEqual([
      { key: 'cluster.interface', reason: expect.stringContaining('1 to 15 bytes') },
    ]);
    expect(
      configIssues({ instances: [{ ...base, track: { interfaces: [{ name: '..' }] } }] }),
    ).toEqual([
      {
        key: 'instances[0].track.interfaces[0].name',
        reason: expect.stringContaining('interface name'),
      },
    ]);
  });
});

describe('host checks', () => {
  const dir = tempDir('vipd-host-');
  const file = (name: string, mode: number): string => {
    const path = join(dir, name);
    writeFileSync(path, '#!/bin/sh\nexit 0\n');
    chmodSync(path, mode);
    return path;
  };
  const runnable = file('up.sh', 0o755);
  const plain = file('down.sh', 0o644);
  const missing = join(dir, 'later.sh');
  /** An interface eth0 with the box's own address only. */
  const eth0 = async (name: string): Promise<PresentAddress[] | undefined> =>
    name === 'eth0' ? [{ address: '10.99.0.1', prefix: 24, secondary: false }] : undefined;

  it('parseConfig itself looks at no file', () => {
    expect(() =>
      parseConfig({ instances: [{ ...base, hooks: { up: missing, down: plain } }] }),
    ).not.toThrow();
  });

  it('a missing script is a warning, one that cannot be run an error', async () => {
    const config = parseConfig({
      instances: [
        {
          ...base,
          hooks: { up: runnable, down: plain },
          track: { scripts: [{ script: missing }, { script: dir }, { script: runnable }] },
        },
      ],
    });
    const report = await hostChecks(config, eth0);
    expect(report.errors).toEqual([
      { key: 'instances[0].hooks.down', reason: `${plain} is not executable (chmod +x ${plain})` },
      {
        key: 'instances[0].track.scripts[1].script',
        reason: `${dir} is a directory, not a script`,
      },
    ]);
    expect(report.warnings).toEqual([
      {
        key: 'instances[0].track.scripts[0].script',
        reason: expect.stringContaining(`${missing} does not exist (yet)`),
      },
    ]);
  });

  it("refuses a VIP that is the box's own address; a VIP left behind or a missing interface only warns", async () => {
    const own = parseConfig({ instances: [{ ...base, vips: ['10.99.0.1/24'] }] });
    expect(await hostChecks(own, eth0)).toEqual({
      errors: [{ key: 'instances[0].vips', reason: expect.stringContaining("eth0's own address") }],
      warnings: [],
    });
    // An IPv6 address is no IPv4 VIP's fallback: still the box's only IPv4 address.
    const dual = async (): Promise<PresentAddress[]> => [
      { address: '10.99.0.1', prefix: 24, secondary: false },
      { address: 'fe80::1', prefix: 64, secondary: false },
    ];
    expect((await hostChecks(own, dual)).errors).toHaveLength(1);
    // A crashed run left 10.99.0.100 next to the box's own address: the next start must go on.
    const leftover = async (): Promise<PresentAddress[]> => [
      { address: '10.99.0.1', prefix: 24, secondary: false },
      { address: '10.99.0.100', prefix: 24, secondary: true },
    ];
    expect(await hostChecks(parseConfig({ instances: [base] }), leftover)).toEqual({
      errors: [],
      warnings: [{ key: 'instances[0].vips', reason: expect.stringContaining('already on eth0') }],
    });
    const elsewhere = parseConfig({ instances: [{ ...base, interface: 'eth7' }] });
    expect(await hostChecks(elsewhere, eth0)).toEqual({
      errors: [],
      warnings: [
        { key: 'instances[0].interface', reason: 'eth7 does not exist on this box (yet)' },
      ],
    });
    expect(await hostChecks(parseConfig({ instances: [base] }), eth0)).toEqual({
      errors: [],
      warnings: [],
    });
  });

  it('checks the cluster VIPs too', async () => {
    const config = parseConfig(withCluster({ ...cluster, vips: ['10.99.0.1/24'] }));
    expect((await hostChecks(config, eth0)).errors).toEqual([
      { key: 'cluster.vips', reason: expect.stringContaining("eth0's own address") },
    ]);
  });
});

describe('protocol carp', () => {
  const carp = { ...base, vrid: 10, protocol: 'carp', carp: { password: 's3cr3t' } };

  it('defaults: advbase 1, advskew 0, deadRatio 3; the password as bytes; vrrp by default', () => {
    const c = parseConfig({ instances: [carp] }).instances[0];
    expect(c?.protocol).toBe('carp');
    expect(c?.carp).toEqual({
      password: Buffer.from('s3cr3t'),
      advbase: 1,
      advskew: 0,
      deadRatio: 3,
    });
    const vrrp = parseConfig({ instances: [base] }).instances[0];
    expect(vrrp?.protocol).toBe('vrrp');
    expect(vrrp?.carp).toBeNull();
  });

  it('takes advbase, advskew and deadRatio in their ranges', () => {
    const c = parseConfig({
      instances: [{ ...carp, carp: { password: 'x', advbase: 255, advskew: 254, deadRatio: 1 } }],
    }).instances[0];
    expect(c?.carp).toMatchObject({ advbase: 255, advskew: 254, deadRatio: 1 });
    expect(
      issues({
        instances: [{ ...carp, carp: { password: 'x', advbase: 0, advskew: 255, deadRatio: 0 } }],
      }),
    ).toEqual([
      'instances[0].carp.advbase: must be an integer from 1 to 255, got 0',
      'instances[0].carp.advskew: must be an integer from 0 to 254, got 255',
      'instances[0].carp.deadRatio: must be an integer from 1 to 255, got 0',
    ]);
  });

  it('protocol carp without a carp section is refused, with its key path', () => {
    expect(issues({ instances: [{ ...base, protocol: 'carp' }] })).toEqual([
      'instances[0].carp: protocol "carp" needs a carp section with at least { "password": ... }',
    ]);
  });

  it('a carp section on a vrrp instance is refused', () => {
    expect(issues({ instances: [{ ...base, carp: { password: 's3cr3t' } }] })).toEqual([
      'instances[0].carp: only for protocol "carp"; remove it or set protocol',
    ]);
    expect(
      issues({ instances: [{ ...base, protocol: 'vrrp', carp: { password: 's3cr3t' } }] }),
    ).toEqual(['instances[0].carp: only for protocol "carp"; remove it or set protocol']);
  });

  it.each([
    ['version', { version: 2 }],
    ['priority', { priority: 150 }],
    ['advertInterval', { advertInterval: 2 }],
    ['preemptDelay', { preemptDelay: 5 }],
    ['authPassword', { version: 2, authPassword: 'pw' }],
    ['hmac', { hmac: { keys: [{ id: 1, secret: 'a-long-enough-shared-secret' }] } }],
    ['transport', { transport: 'udp' }],
    ['unicastPeers', { unicastPeers: ['10.99.0.2'] }],
    ['checksum', { checksum: 'rfc9568' }],
    ['vmac', { vmac: true }],
    ['quorum', { quorum: { witnesses: ['10.99.0.254'] } }],
  ])('the VRRP-only key %s is refused for carp', (key, keys) => {
    const got = configIssues({ instances: [{ ...carp, ...keys }] });
    expect(got).toContainEqual({
      key: `instances[0].${key}`,
      reason: expect.stringMatching(/^not for protocol "carp" \(.+\): remove it$/) as unknown,
    });
    // Nothing else is wrong with these documents: as vrrp (without carp) they parse.
    expect(issues({ instances: [{ ...base, vrid: 10, ...keys }] })).toEqual([]);
  });

  it('a VRRP key set to its default is no objection', () => {
    const c = parseConfig({
      instances: [{ ...carp, version: 3, priority: 100, advertInterval: 1, transport: 'raw' }],
    });
    expect(c.instances[0]?.protocol).toBe('carp');
  });

  it('an IPv6 VIP is refused: ucarp speaks IPv4 only', () => {
    expect(issues({ instances: [{ ...carp, vips: ['2001:db8::100/64'] }] })).toEqual([
      'instances[0].vips: CARP (as ucarp speaks it) is IPv4 only: use protocol "vrrp" for IPv6',
    ]);
  });

  it('the password: 1 to 19 bytes (ucarp NUL-terminates it in a 20-byte key)', () => {
    const at = (password: string): string[] =>
      issues({ instances: [{ ...carp, carp: { password } }] });
    expect(at('a'.repeat(19))).toEqual([]);
    expect(at('é'.repeat(9) + 'a')).toEqual([]); // 19 bytes in 10 characters
    const refused = 'instances[0].carp.password: must be a string of 1 to 19 bytes';
    expect(at('a'.repeat(20))).toEqual([refused]);
    expect(at('é'.repeat(10))).toEqual([refused]); // 20 bytes in 10 characters
    expect(at('')).toEqual([refused]);
    expect(issues({ instances: [{ ...carp, carp: {} }] })).toEqual([
      expect.stringMatching(/^instances\[0\]\.carp\.password: /),
    ]);
  });

  it("`vipd check`'s printed file shape masks the password and parses back", () => {
    const config = parseConfig({
      instances: [{ ...carp, carp: { password: 's3cr3t', advskew: 50, deadRatio: 4 } }],
    });
    const shape = toFileShape(config);
    expect(shape.instances[0]).toMatchObject({
      protocol: 'carp',
      carp: { password: '********', advbase: 1, advskew: 50, deadRatio: 4 },
    });
    expect(JSON.stringify(shape)).not.toContain('s3cr3t');
    const again = parseConfig(shape).instances[0];
    expect(again?.carp).toEqual({
      password: Buffer.from('********'),
      advbase: 1,
      advskew: 50,
      deadRatio: 4,
    });
    expect(again?.protocol).toBe('carp');
  });
});
