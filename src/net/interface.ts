/**
 * What the kernel says about one interface (rtnetlink, net/netlink.ts) in the network namespace
 * vipd runs in. Read-only: changing addresses is actions/vip.ts's job.
 */
import { primaryOf } from '../router/interface-state.js';
import { ipv4Addresses, linkByName, NetlinkError, type Ipv4Address } from './netlink.js';

export type InterfaceAddress = Ipv4Address;

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

export async function readInterface(name: string): Promise<InterfaceInfo> {
  try {
    const link = await linkByName(name);
    return { ...link, addresses: await ipv4Addresses(link) };
  } catch (err) {
    if (err instanceof NetlinkError) throw new InterfaceError(err.message);
    throw err;
  }
}

/** The address adverts are sent from (router/interface-state.ts says which); throws if none. */
export function primaryAddress(info: InterfaceInfo, vips: ReadonlySet<string>): InterfaceAddress {
  const primary = primaryOf(info.addresses, vips);
  if (primary === undefined) {
    throw new InterfaceError(
      `interface ${info.name} has no IPv4 address of its own (VIPs excluded): VRRP needs one to send adverts from`,
    );
  }
  return primary;
}

/** An interface's addresses; undefined when it does not exist (yet). For the host checks. */
export async function interfaceAddresses(name: string): Promise<InterfaceAddress[] | undefined> {
  try {
    return (await readInterface(name)).addresses;
  } catch (err) {
    if (err instanceof InterfaceError && err.message.endsWith('does not exist')) return undefined;
    throw err;
  }
}
