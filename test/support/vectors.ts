/**
 * The test vectors captured from real keepalived 2.2.7 and ucarp (test/vectors, copied from the captures): each hex
 * line with the `# IP (...)` (IPv4) or `# IP6 (...)` (IPv6) tcpdump comment before it, parsed
 * into the bytes and the values tcpdump decoded, which the tests compare against. Never throws:
 * a missing folder or file becomes a listed problem, so the test that needs it fails with the
 * reason. Also the fixed IPv6 header, which vipd never builds itself (an AF_INET6 raw socket
 * leaves it to the kernel) but the tests unwrap from the vectors and wrap around adverts.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bytesToIpv6, ipv6ToBytes } from '../../src/net/address.js';
import { IPPROTO_VRRP, type Ipv4Header } from '../../src/net/ipv4.js';
import type { VrrpAdvert, WireContext } from '../../src/vrrp/packet.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const VECTOR_DIR = resolve(REPO_ROOT, 'test/vectors');
const REQUIRED_FILES = [
  'keepalived-v2.txt',
  'keepalived-v2-auth.txt',
  'keepalived-v3.txt',
  'keepalived-v3-ipv6.txt',
  'keepalived-v3-ipv6-2vips.txt',
  'ucarp.txt',
];

export interface Vector {
  name: string;
  bytes: Buffer;
  ip: Ipv4Header & { totalLength: number };
  /** Absent for CARP packets. */
  vrrp?: { advert: VrrpAdvert; length: number };
  /** What tcpdump decoded from a CARP packet; absent for VRRP ones. */
  carp?: { vhid: number; advbase: number; advskew: number; counter: bigint };
}

/** The fixed IPv6 header (RFC 8200 section 3); VRRP sends no extension headers. */
export interface Ipv6Header {
  trafficClass: number;
  flowLabel: number;
  nextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
}

export interface Ipv6Vector {
  name: string;
  bytes: Buffer;
  ip: Ipv6Header & { payloadLength: number };
  vrrp: { advert: VrrpAdvert; length: number };
}

const IPV6_HEADER_LENGTH = 40;

/** Throws on anything but a whole IPv6 packet with no extension headers: test input only. */
export function decodeIpv6(packet: Buffer): { header: Ipv6Header; payload: Buffer } {
  if (packet.length < IPV6_HEADER_LENGTH || packet.readUInt8(0) >> 4 !== 6) {
    throw new Error(`not an IPv6 packet: ${packet.toString('hex')}`);
  }
  const word0 = packet.readUInt32BE(0);
  const payloadLength = packet.readUInt16BE(4);
  if (packet.length !== IPV6_HEADER_LENGTH + payloadLength) {
    throw new Error(`IPv6 payload length ${payloadLength} but ${packet.length - 40} bytes follow`);
  }
  return {
    header: {
      trafficClass: (word0 >>> 20) & 0xff,
      flowLabel: word0 & 0xfffff,
      nextHeader: packet.readUInt8(6),
      hopLimit: packet.readUInt8(7),
      src: bytesToIpv6(packet, 8),
      dst: bytesToIpv6(packet, 24),
    },
    payload: packet.subarray(IPV6_HEADER_LENGTH),
  };
}

/** A vector's VRRP message and the context it arrived with (the hop limit as ttl). */
export function ipv6Wire(v: Ipv6Vector): { payload: Buffer; ctx: WireContext } {
  const { header, payload } = decodeIpv6(v.bytes);
  return { payload, ctx: { src: header.src, dst: header.dst, ttl: header.hopLimit } };
}

export function encodeIpv6(header: Ipv6Header, payload: Buffer): Buffer {
  const packet = Buffer.alloc(IPV6_HEADER_LENGTH + payload.length);
  packet.writeUInt32BE(((6 << 28) | (header.trafficClass << 20) | header.flowLabel) >>> 0, 0);
  packet.writeUInt16BE(payload.length, 4);
  packet.writeUInt8(header.nextHeader, 6);
  packet.writeUInt8(header.hopLimit, 7);
  ipv6ToBytes(header.src).copy(packet, 8);
  ipv6ToBytes(header.dst).copy(packet, 24);
  payload.copy(packet, IPV6_HEADER_LENGTH);
  return packet;
}

const IP_COMMENT =
  /^# IP \(tos (0x[0-9a-f]+), ttl (\d+), id (\d+), offset 0, flags \[([^\]]*)\], proto VRRP \(112\), length (\d+)\) (\S+) > (\S+): (.*)$/;
const IP6_COMMENT =
  /^# IP6 \(class (0x[0-9a-f]+), flowlabel (0x[0-9a-f]+), hlim (\d+), next-header VRRP \(112\) payload length: (\d+)\) (\S+) > (\S+): (.*)$/;
const VRRP_SUMMARY =
  /^VRRPv([23]), Advertisement, vrid (\d+), prio (\d+), (?:authtype (none|simple), )?intvl (\d+)(s|cs), length (\d+), addrs(?:\(\d+\))?: ([\da-f.:,]+)(?: auth "(.*)")?$/;
