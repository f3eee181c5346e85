// IPv4 layer: internet checksum, address conversions and the IPv4 header codec, checked against
// published worked examples (RFC 1071, the classic 192.168.0.1 header) rather than our own output.
// The keepalived/ucarp captures go through decodeIpv4/encodeIpv4 byte for byte in packet.test.ts.

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  AddressError,
  ipv4ToUint32,
  isIpv4,
  readIpv4,
  uint32ToIpv4,
  writeIpv4,
} from '../../src/net/address.js';
import { checksumIsValid, internetChecksum } from '../../src/net/checksum.js';
import {
  decodeIpv4,
  encodeIpv4,
  IPV4_REJECTIONS,
  Ipv4EncodeError,
  type Ipv4Decoded,
  type Ipv4Header,
  type Ipv4Rejection,
} from '../../src/net/ipv4.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('internetChecksum', () => {
  it('matches the RFC 1071 section 3 example', () => {
    // One's-complement sum of 0001 f203 f4f5 f6f7 is ddf2; the field value is its complement.
    expect(internetChecksum(hex('0001 f203 f4f5 f6f7'))).toBe(0x220d);
  });

  it('pads an odd final byte with zero', () => {
    expect(internetChecksum(hex('0001 f203 f4f5 f6'))).toBe(
      internetChecksum(hex('0001f203f4f5f600')),
    );
  });

  it('is 0xffff for no bytes and for all zeros', () => {
    expect(internetChecksum()).toBe(0xffff);
    expect(internetChecksum(new Uint8Array(7))).toBe(0xffff);
  });

  it('treats parts split at any offset as one buffer', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (bytes, cuts) => {
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort(
            (a, b) => a - b,
          );
          const parts = [0, ...points].map((start, i) =>
            bytes.subarray(start, points[i] ?? bytes.length),
          );
          expect(internetChecksum(...parts)).toBe(internetChecksum(bytes));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('validates a buffer once its checksum field is filled in', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 100 }), (bytes) => {
        const b = Buffer.from(bytes.length % 2 === 0 ? bytes : [...bytes, 0]);
        b.writeUInt16BE(0, 0);
        b.writeUInt16BE(internetChecksum(b), 0);
        expect(checksumIsValid(b)).toBe(true);
        b.writeUInt8((b[0] ?? 0) ^ 0x80, 0);
        expect(checksumIsValid(b)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('addresses', () => {
  it('converts in network order, unsigned', () => {
    expect(ipv4ToUint32('10.0.0.1')).toBe(0x0a000001);
    expect(ipv4ToUint32('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4ToUint32('224.0.0.18')).toBe(0xe0000012);
    expect(uint32ToIpv4(0xe0000012)).toBe('224.0.0.18');
    expect(uint32ToIpv4(0)).toBe('0.0.0.0');
  });

  it('round-trips every 32-bit value', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
        const ip = uint32ToIpv4(n);
        expect(isIpv4(ip)).toBe(true);
        expect(ipv4ToUint32(ip)).toBe(n);
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '1.2.3.256',
    '1..2.3',
    ' 1.2.3.4',
    '1.2.3.4\n',
    '0x1.2.3.4',
    '::1',
    '1.2.3.-4',
  ])('rejects %j', (s) => {
    expect(isIpv4(s)).toBe(false);
    expect(() => ipv4ToUint32(s)).toThrow(AddressError);
    expect(() => ipv4ToUint32(s)).toThrow(JSON.stringify(s));
  });

  it.each([-1, 2 ** 32, 1.5, Number.NaN])('refuses %s as a 32-bit address', (n) => {
    expect(() => uint32ToIpv4(n)).toThrow(AddressError);
  });

  it('reads and writes 4 bytes at an offset', () => {
    const buf = Buffer.alloc(8);
    writeIpv4(buf, 3, '192.168.0.199');
    expect(buf.toString('hex')).toBe('000000c0a800c700');
    expect(readIpv4(buf, 3)).toBe('192.168.0.199');
  });
});

// The widely used worked example: 192.168.0.1 -> 192.168.0.199, UDP, DF, TTL 64, checksum b861.
const EXAMPLE_HEADER = '4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7';
const EXAMPLE: Ipv4Header = {
  tos: 0,
  id: 0,
  dontFragment: true,
  ttl: 64,
  protocol: 17,
  src: '192.168.0.1',
  dst: '192.168.0.199',
};
const examplePacket = (): Buffer =>
  Buffer.concat([hex(EXAMPLE_HEADER), Buffer.alloc(0x73 - 20, 0xab)]);

/** Edits a header field and recomputes the header checksum so only the edited fault remains. */
function edited(edit: (p: Buffer) => void, packet = examplePacket()): Buffer {
  edit(packet);
  const headerLength = ((packet[0] ?? 0) & 0x0f) * 4;
  const header = packet.subarray(0, Math.max(20, Math.min(headerLength, packet.length)));
  header.writeUInt16BE(0, 10);
  header.writeUInt16BE(internetChecksum(header), 10);
  return packet;
}

function reasonOf(decoded: Ipv4Decoded): string {
  return decoded.ok ? 'ok' : decoded.reason;
}

describe('encodeIpv4', () => {
  it('reproduces the worked example header and checksum', () => {
    const packet = encodeIpv4(EXAMPLE, Buffer.alloc(0x73 - 20, 0xab));
    expect(packet.subarray(0, 20).toString('hex')).toBe(hex(EXAMPLE_HEADER).toString('hex'));
    expect(packet.equals(examplePacket())).toBe(true);
  });

  it('round-trips any header and payload through decodeIpv4', () => {
    const ip = fc.integer({ min: 0, max: 0xffffffff }).map(uint32ToIpv4);
    const header = fc.record({
      tos: fc.integer({ min: 0, max: 255 }),
      id: fc.integer({ min: 0, max: 0xffff }),
      dontFragment: fc.boolean(),
      ttl: fc.integer({ min: 0, max: 255 }),
      protocol: fc.integer({ min: 0, max: 255 }),
      src: ip,
      dst: ip,
    });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 60 }), (h, payload) => {
        const decoded = decodeIpv4(encodeIpv4(h, Buffer.from(payload)));
        expect(decoded).toEqual({ ok: true, header: h, payload: Buffer.from(payload) });
      }),
      { numRuns: 1000 },
    );
  });

  it.each([
    ['ttl', { ttl: 256 }],
    ['id', { id: -1 }],
    ['tos', { tos: 1.5 }],
    ['protocol', { protocol: 300 }],
  ] as const)('refuses an out-of-range %s', (field, patch) => {
    const encode = () => encodeIpv4({ ...EXAMPLE, ...patch }, Buffer.alloc(0));
    expect(encode).toThrow(Ipv4EncodeError);
    expect(encode).toThrow(field);
  });

  it('refuses a payload that cannot fit and a malformed address', () => {
    expect(() => encodeIpv4(EXAMPLE, Buffer.alloc(65516))).toThrow(Ipv4EncodeError);
    expect(() => encodeIpv4({ ...EXAMPLE, dst: '10.0.0' }, Buffer.alloc(0))).toThrow(AddressError);
  });
});

