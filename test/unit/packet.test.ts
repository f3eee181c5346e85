// VRRP codec against real keepalived 2.2.7 and ucarp captures (test/vectors, expected values
// parsed from tcpdump's own decoding in the comment above each packet), crafted rejections, and
// fast-check properties for round trips and for never throwing on hostile input.

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { bytesToIpv6, uint32ToIpv4 } from '../../src/net/address.js';
import { internetChecksum } from '../../src/net/checksum.js';
import { decodeIpv4, encodeIpv4, type Ipv4Header } from '../../src/net/ipv4.js';
import {
  decodeAdvert,
  encodeAdvert,
  EncodeError,
  VRRP_REJECTIONS,
  type ChecksumMode,
  type VrrpAdvert,
  type VrrpDecoded,
  type WireContext,
} from '../../src/vrrp/packet.js';
import { ipv6Wire, loadVectors, VECTOR_DIR, type Vector } from '../support/vectors.js';

const { vectors, vectors6, problems } = loadVectors();
const vrrpVectors = vectors.filter((v) => v.vrrp !== undefined);
const carpVectors = vectors.filter((v) => v.vrrp === undefined);

function wire(v: Vector): { payload: Buffer; header: Ipv4Header } {
  const ip = decodeIpv4(v.bytes);
  if (!ip.ok) throw new Error(`${v.name}: IPv4 rejected as ${ip.reason}`);
  return ip;
}

function ctxOf(header: Ipv4Header): WireContext {
  return { src: header.src, dst: header.dst, ttl: header.ttl };
}

function vectorWhere(pred: (a: VrrpAdvert) => boolean): Vector {
  const v = vrrpVectors.find((x) => x.vrrp !== undefined && pred(x.vrrp.advert));
  if (!v) throw new Error('no vector of the kind this test needs was loaded');
  return v;
}

/** Rewrites the checksum in the message-only form, which the decoder accepts for v2 and v3. */
function fixChecksum(message: Buffer): Buffer {
  message.writeUInt16BE(0, 6);
  message.writeUInt16BE(internetChecksum(message), 6);
  return message;
}

function rejection(decoded: VrrpDecoded): string {
  return decoded.ok ? 'ok' : decoded.reason;
}

describe('vector files', () => {
  it(`are all present and parse (${VECTOR_DIR})`, () => {
    expect(problems).toEqual([]);
    expect(vrrpVectors.length).toBeGreaterThan(0);
    expect(carpVectors.length).toBeGreaterThan(0);
  });
});

describe('keepalived vectors', () => {
  it.each(vrrpVectors.map((v) => [v.name, v] as const))('%s decodes and re-encodes', (_, v) => {
    const { header, payload } = wire(v);
    const { totalLength, ...expectedHeader } = v.ip;
    expect(header).toEqual(expectedHeader);
    expect(v.bytes.length).toBe(totalLength);
    expect(payload.length).toBe(v.vrrp?.length);

    const decoded = decodeAdvert(payload, ctxOf(header));
    if (!decoded.ok) throw new Error(`rejected: ${decoded.reason}: ${decoded.detail}`);
    expect(decoded.advert).toEqual(v.vrrp?.advert);
    // keepalived's default v3 checksum includes the pseudo-header (RFC 5798).
    expect(decoded.checksum).toBe(decoded.advert.version === 2 ? 'v2' : 'rfc5798');

    const mode: ChecksumMode = decoded.checksum === 'rfc9568' ? 'rfc9568' : 'rfc5798';
    const message = encodeAdvert(decoded.advert, {
      src: header.src,
      dst: header.dst,
      checksum: mode,
    });
    expect(encodeIpv4(header, message).toString('hex')).toBe(v.bytes.toString('hex'));
  });
});

describe('ucarp vectors', () => {
  it.each(carpVectors.map((v) => [v.name, v] as const))('%s is rejected as carp', (_, v) => {
    const { header, payload } = wire(v);
    expect(header).toMatchObject({ src: v.ip.src, tos: v.ip.tos, dontFragment: true });
    const decoded = decodeAdvert(payload, ctxOf(header));
    expect(decoded).toMatchObject({ ok: false, reason: 'carp' });
  });
});

