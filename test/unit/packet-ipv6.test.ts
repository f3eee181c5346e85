// VRRPv3 over IPv6 (RFC 5798 / RFC 9568): the codec against real keepalived 2.2.7 IPv6 captures
// (test/vectors/keepalived-v3-ipv6*.txt, expected values parsed from tcpdump's own decoding),
// crafted rejections, and fast-check properties for round trips and corruption (that decoding
// never throws, on random bytes and mutated vectors, is packet.test.ts's, for both families).
// The pseudo-header below is written from RFC 8200 section 8.1, independently of the codec's.

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { AddressError, bytesToIpv6, ipv6ToBytes } from '../../src/net/address.js';
import { internetChecksum } from '../../src/net/checksum.js';
import {
  decodeAdvert,
  encodeAdvert,
  EncodeError,
  VRRP_GROUP_V6,
  type ChecksumMode,
  type VrrpAdvert,
  type VrrpDecoded,
  type WireContext,
} from '../../src/vrrp/packet.js';
import { decodeIpv6, encodeIpv6, ipv6Wire, loadVectors } from '../support/vectors.js';

const { vectors, vectors6, problems } = loadVectors();

function vectorWith(count: number): { payload: Buffer; ctx: WireContext } {
  const v = vectors6.find((x) => x.vrrp.advert.addresses.length === count);
  if (!v) throw new Error(`no IPv6 vector with ${count} addresses was loaded`);
  return ipv6Wire(v);
}

/** RFC 8200 section 8.1: src, dst, 32-bit upper-layer length, 3 zero bytes, next header 112. */
function pseudoHeader(src: string, dst: string, length: number): Buffer {
  const tail = Buffer.from([0, 0, 0, 0, 0, 0, 0, 112]);
  tail.writeUInt32BE(length, 0);
  return Buffer.concat([ipv6ToBytes(src), ipv6ToBytes(dst), tail]);
}

/** Rewrites the checksum the way an IPv6 sender must, so a test reaches the later checks. */
function fixChecksum(message: Buffer, ctx: WireContext): Buffer {
  message.writeUInt16BE(0, 6);
  message.writeUInt16BE(
    internetChecksum(pseudoHeader(ctx.src, ctx.dst, message.length), message),
    6,
  );
  return message;
}

const VRID_51 = { version: 3, vrid: 51, priority: 200, intervalCs: 100 } as const;

function rejection(decoded: VrrpDecoded): string {
  return decoded.ok ? 'ok' : `${decoded.reason}: ${decoded.detail}`;
}

describe('keepalived IPv6 vectors', () => {
  it('are present: one and two addresses, from both routers, priority 0 included', () => {
    expect(problems).toEqual([]);
    expect(vectors6.length).toBe(8);
    const counts = new Set(vectors6.map((v) => v.vrrp.advert.addresses.length));
    expect(counts).toEqual(new Set([1, 2]));
    const priorities = new Set(vectors6.map((v) => v.vrrp.advert.priority));
    expect(priorities).toEqual(new Set([0, 100, 200]));
    // The IPv6 files never leak into the IPv4 list (fuzz.test.ts decodes those as IPv4).
    expect(vectors.every((v) => v.bytes.readUInt8(0) >> 4 === 4)).toBe(true);
  });

  it.each(vectors6.map((v) => [v.name, v] as const))('%s decodes and re-encodes', (_, v) => {
    const { header, payload } = decodeIpv6(v.bytes);
    const { payloadLength, ...expectedHeader } = v.ip;
    expect(header).toEqual(expectedHeader);
    expect(header).toMatchObject({ hopLimit: 255, dst: VRRP_GROUP_V6 });
    expect(payload.length).toBe(payloadLength);
    expect(payload.length).toBe(v.vrrp.length);

    const ctx = { src: header.src, dst: header.dst, ttl: header.hopLimit };
    const decoded = decodeAdvert(payload, ctx);
    if (!decoded.ok) throw new Error(`rejected: ${decoded.reason}: ${decoded.detail}`);
    expect(decoded.advert).toEqual(v.vrrp.advert);
    expect(decoded.checksum).toBe('ipv6');
    // Checked against the independent pseudo-header too, not only the codec's own.
    expect(internetChecksum(pseudoHeader(ctx.src, ctx.dst, payload.length), payload)).toBe(0);

    // IPv6 has one checksum form, so the send mode must not matter.
    for (const checksum of ['rfc5798', 'rfc9568'] as const) {
      const message = encodeAdvert(decoded.advert, { src: header.src, dst: header.dst, checksum });
      expect(message.toString('hex')).toBe(payload.toString('hex'));
      expect(encodeIpv6(header, message).toString('hex')).toBe(v.bytes.toString('hex'));
    }
  });
});

