/**
 * Gratuitous ARP frames (pure): a complete broadcast Ethernet frame, padded to the 60-byte
 * minimum, in which `mac` claims `ip`. A request has sender and target IP both `ip` and a zero
 * target MAC (the RFC 5227 announcement); a reply has target MAC ff:ff:ff:ff:ff:ff. Bad MACs and
 * addresses throw AddressError naming the value.
 */
import { AddressError, ipv4ToUint32 } from './address.js';

const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV4 = 0x0800;
const HTYPE_ETHERNET = 1;
const OPER = { request: 1, reply: 2 } as const;
/** Shorter frames are runts on the wire, and not every driver pads what a raw socket hands it. */
const MIN_FRAME = 60;
const BROADCAST = Buffer.alloc(6, 0xff);
const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

/** "02:00:5e:00:01:33" (as `ip link` prints it, either case) to its 6 bytes. */
export function parseMac(s: string): Buffer {
  if (!MAC.test(s)) {
    const example = '02:00:5e:00:01:33';
    throw new AddressError(
      `not a MAC address (six colon-separated hex bytes, e.g. ${example}): ${JSON.stringify(s)}`,
    );
  }
  return Buffer.from(s.replaceAll(':', ''), 'hex');
}

export function gratuitousArp(mac: string, ip: string, kind: 'request' | 'reply'): Buffer {
  const sender = parseMac(mac);
  const address = ipv4ToUint32(ip);
  const frame = Buffer.alloc(MIN_FRAME);
  BROADCAST.copy(frame, 0);
  sender.copy(frame, 6);
  frame.writeUInt16BE(ETHERTYPE_ARP, 12);
  frame.writeUInt16BE(HTYPE_ETHERNET, 14);
  frame.writeUInt16BE(ETHERTYPE_IPV4, 16);
  frame.writeUInt8(6, 18);
  frame.writeUInt8(4, 19);
  frame.writeUInt16BE(OPER[kind], 20);
  sender.copy(frame, 22);
  frame.writeUInt32BE(address, 28);
  if (kind === 'reply') BROADCAST.copy(frame, 32);
  frame.writeUInt32BE(address, 38);
  return frame;
}
