import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jhashBytes, jhashWords, ownerNode, reciprocalScale } from '../../src/cluster/hash.js';
import { bytesToIpv6, ipv6ToBytes } from '../../src/net/address.js';

describe('cluster hash', () => {
  it('jhash over 4 bytes equals jhash_1word of the little-endian load (why nft and xt_cluster agree)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat({ max: 0xffffffff }),
        (bytes, seed) => {
          const word =
            ((bytes[0] ?? 0) |
              ((bytes[1] ?? 0) << 8) |
              ((bytes[2] ?? 0) << 16) |
              ((bytes[3] ?? 0) << 24)) >>>
            0;
          expect(jhashBytes(bytes, seed)).toBe(jhashWords([word], seed));
        },
      ),
    );
  });

  it('reciprocal scale maps the 32-bit range onto 0..n-1 evenly at the edges', () => {
    expect(reciprocalScale(0, 7)).toBe(0);
    expect(reciprocalScale(0xffffffff, 7)).toBe(6);
    expect(reciprocalScale(0x80000000, 2)).toBe(1);
  });

  it('every backend and hash mode gives a node in 1..N, and modes with ports need them', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('clusterip' as const, 'xt_cluster' as const, 'nft' as const),
        fc.constantFrom(
          'sourceip' as const,
          'sourceip-sourceport' as const,
          'sourceip-sourceport-destport' as const,
        ),
        fc.ipV4(),
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 1, max: 32 }),
        (backend, mode, saddr, port, n) => {
          const node = ownerNode(backend, mode, { saddr, sport: port, dport: 443 }, n, 0x1234);
          expect(node).toBeGreaterThanOrEqual(1);
          expect(node).toBeLessThanOrEqual(n);
        },
      ),
    );
    expect(() => ownerNode('nft', 'sourceip-sourceport', { saddr: '10.0.0.1' }, 2, 0)).toThrow(
      /source port/,
    );
  });

  it('CLUSTERIP hashes ntohl(saddr), not the raw load: the two differ for most clients', () => {
    const differ = Array.from({ length: 64 }, (_, i) => `10.99.0.${100 + i}`).filter(
      (saddr) =>
        ownerNode('clusterip', 'sourceip', { saddr }, 16, 0) !==
        ownerNode('nft', 'sourceip', { saddr }, 16, 0),
    );
    expect(differ.length).toBeGreaterThan(32);
  });

  it("IPv6: the running kernel's own answers (test/integration/cluster-hash.test.ts, N 7, seed 0xdeadbeef)", () => {
    // nft: jhash over 16 bytes (source) and 24 (source . sport . dport, padded); xt_cluster:
    // jhash2 over the source's first word only.
    const vectors = [
      ['nft', 'sourceip', '301e:5c0d:a11b:cfd5:43cd:c586:fa8c:f820', 0, 3],
      ['nft', 'sourceip', '2257:3f3:6a23:234:2c0c:f8ae:7ddd:ce67', 0, 7],
      ['nft', 'sourceip', '3fff:87b2:ddc2:9c3:8bd6:2030:c9e8:f457', 0, 4],
      ['nft', 'sourceip-sourceport-destport', '2a5c:fd80:123e:250b:a0fa:4d39:b36f:bc91', 23009, 6],
      ['nft', 'sourceip-sourceport-destport', '2938:ceb3:5e31:ffe1:1bc7:392d:75a2:1558', 43786, 3],
      ['nft', 'sourceip-sourceport-destport', '326f:31e:4899:81d6:24a3:e3dc:c691:10d4', 35825, 7],
      ['xt_cluster', 'sourceip', '2001:db8:d920:7bf4:593f:564d:db09:8fe3', 0, 5],
      ['xt_cluster', 'sourceip', '3940:94f4:bf03:82bd:b782:342:59e9:7e18', 0, 1],
      ['xt_cluster', 'sourceip', '23e0:e941:95fb:33ac:935b:3f8c:871b:f53b', 0, 3],
    ] as const;
    for (const [backend, mode, saddr, sport, node] of vectors) {
      expect(ownerNode(backend, mode, { saddr, sport, dport: 9999 }, 7, 0xdeadbeef), saddr).toBe(
        node,
      );
    }
  });

  it('IPv6 through xt_cluster depends on the first 32 bits of the source only; nft on all 128', () => {
    fc.assert(
      fc.property(
        fc.ipV6(),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.nat({ max: 0xffffffff }),
        (saddr, tail, seed) => {
          const other = Buffer.from(ipv6ToBytes(saddr));
          Buffer.from(tail).copy(other, 4);
          const node = (backend: 'xt_cluster' | 'nft', a: string): number =>
            ownerNode(backend, 'sourceip', { saddr: a }, 32, seed);
          expect(node('xt_cluster', bytesToIpv6(other))).toBe(node('xt_cluster', saddr));
        },
      ),
    );
    const lan = Array.from({ length: 32 }, (_, i) => `2001:db8::${i + 1}`);
    expect(new Set(lan.map((saddr) => ownerNode('nft', 'sourceip', { saddr }, 4, 7))).size).toBe(4);
  });

  it('CLUSTERIP has no IPv6 hash', () => {
    expect(() => ownerNode('clusterip', 'sourceip', { saddr: '2001:db8::1' }, 2, 0)).toThrow(
      'CLUSTERIP hashes IPv4 clients only, not 2001:db8::1',
    );
  });
});
