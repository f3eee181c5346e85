/**
 * The RFC virtual MAC (00-00-5E-00-01-{VRID}, IPv6 00-00-5E-00-02-{VRID}) as a macvlan on the
 * instance's interface, the way keepalived's `use_vmac` and FRR's vrrpd do it: the VIPs go on
 * the macvlan, so clients resolve them to the virtual MAC, and a takeover needs no client to
 * relearn anything. Through the project's rtnetlink (net/netlink.ts, net/rtnetlink.ts) and
 * /proc/sys (net/sysctl.ts), never `ip`.
 *
 * Contract:
 * - ensureVmac makes `name` a macvlan in bridge mode on `parent` with `mac`, configured as below
 *   and up. A leftover that already is exactly that (parent, MAC, mode; IPv6: no address
 *   generation) is reused; any other macvlan of that name is deleted and created again; any
 *   other kind of interface of that name is refused (VmacError 'not-macvlan'): vipd never
 *   deletes an interface it cannot have made. Calls for one name must not overlap.
 * - removeVmac deletes it only when it is a macvlan with that MAC (vipd's); false when absent.
 * - Sysctls changed on the parent (arp_ignore, arp_announce) are named in `detail` and left as
 *   they are on removal: other macvlans may share the parent, and the values before a crash
 *   are not known after it.
 * - Every failure is a VmacError naming the interface and the kernel's errno.
 *
 * Choices, and why (keepalived 2.2.7 vrrp_vmac.c / vrrp_if_config.c, FRR doc/user/vrrp.rst,
 * and what the lab measured):
 * - Bridge mode (FRR's choice; keepalived uses private): frames from the wire reach the parent
 *   and every macvlan alike, so the daemon hears adverts on the parent in any state. In private
 *   mode a frame whose source is our virtual MAC (another box's master adverts) reaches only
 *   the macvlan.
 * - Created down; settings; then up, so nothing is ever sent from a half-configured macvlan.
 *   IFLA_INET6_ADDR_GEN_MODE goes in a request of its own after the creation: in the creation
 *   request the kernel refuses IFLA_AF_SPEC (EAFNOSUPPORT on 6.18; keepalived notes the kernel
 *   ignores it there). net.ipv6.conf.NAME.addr_gen_mode=1 is the fallback.
 * - IPv6 macvlan: no address generation (a link-local from the virtual MAC would be the same on
 *   master and backups: DAD fails, and the backup's MLD reports from it would move the switch's
 *   entry for the virtual MAC), accept_ra=0 (an RA would otherwise give it a SLAAC address from
 *   the virtual MAC, keepalived issue 2551, routes through it, and router solicitations from
 *   it), disable_ipv6=0, arp_ignore=8 (never answer ARP: with the default 0 it would answer
 *   for the box's IPv4 VIPs on a dual-stack pair's IPv4 macvlan). Forwarding is left as the box has it: it sets the Router flag of the
 *   kernel's neighbor advertisements for the VIPs, and a host that sees it cleared drops the
 *   virtual router from its default routers (RFC 4861 7.2.5).
 *   `linkLocal` adds the parent's link-local (/64, nodad) as keepalived's
 *   add_link_local_address does, so adverts sent out of the macvlan have a source there.
 *   Measured: up with no address and forwarding 0, an IPv6 macvlan sends nothing; with
 *   forwarding 1 (a router) it joins ff02::2 and sends MLD reports from the virtual MAC when it
 *   comes up, and a link-local on it adds reports for its solicited-node group. `protodown`
 *   (FRR's backup state: carrier off) keeps all of that in: a backup's macvlan must be in
 *   protodown, or have neither a link-local nor forwarding.
 * - IPv4 macvlan: IPv6 disabled on it (keepalived's link_set_ipv6(false): nothing of IPv6 can
 *   leave from the virtual MAC), arp_ignore=1 (it answers ARP only for its own addresses, never
 *   the parent's), arp_announce=2 (its ARP requests never carry the parent's address with the
 *   virtual MAC), rp_filter=0 (traffic to a VIP arrives on it while the route back goes through
 *   the parent), promote_secondaries=1 (the VIPs live here). accept_local is left alone: the
 *   daemon receives on the parent, not on the macvlan.
 * - Parent of an IPv4 macvlan: arp_ignore at least 1, so only the virtual MAC answers ARP for
 *   the VIPs; arp_announce=2, because with the default 0 the parent's ARP request for a client
 *   (to send the reply to that client's ping of a VIP, which leaves through the parent) carries
 *   the VIP as sender with the parent's MAC, and the client repoints the VIP at the parent:
 *   measured in the lab. keepalived's arp_filter=1 on the parent is not set: arp_ignore already
 *   keeps the parent's answers to its own addresses, and arp_filter would tie them to a route
 *   lookup that a VIP prefix route on the macvlan can shadow.
 * - net.ipv4.conf.all.rp_filter=1 (strict) is refused before anything is made: it overrides
 *   the macvlan's 0 and the kernel then drops everything arriving on it, ARP for the VIPs
 *   included (measured). keepalived rewrites all.rp_filter and every interface's; vipd leaves
 *   the choice to the operator (2, loose, works).
 */
