/**
 * Whether a VRRP link of one address family can run on its interface as the kernel reports it
 * now, and from which address: pure, so the daemon's link (daemon/link.ts) and the tests share
 * one rule.
 *
 * The interface must exist, be operationally up and have an address of its own to send from. A
 * VIP is never that address: one left behind by a crash may sort first, and advertising from a
 * VIP would make the tie-break and the peer's source checks depend on who holds it.
 * - IPv4: the first primary address that is not one of our VIPs (else the first secondary);
 *   IPv6 addresses are not looked at.
 * - IPv6: the first link-local (fe80::/10) address that is not one of our VIPs and not
 *   tentative: RFC 5798 5.1.2.1 makes the link-local address the only source, and the kernel
 *   sends nothing from an address still in duplicate address detection (or one that failed it).
 */
import { isLinkLocal } from '../net/address.js';

export interface InterfaceAddress {
  family: 4 | 6;
  address: string;
  prefix: number;
  /** An IPv4 secondary. */
  secondary: boolean;
  /** IPv6 duplicate address detection under way or failed. */
  tentative: boolean;
}

export interface InterfaceView {
  name: string;
  index: number;
  mac: string;
  up: boolean;
}

export type InterfaceVerdict =
  { ok: true; link: InterfaceView; primary: InterfaceAddress } | { ok: false; reason: string };

/** The interface's own addresses of `family` a source may be chosen from, in the kernel's order. */
function own(
  addresses: readonly InterfaceAddress[],
  vips: ReadonlySet<string>,
  family: 4 | 6,
): InterfaceAddress[] {
  return addresses.filter(
    (a) => a.family === family && !vips.has(a.address) && (family === 4 || isLinkLocal(a.address)),
  );
}

/** The address adverts of `family` leave from, or undefined when there is none (see above). */
export function primaryOf(
  addresses: readonly InterfaceAddress[],
  vips: ReadonlySet<string>,
  family: 4 | 6,
): InterfaceAddress | undefined {
  const candidates = own(addresses, vips, family);
  if (family === 6) return candidates.find((a) => !a.tentative);
  return candidates.find((a) => !a.secondary) ?? candidates[0];
}

export function interfaceVerdict(
  name: string,
  link: InterfaceView | undefined,
  addresses: readonly InterfaceAddress[],
  vips: ReadonlySet<string>,
  family: 4 | 6,
): InterfaceVerdict {
  if (link === undefined) return { ok: false, reason: `interface ${name} does not exist` };
  if (!link.up) return { ok: false, reason: `interface ${name} is down` };
  const primary = primaryOf(addresses, vips, family);
  if (primary !== undefined) return { ok: true, link, primary };
  if (family === 4) {
    return {
      ok: false,
      reason: `interface ${name} has no IPv4 address of its own (VIPs excluded) to send adverts from`,
    };
  }
  if (own(addresses, vips, 6).length === 0) {
    return {
      ok: false,
      reason: `interface ${name} has no IPv6 link-local address of its own (VIPs excluded) to send adverts from`,
    };
  }
  return {
    ok: false,
    reason: `interface ${name}: its link-local address is still tentative (duplicate address detection)`,
  };
}