describe('rejections', () => {
  const v2 = () => wire(vectorWhere((a) => a.version === 2 && a.auth?.type === 0));
  const v2auth = () => wire(vectorWhere((a) => a.auth?.type === 1));
  const v3 = () => wire(vectorWhere((a) => a.version === 3));
  const mutate = (base: { payload: Buffer }, edit: (m: Buffer) => Buffer | void): Buffer => {
    const copy = Buffer.from(base.payload);
    return edit(copy) ?? copy;
  };
  const setByte = (offset: number, value: number) => (m: Buffer) => {
    m.writeUInt8(value, offset);
  };

  const cases: { name: string; reason: string; run: () => VrrpDecoded }[] = [
    {
      name: '7 bytes',
      reason: 'truncated',
      run: () => decodeAdvert(v2().payload.subarray(0, 7), ctxOf(v2().header)),
    },
    {
      name: 'TTL 1',
      reason: 'bad-ttl',
      run: () => decodeAdvert(v2().payload, { ...ctxOf(v2().header), ttl: 1 }),
    },
    {
      name: 'version 4',
      reason: 'wrong-version',
      run: () => decodeAdvert(mutate(v2(), setByte(0, 0x41)), ctxOf(v2().header)),
    },
    {
      name: 'version 1',
      reason: 'wrong-version',
      run: () => decodeAdvert(mutate(v3(), setByte(0, 0x11)), ctxOf(v3().header)),
    },
    {
      name: 'type 2',
      reason: 'wrong-type',
      run: () => decodeAdvert(mutate(v2(), setByte(0, 0x22)), ctxOf(v2().header)),
    },
    {
      name: 'ucarp packet',
      reason: 'carp',
      run: () => {
        const carp = carpVectors[0];
        if (!carp) throw new Error('no ucarp vector loaded');
        return decodeAdvert(wire(carp).payload, ctxOf(wire(carp).header));
      },
    },
    {
      name: 'v2 with 4 extra bytes',
      reason: 'bad-length',
      run: () =>
        decodeAdvert(
          fixChecksum(Buffer.concat([v2().payload, Buffer.alloc(4)])),
          ctxOf(v2().header),
        ),
    },
    {
      name: 'v3 claiming 2 addresses but carrying 1',
      reason: 'bad-length',
      run: () => decodeAdvert(fixChecksum(mutate(v3(), setByte(3, 2))), ctxOf(v3().header)),
    },
    {
      name: 'v2 checksum byte flipped',
      reason: 'bad-checksum',
      run: () =>
        decodeAdvert(
          mutate(v2(), (m) => void (m[6] = (m[6] ?? 0) ^ 0xff)),
          ctxOf(v2().header),
        ),
    },
    {
      name: 'v3 checksum byte flipped',
      reason: 'bad-checksum',
      run: () =>
        decodeAdvert(
          mutate(v3(), (m) => void (m[7] = (m[7] ?? 0) ^ 0x01)),
          ctxOf(v3().header),
        ),
    },
    {
      name: 'v2 VRID 0',
      reason: 'zero-vrid',
      run: () => decodeAdvert(fixChecksum(mutate(v2(), setByte(1, 0))), ctxOf(v2().header)),
    },
    {
      name: 'v3 with no addresses',
      reason: 'zero-count',
      run: () => {
        const m = mutate(v3(), (b) => b.subarray(0, 8));
        m.writeUInt8(0, 3);
        return decodeAdvert(fixChecksum(m), ctxOf(v3().header));
      },
    },
    {
      name: 'v2 interval 0 s',
      reason: 'zero-interval',
      run: () => decodeAdvert(fixChecksum(mutate(v2(), setByte(5, 0))), ctxOf(v2().header)),
    },
    {
      name: 'v3 interval 0 cs with the reserved bits set',
      reason: 'zero-interval',
      run: () =>
        decodeAdvert(
          fixChecksum(mutate(v3(), (m) => void m.writeUInt16BE(0xf000, 4))),
          ctxOf(v3().header),
        ),
    },
    {
      name: 'v2 auth type 2 (IP AH)',
      reason: 'unsupported-auth',
      run: () => decodeAdvert(fixChecksum(mutate(v2auth(), setByte(4, 2))), ctxOf(v2auth().header)),
    },
  ];

  it('cover every rejection reason', () => {
    expect(new Set(cases.map((c) => c.reason))).toEqual(new Set(VRRP_REJECTIONS));
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    const decoded = c.run();
    expect(rejection(decoded)).toBe(c.reason);
    expect(decoded.ok ? '' : decoded.detail).not.toBe('');
  });

  it('describe a bad length with the numbers an operator needs', () => {
    const m = fixChecksum(Buffer.concat([v2().payload, Buffer.alloc(4)]));
    expect(decodeAdvert(m, ctxOf(v2().header))).toMatchObject({
      detail: 'length 24 does not match 16 + 4 x 1 addresses',
    });
  });

  it('report the first fault in check order', () => {
    const { payload, header } = v2();
    const wrongVersion = mutate(v2(), setByte(0, 0x41));
    expect(rejection(decodeAdvert(wrongVersion, { ...ctxOf(header), ttl: 64 }))).toBe('bad-ttl');
    const badSumAndVrid = mutate(v2(), setByte(1, 0));
    expect(rejection(decodeAdvert(badSumAndVrid, ctxOf(header)))).toBe('bad-checksum');
    // CARP's shape is enough (no VRRPv2 packet with count 7 is 36 bytes): a damaged CARP packet
    // is still CARP, and the CARP decoder reports its checksum.
    const carp = carpVectors[0];
    if (!carp) throw new Error('no ucarp vector loaded');
    const brokenCarp = Buffer.from(wire(carp).payload);
    brokenCarp.writeUInt8((brokenCarp[6] ?? 0) ^ 0xff, 6);
    expect(rejection(decodeAdvert(brokenCarp, ctxOf(header)))).toBe('carp');
    expect(rejection(decodeAdvert(payload, ctxOf(header)))).toBe('ok');
  });
});