import { canonicalAddress, isLinkLocal } from './address.js';
import { addresses, client, linkMessage, type NetlinkError } from './netlink.js';
import {
  addressOf,
  AF_INET6,
  encodeAddAddress,
  encodeDeleteAddress,
  encodeDeleteLink,
  encodeNewMacvlan,
  encodeSetAddrGenMode,
  encodeSetLinkUp,
  encodeSetProtodown,
  IFA_F_NODAD,
  IFF_UP,
  IN6_ADDR_GEN_MODE_EUI64,
  IN6_ADDR_GEN_MODE_NONE,
  IN6_ADDR_GEN_MODE_RANDOM,
  IN6_ADDR_GEN_MODE_STABLE_PRIVACY,
  MACVLAN_MODE_BRIDGE,
  MACVLAN_MODE_PASSTHRU,
  MACVLAN_MODE_PRIVATE,
  MACVLAN_MODE_SOURCE,
  MACVLAN_MODE_VEPA,
  RtnetlinkEncodeError,
  type LinkMessage,
} from './rtnetlink.js';
import {
  readInterfaceSetting,
  setInterfaceSetting,
  SysctlError,
  type InterfaceSetting,
} from './sysctl.js';

export interface VmacSpec {
  name: string;
  parent: string;
  mac: string;
  family: 4 | 6;
}

export interface VmacOptions {
  /**
   * Leave it in protodown (carrier off: the kernel sends nothing from it), or take it out
   * (default): a backup's state, lifted with setVmacProtodown as master.
   */
  protodown?: boolean;
  /** IPv6 only: this address (the parent's link-local) on it, /64 nodad; other link-locals go. */
  linkLocal?: string;
}

export interface VmacResult {
  index: number;
  action: 'created' | 'reused' | 'replaced';
  /** What was replaced, and the sysctls changed on the parent. */
  detail?: string;
}

export type VmacErrorCode =
  /** A name, MAC or address no request can carry. */
  | 'invalid'
  /** The parent, or the macvlan to change, does not exist. */
  | 'absent'
  /** An interface of that name that is not a macvlan: never touched. */
  | 'not-macvlan'
  /** A macvlan of that name with another MAC: not vipd's to remove. */
  | 'not-ours'
  /** net.ipv4.conf.all.rp_filter=1 would drop everything arriving on the macvlan. */
  | 'rp-filter'
  /** A sysctl could not be read or written. */
  | 'settings'
  /** The kernel refused a request. */
  | 'kernel';

export class VmacError extends Error {
  readonly code: VmacErrorCode;

  constructor(message: string, code: VmacErrorCode, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VmacError';
    this.code = code;
  }
}

/** Sends one request built by `encode`; `what` names it in the error. */
async function send(what: string, encode: () => Buffer): Promise<void> {
  let bytes: Buffer;
  try {
    bytes = encode();
  } catch (err) {
    throw new VmacError(`${what}: ${(err as Error).message}`, 'invalid', { cause: err });
  }
  try {
    await client().request(bytes, false);
  } catch (err) {
    const e = err as NetlinkError;
    const detail = e.detail === undefined ? '' : ` (${e.detail})`;
    throw new VmacError(`${what}: ${e.message}${detail}`, 'kernel', { cause: err });
  }
}

