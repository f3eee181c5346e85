// CARP codec against the ucarp 1.5.2 captures (test/vectors/ucarp.txt: password s3cr3t, vhid 10,
// VIP 10.99.0.100; expected values parsed from tcpdump's decoding in the comment above each
// packet), one test per wire and instance check, and fast-check round trips.

import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  CARP_GROUP,
  CARP_LENGTH,
  CARP_REJECTIONS,
  CARP_RESIGN,
  CarpEncodeError,
  carpDigest,
  checkCarp,
  decodeCarp,
  encodeCarp,
  isCarp,
  type CarpAdvert,
  type CarpDecode,
} from '../../src/carp/packet.js';
import { AddressError } from '../../src/net/address.js';
import { internetChecksum } from '../../src/net/checksum.js';
import { decodeIpv4 } from '../../src/net/ipv4.js';
import { loadVectors, type Vector } from '../support/vectors.js';

const { vectors, problems } = loadVectors();
const carpVectors = vectors.filter((v) => v.carp !== undefined);

const PASSWORD = Buffer.from('s3cr3t');
const VHID = 10;
const VIP = '10.99.0.100';
const EXPECT = { vhid: VHID, password: PASSWORD, vip: VIP };
const GOOD_META = { ttl: 255, dst: CARP_GROUP };

interface CarpWire {
  payload: Buffer;
  meta: { ttl: number; dst: string };
  expected: NonNullable<Vector['carp']>;
}

function wire(v: Vector): CarpWire {
  const ip = decodeIpv4(v.bytes);
  if (!ip.ok) throw new Error(`${v.name}: IPv4 rejected as ${ip.reason}`);
  if (v.carp === undefined) throw new Error(`${v.name} is not a CARP vector`);
  return {
    payload: ip.payload,
    meta: { ttl: ip.header.ttl, dst: ip.header.dst },
    expected: v.carp,
  };
}

function first(): CarpWire {
  const v = carpVectors[0];
  if (!v) throw new Error('no ucarp vector loaded');
  return wire(v);
}

function advertOf(d: CarpDecode): CarpAdvert {
  if (!d.ok) throw new Error(`rejected as ${d.reason}: ${d.detail}`);
  return d.advert;
}

function reason(d: { ok: true } | { ok: false; reason: string }): string {
  return d.ok ? 'ok' : d.reason;
}

/** A copy with the checksum recomputed, so a check after the checksum is what fails. */
function withChecksum(payload: Buffer): Buffer {
  const p = Buffer.from(payload);
  p.writeUInt16BE(0, 6);
  p.writeUInt16BE(internetChecksum(p), 6);
  return p;
}

describe('ucarp vectors', () => {
  it('are present and parse', () => {
    expect(problems).toEqual([]);
    expect(carpVectors.length).toBeGreaterThanOrEqual(3);
  });

  it.each(carpVectors.map((v) => [v.name, v] as const))(
    '%s decodes to what tcpdump printed, verifies, and re-encodes byte for byte',
    (_, v) => {
      const { payload, meta, expected } = wire(v);
      expect(isCarp(payload)).toBe(true);
      const advert = advertOf(decodeCarp(payload, meta));
      expect(advert).toMatchObject({ ...expected, demote: 0 });
      expect(checkCarp(advert, EXPECT)).toEqual({ ok: true });
      expect(carpDigest(PASSWORD, VHID, VIP, advert.counter)).toEqual(advert.digest);
      const encoded = encodeCarp({ ...expected, password: PASSWORD, vip: VIP });
      expect(encoded.toString('hex')).toBe(payload.toString('hex'));
    },
  );
});

