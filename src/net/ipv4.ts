// IPv4 header codec for raw-socket traffic. decodeIpv4 never throws: it either returns the parsed
// header plus the payload (a view into the input, cut at the header's total length, so trailing
// bytes a socket may append are ignored) or a rejection reason. Options are skipped by IHL on
// decode and never produced on encode. encodeIpv4 always writes IHL 5, offset 0 and a fresh header
// checksum, and throws Ipv4EncodeError rather than truncating a field.

import { checksumIsValid, internetChecksum } from './checksum.js';
import { readIpv4, writeIpv4 } from './address.js';

export const IPPROTO_VRRP = 112;

export interface Ipv4Header {
  tos: number;
  id: number;
  dontFragment: boolean;
  ttl: number;
  protocol: number;
  src: string;
  dst: string;
}

export const IPV4_REJECTIONS = [
  'truncated',
  'not-ipv4',
  'bad-header-length',
  'bad-header-checksum',
  'bad-total-length',
  'fragment',
] as const;
export type Ipv4Rejection = (typeof IPV4_REJECTIONS)[number];

export type Ipv4Decoded =
  { ok: true; header: Ipv4Header; payload: Buffer } | { ok: false; reason: Ipv4Rejection };

export class Ipv4EncodeError extends Error {
  override name = 'Ipv4EncodeError';
}

const MIN_HEADER = 20;
const MAX_TOTAL = 0xffff;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

export function decodeIpv4(packet: Buffer): Ipv4Decoded {
  if (packet.length < MIN_HEADER) return { ok: false, reason: 'truncated' };
  const b0 = packet.readUInt8(0);
  if (b0 >> 4 !== 4) return { ok: false, reason: 'not-ipv4' };
  const headerLength = (b0 & 0x0f) * 4;
  if (headerLength < MIN_HEADER) return { ok: false, reason: 'bad-header-length' };
  if (packet.length < headerLength) return { ok: false, reason: 'truncated' };
  // Verified before any other field is trusted, so a corrupted header is reported as such rather
  // than as whatever its damaged length or fragment bits happen to say.
  if (!checksumIsValid(packet.subarray(0, headerLength))) {
    return { ok: false, reason: 'bad-header-checksum' };
  }
  const totalLength = packet.readUInt16BE(2);
  if (totalLength < headerLength || totalLength > packet.length) {
    return { ok: false, reason: 'bad-total-length' };
  }
  const flagsOffset = packet.readUInt16BE(6);
  // VRRP adverts are far below any MTU; a fragment is either an attack or a misconfiguration and
  // reassembly is the kernel's job.
  if ((flagsOffset & FLAG_MF) !== 0 || (flagsOffset & OFFSET_MASK) !== 0) {
    return { ok: false, reason: 'fragment' };
  }
  return {
    ok: true,
    header: {
      tos: packet.readUInt8(1),
      id: packet.readUInt16BE(4),
      dontFragment: (flagsOffset & FLAG_DF) !== 0,
      ttl: packet.readUInt8(8),
      protocol: packet.readUInt8(9),
      src: readIpv4(packet, 12),
      dst: readIpv4(packet, 16),
    },
    payload: packet.subarray(headerLength, totalLength),
  };
}

export function encodeIpv4(header: Ipv4Header, payload: Buffer): Buffer {
  requireField('tos', header.tos, 0xff);
  requireField('id', header.id, 0xffff);
  requireField('ttl', header.ttl, 0xff);
  requireField('protocol', header.protocol, 0xff);
  const totalLength = MIN_HEADER + payload.length;
  if (totalLength > MAX_TOTAL) {
    throw new Ipv4EncodeError(`payload of ${payload.length} bytes does not fit in one IPv4 packet`);
  }
  const packet = Buffer.alloc(totalLength);
  packet.writeUInt8(0x45, 0);
  packet.writeUInt8(header.tos, 1);
  packet.writeUInt16BE(totalLength, 2);
  packet.writeUInt16BE(header.id, 4);
  packet.writeUInt16BE(header.dontFragment ? FLAG_DF : 0, 6);
  packet.writeUInt8(header.ttl, 8);
  packet.writeUInt8(header.protocol, 9);
  writeIpv4(packet, 12, header.src);
  writeIpv4(packet, 16, header.dst);
  packet.writeUInt16BE(internetChecksum(packet.subarray(0, MIN_HEADER)), 10);
  payload.copy(packet, MIN_HEADER);
  return packet;
}

function requireField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new Ipv4EncodeError(`${name} ${value} is not an integer in 0..${max}`);
  }
}
