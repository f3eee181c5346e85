import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jhashBytes, jhashWords, ownerNode, reciprocalScale } from '../../src/cluster/hash.js';

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
});