describe('instance checks', () => {
  const advert = (): CarpAdvert => advertOf(decodeCarp(first().payload, GOOD_META));

  it('a wrong password is carp-auth, with what to check', () => {
    const r = checkCarp(advert(), { ...EXPECT, password: Buffer.from('s3cr3T') });
    expect(r).toEqual({
      ok: false,
      reason: 'carp-auth',
      detail:
        'HMAC does not match: check the password, vhid and virtual address (-a) on both boxes',
    });
  });

  it('a wrong virtual address is carp-auth (the HMAC covers it)', () => {
    expect(reason(checkCarp(advert(), { ...EXPECT, vip: '10.99.0.101' }))).toBe('carp-auth');
  });

  it('a wrong vhid is carp-vhid, checked before the HMAC', () => {
    const r = checkCarp(advert(), { ...EXPECT, vhid: 11, password: Buffer.from('other') });
    expect(r).toMatchObject({ ok: false, reason: 'carp-vhid' });
    expect(r.ok ? '' : r.detail).toContain('vhid 10');
  });

  it('a forged digest is carp-auth, and a short one does not throw', () => {
    const a = advert();
    const flipped = Buffer.from(a.digest);
    flipped.writeUInt8((flipped[19] ?? 0) ^ 1, 19);
    expect(reason(checkCarp({ ...a, digest: flipped }, EXPECT))).toBe('carp-auth');
    expect(reason(checkCarp({ ...a, digest: a.digest.subarray(0, 19) }, EXPECT))).toBe('carp-auth');
  });

  it('a counter changed in transit (checksum fixed up) fails the HMAC', () => {
    const p = Buffer.from(first().payload);
    p.writeUInt8((p[15] ?? 0) ^ 1, 15);
    const a = advertOf(decodeCarp(withChecksum(p), GOOD_META));
    expect(reason(checkCarp(a, EXPECT))).toBe('carp-auth');
  });
});

describe('wire checks', () => {
  const decode = (p: Buffer, meta: { ttl?: number; dst?: string } = GOOD_META): string =>
    reason(decodeCarp(p, { ttl: meta.ttl, dst: meta.dst }));

  it('any flipped byte breaks the checksum', () => {
    const { payload } = first();
    for (let at = 0; at < CARP_LENGTH; at += 1) {
      const p = Buffer.from(payload);
      p.writeUInt8((p[at] ?? 0) ^ 0x40, at);
      // Byte 0 carries version and type, checked first; every other byte reaches the checksum.
      expect(decode(p), `byte ${at}`).toBe(at === 0 ? 'carp-version' : 'carp-checksum');
    }
  });

  it('a bad checksum names the field', () => {
    const p = Buffer.from(first().payload);
    p.writeUInt16BE(0x1234, 6);
    expect(decodeCarp(p, GOOD_META)).toEqual({
      ok: false,
      reason: 'carp-checksum',
      detail: 'checksum 0x1234 does not verify: damaged in transit',
    });
  });

  it('wrong length', () => {
    const { payload } = first();
    expect(decode(payload.subarray(0, 35))).toBe('carp-length');
    expect(decode(Buffer.concat([payload, Buffer.alloc(4)]))).toBe('carp-length');
    expect(decode(Buffer.alloc(0))).toBe('carp-length');
  });

  it('wrong version and wrong type', () => {
    const { payload } = first();
    const v3 = withChecksum(payload);
    v3.writeUInt8(0x31, 0);
    expect(decode(withChecksum(v3))).toBe('carp-version');
    const type2 = Buffer.from(payload);
    type2.writeUInt8(0x22, 0);
    expect(decode(withChecksum(type2))).toBe('carp-type');
  });

  it('wrong TTL, unless the transport cannot see it', () => {
    const { payload } = first();
    expect(decode(payload, { ttl: 254, dst: CARP_GROUP })).toBe('carp-ttl');
    expect(decode(payload, { ttl: undefined, dst: CARP_GROUP })).toBe('ok');
  });

  it('wrong destination, unless unknown; IPv6 is refused as such', () => {
    const { payload } = first();
    const r = decodeCarp(payload, { ttl: 255, dst: '224.0.0.19' });
    expect(r).toMatchObject({ ok: false, reason: 'carp-destination' });
    expect(r.ok ? '' : r.detail).toContain('224.0.0.19');
    expect(decode(payload, { ttl: 255, dst: '10.99.0.2' })).toBe('carp-destination');
    expect(decode(payload, { ttl: 255 })).toBe('ok');
    expect(decode(payload, { ttl: 255, dst: 'ff02::12' })).toBe('carp-ipv6');
  });
});