const CARP_SUMMARY =
  /^CARPv2-advertise 36: vhid=(\d+) advbase=(\d+) advskew=(\d+) authlen=7 counter=(\d+)$/;

function parseVrrpSummary(summary: string): { advert: VrrpAdvert; length: number } {
  const v = VRRP_SUMMARY.exec(summary);
  if (!v) throw new Error(`unparsable VRRP summary: ${summary}`);
  const [, version, vrid, prio, authtype, intvl, unit, length, addrs, password] =
    v as unknown as string[];
  const advert: VrrpAdvert = {
    version: version === '2' ? 2 : 3,
    vrid: Number(vrid),
    priority: Number(prio),
    intervalCs: Number(intvl) * (unit === 's' ? 100 : 1),
    addresses: (addrs ?? '').split(','),
  };
  if (authtype !== undefined) {
    advert.auth = authtype === 'simple' ? { type: 1, password: password ?? '' } : { type: 0 };
  }
  return { advert, length: Number(length) };
}

function parseIpv6Comment(comment: string): Omit<Ipv6Vector, 'name' | 'bytes'> {
  const m = IP6_COMMENT.exec(comment);
  if (!m) throw new Error(`unparsable '# IP6' comment: ${comment}`);
  const [, trafficClass, flowLabel, hopLimit, payloadLength, src, dst, summary] =
    m as unknown as string[];
  const ip = {
    trafficClass: Number(trafficClass),
    flowLabel: Number(flowLabel),
    nextHeader: IPPROTO_VRRP,
    hopLimit: Number(hopLimit),
    src: src ?? '',
    dst: dst ?? '',
    payloadLength: Number(payloadLength),
  };
  return { ip, vrrp: parseVrrpSummary(summary ?? '') };
}

function parseComment(comment: string): Omit<Vector, 'name' | 'bytes'> {
  const m = IP_COMMENT.exec(comment);
  if (!m) throw new Error(`unparsable '# IP' comment: ${comment}`);
  const [, tos, ttl, id, flags, totalLength, src, dst, summary] = m as unknown as string[];
  const ip = {
    tos: Number(tos),
    ttl: Number(ttl),
    id: Number(id),
    dontFragment: flags === 'DF',
    protocol: IPPROTO_VRRP,
    src: src ?? '',
    dst: dst ?? '',
    totalLength: Number(totalLength),
  };
  if (summary?.startsWith('CARP')) {
    const c = CARP_SUMMARY.exec(summary);
    if (!c) throw new Error(`unparsable CARP summary: ${summary}`);
    const [, vhid, advbase, advskew, counter] = c as unknown as string[];
    const carp = {
      vhid: Number(vhid),
      advbase: Number(advbase),
      advskew: Number(advskew),
      counter: BigInt(counter ?? ''),
    };
    return { ip, carp };
  }
  return { ip, vrrp: parseVrrpSummary(summary ?? '') };
}

/**
 * Never throws, so a missing folder or file becomes a failing test instead of a load error.
 * vectors are the IPv4 packets, vectors6 the IPv6 ones.
 */
export function loadVectors(): { vectors: Vector[]; vectors6: Ipv6Vector[]; problems: string[] } {
  const vectors: Vector[] = [];
  const vectors6: Ipv6Vector[] = [];
  const problems: string[] = [];
  if (!existsSync(VECTOR_DIR)) {
    return { vectors, vectors6, problems: [`vector folder ${VECTOR_DIR} is missing`] };
  }
  const present = readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.txt'));
  for (const file of REQUIRED_FILES.filter((f) => !present.includes(f))) {
    problems.push(`vector file ${resolve(VECTOR_DIR, file)} is missing`);
  }
  for (const file of present) {
    let comment: string | undefined;
    let found = 0;
    readFileSync(resolve(VECTOR_DIR, file), 'utf8')
      .split('\n')
      .forEach((raw, index) => {
        const line = raw.trim();
        const where = `${file}:${index + 1}`;
        if (line.startsWith('# IP (') || line.startsWith('# IP6 (')) comment = line;
        if (line === '' || line.startsWith('#')) return;
        if (comment === undefined || !/^([0-9a-f]{2})+$/i.test(line)) {
          problems.push(`${where}: hex line without a preceding '# IP' comment, or not hex`);
          return;
        }
        try {
          const bytes = Buffer.from(line, 'hex');
          if (comment.startsWith('# IP6 (')) {
            vectors6.push({ name: where, bytes, ...parseIpv6Comment(comment) });
          } else {
            vectors.push({ name: where, bytes, ...parseComment(comment) });
          }
          found++;
        } catch (err) {
          problems.push(`${where}: ${(err as Error).message}`);
        }
        comment = undefined;
      });
    if (found === 0) problems.push(`vector file ${file} holds no packets`);
  }
  return { vectors, vectors6, problems };
}
