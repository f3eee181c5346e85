/**
 * A forger of VRRP adverts, for tests that need one inside a lab namespace (this process cannot
 * enter a namespace itself):
 *   node --import tsx test/support/vrrp-forge-cli.ts IFADDR VRID PRIORITY INTERVAL_CS PER_SECOND COUNT VIP...
 * Sends COUNT unauthenticated VRRPv3 adverts (VRID, PRIORITY, claimed interval INTERVAL_CS
 * centiseconds, listing the VIPs) to 224.0.0.18, PER_SECOND of them a second, from the host
 * whose address on the segment is IFADDR, with TTL 255 as a router on the link would. Prints
 * {"sent": N, "firstAt": EPOCH_MS, "ms": M} as one JSON line: how many, when the first left, and
 * how long from the first to the last.
 *
 * The packet, IP header included, is built here byte by byte from RFC 5798 section 5.1 and RFC
 * 791, not with vipd's encoders: a third host on the segment does not run the code under test.
 * It leaves through the addon's raw socket (IP_HDRINCL) on the interface holding IFADDR.
 */
import { networkInterfaces } from 'node:os';
import { loadNative } from '../../src/native.js';

const IPPROTO_VRRP = 112;
const VRRP_GROUP = '224.0.0.18';

function ipv4(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

/** The Internet checksum (RFC 1071) of the concatenated buffers. */
function checksum(...parts: Buffer[]): number {
  const data = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i < data.length; i += 2) sum += (data[i] ?? 0) * 256 + (data[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A VRRPv3 advertisement, its checksum over the IPv4 pseudo-header (RFC 5798 5.2.8). */
function forgedAdvert(
  src: string,
  vrid: number,
  priority: number,
  intervalCs: number,
  vips: readonly string[],
): Buffer {
  const message = Buffer.alloc(8 + 4 * vips.length);
  message.writeUInt8(0x31, 0); // version 3, type 1 (advertisement)
  message.writeUInt8(vrid, 1);
  message.writeUInt8(priority, 2);
  message.writeUInt8(vips.length, 3);
  message.writeUInt16BE(intervalCs & 0x0fff, 4);
  vips.forEach((vip, i) => ipv4(vip).copy(message, 8 + 4 * i));
  const pseudo = Buffer.concat([ipv4(src), ipv4(VRRP_GROUP), Buffer.from([0, IPPROTO_VRRP])]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  message.writeUInt16BE(checksum(pseudo, length, message), 6);
  return message;
}

/** The IPv4 packet around `message`: TTL 255, TOS 0xc0, no options, checksummed. */
function ipPacket(src: string, message: Buffer): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt8(0x45, 0); // version 4, 5 words
  header.writeUInt8(0xc0, 1);
  header.writeUInt16BE(20 + message.length, 2);
  header.writeUInt8(255, 8);
  header.writeUInt8(IPPROTO_VRRP, 9);
  ipv4(src).copy(header, 12);
  ipv4(VRRP_GROUP).copy(header, 16);
  header.writeUInt16BE(checksum(header), 10);
  return Buffer.concat([header, message]);
}

function interfaceOf(address: string): string {
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (addresses?.some((a) => a.address === address)) return name;
  }
  throw new Error(`no interface has ${address}`);
}

const [src, vrid, priority, intervalCs, perSecond, count, ...vips] = process.argv.slice(2);
if (
  src === undefined ||
  vrid === undefined ||
  priority === undefined ||
  intervalCs === undefined ||
  perSecond === undefined ||
  count === undefined ||
  vips.length === 0
) {
  console.error(
    'usage: vrrp-forge-cli.ts IFADDR VRID PRIORITY INTERVAL_CS PER_SECOND COUNT VIP...',
  );
  process.exit(2);
}
const packet = ipPacket(
  src,
  forgedAdvert(src, Number(vrid), Number(priority), Number(intervalCs), vips),
);
// Receives nothing it needs (no group joined): what it reads is dropped, errors are printed.
const socket = loadNative().rawSocket(
  { family: 4, protocol: IPPROTO_VRRP, ifname: interfaceOf(src), local: src },
  () => undefined,
  (err) => console.error(`forger socket: ${err.message}`),
);
const gapMs = 1000 / Number(perSecond);
const started = performance.now();
const firstAt = Date.now();
let sent = 0;
for (let i = 0; i < Number(count); i++) {
  // Paced from the start, so a late wake-up does not stretch the whole run.
  const wait = started + i * gapMs - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  socket.send(packet, VRRP_GROUP);
  sent += 1;
}
socket.close();
console.log(JSON.stringify({ sent, firstAt, ms: Math.round(performance.now() - started) }));
