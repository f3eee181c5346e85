import { describe, expect, it } from 'vitest';
import { vipChanges } from '../../src/actions/vip.js';

const vips = [
  { address: '10.99.0.100', prefix: 24 },
  { address: '10.99.0.101', prefix: 24 },
];
const primary = { address: '10.99.0.1', prefix: 24, secondary: false };

describe('vipChanges', () => {
  it('adds only what is missing and is a no-op when everything is there', () => {
    const half = [primary, { address: '10.99.0.100', prefix: 24, secondary: true }];
    expect(vipChanges(vips, half, 'present')).toEqual([{ op: 'add', vip: vips[1] }]);
    const all = [...half, { address: '10.99.0.101', prefix: 24, secondary: true }];
    expect(vipChanges(vips, all, 'present')).toEqual([]);
  });
  it('replaces an address left with another prefix', () => {
    const stale = [primary, { address: '10.99.0.100', prefix: 32, secondary: false }];
    expect(vipChanges(vips.slice(0, 1), stale, 'present')).toEqual([
      { op: 'del', vip: { address: '10.99.0.100', prefix: 32 } },
      { op: 'add', vip: vips[0] },
    ]);
  });
  it('removes only our VIPs, whatever their prefix, and never the primary', () => {
    const have = [primary, { address: '10.99.0.101', prefix: 32, secondary: false }];
    expect(vipChanges(vips, have, 'absent')).toEqual([
      { op: 'del', vip: { address: '10.99.0.101', prefix: 32 } },
    ]);
    expect(vipChanges(vips, [primary], 'absent')).toEqual([]);
  });
});
