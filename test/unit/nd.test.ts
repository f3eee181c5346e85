/**
 * The unsolicited Neighbor Advertisement frame (src/net/nd.ts), field by field: Ethernet to the
 * all-nodes MAC, IPv6 from the target to ff02::1 with hop limit 255, ICMPv6 136/0 with Override
 * (and Router when asked), never Solicited, the target, the target link-layer option, and a
 * checksum that verifies over the pseudo-header. The two pinned checksums were checked by
 * tshark (`Checksum Status: Good`); the lab test (test/integration/vip-ipv6.test.ts) decodes a
 * frame off the wire with tshark and watches a neighbour's cache follow it.
 */
import { describe, expect, it } from 'vitest';
import { AddressError, bytesToIpv6 } from '../../src/net/address.js';
import { checksumIsValid } from '../../src/net/checksum.js';
import { NEIGHBOR_ADVERT_FRAME_LENGTH, unsolicitedNeighborAdvert } from '../../src/net/nd.js';

const MAC = '02:00:5e:00:01:33';
const hex = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

/** The frame read back by offsets (RFC 8200 section 3, RFC 4861 section 4.4). */
function decode(frame: Buffer) {
  const ip = frame.subarray(14, 54);
  const icmp = frame.subarray(54);
  const pseudo = Buffer.concat([
    ip.subarray(8, 40),
    Buffer.from([0, 0, 0, icmp.length, 0, 0, 0, ip[6] ?? 0]),
  ]);
  return {
    dstMac: hex(frame.subarray(0, 6)),
    srcMac: hex(frame.subarray(6, 12)),
    ethertype: frame.readUInt16BE(12),
    version: (ip[0] ?? 0) >> 4,
    trafficClassAndFlow: ip.readUInt32BE(0) & 0x0fffffff,
    payloadLength: ip.readUInt16BE(4),
    nextHeader: ip[6],
    hopLimit: ip[7],
    src: bytesToIpv6(ip, 8),
    dst: bytesToIpv6(ip, 24),
    type: icmp[0],
    code: icmp[1],
    checksum: icmp.readUInt16BE(2),
    checksumValid: checksumIsValid(pseudo, icmp),
    router: ((icmp[4] ?? 0) & 0x80) !== 0,
    solicited: ((icmp[4] ?? 0) & 0x40) !== 0,
    override: ((icmp[4] ?? 0) & 0x20) !== 0,
    reserved: icmp.readUInt32BE(4) & 0x1fffffff,
    target: bytesToIpv6(icmp, 8),
    option: { type: icmp[24], length: icmp[25], mac: hex(icmp.subarray(26, 32)) },
  };
}

describe('unsolicitedNeighborAdvert', () => {
  it('lays out every field of RFC 4861 7.2.6, Router clear', () => {
    const frame = unsolicitedNeighborAdvert(MAC, '2001:DB8:0::100', { router: false });
    expect(frame).toHaveLength(86);
    expect(NEIGHBOR_ADVERT_FRAME_LENGTH).toBe(86);
    expect(decode(frame)).toEqual({
      dstMac: '33:33:00:00:00:01',
      srcMac: MAC,
      ethertype: 0x86dd,
      version: 6,
      trafficClassAndFlow: 0,
      payloadLength: 32,
      nextHeader: 58,
      hopLimit: 255,
      src: '2001:db8::100',
      dst: 'ff02::1',
      type: 136,
      code: 0,
      checksum: 0x97fa,
      checksumValid: true,
      router: false,
      solicited: false,
      override: true,
      reserved: 0,
      target: '2001:db8::100',
      option: { type: 2, length: 1, mac: MAC },
    });
  });

  it('sets Router when asked; the checksum follows every input', () => {
    const frame = unsolicitedNeighborAdvert('52:54:00:12:34:56', 'fe80::1', { router: true });
    expect(decode(frame)).toMatchObject({
      router: true,
      solicited: false,
      override: true,
      src: 'fe80::1',
      target: 'fe80::1',
      checksum: 0x52df,
      checksumValid: true,
      option: { mac: '52:54:00:12:34:56' },
    });
    for (const [target, router] of [
      ['2001:db8::1', false],
      ['2001:db8::1', true],
      ['fd00::ffff:ffff', true],
      ['fe80::a:b:c:d', false],
    ] as const) {
      expect(decode(unsolicitedNeighborAdvert(MAC, target, { router })).checksumValid).toBe(true);
    }
  });

  it('refuses a bad MAC, a non-IPv6 target, a multicast or unspecified target, by name', () => {
    expect(() =>
      unsolicitedNeighborAdvert('02:00:5e:00:01', '2001:db8::1', { router: false }),
    ).toThrow(AddressError);
    for (const target of ['10.0.0.1', '2001:db8::1/64', 'ff02::1', '::']) {
      expect(() => unsolicitedNeighborAdvert(MAC, target, { router: false })).toThrow(
        new RegExp(`${target.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`),
      );
    }
  });
});
