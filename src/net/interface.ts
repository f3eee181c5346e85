/**
 * What the kernel says about one interface (rtnetlink, net/netlink.ts) in the network namespace
 * vipd runs in: the link and its addresses of both families. Read-only: changing addresses is
 * actions/vip.ts's job.
 */
import { primaryOf } from '../router/interface-state.js';
import { linkAddresses, linkByName, NetlinkError, type LinkAddress } from './netlink.js';

export type InterfaceAddress = LinkAddress;

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
    return { ...link, addresses: await linkAddresses(link) };
  } catch (err) {
    if (err instanceof NetlinkError) throw new InterfaceError(err.message);
    throw err;
  }
}

/**
 * The address adverts of `family` are sent from (router/interface-state.ts says which); throws
 * if none.
 */
export function primaryAddress(
  info: InterfaceInfo,
  vips: ReadonlySet<string>,
  family: 4 | 6,
): InterfaceAddress {
  const primary = primaryOf(info.addresses, vips, family);
  if (primary === undefined) {
    const what = family === 4 ? 'IPv4 address' : 'usable IPv6 link-local address';
    throw new InterfaceError(
      `interface ${info.name} has no ${what} of its own (VIPs excluded): VRRP needs one to send adverts from`,
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
