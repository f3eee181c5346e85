/**
 * The rtnetlink codec (NETLINK_ROUTE), pure: bytes in, typed messages out, and the requests vipd
 * makes as bytes. No I/O: net/netlink.ts (requests) and net/kernel-monitor.ts (events) own the
 * sockets.
 *
 * Contract:
 * - `decodeDatagram` splits one datagram into its messages (nlmsghdr) and decodes the ones vipd
 *   reads: links (RTM_NEWLINK/DELLINK: ifinfomsg, IFLA_IFNAME, IFLA_ADDRESS, IFLA_OPERSTATE,
 *   IFLA_CARRIER; and what a macvlan check needs: IFLA_LINK, the kind and macvlan mode of
 *   IFLA_LINKINFO, IFLA_INET6_ADDR_GEN_MODE, IFLA_PROTO_DOWN), addresses (RTM_NEWADDR/DELADDR:
 *   ifaddrmsg, IFA_LOCAL, IFA_ADDRESS, IFA_LABEL, IFA_FLAGS), NLMSG_ERROR (errno 0 is an
 *   acknowledgement; the acked request's header) and NLMSG_DONE (the end of a multipart dump,
 *   with its errno). It never throws: what does not parse is a `malformed` entry with a reason
 *   (and the header when that much was readable, so a request waiting for that sequence number
 *   can be failed); the caller counts them. Anything else is `other`.
 * - The encoders build one request each: a link by name, a link dump, an address dump of one
 *   family, an address add (NLM_F_CREATE|NLM_F_REPLACE, as `ip addr replace`) and delete; a
 *   macvlan's creation, a link's deletion, up/down, IPv6 address generation mode, protodown. They
 *   throw RtnetlinkEncodeError only for input no request can carry (a malformed address, a name
 *   longer than IFNAMSIZ); range checks the kernel makes (prefix 33) are left to its errno.
 * - Addresses are text: dotted quads, and IPv6 in net/address.ts's RFC 5952 text (the form the
 *   config's VIPs are kept in, so the kernel's and the config's text compare equal).
 *
 * Netlink is in host byte order: the helpers below pick it once.
 */
import { addressBytes as textBytes, addressFamily, bytesToIpv6 } from './address.js';

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;
export type AddressFamily = typeof AF_INET | typeof AF_INET6;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
/** A dump whose set changed while it was being sent: it may be inconsistent, ask again. */
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
/** On NLMSG_ERROR: the acked request's payload is left out / extended-ack TLVs follow. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;

/** Multicast groups (the legacy bitmask a socket binds with). */
export const RTMGRP_LINK = 0x1;
export const RTMGRP_IPV4_IFADDR = 0x10;
export const RTMGRP_IPV6_IFADDR = 0x100;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_OPERSTATE = 16;
export const IFLA_EXT_MASK = 29;
export const IFLA_CARRIER = 33;
/** Leaves the statistics out of link replies: most of their bytes, none of vipd's business. */
export const RTEXT_FILTER_SKIP_STATS = 1 << 3;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;
export const IFA_FLAGS = 8;
export const IFA_F_SECONDARY = 0x01;
export const IFA_F_NODAD = 0x02;
/** IPv6: duplicate address detection failed; the address is never used. */
export const IFA_F_DADFAILED = 0x08;
/** IPv6: duplicate address detection is under way; nothing is sent from the address yet. */
export const IFA_F_TENTATIVE = 0x40;

export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;
export const IFF_LOWER_UP = 0x10000;

export const IF_OPER_UNKNOWN = 0;
export const IF_OPER_DOWN = 2;
export const IF_OPER_UP = 6;

const NLMSG_HDRLEN = 16;
const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;
const RTA_HDRLEN = 4;
/** IFNAMSIZ, the terminating NUL included. */
const IFNAMSIZ = 16;

const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const u16 = (b: Buffer, o: number): number => (LITTLE ? b.readUInt16LE(o) : b.readUInt16BE(o));
const u32 = (b: Buffer, o: number): number => (LITTLE ? b.readUInt32LE(o) : b.readUInt32BE(o));
const i32 = (b: Buffer, o: number): number => (LITTLE ? b.readInt32LE(o) : b.readInt32BE(o));
const put16 = (b: Buffer, v: number, o: number): number =>
  LITTLE ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o);
