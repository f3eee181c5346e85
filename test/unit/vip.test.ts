import { describe, expect, it } from 'vitest';
import { vipsPresent } from '../../src/actions/vip.js';

const vips = [
  { address: '10.99.0.100', prefix: 24 },
  { address: '10.99.0.101', prefix: 24 },
];
const primary = { address: '10.99.0.1', prefix: 24, secondary: false };

describe('vipsPresent', () => {
  it('finds our VIPs with the prefix the kernel has, never other addresses', () => {
    const have = [primary, { address: '10.99.0.101', prefix: 32, secondary: false }];
    expect(vipsPresent(vips, have)).toEqual([{ address: '10.99.0.101', prefix: 32 }]);
    expect(vipsPresent(vips, [primary])).toEqual([]);
  });

  it('lists every entry of a VIP: a script may have added VIP/24 next to our VIP/32', () => {
    const have = [
      { address: '10.99.0.100', prefix: 32, secondary: false },
      primary,
      { address: '10.99.0.100', prefix: 24, secondary: true },
    ];
    expect(vipsPresent(vips, have)).toEqual([
      { address: '10.99.0.100', prefix: 32 },
      { address: '10.99.0.100', prefix: 24 },
    ]);
  });
});
