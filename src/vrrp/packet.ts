// VRRP advertisement codec. IPv4: VRRPv2 (RFC 3768, with the plain-text auth keepalived still
// sends) and VRRPv3 (RFC 5798 / RFC 9568, either checksum form). IPv6: VRRPv3 only, 16-byte
// addresses, the RFC 8200 pseudo-header checksum. The family is that of the context's src/dst
// (IPv6 when either is IPv6 text). Pure functions, no I/O.
// decodeAdvert never throws on any payload bytes (only a malformed ctx address, a caller bug,
// throws AddressError): it returns the advert and the checksum form that verified, or one precise
// rejection with an operator-readable detail; checks run in a fixed order so the first fault found
// is the one reported. encodeAdvert produces exactly the bytes keepalived sends for the same
// advert, and throws EncodeError instead of silently truncating a field.

import { checksumIsValid, internetChecksum } from '../net/checksum.js';
import {
  addressFamily,
  bytesToIpv6,
  ipv6ToBytes,
  readIpv4,
  writeIpv4,
  type AddressFamily,
} from '../net/address.js';
import { IPPROTO_VRRP } from '../net/ipv4.js';
import { isCarp } from '../carp/packet.js';

export type ChecksumMode = 'rfc5798' | 'rfc9568';
export type VrrpVersion = 2 | 3;
export type VrrpAuth = { type: 0 } | { type: 1; password: string };

export interface VrrpAdvert {
  version: VrrpVersion;
  vrid: number;
  priority: number;
  /** Centiseconds; v2 carries whole seconds on the wire. */
  intervalCs: number;
  addresses: string[];
  /** v2 only (type 0 when none); absent on decoded v3 adverts. */
  auth?: VrrpAuth;
}

/**
 * ttl is the IPv4 TTL or the IPv6 hop limit; undefined means the transport cannot see it (UDP),
 * so the check is skipped.
 */
export interface WireContext {
  src: string;
  dst: string;
  ttl?: number;
}

/**
 * 'ipv6': VRRPv3 over IPv6 has one checksum form, over the RFC 8200 pseudo-header; RFC 5798 and
 * RFC 9568 agree on it (9568 dropped the pseudo-header for IPv4 only), so no send mode applies.
 */
export type ChecksumForm = 'v2' | ChecksumMode | 'ipv6';

/** Where adverts go (RFC 3768 / 5798: the VRRP IPv4 multicast group). */
export const VRRP_GROUP = '224.0.0.18';
export const VRRP_GROUP_V6 = 'ff02::12';

export const VRRP_REJECTIONS = [
  'truncated',
  'bad-ttl',
  'wrong-version',
  'wrong-type',
  'carp',
  'bad-length',
  'bad-checksum',
  'zero-vrid',
  'zero-count',
  'zero-interval',
  'unsupported-auth',
] as const;
export type VrrpRejection = (typeof VRRP_REJECTIONS)[number];

export type VrrpDecoded =
  | { ok: true; advert: VrrpAdvert; checksum: ChecksumForm }
  | { ok: false; reason: VrrpRejection; detail: string };

export class EncodeError extends Error {
  override name = 'EncodeError';
}

const REQUIRED_TTL = 255;
const TYPE_ADVERTISEMENT = 1;
const HEADER_LENGTH = 8;
const AUTH_DATA_LENGTH = 8;
const MAX_ADDRESSES = 255;
const V3_MAX_INTERVAL_CS = 0x0fff;
const V2_MAX_INTERVAL_S = 255;
const ADDRESS_LENGTH = { 4: 4, 6: 16 } as const;