const put32 = (b: Buffer, v: number, o: number): number =>
  LITTLE ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o);
const putI32 = (b: Buffer, v: number, o: number): number =>
  LITTLE ? b.writeInt32LE(v, o) : b.writeInt32BE(v, o);

const align4 = (n: number): number => (n + 3) & ~3;

export interface NlHeader {
  length: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

export interface LinkMessage {
  kind: 'link';
  header: NlHeader;
  /** RTM_DELLINK. */
  deleted: boolean;
  /** AF_UNSPEC for an interface; AF_BRIDGE for a bridge port's own report (not the link). */
  family: number;
  index: number;
  /** ARPHRD_* */
  linkType: number;
  /** IFF_* */
  flags: number;
  name?: string;
  /** IFLA_ADDRESS as aa:bb:..., any length (6 bytes on Ethernet). */
  mac?: string;
  operstate?: number;
  carrier?: boolean;
  /** IFLA_LINK: the link this one sits on (a macvlan's parent; a veth's peer). */
  parentIndex?: number;
  /** IFLA_INFO_KIND: 'macvlan', 'veth', 'bridge'...; absent for a plain NIC. */
  linkKind?: string;
  /** IFLA_MACVLAN_MODE (MACVLAN_MODE_*), on a macvlan. */
  macvlanMode?: number;
  /** IFLA_INET6_ADDR_GEN_MODE (IN6_ADDR_GEN_MODE_*), on a link with IPv6 settings. */
  addrGenMode?: number;
  /** IFLA_PROTO_DOWN */
  protodown?: boolean;
}

export interface AddressMessage {
  kind: 'address';
  header: NlHeader;
  /** RTM_DELADDR. */
  deleted: boolean;
  family: number;
  index: number;
  prefix: number;
  /** IFA_F_*: IFA_FLAGS when present (32 bits), else the header's 8. */
  flags: number;
  scope: number;
  local?: string;
  address?: string;
  label?: string;
}

/** NLMSG_ERROR: `errno` 0 acknowledges the request (positive errno otherwise). */
export interface ErrorMessage {
  kind: 'error';
  header: NlHeader;
  errno: number;
  /** The header of the request it answers (its seq is the request's). */
  acked: NlHeader;
  /** The kernel's extended-ack text, when the socket asked for it. */
  text?: string;
}

/** NLMSG_DONE: the end of a dump; a non-zero errno means the dump failed. */
export interface DoneMessage {
  kind: 'done';
  header: NlHeader;
  errno: number;
}

export interface OtherMessage {
  kind: 'other';
  header: NlHeader;
}

export interface MalformedMessage {
  kind: 'malformed';
  /** Present when the header itself was readable. */
  header?: NlHeader;
  reason: string;
}

export type RtMessage =
  LinkMessage | AddressMessage | ErrorMessage | DoneMessage | OtherMessage | MalformedMessage;

export class RtnetlinkEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RtnetlinkEncodeError';
  }
}

// ---- addresses as text ---------------------------------------------------------------------

/** The bytes of `text` when it is an address of `family` (address.ts parses), else undefined. */
export function addressBytes(family: AddressFamily, text: string): Buffer | undefined {
  const wanted = family === AF_INET ? 4 : 6;
  return addressFamily(text) === wanted ? textBytes(text) : undefined;
}

function addressText(family: number, b: Buffer): string | undefined {
  if (family === AF_INET && b.length === 4) return [...b].join('.');
  if (family === AF_INET6 && b.length === 16) return bytesToIpv6(b);
  return undefined;
}