describe('receive details', () => {
  const v3vector = () => wire(vectorWhere((a) => a.version === 3));

  it('skips the TTL check when the transport cannot see it', () => {
    const { payload, header } = v3vector();
    expect(decodeAdvert(payload, { src: header.src, dst: header.dst }).ok).toBe(true);
  });

  it('ignores the v3 reserved bits', () => {
    const { payload, header } = v3vector();
    const m = Buffer.from(payload);
    m.writeUInt8((m[4] ?? 0) | 0xf0, 4);
    const decoded = decodeAdvert(fixChecksum(m), ctxOf(header));
    expect(decoded).toMatchObject({ ok: true, advert: { intervalCs: 100 }, checksum: 'rfc9568' });
  });

  it('uses the real destination in the pseudo-header for unicast', () => {
    const advert: VrrpAdvert = {
      version: 3,
      vrid: 7,
      priority: 100,
      intervalCs: 100,
      addresses: ['10.0.0.9'],
    };
    const unicast = { src: '10.0.0.1', dst: '10.0.0.2' };
    const m = encodeAdvert(advert, { ...unicast, checksum: 'rfc5798' });
    expect(decodeAdvert(m, { ...unicast, ttl: 255 })).toMatchObject({
      ok: true,
      checksum: 'rfc5798',
    });
    expect(rejection(decodeAdvert(m, { ...unicast, dst: '224.0.0.18' }))).toBe('bad-checksum');
  });

  it('strips only trailing NULs from a v2 password', () => {
    const advert: VrrpAdvert = {
      version: 2,
      vrid: 1,
      priority: 1,
      intervalCs: 100,
      addresses: ['10.0.0.9'],
      auth: { type: 1, password: 'a\0b' },
    };
    const m = encodeAdvert(advert, { src: '10.0.0.1', dst: '224.0.0.18', checksum: 'rfc5798' });
    expect(decodeAdvert(m, { src: '10.0.0.1', dst: '224.0.0.18' })).toMatchObject({
      ok: true,
      advert,
    });
  });
});

describe('encodeAdvert refuses what it cannot encode', () => {
  const base: VrrpAdvert = {
    version: 3,
    vrid: 1,
    priority: 100,
    intervalCs: 100,
    addresses: ['10.0.0.1'],
  };
  const v2base: VrrpAdvert = { ...base, version: 2, auth: { type: 0 } };
  const cases: [string, VrrpAdvert, RegExp, ChecksumMode?, string?][] = [
    ['vrid 0', { ...base, vrid: 0 }, /vrid 0/],
    ['vrid 256', { ...base, vrid: 256 }, /vrid 256/],
    ['priority 256', { ...base, priority: 256 }, /priority 256/],
    ['priority -1', { ...base, priority: -1 }, /priority -1/],
    ['version 4', { ...base, version: 4 as 3 }, /version 4/],
    ['v2 interval 1.5 s', { ...v2base, intervalCs: 150 }, /intervalCs 150/],
    ['v2 interval 256 s', { ...v2base, intervalCs: 25600 }, /intervalCs 25600/],
    ['v2 interval 0', { ...v2base, intervalCs: 0 }, /intervalCs 0/],
    ['v3 interval 0', { ...base, intervalCs: 0 }, /intervalCs 0/],
    ['v3 interval 4096 cs', { ...base, intervalCs: 4096 }, /intervalCs 4096/],
    ['v3 interval 1.5 cs', { ...base, intervalCs: 1.5 }, /intervalCs 1.5/],
    [
      '9-byte password',
      { ...v2base, auth: { type: 1, password: '123456789' } },
      /password is 9 bytes/,
    ],
    [
      '5 chars, 10 bytes',
      { ...v2base, auth: { type: 1, password: 'ééééé' } },
      /password is 10 bytes/,
    ],
    ['trailing NUL', { ...v2base, auth: { type: 1, password: 'ab\0' } }, /password/],
    ['v3 with a password', { ...base, auth: { type: 1, password: 'x' } }, /VRRPv3/],
    ['no addresses', { ...base, addresses: [] }, /addresses has 0 entries/],
    ['256 addresses', { ...base, addresses: Array(256).fill('10.0.0.1') }, /addresses has 256/],
    [
      'bad address',
      { ...base, addresses: ['10.0.0.1', '10.0.0.256'] },
      /addresses\[1\] "10\.0\.0\.256"/,
    ],
    ['bad pseudo-header src', base, /src "nope"/, 'rfc5798', 'nope'],
  ];
  it.each(cases)('%s', (_, advert, message, checksum = 'rfc9568', src = '10.0.0.1') => {
    const encode = () => encodeAdvert(advert, { src, dst: '224.0.0.18', checksum });
    expect(encode).toThrow(EncodeError);
    expect(encode).toThrow(message);
  });
});

