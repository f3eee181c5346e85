// CARP advertisement codec (issue 15), the packet ucarp 1.5.2 and OpenBSD send on IP protocol 112:
//
//   0x21 (version 2, type 1) | vhid | advskew | authlen 7 | demote | advbase | checksum (u16)
//   | counter (u64, big endian) | HMAC-SHA1 (20 bytes)                          = 36 bytes
//
// The checksum is the internet checksum over these 36 bytes alone (no pseudo-header). The HMAC
// key is the password; its message is 02 01 vhid, the 4 bytes of the one virtual address (ucarp's
// -a) and the 8 counter bytes as sent. Pure functions, no I/O. decodeCarp does the wire checks
// (those that need no configuration) and checkCarp those against an instance; neither throws on
// any payload bytes, each returns one rejection with a detail an operator can act on, checks in a
// fixed order so the first fault found is the one reported. The counter is not checked: ucarp has
// no replay protection, so a receiver that had some would refuse ucarp's restarted counter.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { checksumIsValid, internetChecksum } from '../net/checksum.js';
import { addressFamily, writeIpv4 } from '../net/address.js';

export const CARP_LENGTH = 36;
export const CARP_GROUP = '224.0.0.18';
/** The advbase/advskew pair OpenBSD's CARP (and vipd) send when going down: any backup takes over at once. */
export const CARP_RESIGN = { advbase: 255, advskew: 255 } as const;

export interface CarpAdvert {
  vhid: number;
  advskew: number;
  advbase: number;
  /** OpenBSD's demotion counter; ucarp sends 0 and ignores it. */
  demote: number;
  counter: bigint;
  digest: Buffer;
}

export const CARP_REJECTIONS = [
  'carp-length',
  'carp-version',
  'carp-type',
  'carp-checksum',
  'carp-ttl',
  'carp-destination',
  'carp-vhid',
  'carp-auth',
  'carp-ipv6',
] as const;
export type CarpRejection = (typeof CARP_REJECTIONS)[number];

export type CarpDecode =
  { ok: true; advert: CarpAdvert } | { ok: false; reason: CarpRejection; detail: string };

export type CarpCheck = { ok: true } | { ok: false; reason: CarpRejection; detail: string };

export class CarpEncodeError extends Error {
  override name = 'CarpEncodeError';
}

const VERSION = 2;
const TYPE_ADVERTISEMENT = 1;
const FIRST_BYTE = (VERSION << 4) | TYPE_ADVERTISEMENT;
/** ucarp and OpenBSD write 7 (the 36 bytes minus the 8-byte header, in 32-bit words, rounded). */
const AUTHLEN = 7;
const REQUIRED_TTL = 255;
const CHECKSUM_AT = 6;
const COUNTER_AT = 8;
const DIGEST_AT = 16;
const DIGEST_LENGTH = 20;
/** ucarp copies the password NUL-terminated into its 20-byte HMAC key (and refuses a longer one). */
export const CARP_MAX_PASSWORD = 19;
const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;

/** True when the payload has CARP's shape (36 bytes, 0x21, authlen 7): used by vrrp/packet.ts to refuse CARP as 'carp'. */
export function isCarp(payload: Buffer): boolean {
  return payload.length === CARP_LENGTH && payload[0] === FIRST_BYTE && payload[3] === AUTHLEN;
}

/** ucarp's HMAC-SHA1: key = password, message = 02 01 vhid vip(4) counter(8). */
export function carpDigest(password: Buffer, vhid: number, vip: string, counter: bigint): Buffer {
  requirePassword(password);
  requireInteger('vhid', vhid, 1, 255);
  requireCounter(counter);
  const message = Buffer.alloc(3 + 4 + 8);
  message.writeUInt8(VERSION, 0);
  message.writeUInt8(TYPE_ADVERTISEMENT, 1);
  message.writeUInt8(vhid, 2);
  // Throws AddressError on anything but a dotted quad: the HMAC covers exactly 4 address bytes.
  writeIpv4(message, 3, vip);
  message.writeBigUInt64BE(counter, 7);
  // HMAC zero-pads the key to the SHA-1 block, so ucarp's 20-byte zero-padded key gives the same.
  return createHmac('sha1', password).update(message).digest();
}