const hexColon = (b: Buffer): string =>
  [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

// ---- decoding ------------------------------------------------------------------------------

function header(b: Buffer, o: number): NlHeader {
  return {
    length: u32(b, o),
    type: u16(b, o + 4),
    flags: u16(b, o + 6),
    seq: u32(b, o + 8),
    pid: u32(b, o + 12),
  };
}

/** A message body's attributes, or the reason they do not parse. */
function attributes(body: Buffer, from: number): Map<number, Buffer> | string {
  const attrs = new Map<number, Buffer>();
  let o = from;
  while (o + RTA_HDRLEN <= body.length) {
    const len = u16(body, o);
    // The top bits of the type are NLA_F_NESTED / NLA_F_NET_BYTEORDER.
    const type = u16(body, o + 2) & 0x3fff;
    if (len < RTA_HDRLEN || o + len > body.length) {
      return `attribute ${type} at ${o} claims ${len} bytes, ${body.length - o} left`;
    }
    attrs.set(type, body.subarray(o + RTA_HDRLEN, o + len));
    o += align4(len);
  }
  return attrs;
}

/** The NUL-terminated string of an attribute (without the NUL). */
const cString = (b: Buffer): string => {
  const end = b.indexOf(0);
  return b.toString('utf8', 0, end < 0 ? b.length : end);
};

function decodeLink(h: NlHeader, body: Buffer): LinkMessage | MalformedMessage {
  if (body.length < IFINFOMSG_LEN) {
    return { kind: 'malformed', header: h, reason: `link message of ${body.length} bytes` };
  }
  const attrs = attributes(body, IFINFOMSG_LEN);
  if (typeof attrs === 'string') return { kind: 'malformed', header: h, reason: attrs };
  const link: LinkMessage = {
    kind: 'link',
    header: h,
    deleted: h.type === RTM_DELLINK,
    family: body[0] ?? 0,
    linkType: u16(body, 2),
    index: i32(body, 4),
    flags: u32(body, 8),
  };
  const name = attrs.get(IFLA_IFNAME);
  if (name !== undefined) link.name = cString(name);
  const mac = attrs.get(IFLA_ADDRESS);
  if (mac !== undefined) link.mac = hexColon(mac);
  const oper = attrs.get(IFLA_OPERSTATE);
  if (oper !== undefined) {
    if (oper.length < 1) return { kind: 'malformed', header: h, reason: 'empty IFLA_OPERSTATE' };
    link.operstate = oper[0];
  }
  const carrier = attrs.get(IFLA_CARRIER);
  if (carrier !== undefined) {
    if (carrier.length < 1) return { kind: 'malformed', header: h, reason: 'empty IFLA_CARRIER' };
    link.carrier = carrier[0] !== 0;
  }
  Object.assign(link, linkDetails(attrs));
  return link;
}

function decodeAddress(h: NlHeader, body: Buffer): AddressMessage | MalformedMessage {
  if (body.length < IFADDRMSG_LEN) {
    return { kind: 'malformed', header: h, reason: `address message of ${body.length} bytes` };
  }
  const attrs = attributes(body, IFADDRMSG_LEN);
  if (typeof attrs === 'string') return { kind: 'malformed', header: h, reason: attrs };
  const family = body[0] ?? 0;
  const address: AddressMessage = {
    kind: 'address',
    header: h,
    deleted: h.type === RTM_DELADDR,
    family,
    prefix: body[1] ?? 0,
    flags: body[2] ?? 0,
    scope: body[3] ?? 0,
    index: u32(body, 4),
  };
  for (const [type, key] of [
    [IFA_LOCAL, 'local'],
    [IFA_ADDRESS, 'address'],
  ] as const) {
    const raw = attrs.get(type);
    if (raw === undefined) continue;
    const text = addressText(family, raw);
    // Another family's address (one vipd does not read yet) is left out, not an error.
    if (text === undefined && (family === AF_INET || family === AF_INET6)) {
      return {
        kind: 'malformed',
        header: h,
        reason: `${key} of ${raw.length} bytes in a family ${family} address`,
      };
    }
    if (text !== undefined) address[key] = text;
  }
  const label = attrs.get(IFA_LABEL);
  if (label !== undefined) address.label = cString(label);
  const flags = attrs.get(IFA_FLAGS);
  if (flags !== undefined) {
    if (flags.length < 4) return { kind: 'malformed', header: h, reason: 'short IFA_FLAGS' };
    address.flags = u32(flags, 0);
  }
  return address;
}

function decodeError(h: NlHeader, body: Buffer): ErrorMessage | MalformedMessage {
  if (body.length < 4 + NLMSG_HDRLEN) {
    return { kind: 'malformed', header: h, reason: `error message of ${body.length} bytes` };
  }
  const error = i32(body, 0);
  const acked = header(body, 4);
  const message: ErrorMessage = { kind: 'error', header: h, errno: -error | 0, acked };
  if ((h.flags & NLM_F_ACK_TLVS) !== 0) {
    // The TLVs follow the acked request: its header alone when capped, else all of it.
    const skip = (h.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : align4(acked.length);
    const attrs = 4 + skip <= body.length ? attributes(body, 4 + skip) : undefined;
    const text = typeof attrs === 'object' ? attrs.get(1 /* NLMSGERR_ATTR_MSG */) : undefined;
    if (text !== undefined) message.text = cString(text);
  }
  return message;
}

function decodeOne(h: NlHeader, body: Buffer): RtMessage {
  switch (h.type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      return decodeLink(h, body);
    case RTM_NEWADDR:
    case RTM_DELADDR:
      return decodeAddress(h, body);
    case NLMSG_ERROR:
      return decodeError(h, body);
    case NLMSG_DONE:
      // Very old kernels sent no errno with it.
      return { kind: 'done', header: h, errno: body.length >= 4 ? -i32(body, 0) | 0 : 0 };
    default:
      return { kind: 'other', header: h };
  }
}

/**
 * Every message of one datagram, in order. A message whose length cannot be right ends the
 * datagram (nothing after it can be found): one `malformed` entry, the ones before it kept.
 */
export function decodeDatagram(datagram: Buffer): RtMessage[] {
  const out: RtMessage[] = [];
  let o = 0;
  try {
    while (o < datagram.length) {
      if (datagram.length - o < NLMSG_HDRLEN) {
        out.push({ kind: 'malformed', reason: `${datagram.length - o} trailing bytes` });
        break;
      }
      const h = header(datagram, o);
      if (h.length < NLMSG_HDRLEN || o + h.length > datagram.length) {
        out.push({
          kind: 'malformed',
          header: h,
          reason: `message claims ${h.length} bytes, ${datagram.length - o} left`,
        });
        break;
      }
      out.push(decodeOne(h, datagram.subarray(o + NLMSG_HDRLEN, o + h.length)));
      o += align4(h.length);
    }
  } catch (err) {
    // Every read above is bounds-checked; this only keeps a missed one from escaping.
    out.push({ kind: 'malformed', reason: `decoder fault: ${(err as Error).message}` });
  }
  return out;
}

// ---- what a message means --------------------------------------------------------------------

/**
 * Operationally up: IF_OPER_UP, or IF_OPER_UNKNOWN (dummy, some tunnels: the driver reports no
 * state) with the carrier there (IFF_LOWER_UP): what sysfs shows as `operstate` up, or unknown
 * with `carrier` 1. A link without IFLA_OPERSTATE counts as unknown.
 */
export function linkOperUp(link: Pick<LinkMessage, 'operstate' | 'flags'>): boolean {
  const oper = link.operstate ?? IF_OPER_UNKNOWN;
  return oper === IF_OPER_UP || (oper === IF_OPER_UNKNOWN && (link.flags & IFF_LOWER_UP) !== 0);
}

export function linkAdminUp(link: Pick<LinkMessage, 'flags'>): boolean {
  return (link.flags & IFF_UP) !== 0;
}

/** An IPv4 secondary. IPv6 has none: the same bit there is IFA_F_TEMPORARY (a privacy address). */
export function addressSecondary(a: Pick<AddressMessage, 'flags' | 'family'>): boolean {
  return a.family === AF_INET && (a.flags & IFA_F_SECONDARY) !== 0;
}

/** An address the kernel sends nothing from: DAD under way (IFA_F_TENTATIVE) or failed. */
export function addressTentative(a: Pick<AddressMessage, 'flags'>): boolean {
  return (a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) !== 0;
}

/** The interface's own address: IFA_LOCAL (IPv4, where IFA_ADDRESS may be a peer), else IFA_ADDRESS. */
export function addressOf(a: Pick<AddressMessage, 'local' | 'address'>): string | undefined {
  return a.local ?? a.address;
}

// ---- encoding ------------------------------------------------------------------------------

interface Attr {
  type: number;
  data: Buffer;
}

const u32Attr = (type: number, v: number): Attr => {
  const data = Buffer.alloc(4);
  put32(data, v, 0);
  return { type, data };
};

/** Attributes back to back, each padded to 4 bytes: a message's tail, or a nest's payload. */
function packAttrs(attrs: readonly Attr[]): Buffer {
  const b = Buffer.alloc(attrs.reduce((n, a) => n + align4(RTA_HDRLEN + a.data.length), 0));
  let o = 0;
  for (const a of attrs) {
    put16(b, RTA_HDRLEN + a.data.length, o);
    put16(b, a.type, o + 2);
    a.data.copy(b, o + RTA_HDRLEN);
    o += align4(RTA_HDRLEN + a.data.length);
  }
  return b;
}

function message(type: number, flags: number, seq: number, fixed: Buffer, attrs: Attr[]): Buffer {
  const tail = packAttrs(attrs);
  const length = NLMSG_HDRLEN + fixed.length + tail.length;
  const b = Buffer.alloc(length);
  put32(b, length, 0);
  put16(b, type, 4);
  put16(b, flags, 6);
  put32(b, seq, 8);
  put32(b, 0, 12); // to the kernel
  fixed.copy(b, NLMSG_HDRLEN);
  tail.copy(b, NLMSG_HDRLEN + fixed.length);
  return b;
}

function ifinfomsg(family: number, index: number): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b[0] = family;
  putI32(b, index, 4);
  return b;
}

/** Sets the sequence number of a request built with any (requests are numbered when sent). */
export function setSequence(request: Buffer, seq: number): void {
  put32(request, seq, 8);
}

/** RTM_GETLINK for one interface by name: answered by its RTM_NEWLINK, then the ack (ENODEV if none). */
export function encodeGetLink(seq: number, name: string): Buffer {
  return message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfomsg(AF_UNSPEC, 0), [
    ifnameAttr(name),
    u32Attr(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS),
  ]);
}