export function decodeAdvert(payload: Buffer, ctx: WireContext): VrrpDecoded {
  const family = wireFamily(ctx);
  const reject = (reason: VrrpRejection, detail: string): VrrpDecoded => ({
    ok: false,
    reason,
    detail,
  });
  if (payload.length < HEADER_LENGTH) {
    return reject('truncated', `${payload.length} bytes is shorter than the 8-byte VRRP header`);
  }
  if (ctx.ttl !== undefined && ctx.ttl !== REQUIRED_TTL) {
    const field = family === 6 ? 'hop limit' : 'TTL';
    return reject('bad-ttl', `${field} ${ctx.ttl} is not 255, so the packet came from off-link`);
  }
  const b0 = payload.readUInt8(0);
  const version = b0 >> 4;
  if (version !== 2 && version !== 3) {
    return reject('wrong-version', `version ${version} is neither VRRPv2 nor VRRPv3`);
  }
  const type = b0 & 0x0f;
  if (type !== TYPE_ADVERTISEMENT) {
    return reject('wrong-type', `type ${type} is not 1 (advertisement)`);
  }
  // Before the length check: a CARP packet would otherwise be misreported as a broken VRRPv2 one.
  // The shape alone is enough: a VRRPv2 packet whose count byte is 7 is 44 bytes, never 36.
  if (version === 2 && isCarp(payload)) {
    return reject('carp', 'CARP advertisement (ucarp/OpenBSD), not VRRP, on protocol 112');
  }
  if (version === 2 && family === 6) {
    return reject('wrong-version', 'VRRPv2 over IPv6: VRRPv2 has no IPv6 (RFC 3768), only v3 does');
  }
  const count = payload.readUInt8(3);
  const fixed = version === 2 ? HEADER_LENGTH + AUTH_DATA_LENGTH : HEADER_LENGTH;
  const size = ADDRESS_LENGTH[family];
  if (payload.length !== fixed + size * count) {
    return reject(
      'bad-length',
      `length ${payload.length} does not match ${fixed} + ${size} x ${count} addresses`,
    );
  }
  const form = verifiedChecksumForm(version, family, payload, ctx);
  if (form === undefined) {
    const field = payload.readUInt16BE(6).toString(16).padStart(4, '0');
    const why =
      version === 2
        ? 'does not verify'
        : family === 6
          ? 'does not verify with the IPv6 pseudo-header'
          : 'verifies neither with nor without the IPv4 pseudo-header';
    return reject('bad-checksum', `checksum 0x${field} ${why}`);
  }
  const vrid = payload.readUInt8(1);
  if (vrid === 0) return reject('zero-vrid', 'VRID 0 is not a valid virtual router');
  if (count === 0) return reject('zero-count', 'advertisement carries no addresses');
  const intervalCs = version === 2 ? payload.readUInt8(5) * 100 : payload.readUInt16BE(4) & 0x0fff;
  if (intervalCs === 0) return reject('zero-interval', 'advertisement interval is 0');
  const addresses = Array.from({ length: count }, (_, i) =>
    family === 6
      ? bytesToIpv6(payload, HEADER_LENGTH + 16 * i)
      : readIpv4(payload, HEADER_LENGTH + 4 * i),
  );
  const advert: VrrpAdvert = {
    version,
    vrid,
    priority: payload.readUInt8(2),
    intervalCs,
    addresses,
  };
  if (version === 2) {
    const authType = payload.readUInt8(4);
    if (authType === 0) {
      advert.auth = { type: 0 };
    } else if (authType === 1) {
      const authData = payload.subarray(payload.length - AUTH_DATA_LENGTH);
      advert.auth = { type: 1, password: decodePassword(authData) };
    } else {
      return reject(
        'unsupported-auth',
        `auth type ${authType} is not supported (only 0 none and 1 plain text)`,
      );
    }
  }
  return { ok: true, advert, checksum: form };
}

/**
 * ctx.checksum is ignored for v2 and over IPv6 (one form each). A v3 advert may carry auth type 0
 * (ignored, v3 has no auth field) but not a password, which would otherwise be dropped without
 * notice. Every address must be of the family of ctx.src/dst.
 */
export function encodeAdvert(
  advert: VrrpAdvert,
  ctx: { src: string; dst: string; checksum: ChecksumMode },
): Buffer {
  const { version, vrid, priority, intervalCs, addresses } = advert;
  const family = wireFamily(ctx);
  if (version !== 2 && version !== 3) {
    throw new EncodeError(`version ${String(version)} is not 2 or 3`);
  }
  if (version === 2 && family === 6) {
    throw new EncodeError(
      `VRRPv2 has no IPv6 (RFC 3768), so an advert from ${ctx.src} to ${ctx.dst} must be version 3`,
    );
  }
  requireInteger('vrid', vrid, 1, 255);
  requireInteger('priority', priority, 0, 255);
  if (addresses.length < 1 || addresses.length > MAX_ADDRESSES) {
    throw new EncodeError(
      `addresses has ${addresses.length} entries, expected 1..${MAX_ADDRESSES}`,
    );
  }
  addresses.forEach((address, i) => requireAddress(`addresses[${i}]`, address, family));

  const fixed = version === 2 ? HEADER_LENGTH + AUTH_DATA_LENGTH : HEADER_LENGTH;
  const size = ADDRESS_LENGTH[family];
  const message = Buffer.alloc(fixed + size * addresses.length);
  message.writeUInt8((version << 4) | TYPE_ADVERTISEMENT, 0);
  message.writeUInt8(vrid, 1);
  message.writeUInt8(priority, 2);
  message.writeUInt8(addresses.length, 3);
  addresses.forEach((address, i) => {
    if (family === 6) ipv6ToBytes(address).copy(message, HEADER_LENGTH + 16 * i);
    else writeIpv4(message, HEADER_LENGTH + 4 * i, address);
  });

  if (version === 2) {
    const seconds = intervalCs / 100;
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > V2_MAX_INTERVAL_S) {
      throw new EncodeError(
        `intervalCs ${intervalCs} is not a whole number of seconds in 1..${V2_MAX_INTERVAL_S} s (VRRPv2)`,
      );
    }
    const auth = advert.auth ?? { type: 0 };
    message.writeUInt8(auth.type, 4);
    message.writeUInt8(seconds, 5);
    if (auth.type === 1) {
      encodePassword(auth.password).copy(message, message.length - AUTH_DATA_LENGTH);
    }
    message.writeUInt16BE(internetChecksum(message), 6);
    return message;
  }

  requireInteger('intervalCs', intervalCs, 1, V3_MAX_INTERVAL_CS);
  if (advert.auth?.type === 1) throw new EncodeError('auth password cannot be sent in VRRPv3');
  message.writeUInt16BE(intervalCs, 4);
  let checksum: number;
  if (family === 6 || ctx.checksum === 'rfc5798') {
    requireAddress('src', ctx.src, family);
    requireAddress('dst', ctx.dst, family);
    checksum = internetChecksum(pseudoHeader(family, ctx.src, ctx.dst, message.length), message);
  } else {
    checksum = internetChecksum(message);
  }
  message.writeUInt16BE(checksum, 6);
  return message;
}