describe('IPv6 rejections', () => {
  const setByte = (m: Buffer, offset: number, value: number): Buffer => {
    const copy = Buffer.from(m);
    copy.writeUInt8(value, offset);
    return copy;
  };

  const cases: { name: string; want: RegExp; run: () => VrrpDecoded }[] = [
    {
      name: 'hop limit 64',
      want: /^bad-ttl: hop limit 64 is not 255/,
      run: () => decodeAdvert(vectorWith(1).payload, { ...vectorWith(1).ctx, ttl: 64 }),
    },
    {
      name: 'a VRRPv2 packet',
      want: /^wrong-version: .*VRRPv2 has no IPv6/,
      run: () => {
        const { payload, ctx } = vectorWith(1);
        return decodeAdvert(fixChecksum(setByte(payload, 0, 0x21), ctx), ctx);
      },
    },
    {
      name: 'a ucarp packet (CARP runs over IPv6 too, and is named as such)',
      want: /^carp: /,
      run: () => {
        const carp = vectors.find((v) => v.vrrp === undefined);
        if (!carp) throw new Error('no ucarp vector loaded');
        return decodeAdvert(carp.bytes.subarray(20), vectorWith(1).ctx);
      },
    },
    {
      name: 'an IPv4-sized advert (4-byte address)',
      want: /^bad-length: length 12 does not match 8 \+ 16 x 1 addresses$/,
      run: () => {
        const { payload, ctx } = vectorWith(1);
        return decodeAdvert(fixChecksum(Buffer.from(payload.subarray(0, 12)), ctx), ctx);
      },
    },
    {
      name: 'count 2 with one address',
      want: /^bad-length: length 24 does not match 8 \+ 16 x 2 addresses$/,
      run: () => {
        const { payload, ctx } = vectorWith(1);
        return decodeAdvert(fixChecksum(setByte(payload, 3, 2), ctx), ctx);
      },
    },
    {
      name: 'a flipped address bit',
      want: /^bad-checksum: checksum 0x[0-9a-f]{4} does not verify with the IPv6 pseudo-header$/,
      run: () => {
        const { payload, ctx } = vectorWith(2);
        return decodeAdvert(setByte(payload, 39, (payload[39] ?? 0) ^ 0x01), ctx);
      },
    },
    {
      name: "RFC 9568's IPv4 form (message only), which IPv6 does not have",
      want: /^bad-checksum: /,
      run: () => {
        const { payload, ctx } = vectorWith(2);
        const m = Buffer.from(payload);
        m.writeUInt16BE(0, 6);
        m.writeUInt16BE(internetChecksum(m), 6);
        return decodeAdvert(m, ctx);
      },
    },
    {
      name: 'another destination than the one summed',
      want: /^bad-checksum: /,
      run: () => decodeAdvert(vectorWith(1).payload, { ...vectorWith(1).ctx, dst: 'ff02::1' }),
    },
    {
      name: 'VRID 0',
      want: /^zero-vrid: /,
      run: () => {
        const { payload, ctx } = vectorWith(1);
        return decodeAdvert(fixChecksum(setByte(payload, 1, 0), ctx), ctx);
      },
    },
    {
      name: 'no addresses',
      want: /^zero-count: /,
      run: () => {
        const { payload, ctx } = vectorWith(1);
        const m = setByte(payload.subarray(0, 8), 3, 0);
        return decodeAdvert(fixChecksum(m, ctx), ctx);
      },
    },
    {
      name: 'interval 0',
      want: /^zero-interval: /,
      run: () => {
        const { payload, ctx } = vectorWith(1);
        return decodeAdvert(fixChecksum(setByte(payload, 5, 0), ctx), ctx);
      },
    },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_, c) => {
    expect(rejection(c.run())).toMatch(c.want);
  });

  it('skips the hop-limit check when the transport cannot see it', () => {
    const { payload, ctx } = vectorWith(2);
    expect(decodeAdvert(payload, { src: ctx.src, dst: ctx.dst }).ok).toBe(true);
  });

  it('an IPv6 source with an IPv4 destination is a caller bug (AddressError), not a rejection', () => {
    const { payload, ctx } = vectorWith(1);
    expect(() => decodeAdvert(payload, { ...ctx, dst: '224.0.0.18' })).toThrow(AddressError);
  });
});