/** RTM_GETLINK dump of every interface: RTM_NEWLINK parts, then NLMSG_DONE. */
export function encodeDumpLinks(seq: number): Buffer {
  return message(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, ifinfomsg(AF_UNSPEC, 0), [
    u32Attr(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS),
  ]);
}

/** RTM_GETADDR dump of every address of `family` (every interface: filter on `index`). */
export function encodeDumpAddresses(seq: number, family: AddressFamily): Buffer {
  const fixed = Buffer.alloc(IFADDRMSG_LEN);
  fixed[0] = family;
  return message(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, fixed, []);
}

export interface AddressSpec {
  family: AddressFamily;
  /** Interface index. */
  index: number;
  address: string;
  prefix: number;
  /** IFA_F_* to set (IFA_F_NODAD for IPv6 VIPs); sent as IFA_FLAGS when non-zero. */
  flags?: number;
}

function addressMessage(type: number, flags: number, seq: number, spec: AddressSpec): Buffer {
  const bytes = addressBytes(spec.family, spec.address);
  if (bytes === undefined) {
    throw new RtnetlinkEncodeError(
      `${JSON.stringify(spec.address)} is not an IPv${spec.family === AF_INET ? 4 : 6} address`,
    );
  }
  if (!Number.isInteger(spec.prefix) || spec.prefix < 0 || spec.prefix > 255) {
    throw new RtnetlinkEncodeError(`prefix length ${spec.prefix} does not fit a request`);
  }
  const fixed = Buffer.alloc(IFADDRMSG_LEN);
  fixed[0] = spec.family;
  fixed[1] = spec.prefix;
  fixed[2] = (spec.flags ?? 0) & 0xff;
  fixed[3] = 0; // RT_SCOPE_UNIVERSE
  put32(fixed, spec.index, 4);
  // Both, as `ip addr` sends them: the kernel reads IFA_LOCAL as the address and IFA_ADDRESS as
  // the prefix's (or the peer's), and matches a delete on both.
  const attrs: Attr[] = [
    { type: IFA_LOCAL, data: bytes },
    { type: IFA_ADDRESS, data: bytes },
  ];
  if ((spec.flags ?? 0) !== 0) attrs.push(u32Attr(IFA_FLAGS, spec.flags ?? 0));
  return message(type, flags, seq, fixed, attrs);
}

