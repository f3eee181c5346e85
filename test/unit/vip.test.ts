import { describe, expect, it } from 'vitest';
import { vipsPresent } from '../../src/actions/vip.js';

const vips = [
  { address: '10.99.0.100', prefix: 24 },
  { address: '10.99.0.101', prefix: 24 },
];
const entry = (address: string, prefix: number, secondary = false) => ({
  family: address.includes(':') ? (6 as const) : (4 as const),
  address,
  prefix,
  secondary,
  tentative: false,
});
const primary = entry('10.99.0.1', 24);

describe('vipsPresent', () => {
  it('finds our VIPs with the prefix the kernel has, never other addresses', () => {
    const have = [primary, entry('10.99.0.101', 32)];
    expect(vipsPresent(vips, have)).toEqual([{ address: '10.99.0.101', prefix: 32 }]);
    expect(vipsPresent(vips, [primary])).toEqual([]);
  });

  it('lists every entry of a VIP: a script may have added VIP/24 next to our VIP/32', () => {
    const have = [entry('10.99.0.100', 32), primary, entry('10.99.0.100', 24, true)];
    expect(vipsPresent(vips, have)).toEqual([
      { address: '10.99.0.100', prefix: 32 },
      { address: '10.99.0.100', prefix: 24 },
    ]);
  });

  it('finds an IPv6 VIP among IPv4 ones, with the prefix the kernel has', () => {
    const mixed = [...vips, { address: '2001:db8::100', prefix: 64 }];
    const have = [primary, entry('fe80::1', 64), entry('2001:db8::100', 128)];
    expect(vipsPresent(mixed, have)).toEqual([{ address: '2001:db8::100', prefix: 128 }]);
  });
});