describe('isCarp', () => {
  it('is the shape: 36 bytes, 0x21, authlen 7', () => {
    const { payload } = first();
    expect(isCarp(payload)).toBe(true);
    expect(isCarp(payload.subarray(0, 35))).toBe(false);
    const authlen = Buffer.from(payload);
    authlen.writeUInt8(5, 3);
    expect(isCarp(authlen)).toBe(false);
    const v3 = Buffer.from(payload);
    v3.writeUInt8(0x31, 0);
    expect(isCarp(v3)).toBe(false);
  });
});

describe('encoding', () => {
  const fields = { vhid: VHID, advbase: 1, advskew: 0, password: PASSWORD, vip: VIP };

  it.each([0n, 2n ** 63n, 2n ** 64n - 1n])('counter %s round-trips', (counter) => {
    const p = encodeCarp({ ...fields, counter });
    const a = advertOf(decodeCarp(p, GOOD_META));
    expect(a.counter).toBe(counter);
    expect(checkCarp(a, EXPECT)).toEqual({ ok: true });
  });

  it('the resign pair is what OpenBSD sends going down', () => {
    const p = encodeCarp({ ...fields, ...CARP_RESIGN, counter: 1n });
    expect(advertOf(decodeCarp(p, GOOD_META))).toMatchObject({ advbase: 255, advskew: 255 });
  });

  it('refuses what does not fit, naming the field', () => {
    expect(() => encodeCarp({ ...fields, counter: -1n })).toThrow(CarpEncodeError);
    expect(() => encodeCarp({ ...fields, counter: 2n ** 64n })).toThrow(/counter/);
    expect(() => encodeCarp({ ...fields, vhid: 0, counter: 0n })).toThrow(/vhid 0/);
    expect(() => encodeCarp({ ...fields, advbase: 256, counter: 0n })).toThrow(/advbase/);
    expect(() => encodeCarp({ ...fields, advskew: 1.5, counter: 0n })).toThrow(/advskew/);
    expect(() => encodeCarp({ ...fields, password: Buffer.alloc(20, 0x61), counter: 0n })).toThrow(
      /20 bytes, at most 19/,
    );
    expect(() => encodeCarp({ ...fields, vip: '2001:db8::1', counter: 0n })).toThrow(AddressError);
  });
});

describe('properties', () => {
  const arbFields = fc.record({
    vhid: fc.integer({ min: 1, max: 255 }),
    advbase: fc.integer({ min: 0, max: 255 }),
    advskew: fc.integer({ min: 0, max: 255 }),
    counter: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    password: fc.uint8Array({ minLength: 0, maxLength: 19 }).map((a) => Buffer.from(a)),
    vip: fc.ipV4(),
  });

  it('encode then decode and check round-trips', () => {
    fc.assert(
      fc.property(arbFields, (f) => {
        const p = encodeCarp(f);
        expect(isCarp(p)).toBe(true);
        const a = advertOf(decodeCarp(p, GOOD_META));
        expect(a).toMatchObject({
          vhid: f.vhid,
          advbase: f.advbase,
          advskew: f.advskew,
          demote: 0,
          counter: f.counter,
        });
        expect(checkCarp(a, { vhid: f.vhid, password: f.password, vip: f.vip })).toEqual({
          ok: true,
        });
      }),
    );
  });

  it('never throws on arbitrary bytes, and every rejection is listed with a detail', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 48 }),
        fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
        (bytes, ttl) => {
          const d = decodeCarp(Buffer.from(bytes), { ttl, dst: CARP_GROUP });
          const r = d.ok ? checkCarp(d.advert, EXPECT) : d;
          if (!r.ok) {
            expect(CARP_REJECTIONS).toContain(r.reason);
            expect(r.detail).not.toBe('');
          }
        },
      ),
    );
  });
});