/** RTM_NEWADDR with NLM_F_CREATE|NLM_F_REPLACE (`ip addr replace`): adding is idempotent. */
export function encodeAddAddress(seq: number, spec: AddressSpec): Buffer {
  return addressMessage(
    RTM_NEWADDR,
    NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE,
    seq,
    spec,
  );
}

/** RTM_DELADDR: EADDRNOTAVAIL when the interface has no such address and prefix. */
export function encodeDeleteAddress(seq: number, spec: AddressSpec): Buffer {
  return addressMessage(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, seq, spec);
}

// ---- the virtual MAC's macvlan (issue 14) ----------------------------------------------------

export const IFLA_LINK = 5;
export const IFLA_LINKINFO = 18;
export const IFLA_AF_SPEC = 26;
export const IFLA_PROTO_DOWN = 39;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_MACVLAN_MODE = 1;
export const MACVLAN_MODE_PRIVATE = 1;
export const MACVLAN_MODE_VEPA = 2;
export const MACVLAN_MODE_BRIDGE = 4;
export const MACVLAN_MODE_PASSTHRU = 8;
export const MACVLAN_MODE_SOURCE = 16;
/** In IFLA_AF_SPEC's AF_INET6 nest. */
export const IFLA_INET6_ADDR_GEN_MODE = 8;
export const IN6_ADDR_GEN_MODE_EUI64 = 0;
/** No link-local generated when the link comes up (`addrgenmode none`). */
export const IN6_ADDR_GEN_MODE_NONE = 1;
export const IN6_ADDR_GEN_MODE_STABLE_PRIVACY = 2;
export const IN6_ADDR_GEN_MODE_RANDOM = 3;

