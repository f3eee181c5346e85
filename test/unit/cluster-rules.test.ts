import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BackendUnavailableError,
  LoadSharingConfigError,
  normaliseOwned,
} from '../../src/cluster/backend.js';
import {
  solicitedNodeMac,
  validateLoadSharing,
  type LoadSharingConfig,
} from '../../src/config/load-sharing.js';
import { checksumIsValid, internetChecksum } from '../../src/net/checksum.js';
import { ipv6ToBytes } from '../../src/net/address.js';
import { ClusterIpBackend, clusterIpRule, clusterIpRulesFor } from '../../src/cluster/clusterip.js';
import { deleteScript } from '../../src/cluster/iptables-save.js';
import {
  NftBackend,
  nftClusterScript,
  nftOwnedScript,
  nftRemoveScript,
  parseNftOwned,
} from '../../src/cluster/nft.js';
import { createBackend, kernelBefore, selectBackend } from '../../src/cluster/select.js';
import {
  arpRemoveScript,
  arpRewriteScript,
  checksumCompensation,
  ndRemoveScript,
  ndRewriteScript,
  neighbourRemoveScript,
} from '../../src/cluster/steering.js';
import {
  XtClusterBackend,
  parseXtState,
  xtInstallScript,
  xtOwnedScript,
  xtRemoveScript,
  xtTools,
} from '../../src/cluster/xt-cluster.js';

const cfg: LoadSharingConfig = {
  backend: 'auto',
  interface: 'eth0',
  vips: ['10.99.0.10', '10.99.0.11'],
  hashmode: 'sourceip',
  clusterMac: '01:00:5E:00:01:0A',
  totalNodes: 2,
  localNode: 1,
  hashInit: 0xdeadbeef,
};

/** The same set for IPv6 VIPs. */
const cfg6: LoadSharingConfig = {
  ...cfg,
  vips: ['2001:db8::10', '2001:db8::11'],
  clusterMac: '33:33:FF:00:00:10',
};