/** The kernel's report of `name`, or undefined when there is no such interface. */
async function find(name: string): Promise<LinkMessage | undefined> {
  try {
    return await linkMessage(name);
  } catch (err) {
    const e = err as NetlinkError;
    if (e.absent) return undefined;
    const invalid = e.cause instanceof RtnetlinkEncodeError;
    throw new VmacError(e.message, invalid ? 'invalid' : 'kernel', { cause: err });
  }
}

/** The kernel's report of `name`; VmacError `absent` with `missing` when there is none. */
async function get(name: string, missing: string): Promise<LinkMessage> {
  const link = await find(name);
  if (link === undefined) throw new VmacError(missing, 'absent');
  return link;
}

function notMacvlan(link: LinkMessage, name: string): VmacError {
  const what =
    link.linkKind === undefined ? 'an interface without a link kind (a NIC)' : `a ${link.linkKind}`;
  return new VmacError(
    `${name} exists and is ${what} (index ${link.index}), not a macvlan: vipd does not touch it; ` +
      'remove or rename it, or give the instance another virtual MAC interface name',
    'not-macvlan',
  );
}

const MACVLAN_MODES = new Map([
  [MACVLAN_MODE_PRIVATE, 'private'],
  [MACVLAN_MODE_VEPA, 'vepa'],
  [MACVLAN_MODE_BRIDGE, 'bridge'],
  [MACVLAN_MODE_PASSTHRU, 'passthru'],
  [MACVLAN_MODE_SOURCE, 'source'],
]);
const ADDR_GEN_MODES = new Map([
  [IN6_ADDR_GEN_MODE_EUI64, 'eui64'],
  [IN6_ADDR_GEN_MODE_NONE, 'none'],
  [IN6_ADDR_GEN_MODE_STABLE_PRIVACY, 'stable-privacy'],
  [IN6_ADDR_GEN_MODE_RANDOM, 'random'],
]);
const named = (names: Map<number, string>, v: number | undefined): string =>
  v === undefined ? 'unknown' : (names.get(v) ?? String(v));

/** How `link` differs from what `spec` asks for; empty when it is exactly that. */
function differences(link: LinkMessage, spec: VmacSpec, parent: LinkMessage): string[] {
  const out: string[] = [];
  if (link.parentIndex !== parent.index) {
    out.push(`on interface index ${link.parentIndex ?? 'none'}, not ${spec.parent}`);
  }
  if (link.mac !== spec.mac) out.push(`MAC ${link.mac ?? 'none'}`);
  if (link.macvlanMode !== MACVLAN_MODE_BRIDGE) {
    out.push(`mode ${named(MACVLAN_MODES, link.macvlanMode)}`);
  }
  if (spec.family === 6 && link.addrGenMode !== IN6_ADDR_GEN_MODE_NONE) {
    out.push(`IPv6 address generation ${named(ADDR_GEN_MODES, link.addrGenMode)}`);
  }
  return out;
}

/**
 * Sets one sysctl, as a VmacError; returns the value before, or undefined when the setting does
 * not exist and `optional` says that is fine.
 */
async function setting(
  s: InterfaceSetting,
  value: string,
  options: { keep?: (was: string) => boolean; optional?: boolean } = {},
): Promise<string | undefined> {
  try {
    return await setInterfaceSetting(s, value, { keep: options.keep });
  } catch (err) {
    if (!(err instanceof SysctlError)) throw err;
    if (options.optional === true && err.code === 'ENOENT') return undefined;
    throw new VmacError(err.message, 'settings', { cause: err });
  }
}

/** Refuses strict reverse-path filtering for every interface (see the contract). */
async function checkRpFilter(name: string): Promise<void> {
  let all: string;
  try {
    all = await readInterfaceSetting({ family: 'ipv4', ifname: 'all', name: 'rp_filter' });
  } catch (err) {
    throw new VmacError((err as Error).message, 'settings', { cause: err });
  }
  if (all === '1') {
    throw new VmacError(
      `net.ipv4.conf.all.rp_filter=1 (strict) makes the kernel drop what arrives on ${name}, ` +
        'ARP for the VIPs included (the route back to a client goes through the parent); ' +
        'set net.ipv4.conf.all.rp_filter=2 (loose) or 0, keeping stricter values per interface',
      'rp-filter',
    );
  }
}