type LinkDetails = Pick<
  LinkMessage,
  'parentIndex' | 'linkKind' | 'macvlanMode' | 'addrGenMode' | 'protodown'
>;

/** A nest's attributes; undefined when absent or when they do not parse. */
function nested(b: Buffer | undefined): Map<number, Buffer> | undefined {
  if (b === undefined) return undefined;
  const attrs = attributes(b, 0);
  return typeof attrs === 'string' ? undefined : attrs;
}

/**
 * What a link is beyond its name and state. A nest that does not parse leaves its fields out
 * rather than making the whole link malformed: the kernel monitor needs only the name, MAC and
 * state, and a caller deciding by kind treats an unknown kind as "not mine".
 */
function linkDetails(attrs: Map<number, Buffer>): LinkDetails {
  const out: LinkDetails = {};
  const parent = attrs.get(IFLA_LINK);
  if (parent !== undefined && parent.length >= 4) out.parentIndex = u32(parent, 0);
  const info = nested(attrs.get(IFLA_LINKINFO));
  const kind = info?.get(IFLA_INFO_KIND);
  if (kind !== undefined) out.linkKind = cString(kind);
  if (out.linkKind === 'macvlan') {
    const mode = nested(info?.get(IFLA_INFO_DATA))?.get(IFLA_MACVLAN_MODE);
    if (mode !== undefined && mode.length >= 4) out.macvlanMode = u32(mode, 0);
  }
  const inet6 = nested(nested(attrs.get(IFLA_AF_SPEC))?.get(AF_INET6));
  const gen = inet6?.get(IFLA_INET6_ADDR_GEN_MODE);
  if (gen !== undefined && gen.length >= 1) out.addrGenMode = gen[0];
  const down = attrs.get(IFLA_PROTO_DOWN);
  if (down !== undefined && down.length >= 1) out.protodown = down[0] !== 0;
  return out;
}

