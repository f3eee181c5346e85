// The RFC 5798 section 7.3 virtual MAC of a VRID (src/vrrp/vmac-address.ts): 00-00-5E-00-01-{VRID}
// for IPv4, 00-00-5E-00-02-{VRID} for IPv6, in the kernel's text form; a VRID outside 1..255 is
// refused by name.
import { describe, expect, it } from 'vitest';
import { virtualMac, VirtualMacError } from '../../src/vrrp/vmac-address.js';

describe('virtualMac', () => {
  it('IPv4 and IPv6, the VRID as the last octet', () => {
    expect(virtualMac(4, 51)).toBe('00:00:5e:00:01:33');
    expect(virtualMac(6, 51)).toBe('00:00:5e:00:02:33');
    expect(virtualMac(4, 1)).toBe('00:00:5e:00:01:01');
    expect(virtualMac(6, 255)).toBe('00:00:5e:00:02:ff');
  });

  it('refuses a VRID that has none', () => {
    for (const vrid of [0, 256, 1.5, -1, Number.NaN]) {
      expect(() => virtualMac(4, vrid)).toThrow(VirtualMacError);
      expect(() => virtualMac(4, vrid)).toThrow(
        `VRID ${vrid} has no virtual MAC: a VRID is 1 to 255`,
      );
    }
  });
});
