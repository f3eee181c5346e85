/**
 * The source-address rule of router/interface-state.ts for both families: IPv4 as before (the
 * first primary that is not a VIP, IPv6 addresses ignored); IPv6 the first link-local address
 * that is not a VIP and not tentative, global addresses and the other family ignored; each
 * refusal says why.
 */
import { describe, expect, it } from 'vitest';
import {
  interfaceVerdict,
  primaryOf,
  type InterfaceAddress,
} from '../../src/router/interface-state.js';

const eth0 = { name: 'eth0', index: 2, mac: '02:00:00:00:00:01', up: true };

function at(
  address: string,
  prefix: number,
  more: Partial<InterfaceAddress> = {},
): InterfaceAddress {
  return {
    family: address.includes(':') ? 6 : 4,
    address,
    prefix,
    secondary: false,
    tentative: false,
    ...more,
  };
}

const global6 = at('2001:db8::2', 64);
const linkLocal = at('fe80::2', 64);
const own4 = at('10.0.0.1', 24);
const vips = new Set(['10.0.0.100', 'fe80::1', '2001:db8::100']);

describe('primaryOf', () => {
  it('IPv4: the first primary that is not a VIP; IPv6 addresses play no part', () => {
    const secondary = at('10.0.0.2', 24, { secondary: true });
    expect(primaryOf([linkLocal, at('10.0.0.100', 24), own4], vips, 4)).toBe(own4);
    expect(primaryOf([secondary, own4], vips, 4)).toBe(own4);
    expect(primaryOf([linkLocal, secondary], vips, 4)).toBe(secondary);
    expect(primaryOf([linkLocal, global6], vips, 4)).toBeUndefined();
  });

  it('IPv6: the first link-local that is neither a VIP nor tentative; never a global one', () => {
    const vipLinkLocal = at('fe80::1', 64);
    const tentative = at('fe80::3', 64, { tentative: true });
    expect(primaryOf([global6, vipLinkLocal, linkLocal], vips, 6)).toBe(linkLocal);
    expect(primaryOf([own4, tentative, linkLocal], vips, 6)).toBe(linkLocal);
    expect(primaryOf([own4, global6, vipLinkLocal], vips, 6)).toBeUndefined();
    expect(primaryOf([tentative], vips, 6)).toBeUndefined();
    // fe80::/10 reaches febf::.
    const wide = at('febf::9', 64);
    expect(primaryOf([global6, wide], vips, 6)).toBe(wide);
    expect(primaryOf([at('fec0::9', 64)], vips, 6)).toBeUndefined();
  });
});

describe('interfaceVerdict', () => {
  it('IPv4: usable from its own address, whatever IPv6 has', () => {
    expect(interfaceVerdict('eth0', eth0, [linkLocal, own4], vips, 4)).toEqual({
      ok: true,
      link: eth0,
      primary: own4,
    });
    expect(interfaceVerdict('eth0', eth0, [linkLocal, global6], vips, 4)).toEqual({
      ok: false,
      reason: 'interface eth0 has no IPv4 address of its own (VIPs excluded) to send adverts from',
    });
  });

  it('IPv6: usable from its link-local address; absent, a VIP only, or tentative says so', () => {
    expect(interfaceVerdict('eth0', eth0, [own4, global6, linkLocal], vips, 6)).toEqual({
      ok: true,
      link: eth0,
      primary: linkLocal,
    });
    const none = {
      ok: false,
      reason:
        'interface eth0 has no IPv6 link-local address of its own (VIPs excluded) to send adverts from',
    };
    expect(interfaceVerdict('eth0', eth0, [own4, global6], vips, 6)).toEqual(none);
    expect(interfaceVerdict('eth0', eth0, [at('fe80::1', 64)], vips, 6)).toEqual(none);
    expect(
      interfaceVerdict('eth0', eth0, [global6, at('fe80::2', 64, { tentative: true })], vips, 6),
    ).toEqual({
      ok: false,
      reason:
        'interface eth0: its link-local address is still tentative (duplicate address detection)',
    });
  });

  it('absent or down before any address is looked at, in either family', () => {
    for (const family of [4, 6] as const) {
      expect(interfaceVerdict('eth0', undefined, [], vips, family)).toEqual({
        ok: false,
        reason: 'interface eth0 does not exist',
      });
      expect(
        interfaceVerdict('eth0', { ...eth0, up: false }, [own4, linkLocal], vips, family),
      ).toEqual({ ok: false, reason: 'interface eth0 is down' });
    }
  });
});