/**
 * IPv6 when either end is IPv6 text, else IPv4, so an IPv4 caller sees exactly what it always
 * did. Ends of two families are a caller bug: the pseudo-header (decode: AddressError) or
 * requireAddress (encode: EncodeError) names the end that does not fit.
 */
function wireFamily(ctx: { src: string; dst: string }): AddressFamily {
  return addressFamily(ctx.src) === 6 || addressFamily(ctx.dst) === 6 ? 6 : 4;
}

function verifiedChecksumForm(
  version: VrrpVersion,
  family: AddressFamily,
  payload: Buffer,
  ctx: WireContext,
): ChecksumForm | undefined {
  if (version === 2) return checksumIsValid(payload) ? 'v2' : undefined;
  const pseudo = pseudoHeader(family, ctx.src, ctx.dst, payload.length);
  if (family === 6) return checksumIsValid(pseudo, payload) ? 'ipv6' : undefined;
  // RFC 5798 is tried first because it is what keepalived and FRR send by default; a packet can
  // verify under both only when the pseudo-header happens to sum to zero.
  if (checksumIsValid(pseudo, payload)) return 'rfc5798';
  return checksumIsValid(payload) ? 'rfc9568' : undefined;
}

/**
 * IPv4 (RFC 5798 section 5.2.8): src, dst, zero, protocol, 16-bit VRRP length. IPv6 (RFC 8200
 * section 8.1): src, dst, 32-bit upper-layer length, three zero bytes, next header.
 */
function pseudoHeader(family: AddressFamily, src: string, dst: string, length: number): Buffer {
  if (family === 6) {
    const pseudo = Buffer.alloc(40);
    ipv6ToBytes(src).copy(pseudo, 0);
    ipv6ToBytes(dst).copy(pseudo, 16);
    pseudo.writeUInt32BE(length, 32);
    pseudo.writeUInt8(IPPROTO_VRRP, 39);
    return pseudo;
  }
  const pseudo = Buffer.alloc(12);
  writeIpv4(pseudo, 0, src);
  writeIpv4(pseudo, 4, dst);
  pseudo.writeUInt8(IPPROTO_VRRP, 9);
  pseudo.writeUInt16BE(length, 10);
  return pseudo;
}

// Trailing NULs are padding (RFC 2338 zero-fills the 8 bytes); keepalived sends the password as
// raw bytes, so UTF-8 matches it for any password its config file can hold.
function decodePassword(authData: Buffer): string {
  let end = authData.length;
  while (end > 0 && authData[end - 1] === 0) end--;
  return authData.subarray(0, end).toString('utf8');
}

function encodePassword(password: string): Buffer {
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length > AUTH_DATA_LENGTH) {
    throw new EncodeError(`auth password is ${bytes.length} bytes, at most 8 fit`);
  }
  // A password the receiver would read back differently (trailing NUL, lone surrogate) could
  // never match on the peer, so it is refused here rather than debugged on the wire.
  if (decodePassword(bytes) !== password) {
    throw new EncodeError(`auth password ${JSON.stringify(password)} does not survive encoding`);
  }
  return bytes;
}

function requireInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new EncodeError(`${field} ${value} is not an integer in ${min}..${max}`);
  }
}

function requireAddress(field: string, value: string, family: AddressFamily): void {
  if (addressFamily(value) !== family) {
    throw new EncodeError(`${field} ${JSON.stringify(value)} is not an IPv${family} address`);
  }
}