/** The settings of an IPv4 macvlan and its parent; returns what was changed on the parent. */
async function configureIpv4(name: string, parent: string): Promise<string[]> {
  const v4 = (ifname: string, key: string): InterfaceSetting => ({
    family: 'ipv4',
    ifname,
    name: key,
  });
  // A kernel without IPv6 (ipv6.disable=1) has nothing to disable.
  await setting({ family: 'ipv6', ifname: name, name: 'disable_ipv6' }, '1', { optional: true });
  await setting(v4(name, 'arp_ignore'), '1');
  await setting(v4(name, 'arp_announce'), '2');
  await setting(v4(name, 'rp_filter'), '0');
  await setting(v4(name, 'promote_secondaries'), '1');
  const changed: string[] = [];
  // arp_ignore 2, 3 and 8 are stricter still, and keep the parent quiet about the VIPs too.
  const ignore = await setting(v4(parent, 'arp_ignore'), '1', { keep: (was) => was !== '0' });
  if (ignore === '0') changed.push(`net.ipv4.conf.${parent}.arp_ignore=1 (was 0)`);
  const announce = await setting(v4(parent, 'arp_announce'), '2');
  if (announce !== '2') changed.push(`net.ipv4.conf.${parent}.arp_announce=2 (was ${announce})`);
  return changed;
}

/** No link-local of its own, no router advertisements taken: before it is up. */
async function configureIpv6(link: LinkMessage, name: string): Promise<void> {
  if (link.addrGenMode !== IN6_ADDR_GEN_MODE_NONE) {
    try {
      await send(`set IPv6 address generation of ${name} to none`, () =>
        encodeSetAddrGenMode(0, link.index, IN6_ADDR_GEN_MODE_NONE),
      );
    } catch (err) {
      if ((err as VmacError).code !== 'kernel') throw err;
      await setting({ family: 'ipv6', ifname: name, name: 'addr_gen_mode' }, '1');
    }
  }
  await setting({ family: 'ipv6', ifname: name, name: 'accept_ra' }, '0');
  await setting({ family: 'ipv6', ifname: name, name: 'disable_ipv6' }, '0');
  // It has no IPv4 address, but with arp_ignore 0 it would answer ARP for the box's IPv4 VIPs
  // (on the IPv4 macvlan of a dual-stack pair) with the IPv6 virtual MAC: measured.
  await setting({ family: 'ipv4', ifname: name, name: 'arp_ignore' }, '8');
}

/** Puts `address` on the macvlan (/64, nodad) and removes any other link-local there. */
async function setLinkLocal(index: number, name: string, address: string): Promise<void> {
  let wanted: string;
  try {
    wanted = canonicalAddress(address);
  } catch (err) {
    throw new VmacError(`link-local for ${name}: ${(err as Error).message}`, 'invalid');
  }
  if (!isLinkLocal(wanted)) {
    throw new VmacError(`${address} is not an IPv6 link-local address (fe80::/10)`, 'invalid');
  }
  let present: string[];
  try {
    present = (await addresses(AF_INET6))
      .filter((a) => a.index === index)
      .map((a) => addressOf(a) ?? '')
      .filter((a) => isLinkLocal(a));
  } catch (err) {
    throw new VmacError(`reading the addresses of ${name}: ${(err as Error).message}`, 'kernel', {
      cause: err,
    });
  }
  for (const other of present.filter((a) => a !== wanted)) {
    await send(`remove ${other}/64 from ${name}`, () =>
      encodeDeleteAddress(0, { family: AF_INET6, index, address: other, prefix: 64 }),
    );
  }
  if (present.includes(wanted)) return;
  await send(`add ${wanted}/64 to ${name}`, () =>
    encodeAddAddress(0, {
      family: AF_INET6,
      index,
      address: wanted,
      prefix: 64,
      flags: IFA_F_NODAD,
    }),
  );
}

/** The MAC in the kernel's text form, or a VmacError. */
function macOf(mac: string): string {
  const lower = mac.toLowerCase();
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(lower)) {
    throw new VmacError(
      `${JSON.stringify(mac)} is not a MAC address (aa:bb:cc:dd:ee:ff)`,
      'invalid',
    );
  }
  return lower;
}