describe('xt_cluster rule text', () => {
  const empty = { chain: false, hooks: [], owned: [] };
  const hook10 = '-A PREROUTING -d 10.99.0.10/32 -i eth0 -j VIPD-CLUSTER';

  it('installs chain, hooks and one rule per owned node in one restore transaction', () => {
    expect(xtInstallScript(cfg, [1, 2], empty)).toBe(
      [
        '*mangle',
        ':VIPD-CLUSTER - [0:0]',
        '-I PREROUTING -d 10.99.0.10/32 -i eth0 -j VIPD-CLUSTER',
        '-I PREROUTING -d 10.99.0.11/32 -i eth0 -j VIPD-CLUSTER',
        '-A VIPD-CLUSTER -m cluster --cluster-total-nodes 2 --cluster-local-node 1 --cluster-hash-seed 0xdeadbeef -j RETURN',
        '-A VIPD-CLUSTER -m cluster --cluster-total-nodes 2 --cluster-local-node 2 --cluster-hash-seed 0xdeadbeef -j RETURN',
        '-A VIPD-CLUSTER -j DROP',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('re-install adds only missing hooks and deletes hooks of VIPs no longer configured', () => {
    const stale = '-A PREROUTING -d 10.99.0.99/32 -i eth0 -j VIPD-CLUSTER';
    const script = xtInstallScript(cfg, [], { chain: true, hooks: [hook10, stale], owned: [1] });
    expect(script.split('\n').filter((l) => l.includes('PREROUTING'))).toEqual([
      '-D PREROUTING -d 10.99.0.99/32 -i eth0 -j VIPD-CLUSTER',
      '-I PREROUTING -d 10.99.0.11/32 -i eth0 -j VIPD-CLUSTER',
    ]);
    expect(script).toContain(':VIPD-CLUSTER - [0:0]\n');
    expect(script).toContain('-A VIPD-CLUSTER -j DROP\nCOMMIT\n');
  });

  it('ownership change redeclares (empties) and refills only the chain', () => {
    expect(xtOwnedScript(cfg, [2])).toBe(
      '*mangle\n:VIPD-CLUSTER - [0:0]\n' +
        '-A VIPD-CLUSTER -m cluster --cluster-total-nodes 2 --cluster-local-node 2 --cluster-hash-seed 0xdeadbeef -j RETURN\n' +
        '-A VIPD-CLUSTER -j DROP\nCOMMIT\n',
    );
    expect(xtOwnedScript(cfg, [])).toBe(
      '*mangle\n:VIPD-CLUSTER - [0:0]\n-A VIPD-CLUSTER -j DROP\nCOMMIT\n',
    );
  });

  it('removal deletes exactly what is there, nothing when nothing is', () => {
    expect(xtRemoveScript({ chain: true, hooks: [hook10], owned: [] })).toBe(
      '*mangle\n-D PREROUTING -d 10.99.0.10/32 -i eth0 -j VIPD-CLUSTER\n-F VIPD-CLUSTER\n-X VIPD-CLUSTER\nCOMMIT\n',
    );
    expect(xtRemoveScript(empty)).toBeUndefined();
  });

  it('reads chain, hooks and owned nodes back from iptables-save (which prints masks)', () => {
    const save = [
      '*mangle',
      ':PREROUTING ACCEPT [0:0]',
      ':VIPD-CLUSTER - [0:0]',
      '-A PREROUTING -d 10.99.0.10/32 -i eth0 -j VIPD-CLUSTER',
      '-A PREROUTING -i eth1 -j MARK --set-xmark 0x50/0xffffffff',
      '-A VIPD-CLUSTER -m cluster --cluster-local-nodemask 0x00000001 --cluster-total-nodes 32 --cluster-hash-seed 0xdeadbeef -j RETURN',
      '-A VIPD-CLUSTER -m cluster --cluster-local-nodemask 0x80000000 --cluster-total-nodes 32 --cluster-hash-seed 0xdeadbeef -j RETURN',
      '-A VIPD-CLUSTER -j DROP',
      'COMMIT',
    ].join('\n');
    expect(parseXtState(save)).toEqual({ chain: true, hooks: [hook10], owned: [1, 32] });
    expect(parseXtState('*mangle\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n')).toEqual(empty);
  });

  it('refuses port hash modes, naming the backend that has them', () => {
    expect(() => new XtClusterBackend({ ...cfg, hashmode: 'sourceip-sourceport' })).toThrow(
      new LoadSharingConfigError(
        'load sharing config unusable for backend xt_cluster: hashmode: xt_cluster only hashes the source address; sourceip-sourceport needs backend "nft" (or "clusterip" on kernels before 6.3)',
      ),
    );
  });
});

describe('nft rule text', () => {
  const head = [
    'table ip vipd_cluster {}',
    'delete table ip vipd_cluster',
    'table ip vipd_cluster {',
    '\tset owned {',
    '\t\ttypeof numgen inc mod 2',
  ];
  const chains = (hashRules: string[]): string[] => [
    '\tchain prerouting {',
    '\t\ttype filter hook prerouting priority mangle; policy accept;',
    '\t\tiifname "eth0" ip daddr { 10.99.0.10, 10.99.0.11 } jump cluster',
    '\t}',
    '\tchain cluster {',
    '\t\tmeta pkttype multicast meta pkttype set host',
    ...hashRules.map((r) => `\t\t${r}`),
    '\t\tcounter drop',
    '\t}',
    '}',
    '',
  ];

  it('sourceip: the doc table, recreated whole', () => {
    expect(nftClusterScript(cfg, [1])).toBe(
      [
        ...head,
        '\t\telements = { 1 }',
        '\t}',
        ...chains([
          'jhash ct original ip saddr mod 2 seed 0xdeadbeef offset 1 @owned counter return',
        ]),
      ].join('\n'),
    );
  });

  it('an empty owned set has no elements line (nft refuses "elements = { }")', () => {
    expect(nftClusterScript(cfg, [])).toContain('typeof numgen inc mod 2\n\t}\n');
  });

  it.each([
    ['sourceip-sourceport', 'ct original proto-src'],
    ['sourceip-sourceport-destport', 'ct original proto-src . ct original proto-dst'],
  ] as const)(
    '%s: ports for conntrack protocols that have them, source alone otherwise',
    (mode, ports) => {
      const script = nftClusterScript({ ...cfg, hashmode: mode, hashInit: 7 }, [1, 2]);
      expect(script).toBe(
        [
          ...head,
          '\t\telements = { 1, 2 }',
          '\t}',
          ...chains([
            `ct original protocol { tcp, udp, udplite, sctp, dccp } jhash ct original ip saddr . ${ports} mod 2 seed 0x00000007 offset 1 @owned counter return`,
            'ct original protocol != { tcp, udp, udplite, sctp, dccp } jhash ct original ip saddr mod 2 seed 0x00000007 offset 1 @owned counter return',
          ]),
        ].join('\n'),
      );
    },
  );

  it('ownership change is one batch: flush + add', () => {
    expect(nftOwnedScript(cfg, [1, 2])).toBe(
      'flush set ip vipd_cluster owned\nadd element ip vipd_cluster owned { 1, 2 }\n',
    );
    expect(nftOwnedScript(cfg, [])).toBe('flush set ip vipd_cluster owned\n');
  });

  it('removal is valid whether or not the table exists', () => {
    expect(nftRemoveScript(cfg)).toBe('table ip vipd_cluster {}\ndelete table ip vipd_cluster\n');
  });

  it('reads the owned set from nft -j', () => {
    const set = (elem?: number[]): string =>
      JSON.stringify({
        nftables: [
          { metainfo: { version: '1.0.6' } },
          { set: { family: 'ip', name: 'owned', table: 'vipd_cluster', type: 'integer', elem } },
        ],
      });
    expect(parseNftOwned(set([2, 1]))).toEqual([1, 2]);
    expect(parseNftOwned(set())).toEqual([]);
  });

  it('refuses owned nodes outside 1..totalNodes before touching anything', () => {
    expect(() => normaliseOwned([0, 1, 3], 2)).toThrow(
      'owned: node 0, 3 is outside 1..2 (totalNodes)',
    );
    expect(normaliseOwned([2, 1, 2], 2)).toEqual([1, 2]);
  });
});

describe('ARP rewrite text', () => {
  it('rewrites the sender MAC of every ARP for the VIPs leaving the interface', () => {
    expect(arpRewriteScript(cfg)).toBe(
      [
        'table arp vipd_arp {}',
        'delete table arp vipd_arp',
        'table arp vipd_arp {',
        '\tchain out {',
        '\t\ttype filter hook output priority filter; policy accept;',
        '\t\toifname "eth0" arp saddr ip { 10.99.0.10, 10.99.0.11 } arp saddr ether set 01:00:5e:00:01:0a counter',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
    expect(arpRemoveScript()).toBe('table arp vipd_arp {}\ndelete table arp vipd_arp\n');
  });
});

describe('CLUSTERIP rule', () => {
  it('is the iptables-legacy rule of the doc, --new on every VIP, seed in decimal', () => {
    const rule = clusterIpRule(
      { ...cfg, hashmode: 'sourceip-sourceport', localNode: 2 },
      '10.99.0.10',
    );
    expect(rule.join(' ')).toBe(
      'INPUT -i eth0 -d 10.99.0.10/32 -j CLUSTERIP --new --hashmode sourceip-sourceport --clustermac 01:00:5e:00:01:0a --total-nodes 2 --local-node 2 --hash-init 3735928559',
    );
  });

  it('finds every CLUSTERIP rule for a VIP in iptables-save, whatever its table, chain or parameters', () => {
    const a =
      '-A INPUT -d 10.99.0.10/32 -i eth0 -j CLUSTERIP --new --hashmode sourceip --clustermac 01:00:5E:00:01:0A --total-nodes 2 --local-node 1 --hash-init 0';
    const b =
      '-A PREROUTING -d 10.99.0.10/32 -i eth1 -j CLUSTERIP --new --hashmode sourceip-sourceport --clustermac 01:00:5E:00:01:0B --total-nodes 16 --local-node 3 --hash-init 7';
    const save = [
      '# Generated by iptables-save v1.8.9 on Thu Jan  1 00:00:00 2026',
      '*mangle',
      ':PREROUTING ACCEPT [0:0]',
      b,
      'COMMIT',
      '*filter',
      ':INPUT ACCEPT [0:0]',
      '-A INPUT -d 10.99.0.10/32 -p tcp -m tcp --dport 22 -j ACCEPT',
      '-A INPUT -d 10.99.0.100/32 -i eth0 -j CLUSTERIP --new --hashmode sourceip --clustermac 01:00:5E:00:01:0A --total-nodes 2 --local-node 1 --hash-init 0',
      a,
      'COMMIT',
      '',
    ].join('\n');
    const found = clusterIpRulesFor(save, '10.99.0.10');
    expect(found).toEqual([
      { table: 'mangle', chain: 'PREROUTING', line: b },
      { table: 'filter', chain: 'INPUT', line: a },
    ]);
    // One restore transaction per table, deleting by the saved text.
    expect(deleteScript(found)).toBe(
      `*mangle\n${b.replace('-A', '-D')}\nCOMMIT\n*filter\n${a.replace('-A', '-D')}\nCOMMIT\n`,
    );
    expect(deleteScript([])).toBeUndefined();
    expect(clusterIpRulesFor(save, '10.99.0.1')).toEqual([]);
  });
});

describe('selectBackend', () => {
  const old = { release: '5.10.0-21-amd64', clusterip: true };
  const modern = { release: '6.18.44-fc-v669', clusterip: false };

  it('auto keeps CLUSTERIP on kernels before 6.3 that have it, nft everywhere else', () => {
    expect(selectBackend(cfg, old)).toBe('clusterip');
    expect(selectBackend(cfg, { ...old, clusterip: false })).toBe('nft');
    expect(selectBackend(cfg, modern)).toBe('nft');
    expect(selectBackend(cfg, { release: '6.2.16', clusterip: true })).toBe('clusterip');
    expect(selectBackend(cfg, { release: '6.3.0', clusterip: true })).toBe('nft');
    // CLUSTERIP hashes into at most 16 nodes.
    expect(selectBackend({ ...cfg, totalNodes: 17, localNode: 1 }, old)).toBe('nft');
  });

  it('honours an explicit backend the kernel has', () => {
    expect(selectBackend({ ...cfg, backend: 'xt_cluster' }, modern)).toBe('xt_cluster');
    expect(selectBackend({ ...cfg, backend: 'nft' }, old)).toBe('nft');
    expect(selectBackend({ ...cfg, backend: 'clusterip' }, old)).toBe('clusterip');
  });

  it('refuses CLUSTERIP where the kernel lacks it, naming the alternatives', () => {
    const clusterip = { ...cfg, backend: 'clusterip' } as const;
    expect(() => selectBackend(clusterip, modern)).toThrow(
      new BackendUnavailableError(
        'CLUSTERIP is not in this kernel (6.18.44-fc-v669; removed in Linux 6.3); use backend "xt_cluster" or "nft"',
      ),
    );
    expect(() => selectBackend(clusterip, { ...old, clusterip: false })).toThrow(
      new BackendUnavailableError(
        'CLUSTERIP is not available on this kernel (5.10.0-21-amd64): the ipt_CLUSTERIP module or iptables-legacy\'s CLUSTERIP extension is missing; use backend "xt_cluster" or "nft"',
      ),
    );
  });

  it('reads kernel versions', () => {
    expect(kernelBefore('6.2.16', 6, 3)).toBe(true);
    expect(kernelBefore('5.19.0', 6, 3)).toBe(true);
    expect(kernelBefore('6.3.0-rc1', 6, 3)).toBe(false);
    expect(kernelBefore('7.0.0', 6, 3)).toBe(false);
    expect(kernelBefore('garbage', 6, 3)).toBe(false);
  });

  it('createBackend builds what auto picks on this kernel, and refuses a bad config first', async () => {
    expect(await createBackend(cfg)).toBeInstanceOf(NftBackend);
    await expect(createBackend({ ...cfg, localNode: 3 })).rejects.toThrow(
      'load sharing config unusable for backend auto: localNode: 3 is outside 1..2 (totalNodes)',
    );
  });
});

describe('validateLoadSharing', () => {
  it('accepts a good config', () => {
    expect(validateLoadSharing(cfg)).toEqual([]);
  });

  it('names every problem with its key', () => {
    const bad: LoadSharingConfig = {
      backend: 'clusterip',
      interface: 'eth 0',
      vips: ['10.99.0.10', '10.99.0.10', '10.99.0.0/24'],
      hashmode: 'sourceip',
      clusterMac: '00:11:22:33:44:55',
      totalNodes: 17,
      localNode: 1,
      hashInit: -1,
    };
    expect(validateLoadSharing(bad)).toEqual([
      "interface: \"eth 0\" is not an interface name (1..15 characters, no spaces, '/' or ':')",
      'vips: 10.99.0.10 is listed twice',
      'vips: "10.99.0.0/24" is not an IPv4 or IPv6 address (no prefix length here)',
      'clusterMac: 00:11:22:33:44:55 is not a multicast MAC (the first octet must be odd, e.g. 01:00:5e:00:01:0a): only a multicast MAC reaches every node',
      'totalNodes: 17 is outside 1..16 (the limit of backend clusterip)',
      'hashInit: -1 is not an unsigned 32-bit integer (0..4294967295)',
    ]);
  });

  it('checks node numbers against totalNodes and each backend limit', () => {
    expect(validateLoadSharing({ ...cfg, totalNodes: 2, localNode: 3 })).toEqual([
      'localNode: 3 is outside 1..2 (totalNodes)',
    ]);
    expect(validateLoadSharing({ ...cfg, backend: 'nft', totalNodes: 33 })).toEqual([
      'totalNodes: 33 is outside 1..32 (the limit of backend nft)',
    ]);
    expect(validateLoadSharing({ ...cfg, totalNodes: 32, localNode: 32 })).toEqual([]);
  });

  it('refuses broadcast, malformed MACs, empty VIP lists and unknown hash modes', () => {
    const problems = validateLoadSharing({
      ...cfg,
      vips: [],
      clusterMac: 'ff:ff:ff:ff:ff:ff',
      hashmode: 'destip' as LoadSharingConfig['hashmode'],
    });
    expect(problems).toEqual([
      'vips: at least one VIP is needed',
      'hashmode: "destip" is not one of sourceip, sourceip-sourceport, sourceip-sourceport-destport',
      'clusterMac: the broadcast MAC would deliver VIP traffic to every host of the segment; use a multicast MAC such as 01:00:5e:00:01:0a',
    ]);
    expect(validateLoadSharing({ ...cfg, clusterMac: '01:00:5e:00:01' })).toEqual([
      'clusterMac: "01:00:5e:00:01" is not a MAC address like 01:00:5e:00:01:0a',
    ]);
  });
});

describe('IPv6 VIPs', () => {
  it('xt_cluster: ip6tables hooks on /128, neighbour discovery returned before the hash rules', () => {
    expect(xtInstallScript(cfg6, [2], { chain: false, hooks: [], owned: [] })).toBe(
      [
        '*mangle',
        ':VIPD-CLUSTER - [0:0]',
        '-I PREROUTING -d 2001:db8::10/128 -i eth0 -j VIPD-CLUSTER',
        '-I PREROUTING -d 2001:db8::11/128 -i eth0 -j VIPD-CLUSTER',
        '-A VIPD-CLUSTER -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-solicitation -j RETURN',
        '-A VIPD-CLUSTER -p ipv6-icmp -m icmp6 --icmpv6-type neighbour-advertisement -j RETURN',
        '-A VIPD-CLUSTER -m cluster --cluster-total-nodes 2 --cluster-local-node 2 --cluster-hash-seed 0xdeadbeef -j RETURN',
        '-A VIPD-CLUSTER -j DROP',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect(xtTools(cfg6)).toEqual({ save: 'ip6tables-save', restore: 'ip6tables-restore' });
    expect(xtTools(cfg)).toEqual({ save: 'iptables-save', restore: 'iptables-restore' });
    // An ownership change keeps the neighbour rules: the chain is redeclared (emptied) each time.
    expect(
      xtOwnedScript(cfg6, [])
        .split('\n')
        .filter((l) => l.includes('icmpv6')),
    ).toHaveLength(2);
  });

  it('xt_cluster reads hooks back as ip6tables-save prints them', () => {
    const save = [
      '*mangle',
      ':VIPD-CLUSTER - [0:0]',
      '-A PREROUTING -d 2001:db8::10/128 -i eth0 -j VIPD-CLUSTER',
      '-A VIPD-CLUSTER -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j RETURN',
      '-A VIPD-CLUSTER -m cluster --cluster-local-nodemask 0x00000002 --cluster-total-nodes 2 --cluster-hash-seed 0xdeadbeef -j RETURN',
      'COMMIT',
    ].join('\n');
    const state = parseXtState(save);
    expect(state.owned).toEqual([2]);
    // Present hooks are not inserted again.
    expect(xtInstallScript(cfg6, [2], state)).not.toContain('-I PREROUTING -d 2001:db8::10/128');
  });

  it('nft: table ip6, the hash over ct original ip6 saddr, neighbour discovery passes', () => {
    const script = nftClusterScript({ ...cfg6, hashmode: 'sourceip-sourceport-destport' }, [1]);
    expect(script.split('\n').slice(0, 3)).toEqual([
      'table ip6 vipd_cluster {}',
      'delete table ip6 vipd_cluster',
      'table ip6 vipd_cluster {',
    ]);
    expect(script).toContain(
      '\t\tiifname "eth0" ip6 daddr { 2001:db8::10, 2001:db8::11 } jump cluster\n',
    );
    expect(script).toContain(
      [
        '\t\tmeta pkttype multicast meta pkttype set host',
        '\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } counter return',
        '\t\tct original protocol { tcp, udp, udplite, sctp, dccp } jhash ct original ip6 saddr . ct original proto-src . ct original proto-dst mod 2 seed 0xdeadbeef offset 1 @owned counter return',
        '\t\tct original protocol != { tcp, udp, udplite, sctp, dccp } jhash ct original ip6 saddr mod 2 seed 0xdeadbeef offset 1 @owned counter return',
        '\t\tcounter drop',
      ].join('\n'),
    );
    expect(nftOwnedScript(cfg6, [2])).toBe(
      'flush set ip6 vipd_cluster owned\nadd element ip6 vipd_cluster owned { 2 }\n',
    );
    expect(nftRemoveScript(cfg6)).toBe(
      'table ip6 vipd_cluster {}\ndelete table ip6 vipd_cluster\n',
    );
  });

  it('neighbour discovery rewrite: solicitations and advertisements from a VIP, our MAC only', () => {
    const script = ndRewriteScript(cfg6, '02:00:00:00:00:01');
    const comp = checksumCompensation('02:00:00:00:00:01', cfg6.clusterMac)
      .toString(16)
      .padStart(4, '0');
    const rule = (type: string, option: string): string =>
      `\t\toifname "eth0" ip6 saddr { 2001:db8::10, 2001:db8::11 } icmpv6 type ${type} @th,48,16 0x0000 @th,192,16 ${option} @th,208,48 0x020000000001 @th,48,16 set 0x${comp} @th,208,48 set 0x3333ff000010 counter`;
    expect(script).toBe(
      [
        'table ip6 vipd_nd {}',
        'delete table ip6 vipd_nd',
        'table ip6 vipd_nd {',
        '\tchain out {',
        '\t\ttype filter hook output priority filter; policy accept;',
        rule('nd-neighbor-solicit', '0x0101'),
        rule('nd-neighbor-advert', '0x0201'),
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
    expect(neighbourRemoveScript(cfg6)).toBe(ndRemoveScript());
    expect(neighbourRemoveScript(cfg)).toBe(arpRemoveScript());
  });

  it("the rule's two writes leave a neighbour advertisement's checksum valid, for any MACs", () => {
    const mac = fc
      .uint8Array({ minLength: 6, maxLength: 6 })
      .map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
    fc.assert(
      fc.property(
        mac,
        mac,
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (own, cluster, dst) => {
          const src = ipv6ToBytes('2001:db8::10');
          // Pseudo-header (RFC 8200 8.1): source, destination, length 32, next header 58.
          const pseudo = Buffer.concat([src, dst, Buffer.from([0, 0, 0, 32, 0, 0, 0, 58])]);
          const na = Buffer.alloc(32);
          na[0] = 136;
          na[4] = 0x60; // solicited, override
          src.copy(na, 8);
          na[24] = 2;
          na[25] = 1;
          Buffer.from(own.replace(/:/g, ''), 'hex').copy(na, 26);
          na.writeUInt16BE(internetChecksum(pseudo, na), 2);
          // Apply every `@th,OFFSET,LEN set 0xVALUE` of the rule exactly as nft would (no checksum fix).
          const rule = ndRewriteScript({ ...cfg6, clusterMac: cluster }, own)
            .split('\n')
            .find((l) => l.includes('nd-neighbor-advert'));
          for (const m of rule?.matchAll(/@th,(\d+),(\d+) set 0x([0-9a-f]+)/g) ?? []) {
            const [offset, len] = [Number(m[1]) / 8, Number(m[2]) / 8];
            Buffer.from((m[3] ?? '').padStart(2 * len, '0'), 'hex').copy(na, offset);
          }
          expect(na.subarray(26, 32).toString('hex')).toBe(cluster.replace(/:/g, ''));
          expect(checksumIsValid(pseudo, na)).toBe(true);
        },
      ),
    );
  });

  it('auto picks nft for IPv6 even where CLUSTERIP exists; CLUSTERIP itself is refused', () => {
    const old = { release: '5.10.0-21-amd64', clusterip: true };
    expect(selectBackend(cfg6, old)).toBe('nft');
    expect(() => selectBackend({ ...cfg6, backend: 'clusterip' }, old)).toThrow(
      new LoadSharingConfigError(
        'backend: CLUSTERIP is IPv4-only (ipt_CLUSTERIP); use xt_cluster or nft',
      ),
    );
    expect(() => new ClusterIpBackend({ ...cfg6, backend: 'clusterip' })).toThrow(
      'load sharing config unusable for backend clusterip: backend: CLUSTERIP is IPv4-only (ipt_CLUSTERIP); use xt_cluster or nft',
    );
  });

  it('validation: one family per set, canonical text, no all-nodes MAC', () => {
    expect(validateLoadSharing(cfg6)).toEqual([]);
    expect(validateLoadSharing({ ...cfg6, backend: 'xt_cluster' })).toEqual([]);
    expect(validateLoadSharing({ ...cfg6, vips: ['2001:db8::10', '10.99.0.10'] })).toEqual([
      'vips: 10.99.0.10 is IPv4 and 2001:db8::10 is IPv6: a load-sharing set is one address family (its rules, hash and ARP or neighbour discovery are per family); keep one family here',
    ]);
    expect(validateLoadSharing({ ...cfg6, vips: ['2001:DB8:0::10', '2001:db8::10'] })).toEqual([
      'vips: 2001:DB8:0::10 is not in canonical form (RFC 5952): write 2001:db8::10',
    ]);
    expect(validateLoadSharing({ ...cfg6, clusterMac: '33:33:00:00:00:01' })).toEqual([
      'clusterMac: 33:33:00:00:00:01 is the all-nodes MAC (ff02::1): it would deliver VIP traffic to every IPv6 host of the segment; use a multicast MAC such as 33:33:ff:00:00:10 (the solicited-node MAC of 2001:db8::10)',
    ]);
    expect(solicitedNodeMac('2001:db8::1:abcd:ef12')).toBe('33:33:ff:cd:ef:12');
  });
});
