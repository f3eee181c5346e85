// Gratuitous ARP frames byte for byte, the expected bytes written by hand from the Ethernet and
// ARP layouts (RFC 826, RFC 5227), and refusal of bad MACs and addresses.

import { describe, expect, it } from 'vitest';
import { AddressError } from '../../src/net/address.js';
import { gratuitousArp, parseMac } from '../../src/net/arp.js';

const MAC = '52:54:00:AB:cd:01';
const IP = '10.99.0.100';

function hex(...fields: string[]): string {
  return fields.join('').replaceAll(' ', '');
}

const PADDING = '00'.repeat(18);

describe('gratuitousArp', () => {
  it('builds an RFC 5227 announcement (request)', () => {
    expect(gratuitousArp(MAC, IP, 'request').toString('hex')).toBe(
      hex(
        'ff ff ff ff ff ff', // Ethernet destination: broadcast
        '52 54 00 ab cd 01', // Ethernet source: our MAC
        '08 06', // ethertype ARP
        '00 01', // htype Ethernet
        '08 00', // ptype IPv4
        '06', // hlen
        '04', // plen
        '00 01', // oper request
        '52 54 00 ab cd 01', // sender hardware address: our MAC
        '0a 63 00 64', // sender protocol address: 10.99.0.100
        '00 00 00 00 00 00', // target hardware address: zero (RFC 5227)
        '0a 63 00 64', // target protocol address: 10.99.0.100 again
        PADDING, // to the 60-byte Ethernet minimum
      ),
    );
  });

  it('builds a reply', () => {
    expect(gratuitousArp(MAC, IP, 'reply').toString('hex')).toBe(
      hex(
        'ff ff ff ff ff ff', // Ethernet destination: broadcast
        '52 54 00 ab cd 01', // Ethernet source: our MAC
        '08 06', // ethertype ARP
        '00 01', // htype Ethernet
        '08 00', // ptype IPv4
        '06', // hlen
        '04', // plen
        '00 02', // oper reply
        '52 54 00 ab cd 01', // sender hardware address: our MAC
        '0a 63 00 64', // sender protocol address: 10.99.0.100
        'ff ff ff ff ff ff', // target hardware address: broadcast
        '0a 63 00 64', // target protocol address: 10.99.0.100 again
        PADDING, // to the 60-byte Ethernet minimum
      ),
    );
  });

  it('writes addresses of 128.0.0.0 and above in network order', () => {
    const frame = gratuitousArp(MAC, '192.168.255.1', 'request');
    expect(frame.subarray(28, 32).toString('hex')).toBe('c0a8ff01');
    expect(frame.subarray(38, 42).toString('hex')).toBe('c0a8ff01');
  });

  it('refuses a bad IPv4 address', () => {
    expect(() => gratuitousArp(MAC, '10.99.0.256', 'request')).toThrow(AddressError);
    expect(() => gratuitousArp(MAC, '10.99.0.100/24', 'request')).toThrow(/10\.99\.0\.100\/24/);
  });
});

describe('parseMac', () => {
  it('reads six colon-separated hex bytes in either case', () => {
    expect(parseMac('02:00:5E:00:01:33').toString('hex')).toBe('02005e000133');
  });

  it.each([
    '',
    '52:54:00:ab:cd',
    '52:54:00:ab:cd:01:02',
    '52-54-00-ab-cd-01',
    '525400abcd01',
    '52:54:00:ab:cd:1',
    '52:54:00:ab:cd:0g',
    ' 52:54:00:ab:cd:01',
  ])('refuses %j, naming it', (bad) => {
    expect(() => parseMac(bad)).toThrow(AddressError);
    expect(() => parseMac(bad)).toThrow(`not a MAC address`);
    expect(() => parseMac(bad)).toThrow(JSON.stringify(bad));
  });

  it('refuses a bad MAC when building a frame', () => {
    expect(() => gratuitousArp('52:54:00:ab:cd', IP, 'request')).toThrow(AddressError);
  });
});