describe('properties', () => {
  const ip = fc.integer({ min: 0, max: 0xffffffff }).map(uint32ToIpv4);
  const addresses = fc.array(ip, { minLength: 1, maxLength: 20 });
  const password = fc
    .string({ unit: 'grapheme', maxLength: 8 })
    .filter((p) => Buffer.byteLength(p) <= 8 && !p.endsWith('\0'));
  const v2advert = fc.record({
    version: fc.constant(2 as const),
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    intervalCs: fc.integer({ min: 1, max: 255 }).map((s) => s * 100),
    addresses,
    auth: fc.oneof(
      fc.constant({ type: 0 as const }),
      password.map((p) => ({ type: 1 as const, password: p })),
    ),
  });
  const v3advert = fc.record({
    version: fc.constant(3 as const),
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    intervalCs: fc.integer({ min: 1, max: 0x0fff }),
    addresses,
  });
  const mode = fc.constantFrom<ChecksumMode>('rfc5798', 'rfc9568');

  it('encode then decode returns the advert and the checksum form used', () => {
    fc.assert(
      fc.property(fc.oneof(v2advert, v3advert), ip, ip, mode, (advert, src, dst, checksum) => {
        const message = encodeAdvert(advert, { src, dst, checksum });
        const decoded = decodeAdvert(message, { src, dst, ttl: 255 });
        if (!decoded.ok) throw new Error(`${decoded.reason}: ${decoded.detail}`);
        expect(decoded.advert).toEqual(advert);
        if (advert.version === 2) {
          expect(decoded.checksum).toBe('v2');
          return;
        }
        const other: ChecksumMode = checksum === 'rfc5798' ? 'rfc9568' : 'rfc5798';
        // Only when the pseudo-header sums to zero do both forms produce the same bytes.
        const coincide = encodeAdvert(advert, { src, dst, checksum: other }).equals(message);
        if (!coincide) expect(decoded.checksum).toBe(checksum);
      }),
      { numRuns: 2000 },
    );
  });

  const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => bytesToIpv6(b));
  const ttl = fc.option(fc.constantFrom(255, 255, 1, 64, 0), { nil: undefined });
  const ctx = fc.oneof(
    fc.record({ src: ip, dst: ip, ttl }),
    fc.record({ src: ipv6, dst: ipv6, ttl }),
  );
  const checkNeverThrows = (payload: Buffer, c: WireContext): void => {
    const decoded = decodeAdvert(payload, c);
    if (!decoded.ok) {
      expect(VRRP_REJECTIONS).toContain(decoded.reason);
      expect(decoded.detail.length).toBeGreaterThan(0);
    }
  };

  it('decodeAdvert never throws on arbitrary bytes, with IPv4 and IPv6 contexts', () => {
    const vrrpLike = fc
      .tuple(fc.constantFrom(0x21, 0x31), fc.uint8Array({ maxLength: 99 }))
      .map(([b0, rest]) => Uint8Array.from([b0, ...rest]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 100 }), vrrpLike), ctx, (bytes, c) =>
        checkNeverThrows(Buffer.from(bytes), c),
      ),
      { numRuns: 3000 },
    );
  });

  it('decodeAdvert never throws on mutated vectors (IPv4 and IPv6)', () => {
    const payloads = [
      ...vectors.map((v) => ({ payload: wire(v).payload, ctx: ctxOf(wire(v).header) })),
      ...vectors6.map(ipv6Wire),
    ];
    const flip = fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) });
    fc.assert(
      fc.property(
        fc.constantFrom(...payloads),
        fc.array(flip, { maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
        ({ payload, ctx: c }, flips, cut) => {
          const m = Buffer.from(payload);
          for (const { at, xor } of flips)
            m.writeUInt8((m[at % m.length] ?? 0) ^ xor, at % m.length);
          const bytes = cut === undefined ? m : m.subarray(0, cut % (m.length + 1));
          checkNeverThrows(bytes, c);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
