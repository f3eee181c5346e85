// An independent decoder's verdict on vipd's IPv6 adverts: encodeAdvert's VRRPv3 messages,
// wrapped in an IPv6 header (hop limit 255, to ff02::12) and Ethernet, written to a pcap, and
// read back by Debian's tshark (Wireshark 4.0). Every frame must decode as VRRP version 3 with
// the VRID, priority, interval and addresses sent, a good checksum and no expert info; a frame
// corrupted on purpose must be flagged, so the check is known to see a bad checksum.
// Wireshark's vrrp.v3_checksum_as_in_v2 preference (the RFC 5798/9568 ambiguity) covers IPv4
// only: both settings must give the same verdicts on IPv6. No namespace, no network: a file.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IPPROTO_VRRP } from '../../src/net/ipv4.js';
import { VRRP_GROUP_V6, encodeAdvert, type VrrpAdvert } from '../../src/vrrp/packet.js';
import { tsharkFrames } from '../support/tshark.js';
import { encodeIpv6 } from '../support/vectors.js';

interface Frame {
  src: string;
  advert: VrrpAdvert;
  /** Flip one address byte after encoding: the negative control. */
  corrupt?: boolean;
}

const advert = (
  vrid: number,
  priority: number,
  intervalCs: number,
  addresses: string[],
): VrrpAdvert => ({ version: 3, vrid, priority, intervalCs, addresses });

const FRAMES: Frame[] = [
  { src: 'fe80::ff:fe99:1', advert: advert(51, 200, 100, ['fe80::200:5eff:fe00:233']) },
  {
    src: 'fe80::ff:fe99:2',
    advert: advert(51, 100, 100, ['fe80::200:5eff:fe00:233', '2001:db8:99::100']),
  },
  { src: 'fe80::1', advert: advert(1, 0, 35, ['fe80::200:5eff:fe00:201', '2001:db8::1', '::1']) },
  {
    src: 'fe80::abcd:ef01:2345:6789',
    advert: advert(
      255,
      255,
      4095,
      Array.from(
        { length: 16 },
        (_, i) => `2001:db8:${(i + 1).toString(16)}::${(i + 2).toString(16)}`,
      ),
    ),
  },
  {
    src: 'fe80::ff:fe99:1',
    advert: advert(51, 200, 100, ['fe80::200:5eff:fe00:233']),
    corrupt: true,
  },
];

/** IPv6 multicast MAC of ff02::12 (RFC 2464: 33:33 + the group's last 32 bits). */
const GROUP_MAC = Buffer.from([0x33, 0x33, 0x00, 0x00, 0x00, 0x12]);
const ETHERTYPE_IPV6 = 0x86dd;
const LINKTYPE_ETHERNET = 1;

function frameBytes({ src, advert: a, corrupt }: Frame): Buffer {
  const message = encodeAdvert(a, { src, dst: VRRP_GROUP_V6, checksum: 'rfc5798' });
  if (corrupt === true) message.writeUInt8((message[8] ?? 0) ^ 0x01, 8);
  const ip = encodeIpv6(
    {
      trafficClass: 0xc0,
      flowLabel: 0,
      nextHeader: IPPROTO_VRRP,
      hopLimit: 255,
      src,
      dst: VRRP_GROUP_V6,
    },
    message,
  );
  const ethernet = Buffer.alloc(14);
  GROUP_MAC.copy(ethernet, 0);
  // The RFC 5798 IPv6 virtual MAC 00-00-5E-00-02-{VRID}.
  Buffer.from([0x00, 0x00, 0x5e, 0x00, 0x02, a.vrid]).copy(ethernet, 6);
  ethernet.writeUInt16BE(ETHERTYPE_IPV6, 12);
  return Buffer.concat([ethernet, ip]);
}

/** Classic libpcap file, microsecond timestamps, one second apart. */
function pcap(frames: Buffer[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const records = frames.map((frame, i) => {
    const record = Buffer.alloc(16);
    record.writeUInt32LE(1_700_000_000 + i, 0);
    record.writeUInt32LE(frame.length, 8);
    record.writeUInt32LE(frame.length, 12);
    return Buffer.concat([record, frame]);
  });
  return Buffer.concat([header, ...records]);
}

describe('tshark decodes vipd IPv6 adverts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-decode-ipv6-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'adverts.pcap');
  writeFileSync(file, pcap(FRAMES.map(frameBytes)));

  it.each([false, true])('with vrrp.v3_checksum_as_in_v2 %s', async (checksumAsV2) => {
    const decoded = await tsharkFrames(file, [`vrrp.v3_checksum_as_in_v2:${String(checksumAsV2)}`]);
    expect(decoded).toHaveLength(FRAMES.length);
    FRAMES.forEach(({ src, advert: a, corrupt }, i) => {
      const text = decoded[i] ?? '';
      const lines = text.split('\n').map((l) => l.trim());
      const vrrp = lines.slice(lines.indexOf('Virtual Router Redundancy Protocol'));
      expect(lines, `frame ${i + 1}`).toEqual(
        expect.arrayContaining([
          'Next Header: VRRP (112)',
          'Hop Limit: 255',
          `Source Address: ${src}`,
          `Destination Address: ${VRRP_GROUP_V6}`,
          'Virtual Router Redundancy Protocol',
          'Version 3, Packet type 1 (Advertisement)',
          `Virtual Rtr ID: ${a.vrid}`,
          `Addr Count: ${a.addresses.length}`,
        ]),
      );
      expect(vrrp.some((l) => l.startsWith(`Priority: ${a.priority} `))).toBe(true);
      expect(vrrp.some((l) => l.endsWith(`= Adver Int: ${a.intervalCs}`))).toBe(true);
      const addresses = vrrp.filter((l) => l.startsWith('IPv6 Address: '));
      const sent = a.addresses.map((x, k) => (corrupt === true && k === 0 ? 'corrupted' : x));
      if (corrupt === true) {
        expect(addresses.slice(1)).toEqual(sent.slice(1).map((x) => `IPv6 Address: ${x}`));
        expect(lines).toContain('[Checksum Status: Bad]');
        expect(text).toMatch(/Expert Info \(Warning\/Checksum\)/);
        return;
      }
      expect(addresses).toEqual(sent.map((x) => `IPv6 Address: ${x}`));
      expect(lines).toContain('[Checksum Status: Good]');
      expect(text).not.toMatch(/Malformed|Expert Info|\[Checksum Status: (?!Good)/);
    });
  });
});
