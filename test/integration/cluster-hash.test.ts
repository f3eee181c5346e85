/**
 * vipd's reproduction of the kernel's load-sharing hashes against the running kernel: the kernel
 * stamps its own answer into each flow's conntrack mark (nft `ct mark set jhash ...`, and
 * xt_cluster through one CONNMARK rule per node), and every flow's mark must equal
 * ownerNode()'s prediction. 7 nodes, random source ports; IPv4: 64 client sources on the LAN,
 * IPv6: 112 random global unicast sources (every 32-bit word of the address varies, so the
 * word order and byte order of the IPv6 hashes are both exercised) and 16 random ones inside
 * 2001:db8::/32, which xt_cluster must put on one node (it hashes only the first 32 bits) and nft
 * must not.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ownerNode } from '../../src/cluster/hash.js';
import { bytesToIpv6 } from '../../src/net/address.js';
import { addSources } from '../support/cluster-probe.js';
import { useLab } from '../support/lab-fixture.js';

const N = 7;
const SEED = 0xdeadbeef;

/** A random address in 2000::/3 (global unicast: no special-purpose handling on the way). */
function randomGlobalIpv6(): string {
  const b = randomBytes(16);
  b[0] = 0x20 | ((b[0] ?? 0) & 0x1f);
  return bytesToIpv6(b);
}

/** A random address in 2001:db8::/32. */
function randomInDocPrefix(): string {
  const b = randomBytes(16);
  b.writeUInt32BE(0x20010db8, 0);
  return bytesToIpv6(b);
}

const ONE_SLASH32 = Array.from({ length: 16 }, randomInDocPrefix);

interface Family {
  name: string;
  /** The client's sources; each target gets `target(i)` on eth0 when set (IPv6). */
  sources: string[];
  target?: (i: number) => string;
  nftFamily: 'ip' | 'ip6';
  iptables: string;
  conntrack: 'ipv4' | 'ipv6';
  udp: 'udp4' | 'udp6';
}

const FAMILIES: Family[] = [
  {
    name: 'IPv4',
    sources: Array.from({ length: 64 }, (_, i) => `10.99.0.${100 + i}`),
    nftFamily: 'ip',
    iptables: 'iptables',
    conntrack: 'ipv4',
    udp: 'udp4',
  },
  {
    name: 'IPv6',
    sources: [...Array.from({ length: 112 }, randomGlobalIpv6), ...ONE_SLASH32],
    target: (i) => `2001:db8::${i + 1}`,
    nftFamily: 'ip6',
    iptables: 'ip6tables',
    conntrack: 'ipv6',
    udp: 'udp6',
  },
];

interface Flow {
  saddr: string;
  sport: number;
  mark: number;
}

function parseFlows(conntrack: string): Flow[] {
  return conntrack
    .split('\n')
    .map((l) => /src=(\S+) dst=\S+ sport=(\d+) dport=9999 .*mark=(\d+)/.exec(l))
    .flatMap((m) =>
      m === null ? [] : [{ saddr: m[1] ?? '', sport: Number(m[2]), mark: Number(m[3]) }],
    );
}