describe('decodeIpv4', () => {
  it('decodes the worked example', () => {
    const decoded = decodeIpv4(examplePacket());
    expect(decoded).toMatchObject({ ok: true, header: EXAMPLE });
    expect(decoded.ok && decoded.payload.length).toBe(0x73 - 20);
  });

  it('skips options by IHL', () => {
    const withOptions = Buffer.concat([hex(EXAMPLE_HEADER), hex('94040000'), hex('cafe')]);
    const packet = edited((p) => {
      p.writeUInt8(0x46, 0);
      p.writeUInt16BE(p.length, 2);
    }, withOptions);
    const decoded = decodeIpv4(packet);
    expect(decoded).toMatchObject({ ok: true, header: EXAMPLE });
    expect(decoded.ok && decoded.payload.toString('hex')).toBe('cafe');
  });

  it('cuts the payload at total length when the buffer is longer', () => {
    const decoded = decodeIpv4(Buffer.concat([examplePacket(), hex('deadbeef')]));
    expect(decoded.ok && decoded.payload.length).toBe(0x73 - 20);
  });

  it('returns a view, not a copy', () => {
    const packet = examplePacket();
    const decoded = decodeIpv4(packet);
    expect(decoded.ok && decoded.payload.buffer).toBe(packet.buffer);
  });

  const cases: [string, Ipv4Rejection, () => Buffer][] = [
    ['19 bytes', 'truncated', () => examplePacket().subarray(0, 19)],
    [
      'IHL 15 in a 40-byte buffer',
      'truncated',
      () => edited((p) => p.writeUInt8(0x4f, 0)).subarray(0, 40),
    ],
    ['version 6', 'not-ipv4', () => edited((p) => p.writeUInt8(0x65, 0))],
    ['IHL 4', 'bad-header-length', () => edited((p) => p.writeUInt8(0x44, 0))],
    [
      'checksum off by one',
      'bad-header-checksum',
      () => hex(EXAMPLE_HEADER.replace('b861', 'b860')),
    ],
    [
      'total length below the header',
      'bad-total-length',
      () => edited((p) => p.writeUInt16BE(19, 2)),
    ],
    [
      'total length beyond the buffer',
      'bad-total-length',
      () => edited((p) => p.writeUInt16BE(0x74, 2)),
    ],
    // What an old kernel handing back host-order total length would look like.
    [
      'byte-swapped total length',
      'bad-total-length',
      () => edited((p) => p.writeUInt16LE(0x73, 2)),
    ],
    ['more-fragments flag', 'fragment', () => edited((p) => p.writeUInt16BE(0x2000, 6))],
    ['non-zero fragment offset', 'fragment', () => edited((p) => p.writeUInt16BE(0x4001, 6))],
  ];

  it('cover every rejection reason', () => {
    expect(new Set(cases.map(([, reason]) => reason))).toEqual(new Set(IPV4_REJECTIONS));
  });

  it.each(cases)('rejects %s as %s', (_, reason, build) => {
    expect(reasonOf(decodeIpv4(build()))).toBe(reason);
  });

  it('never throws on arbitrary bytes', () => {
    const ipv4Like = fc
      .tuple(fc.integer({ min: 0x40, max: 0x4f }), fc.uint8Array({ maxLength: 79 }))
      .map(([b0, rest]) => Buffer.from([b0, ...rest]));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
          ipv4Like,
        ),
        (bytes) => {
          const decoded = decodeIpv4(bytes);
          if (decoded.ok) expect(decoded.payload.length).toBeLessThanOrEqual(bytes.length - 20);
          else expect(IPV4_REJECTIONS).toContain(decoded.reason);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