const nest = (type: number, attrs: readonly Attr[]): Attr => ({ type, data: packAttrs(attrs) });
const u8Attr = (type: number, v: number): Attr => ({ type, data: Buffer.from([v]) });

function ifnameAttr(name: string): Attr {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ || bytes.includes(0)) {
    throw new RtnetlinkEncodeError(
      `interface name ${JSON.stringify(name)} is not a Linux interface name (1 to ${IFNAMSIZ - 1} bytes)`,
    );
  }
  return { type: IFLA_IFNAME, data: Buffer.concat([bytes, Buffer.alloc(1)]) };
}

function macBytes(mac: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) {
    throw new RtnetlinkEncodeError(
      `${JSON.stringify(mac)} is not a MAC address (aa:bb:cc:dd:ee:ff)`,
    );
  }
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

function linkIndex(index: number): number {
  if (!Number.isInteger(index) || index <= 0 || index > 0x7fffffff) {
    throw new RtnetlinkEncodeError(`${index} is not an interface index`);
  }
  return index;
}

/** ifinfomsg addressing a link by index, its IFF_* `flags` changed where `change` says. */
function ifinfoOf(index: number, flags = 0, change = 0): Buffer {
  const b = ifinfomsg(AF_UNSPEC, linkIndex(index));
  put32(b, flags, 8);
  put32(b, change, 12);
  return b;
}

export interface MacvlanSpec {
  name: string;
  /** The index of the link it sits on. */
  parentIndex: number;
  mac: string;
  /** MACVLAN_MODE_* */
  mode: number;
}

/**
 * RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL: a new macvlan, down, with its MAC set from the
 * start (never a random one first); EEXIST if the name is taken. The attributes in the order
 * iproute2 6.1 sends them for `ip link add NAME link PARENT address MAC type macvlan mode M`.
 */
export function encodeNewMacvlan(seq: number, spec: MacvlanSpec): Buffer {
  const flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  return message(RTM_NEWLINK, flags, seq, ifinfomsg(AF_UNSPEC, 0), [
    { type: IFLA_ADDRESS, data: macBytes(spec.mac) },
    u32Attr(IFLA_LINK, linkIndex(spec.parentIndex)),
    ifnameAttr(spec.name),
    nest(IFLA_LINKINFO, [
      // Without its NUL, as iproute2 sends it (the kernel takes either).
      { type: IFLA_INFO_KIND, data: Buffer.from('macvlan', 'utf8') },
      nest(IFLA_INFO_DATA, [u32Attr(IFLA_MACVLAN_MODE, spec.mode)]),
    ]),
  ]);
}

/** RTM_DELLINK by index (`ip link del`). */
export function encodeDeleteLink(seq: number, index: number): Buffer {
  return message(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfoOf(index), []);
}

/** RTM_NEWLINK changing IFF_UP alone (`ip link set NAME up|down`). */
export function encodeSetLinkUp(seq: number, index: number, up: boolean): Buffer {
  return message(
    RTM_NEWLINK,
    NLM_F_REQUEST | NLM_F_ACK,
    seq,
    ifinfoOf(index, up ? IFF_UP : 0, IFF_UP),
    [],
  );
}

/** RTM_NEWLINK setting IFLA_INET6_ADDR_GEN_MODE (`ip link set NAME addrgenmode none`). */
export function encodeSetAddrGenMode(seq: number, index: number, mode: number): Buffer {
  return message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfoOf(index), [
    nest(IFLA_AF_SPEC, [nest(AF_INET6, [u8Attr(IFLA_INET6_ADDR_GEN_MODE, mode)])]),
  ]);
}

/** RTM_NEWLINK setting IFLA_PROTO_DOWN (`ip link set NAME protodown on|off`). */
export function encodeSetProtodown(seq: number, index: number, on: boolean): Buffer {
  return message(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfoOf(index), [
    u8Attr(IFLA_PROTO_DOWN, on ? 1 : 0),
  ]);
}