describe.each(FAMILIES)(
  'cluster hash (jhash + reciprocal scale) against the kernel, $name',
  (f) => {
    const fx = useLab(['client', 'nft', 'xt', 'nftports']);
    const HOSTS = ['nft', 'xt', 'nftports'];

    it('predicts the node of every flow exactly as nft and xt_cluster compute it', async () => {
      const lab = fx.lab;
      const targets = HOSTS.map((h, i) => f.target?.(i) ?? lab.host(h).address);
      if (f.target !== undefined) {
        for (const [i, h] of HOSTS.entries()) await addSources(lab, h, [targets[i] ?? '']);
        await addSources(lab, 'client', ['2001:db8::99']);
        // Resolve the targets first: a burst from new sources would queue behind resolution.
        for (const t of targets) await lab.exec('client', 'ping', ['-c', '1', '-W', '2', t]);
      }
      await addSources(lab, 'client', f.sources);
      const nft = (host: string, expr: string): Promise<string> => {
        const file = join(lab.logDir, `${host}.nft`);
        writeFileSync(
          file,
          `table ${f.nftFamily} hashcheck {\n chain pre {\n  type filter hook prerouting priority mangle; policy accept;\n  udp dport 9999 ct mark set ${expr} mod ${N} seed ${SEED} offset 1\n }\n}\n`,
        );
        return lab.exec(host, 'nft', ['-f', file]);
      };
      const saddr = `ct original ${f.nftFamily} saddr`;
      await nft('nft', `jhash ${saddr}`);
      await nft('nftports', `jhash ${saddr} . ct original proto-src . ct original proto-dst`);
      for (let k = 1; k <= N; k += 1) {
        await lab.exec('xt', f.iptables, [
          '-t',
          'mangle',
          '-A',
          'PREROUTING',
          '-p',
          'udp',
          '--dport',
          '9999',
          '-m',
          'cluster',
          '--cluster-total-nodes',
          String(N),
          '--cluster-local-node',
          String(k),
          '--cluster-hash-seed',
          `0x${SEED.toString(16)}`,
          '-j',
          'CONNMARK',
          '--set-mark',
          String(k),
        ]);
      }
      const sender = `const d = require('dgram'); const srcs = ${JSON.stringify(f.sources)}; const dsts = ${JSON.stringify(targets)};
      let left = srcs.length; for (const s of srcs) { const sock = d.createSocket('${f.udp}');
      sock.bind({ address: s, port: 20000 + Math.floor(Math.random() * 40000) }, () => {
        let n = dsts.length; for (const t of dsts) sock.send('x', 9999, t, () => { if (--n === 0) { sock.close(); if (--left === 0) process.exit(0); } }); }); }`;
      await lab.exec('client', process.execPath, ['-e', sender]);
      const flows = async (host: string): Promise<Flow[]> =>
        parseFlows(await lab.exec(host, 'conntrack', ['-L', '-f', f.conntrack, '-p', 'udp']));
      const seen = {
        nft: await flows('nft'),
        xt: await flows('xt'),
        nftports: await flows('nftports'),
      };
      for (const host of HOSTS) {
        expect(seen[host as keyof typeof seen].map((fl) => fl.saddr).sort(), host).toEqual(
          [...f.sources].sort(),
        );
      }
      const wrong = [
        ...seen.nft.filter((fl) => fl.mark !== ownerNode('nft', 'sourceip', fl, N, SEED)),
        ...seen.xt.filter((fl) => fl.mark !== ownerNode('xt_cluster', 'sourceip', fl, N, SEED)),
        ...seen.nftports.filter(
          (fl) =>
            fl.mark !==
            ownerNode('nft', 'sourceip-sourceport-destport', { ...fl, dport: 9999 }, N, SEED),
        ),
      ];
      expect(wrong).toEqual([]);
      const perNode = Array.from(
        { length: N },
        (_, k) => seen.nft.filter((fl) => fl.mark === k + 1).length,
      );
      console.log(
        `[measure] ${f.name}: ${f.sources.length} sources over ${N} nodes (kernel = prediction): ${perNode.join('/')}`,
      );
      if (f.nftFamily === 'ip6') {
        const marks = (flows: Flow[]): Set<number> =>
          new Set(flows.filter((fl) => ONE_SLASH32.includes(fl.saddr)).map((fl) => fl.mark));
        expect(marks(seen.xt).size, 'xt_cluster: nodes of one /32').toBe(1);
        expect(marks(seen.nft).size, 'nft: nodes of one /32').toBeGreaterThan(1);
      }
      // Some kernel answers, for pinning in unit tests when the hash code changes.
      const pairs = (flows: Flow[]): string =>
        JSON.stringify(flows.slice(0, 3).map((fl) => [fl.saddr, fl.sport, fl.mark]));
      console.log(
        `[vectors] ${f.name} seed 0x${SEED.toString(16)} N ${N}: nft ${pairs(seen.nft)} xt ${pairs(seen.xt)} nftports ${pairs(seen.nftports)}`,
      );
    });
  },
);
