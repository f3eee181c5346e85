/**
 * The virtual router MAC address of RFC 5798 section 7.3 (RFC 3768 section 7.3 for VRRPv2):
 * 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6, the IANA block the RFCs
 * reserve. Pure; in the text form the kernel reports and the rtnetlink codec takes
 * (lower-case hex, colons).
 */

export class VirtualMacError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtualMacError';
  }
}

/** The virtual MAC of virtual router `vrid` (1..255) of `family`: '00:00:5e:00:01:33' for 4/51. */
export function virtualMac(family: 4 | 6, vrid: number): string {
  if (!Number.isInteger(vrid) || vrid < 1 || vrid > 255) {
    throw new VirtualMacError(`VRID ${vrid} has no virtual MAC: a VRID is 1 to 255`);
  }
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return `00:00:5e:00:${hex(family === 4 ? 1 : 2)}:${hex(vrid)}`;
}