/**
 * Makes `name` a macvlan (mode bridge) on `parent` with `mac`, up; reuses a leftover that
 * already is exactly that, replaces (delete + create) anything else by that name; refuses
 * (VmacError) to touch a non-macvlan interface of that name.
 */
export async function ensureVmac(spec: VmacSpec, options: VmacOptions = {}): Promise<VmacResult> {
  const want: VmacSpec = { ...spec, mac: macOf(spec.mac) };
  if (options.linkLocal !== undefined && want.family !== 6) {
    throw new VmacError(`${want.name}: a link-local is for an IPv6 virtual MAC only`, 'invalid');
  }
  if (want.family === 4) await checkRpFilter(want.name);
  const parent = await get(
    want.parent,
    `${want.parent}, the parent of ${want.name}, does not exist`,
  );
  const notes: string[] = [];
  let action: VmacResult['action'] = 'created';
  let link = await find(want.name);
  if (link !== undefined) {
    if (link.linkKind !== 'macvlan') throw notMacvlan(link, want.name);
    const differ = differences(link, want, parent);
    if (differ.length === 0) {
      action = 'reused';
    } else {
      action = 'replaced';
      notes.push(`replaced a macvlan with ${differ.join(', ')}`);
      const index = link.index;
      await send(`delete ${want.name}`, () => encodeDeleteLink(0, index));
      link = undefined;
    }
  }
  if (link === undefined) {
    await send(`create macvlan ${want.name} on ${want.parent}`, () =>
      encodeNewMacvlan(0, {
        name: want.name,
        parentIndex: parent.index,
        mac: want.mac,
        mode: MACVLAN_MODE_BRIDGE,
      }),
    );
    link = await get(want.name, `${want.name} was gone right after it was made`);
  }
  const index = link.index;
  if (want.family === 4) notes.push(...(await configureIpv4(want.name, want.parent)));
  else await configureIpv6(link, want.name);
  const protodown = options.protodown ?? false;
  if ((link.protodown ?? false) !== protodown) {
    await send(`set protodown ${protodown ? 'on' : 'off'} on ${want.name}`, () =>
      encodeSetProtodown(0, index, protodown),
    );
  }
  if (options.linkLocal !== undefined) await setLinkLocal(index, want.name, options.linkLocal);
  if ((link.flags & IFF_UP) === 0) {
    await send(`set ${want.name} up`, () => encodeSetLinkUp(0, index, true));
  }
  return notes.length === 0 ? { index, action } : { index, action, detail: notes.join('; ') };
}

/** The macvlan `name` if it carries `mac`; undefined when absent; VmacError when not vipd's. */
async function ours(name: string, mac: string): Promise<LinkMessage | undefined> {
  const want = macOf(mac);
  const link = await find(name);
  if (link === undefined) return undefined;
  if (link.linkKind !== 'macvlan') throw notMacvlan(link, name);
  if (link.mac !== want) {
    throw new VmacError(
      `${name} is a macvlan with MAC ${link.mac ?? 'none'}, not ${want}: not vipd's, left in place`,
      'not-ours',
    );
  }
  return link;
}

/**
 * Removes it if it is our macvlan (macvlan kind with that MAC); true when removed, false when
 * absent.
 */
export async function removeVmac(name: string, mac: string): Promise<boolean> {
  const link = await ours(name, mac);
  if (link === undefined) return false;
  try {
    await send(`delete ${name}`, () => encodeDeleteLink(0, link.index));
  } catch (err) {
    // Deleted by someone else between the two requests: absent all the same.
    if (((err as VmacError).cause as NetlinkError | undefined)?.code === 'ENODEV') return false;
    throw err;
  }
  return true;
}

/**
 * Puts our macvlan into protodown (a backup: carrier off, nothing sent from the virtual MAC) or
 * takes it out (master). VmacError when it is absent or not ours.
 */
export async function setVmacProtodown(name: string, mac: string, on: boolean): Promise<void> {
  const link = await ours(name, mac);
  if (link === undefined) throw new VmacError(`${name} does not exist`, 'absent');
  await send(`set protodown ${on ? 'on' : 'off'} on ${name}`, () =>
    encodeSetProtodown(0, link.index, on),
  );
}
