/**
 * What the kernel says about one interface, read with `ip -j` (iproute2's JSON output) in the
 * network namespace vipd runs in. Read-only: changing addresses is actions/vip.ts's job.
 */
import { execa } from 'execa';

export interface InterfaceAddress {
  address: string;
  prefix: number;
  secondary: boolean;
}

export interface InterfaceInfo {
  name: string;
  index: number;
  mac: string;
  up: boolean;
  addresses: InterfaceAddress[];
}

export class InterfaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InterfaceError';
  }
}

interface IpAddrJson {
  ifname?: string;
  ifindex?: number;
  address?: string;
  operstate?: string;
  flags?: string[];
  addr_info?: { family?: string; local?: string; prefixlen?: number; secondary?: boolean }[];
}

export async function readInterface(name: string): Promise<InterfaceInfo> {
  const result = await execa('ip', ['-j', 'addr', 'show', 'dev', name], { reject: false });
  if (result.exitCode !== 0) {
    throw new InterfaceError(`interface ${name}: ${result.stderr.trim() || 'ip addr show failed'}`);
  }
  const parsed = JSON.parse(result.stdout) as IpAddrJson[];
  const link = parsed[0];
  if (link === undefined) throw new InterfaceError(`interface ${name} does not exist`);
  return {
    name,
    index: link.ifindex ?? 0,
    mac: link.address ?? '',
    up: (link.flags ?? []).includes('UP'),
    addresses: (link.addr_info ?? [])
      .filter((a) => a.family === 'inet' && a.local !== undefined)
      .map((a) => ({
        address: a.local ?? '',
        prefix: a.prefixlen ?? 32,
        secondary: a.secondary === true,
      })),
  };
}

/**
 * The address adverts are sent from: the first primary IPv4 address that is not one of our VIPs
 * (a VIP left behind by a crash may sort first, and advertising from a VIP would make the
 * tie-break and the peer's source checks depend on who holds it).
 */
export function primaryAddress(info: InterfaceInfo, vips: ReadonlySet<string>): InterfaceAddress {
  const candidates = info.addresses.filter((a) => !vips.has(a.address));
  const primary = candidates.find((a) => !a.secondary) ?? candidates[0];
  if (primary === undefined) {
    throw new InterfaceError(
      `interface ${info.name} has no IPv4 address of its own (VIPs excluded): VRRP needs one to send adverts from`,
    );
  }
  return primary;
}
