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
 * The packet is built here, byte by byte from RFC 5798 section 5.1, not with vipd's encoder: a
 * third host on the segment does not run the code under test.
 */
import { createSocket, SocketLevel } from 'raw-socket';

const IPPROTO_VRRP = 112;
const VRRP_GROUP = '224.0.0.18';
// Linux <netinet/in.h> values raw-socket does not export.
const IP_MULTICAST_IF = 32;
const IP_MULTICAST_TTL = 33;
const IP_MULTICAST_LOOP = 34;

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
const packet = forgedAdvert(src, Number(vrid), Number(priority), Number(intervalCs), vips);
const socket = createSocket({ protocol: IPPROTO_VRRP });
socket.setOption(SocketLevel.IPPROTO_IP, IP_MULTICAST_TTL, 255);
socket.setOption(SocketLevel.IPPROTO_IP, IP_MULTICAST_IF, ipv4(src), 4);
socket.setOption(SocketLevel.IPPROTO_IP, IP_MULTICAST_LOOP, 0);
const gapMs = 1000 / Number(perSecond);
const started = performance.now();
const firstAt = Date.now();
let sent = 0;
for (let i = 0; i < Number(count); i++) {
  // Paced from the start, so a late wake-up does not stretch the whole run.
  const wait = started + i * gapMs - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  await new Promise<void>((resolve, reject) =>
    socket.send(packet, 0, packet.length, VRRP_GROUP, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  sent += 1;
}
socket.close();
console.log(JSON.stringify({ sent, firstAt, ms: Math.round(performance.now() - started) }));
