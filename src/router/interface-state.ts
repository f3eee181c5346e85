/**
 * Whether a VRRP link can run on its interface as the kernel reports it now, and from which
 * address: pure, so the daemon's link (daemon/link.ts) and the tests share one rule.
 *
 * The interface must exist, be operationally up and have an IPv4 address of its own. The source
 * is the first primary address that is not one of our VIPs: a VIP left behind by a crash may
 * sort first, and advertising from a VIP would make the tie-break and the peer's source checks
 * depend on who holds it.
 */

export interface InterfaceAddress {
  address: string;
  prefix: number;
  secondary: boolean;
}

export interface InterfaceView {
  name: string;
  index: number;
  mac: string;
  up: boolean;
}

export type InterfaceVerdict =
  { ok: true; link: InterfaceView; primary: InterfaceAddress } | { ok: false; reason: string };

export function primaryOf(
  addresses: readonly InterfaceAddress[],
  vips: ReadonlySet<string>,
): InterfaceAddress | undefined {
  const candidates = addresses.filter((a) => !vips.has(a.address));
  return candidates.find((a) => !a.secondary) ?? candidates[0];
}

export function interfaceVerdict(
  name: string,
  link: InterfaceView | undefined,
  addresses: readonly InterfaceAddress[],
  vips: ReadonlySet<string>,
): InterfaceVerdict {
  if (link === undefined) return { ok: false, reason: `interface ${name} does not exist` };
  if (!link.up) return { ok: false, reason: `interface ${name} is down` };
  const primary = primaryOf(addresses, vips);
  if (primary === undefined) {
    return {
      ok: false,
      reason: `interface ${name} has no IPv4 address of its own (VIPs excluded) to send adverts from`,
    };
  }
  return { ok: true, link, primary };
}