/** The 36 bytes ucarp sends (checksum filled in). */
export function encodeCarp(a: {
  vhid: number;
  advbase: number;
  advskew: number;
  counter: bigint;
  password: Buffer;
  vip: string;
}): Buffer {
  requireInteger('advbase', a.advbase, 0, 255);
  requireInteger('advskew', a.advskew, 0, 255);
  const digest = carpDigest(a.password, a.vhid, a.vip, a.counter);
  const packet = Buffer.alloc(CARP_LENGTH);
  packet.writeUInt8(FIRST_BYTE, 0);
  packet.writeUInt8(a.vhid, 1);
  packet.writeUInt8(a.advskew, 2);
  packet.writeUInt8(AUTHLEN, 3);
  // Byte 4 (demote) stays 0, as ucarp sends it.
  packet.writeUInt8(a.advbase, 5);
  packet.writeBigUInt64BE(a.counter, COUNTER_AT);
  digest.copy(packet, DIGEST_AT);
  packet.writeUInt16BE(internetChecksum(packet), CHECKSUM_AT);
  return packet;
}

/**
 * Wire checks only (length, version 2, type 1 — neither ucarp nor OpenBSD checks the type, but
 * CARP defines no other and a packet of another type means nothing to us —, checksum, TTL 255
 * when known, destination 224.0.0.18 when known).
 */
export function decodeCarp(
  payload: Buffer,
  meta: { ttl: number | undefined; dst: string | undefined },
): CarpDecode {
  const reject = (reason: CarpRejection, detail: string): CarpDecode => ({
    ok: false,
    reason,
    detail,
  });
  if (meta.dst !== undefined && addressFamily(meta.dst) === 6) {
    return reject('carp-ipv6', `CARP to ${meta.dst}: ucarp speaks IPv4 only, so vipd does too`);
  }
  if (payload.length !== CARP_LENGTH) {
    return reject('carp-length', `length ${payload.length} is not the 36 bytes of a CARP advert`);
  }
  const b0 = payload.readUInt8(0);
  const version = b0 >> 4;
  if (version !== VERSION) {
    return reject('carp-version', `version ${version} is not CARP version 2`);
  }
  const type = b0 & 0x0f;
  if (type !== TYPE_ADVERTISEMENT) {
    return reject('carp-type', `type ${type} is not 1 (advertisement)`);
  }
  if (!checksumIsValid(payload)) {
    const field = payload.readUInt16BE(CHECKSUM_AT).toString(16).padStart(4, '0');
    return reject('carp-checksum', `checksum 0x${field} does not verify: damaged in transit`);
  }
  if (meta.ttl !== undefined && meta.ttl !== REQUIRED_TTL) {
    return reject('carp-ttl', `TTL ${meta.ttl} is not 255, so the packet came from off-link`);
  }
  if (meta.dst !== undefined && meta.dst !== CARP_GROUP) {
    return reject(
      'carp-destination',
      `sent to ${meta.dst}, not ${CARP_GROUP}: is the peer's ucarp run with -m (another group)?`,
    );
  }
  return {
    ok: true,
    advert: {
      vhid: payload.readUInt8(1),
      advskew: payload.readUInt8(2),
      advbase: payload.readUInt8(5),
      demote: payload.readUInt8(4),
      counter: payload.readBigUInt64BE(COUNTER_AT),
      digest: Buffer.from(payload.subarray(DIGEST_AT, DIGEST_AT + DIGEST_LENGTH)),
    },
  };
}

/** Checks against the instance: vhid, then the HMAC over `vip` with `password` (constant-time compare). */
export function checkCarp(
  advert: CarpAdvert,
  expect: { vhid: number; password: Buffer; vip: string },
): CarpCheck {
  if (advert.vhid !== expect.vhid) {
    return {
      ok: false,
      reason: 'carp-vhid',
      detail: `vhid ${advert.vhid} is not this instance's ${expect.vhid} (vrid): another CARP group on the link`,
    };
  }
  const want = carpDigest(expect.password, expect.vhid, expect.vip, advert.counter);
  if (advert.digest.length !== want.length || !timingSafeEqual(advert.digest, want)) {
    return {
      ok: false,
      reason: 'carp-auth',
      detail:
        'HMAC does not match: check the password, vhid and virtual address (-a) on both boxes',
    };
  }
  return { ok: true };
}

function requirePassword(password: Buffer): void {
  if (password.length > CARP_MAX_PASSWORD) {
    throw new CarpEncodeError(
      `CARP password is ${password.length} bytes, at most ${CARP_MAX_PASSWORD} fit ucarp's key`,
    );
  }
}

function requireCounter(counter: bigint): void {
  if (counter < 0n || counter > MAX_COUNTER) {
    throw new CarpEncodeError(`counter ${counter} is not in 0..2^64-1`);
  }
}

function requireInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new CarpEncodeError(`${field} ${value} is not an integer in ${min}..${max}`);
  }
}
