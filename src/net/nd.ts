/**
 * Unsolicited IPv6 Neighbor Advertisements as whole Ethernet frames (pure): IPv6's gratuitous ARP
 * (arp.ts), with which a new master re-points its neighbours' caches for an IPv6 VIP (RFC 5798
 * 6.4.2, RFC 4861 4.4 and 7.2.6).
 *
 * The frame goes to the all-nodes group (ff02::1, Ethernet 33:33:00:00:00:01) from the VIP itself
 * (an address assigned to the interface, as RFC 4861 4.4 asks of a source; keepalived's
 * vrrp_ndisc.c sends from the VIP too), hop limit 255 (a receiver drops any other: RFC 4861 7.1.2).
 * The ICMPv6 message has Override set, so a neighbour replaces the link-layer address it has;
 * Solicited clear (nobody asked, and a receiver drops a multicast advert that claims otherwise);
 * Router as told; and the target link-layer address option. Bad MACs and targets throw
 * AddressError naming the value, before anything is built.
 */
import { AddressError, ipv6ToBytes } from './address.js';
import { parseMac } from './arp.js';
import { internetChecksum } from './checksum.js';

const ETHERTYPE_IPV6 = 0x86dd;
const NEXT_HEADER_ICMPV6 = 58;
const HOP_LIMIT = 255;
const ICMPV6_NEIGHBOR_ADVERT = 136;
const FLAG_ROUTER = 0x80;
const FLAG_OVERRIDE = 0x20;
const OPTION_TARGET_LINK_LAYER = 2;
/** ff02::1 and its RFC 2464 multicast MAC (33:33 and the group's last 32 bits). */
const ALL_NODES = ipv6ToBytes('ff02::1');
const ALL_NODES_MAC = Buffer.from([0x33, 0x33, 0, 0, 0, 1]);

const ETHERNET_HEADER = 14;
const IPV6_HEADER = 40;
/** Type, code, checksum, flags and reserved, target, then one 8-byte option. */
const ICMPV6_LENGTH = 4 + 4 + 16 + 8;
/** 86 bytes: above Ethernet's 60-byte minimum, so no padding. */
export const NEIGHBOR_ADVERT_FRAME_LENGTH = ETHERNET_HEADER + IPV6_HEADER + ICMPV6_LENGTH;

export function unsolicitedNeighborAdvert(
  mac: string,
  target: string,
  opts: { router: boolean },
): Buffer {
  const sender = parseMac(mac);
  const address = ipv6ToBytes(target);
  if (address[0] === 0xff || address.every((b) => b === 0)) {
    // A receiver drops an advert for a multicast target; :: is no one's address.
    throw new AddressError(`not a unicast IPv6 address: ${JSON.stringify(target)}`);
  }
  const frame = Buffer.alloc(NEIGHBOR_ADVERT_FRAME_LENGTH);
  ALL_NODES_MAC.copy(frame, 0);
  sender.copy(frame, 6);
  frame.writeUInt16BE(ETHERTYPE_IPV6, 12);

  const ip = frame.subarray(ETHERNET_HEADER, ETHERNET_HEADER + IPV6_HEADER);
  ip.writeUInt32BE(0x60000000, 0); // version 6, traffic class 0, flow label 0
  ip.writeUInt16BE(ICMPV6_LENGTH, 4);
  ip[6] = NEXT_HEADER_ICMPV6;
  ip[7] = HOP_LIMIT;
  address.copy(ip, 8);
  ALL_NODES.copy(ip, 24);

  const icmp = frame.subarray(ETHERNET_HEADER + IPV6_HEADER);
  icmp[0] = ICMPV6_NEIGHBOR_ADVERT;
  icmp[1] = 0;
  icmp[4] = FLAG_OVERRIDE | (opts.router ? FLAG_ROUTER : 0);
  address.copy(icmp, 8);
  icmp[24] = OPTION_TARGET_LINK_LAYER;
  icmp[25] = 1; // in units of 8 bytes
  sender.copy(icmp, 26);

  // RFC 4443 2.3: over the IPv6 pseudo-header (RFC 8200 8.1) and the message.
  const pseudo = Buffer.alloc(40);
  address.copy(pseudo, 0);
  ALL_NODES.copy(pseudo, 16);
  pseudo.writeUInt32BE(ICMPV6_LENGTH, 32);
  pseudo[39] = NEXT_HEADER_ICMPV6;
  icmp.writeUInt16BE(internetChecksum(pseudo, icmp), 2);
  return frame;
}
