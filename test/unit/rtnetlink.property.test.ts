/**
 * Properties of the rtnetlink codec (src/net/rtnetlink.ts), with fast-check (it prints the seed
 * and the shrunk input of a failure):
 * - an address request decodes to what it was built from (a request to add is laid out as the
 *   kernel's RTM_NEWADDR), IPv4 and IPv6, any index, prefix and flags; several in one datagram
 *   decode in order;
 * - a link message with any name, MAC, operstate and flags decodes to them, and the up rule holds;
 * - arbitrary bytes, and the kernel's captured datagrams mutated at random, never make the
 *   decoder throw, and what it returns is always one of its kinds.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AF_INET,
  AF_INET6,
  decodeDatagram,
  encodeAddAddress,
  encodeDeleteAddress,
  IF_OPER_UNKNOWN,
  IF_OPER_UP,
  IFF_LOWER_UP,
  linkOperUp,
  RTM_NEWLINK,
  setSequence,
  type AddressSpec,
  type RtMessage,
} from '../../src/net/rtnetlink.js';
import { REPO_ROOT } from '../support/paths.js';

const KINDS = new Set(['link', 'address', 'error', 'done', 'other', 'malformed']);

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const ipv6 = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((g) => g.map((x) => x.toString(16)).join(':'));

const spec: fc.Arbitrary<AddressSpec> = fc.oneof(
  fc.record({
    family: fc.constant(AF_INET),
    index: fc.nat(0xffffffff),
    address: ipv4,
    prefix: fc.nat(255),
    flags: fc.nat(0xffffffff),
  }),
  fc.record({
    family: fc.constant(AF_INET6),
    index: fc.nat(0xffffffff),
    address: ipv6,
    prefix: fc.nat(255),
    flags: fc.nat(0xffffffff),
  }),
);

/** The groups of an IPv6 text, for comparing it with its canonical form. */
function groups(text: string): number[] {
  const [head = '', tail] = text.split('::');
  const h = head === '' ? [] : head.split(':').map((g) => parseInt(g, 16));
  if (tail === undefined) return h;
  const t = tail === '' ? [] : tail.split(':').map((g) => parseInt(g, 16));
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
}

function wellFormed(ms: RtMessage[]): void {
  for (const m of ms) {
    expect(KINDS.has(m.kind)).toBe(true);
    if (m.kind === 'malformed') expect(m.reason.length).toBeGreaterThan(0);
  }
}

describe('rtnetlink codec properties', () => {
  it('an address request decodes to what it was built from', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(spec, fc.boolean(), fc.nat(0xffffffff)), { minLength: 1, maxLength: 8 }),
        (reqs) => {
          const datagram = Buffer.concat(
            reqs.map(([s, add, seq]) => {
              const b = add ? encodeAddAddress(0, s) : encodeDeleteAddress(0, s);
              setSequence(b, seq);
              return b;
            }),
          );
          const out = decodeDatagram(datagram);
          expect(out).toHaveLength(reqs.length);
          out.forEach((m, i) => {
            const [s, add, seq] = reqs[i] ?? [];
            if (s === undefined || m.kind !== 'address')
              throw new Error(`not an address: ${m.kind}`);
            expect(m.header.seq).toBe(seq);
            expect(m.deleted).toBe(!add);
            expect([m.family, m.index, m.prefix, m.flags]).toEqual([
              s.family,
              s.index,
              s.prefix,
              s.flags,
            ]);
            if (s.family === AF_INET) expect(m.local).toBe(s.address);
            else expect(groups(m.local ?? '')).toEqual(groups(s.address));
            expect(m.address).toBe(m.local);
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a link message decodes to its name, MAC, operstate and flags', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9._-]{0,14}$/);
    fc.assert(
      fc.property(
        name,
        fc.uint8Array({ minLength: 0, maxLength: 20 }),
        fc.nat(6),
        fc.nat(0xffffffff),
        fc.integer({ min: -1, max: 0x7fffffff }),
        (ifname, mac, oper, flags, index) => {
          const attr = (type: number, data: Buffer): Buffer => {
            const b = Buffer.alloc(4 + data.length + ((4 - (data.length % 4)) % 4));
            b.writeUInt16LE(4 + data.length, 0);
            b.writeUInt16LE(type, 2);
            data.copy(b, 4);
            return b;
          };
          const fixed = Buffer.alloc(16);
          fixed.writeInt32LE(index, 4);
          fixed.writeUInt32LE(flags, 8);
          const body = Buffer.concat([
            fixed,
            attr(3, Buffer.from(`${ifname}\0`)),
            attr(1, Buffer.from(mac)),
            attr(16, Buffer.from([oper])),
          ]);
          const h = Buffer.alloc(16);
          h.writeUInt32LE(16 + body.length, 0);
          h.writeUInt16LE(RTM_NEWLINK, 4);
          const [m] = decodeDatagram(Buffer.concat([h, body]));
          if (m?.kind !== 'link') throw new Error(`not a link: ${m?.kind}`);
          expect([m.name, m.index, m.flags, m.operstate]).toEqual([ifname, index, flags, oper]);
          expect(Buffer.from((m.mac ?? '').replace(/:/g, ''), 'hex')).toEqual(Buffer.from(mac));
          expect(linkOperUp(m)).toBe(
            oper === IF_OPER_UP || (oper === IF_OPER_UNKNOWN && (flags & IFF_LOWER_UP) !== 0),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('arbitrary bytes never make the decoder throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        wellFormed(decodeDatagram(Buffer.from(bytes)));
      }),
      { numRuns: 10_000 },
    );
  });

  it("the kernel's datagrams, mutated, never make the decoder throw", () => {
    const capture = JSON.parse(
      readFileSync(resolve(REPO_ROOT, 'test/vectors/rtnetlink.json'), 'utf8'),
    ) as { exchanges: { replies: string[] }[]; events: { datagrams: string[] }[] };
    const seeds = [
      ...capture.exchanges.flatMap((e) => e.replies),
      ...capture.events.flatMap((e) => e.datagrams),
    ].map((h) => Buffer.from(h, 'hex'));
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (which, flips, cut) => {
          const d = Buffer.from(seeds[which] ?? Buffer.alloc(0));
          for (const [at, value] of flips) d[at % d.length] = value;
          wellFormed(decodeDatagram(d));
          wellFormed(decodeDatagram(d.subarray(0, cut % (d.length + 1))));
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
