/**
 * vipd's reproduction of the kernel's load-sharing hashes against the running kernel: the kernel
 * stamps its own answer into each flow's conntrack mark (nft `ct mark set jhash ...`, and
 * xt_cluster through one CONNMARK rule per node), and every flow's mark must equal
 * ownerNode()'s prediction. 7 nodes, 64 client sources, random source ports.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ownerNode } from '../../src/cluster/hash.js';
import { useLab } from '../support/lab-fixture.js';

const N = 7;
const SEED = 0xdeadbeef;
const SOURCES = Array.from({ length: 64 }, (_, i) => `10.99.0.${100 + i}`);

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

describe('cluster hash (jhash + reciprocal scale) against the kernel', () => {
  const fx = useLab(['client', 'nft', 'xt', 'nftports']);

  it('predicts the node of every flow exactly as nft and xt_cluster compute it', async () => {
    const lab = fx.lab;
    for (const src of SOURCES)
      await lab.exec('client', 'ip', ['addr', 'add', `${src}/24`, 'dev', 'eth0']);
    const nft = (host: string, expr: string): Promise<string> => {
      const file = join(lab.logDir, `${host}.nft`);
      writeFileSync(
        file,
        `table ip hashcheck {\n chain pre {\n  type filter hook prerouting priority mangle; policy accept;\n  udp dport 9999 ct mark set ${expr} mod ${N} seed ${SEED} offset 1\n }\n}\n`,
      );
      return lab.exec(host, 'nft', ['-f', file]);
    };
    await nft('nft', 'jhash ct original ip saddr');
    await nft(
      'nftports',
      'jhash ct original ip saddr . ct original proto-src . ct original proto-dst',
    );
    for (let k = 1; k <= N; k += 1) {
      await lab.exec('xt', 'iptables', [
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
    const targets = ['nft', 'xt', 'nftports'].map((h) => lab.host(h).address);
    const sender = `const d = require('dgram'); const srcs = ${JSON.stringify(SOURCES)}; const dsts = ${JSON.stringify(targets)};
      let left = srcs.length; for (const s of srcs) { const sock = d.createSocket('udp4');
      sock.bind({ address: s, port: 20000 + Math.floor(Math.random() * 40000) }, () => {
        let n = dsts.length; for (const t of dsts) sock.send('x', 9999, t, () => { if (--n === 0) { sock.close(); if (--left === 0) process.exit(0); } }); }); }`;
    await lab.exec('client', process.execPath, ['-e', sender]);
    const flows = {
      nft: parseFlows(await lab.exec('nft', 'conntrack', ['-L', '-p', 'udp'])),
      xt: parseFlows(await lab.exec('xt', 'conntrack', ['-L', '-p', 'udp'])),
      nftports: parseFlows(await lab.exec('nftports', 'conntrack', ['-L', '-p', 'udp'])),
    };
    expect(flows.nft.length).toBe(64);
    expect(flows.xt.length).toBe(64);
    expect(flows.nftports.length).toBe(64);
    const wrong = [
      ...flows.nft.filter((f) => f.mark !== ownerNode('nft', 'sourceip', f, N, SEED)),
      ...flows.xt.filter((f) => f.mark !== ownerNode('xt_cluster', 'sourceip', f, N, SEED)),
      ...flows.nftports.filter(
        (f) =>
          f.mark !==
          ownerNode('nft', 'sourceip-sourceport-destport', { ...f, dport: 9999 }, N, SEED),
      ),
    ];
    expect(wrong).toEqual([]);
    const perNode = Array.from(
      { length: N },
      (_, k) => flows.nft.filter((f) => f.mark === k + 1).length,
    );
    console.log(`[measure] 64 sources over ${N} nodes (kernel = prediction): ${perNode.join('/')}`);
  });
});