describe('encodeAdvert over IPv6', () => {
  const base: VrrpAdvert = { ...VRID_51, addresses: ['fe80::200:5eff:fe00:233'] };
  const ctx = { src: 'fe80::1', dst: VRRP_GROUP_V6, checksum: 'rfc5798' as ChecksumMode };

  it('sums a unicast destination as sent', () => {
    const unicast = { src: 'fe80::1', dst: 'fe80::2' };
    const m = encodeAdvert(base, { ...unicast, checksum: 'rfc5798' });
    expect(decodeAdvert(m, { ...unicast, ttl: 255 })).toMatchObject({ ok: true, advert: base });
    expect(rejection(decodeAdvert(m, { ...unicast, dst: VRRP_GROUP_V6 }))).toMatch(/^bad-checksum/);
  });

  it('reads any RFC 4291 text and decodes to RFC 5952 text', () => {
    const m = encodeAdvert(
      { ...base, addresses: ['FE80:0:0:0:200:5EFF:FE00:233', '2001:DB8:99:0::100'] },
      { ...ctx, src: 'FE80::0001' },
    );
    expect(m.length).toBe(8 + 2 * 16);
    expect(decodeAdvert(m, { src: 'fe80::1', dst: VRRP_GROUP_V6, ttl: 255 })).toMatchObject({
      ok: true,
      advert: { addresses: ['fe80::200:5eff:fe00:233', '2001:db8:99::100'] },
    });
  });

  const refusals: [string, VrrpAdvert, Partial<typeof ctx>, RegExp][] = [
    [
      'VRRPv2',
      { ...base, version: 2, auth: { type: 0 } },
      {},
      /VRRPv2 has no IPv6 .* must be version 3/,
    ],
    [
      'an IPv4 address in an IPv6 advert',
      { ...base, addresses: ['fe80::9', '10.0.0.1'] },
      {},
      /addresses\[1\] "10\.0\.0\.1" is not an IPv6 address/,
    ],
    [
      'an IPv6 address in an IPv4 advert',
      { ...base, addresses: ['10.0.0.1', 'fe80::9'] },
      { src: '10.0.0.2', dst: '224.0.0.18' },
      /addresses\[1\] "fe80::9" is not an IPv4 address/,
    ],
    [
      'an IPv4 destination for an IPv6 source',
      base,
      { dst: '224.0.0.18' },
      /dst "224\.0\.0\.18" is not an IPv6 address/,
    ],
    [
      'a malformed IPv6 source',
      base,
      { src: 'fe80::1::2', dst: VRRP_GROUP_V6 },
      /src "fe80::1::2" is not an IPv6 address/,
    ],
  ];
  it.each(refusals)('refuses %s', (_, advert, over, message) => {
    const encode = () => encodeAdvert(advert, { ...ctx, ...over });
    expect(encode).toThrow(EncodeError);
    expect(encode).toThrow(message);
  });
});

describe('IPv6 properties', () => {
  const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => bytesToIpv6(b));
  const linkLocal = fc
    .uint8Array({ minLength: 8, maxLength: 8 })
    .map((b) => bytesToIpv6(Buffer.concat([Buffer.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0]), b])));
  const advert = fc.record({
    version: fc.constant(3 as const),
    vrid: fc.integer({ min: 1, max: 255 }),
    priority: fc.integer({ min: 0, max: 255 }),
    intervalCs: fc.integer({ min: 1, max: 0x0fff }),
    addresses: fc.array(ipv6, { minLength: 1, maxLength: 20 }),
  });
  const dst = fc.oneof(fc.constant(VRRP_GROUP_V6), ipv6);
  const mode = fc.constantFrom<ChecksumMode>('rfc5798', 'rfc9568');

  it('encode then decode returns the advert, whatever the send mode', () => {
    fc.assert(
      fc.property(advert, linkLocal, dst, mode, (a, src, to, checksum) => {
        const message = encodeAdvert(a, { src, dst: to, checksum });
        expect(message.length).toBe(8 + 16 * a.addresses.length);
        const decoded = decodeAdvert(message, { src, dst: to, ttl: 255 });
        if (!decoded.ok) throw new Error(`${decoded.reason}: ${decoded.detail}`);
        expect(decoded).toEqual({ ok: true, advert: a, checksum: 'ipv6' });
        const other: ChecksumMode = checksum === 'rfc5798' ? 'rfc9568' : 'rfc5798';
        expect(encodeAdvert(a, { src, dst: to, checksum: other }).equals(message)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  // A one-byte change moves one 16-bit word by 1..0xff00, never a multiple of 0xffff, so the
  // one's-complement sum always sees it: no single corrupted byte may be accepted, wherever it
  // falls (header, checksum, addresses, or the addresses summed in the pseudo-header).
  it('no single corrupted byte of an advert or of its src/dst is ever accepted', () => {
    const where = fc.constantFrom('message', 'src', 'dst');
    const flip = fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) });
    fc.assert(
      fc.property(advert, linkLocal, dst, where, flip, (a, src, to, part, { at, xor }) => {
        const message = encodeAdvert(a, { src, dst: to, checksum: 'rfc5798' });
        const ctx = { src, dst: to, ttl: 255 };
        const corrupt = (bytes: Buffer): Buffer => {
          const copy = Buffer.from(bytes);
          copy.writeUInt8((copy[at % copy.length] ?? 0) ^ xor, at % copy.length);
          return copy;
        };
        const decoded =
          part === 'message'
            ? decodeAdvert(corrupt(message), ctx)
            : decodeAdvert(message, {
                ...ctx,
                [part]: bytesToIpv6(corrupt(ipv6ToBytes(ctx[part]))),
              });
        expect(decoded.ok).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });
});
