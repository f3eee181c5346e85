// IP address conversions. IPv4 between dotted quads, unsigned 32-bit numbers (network order:
// 10.0.0.1 -> 0x0a000001) and 4 bytes in a buffer. Strict: only canonical dotted quads (four
// decimal octets 0..255, no leading zeros, which inet_aton would read as octal) are accepted;
// anything else throws AddressError naming the offending value, never a silent coercion.

export class AddressError extends Error {
  override name = 'AddressError';
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const DOTTED_QUAD = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

export function isIpv4(s: string): boolean {
  return DOTTED_QUAD.test(s);
}

export function ipv4ToUint32(ip: string): number {
  if (!isIpv4(ip)) throw new AddressError(`not an IPv4 dotted quad: ${JSON.stringify(ip)}`);
  // Multiplying instead of shifting keeps the result unsigned for addresses >= 128.0.0.0.
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

export function uint32ToIpv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new AddressError(`not an unsigned 32-bit IPv4 address: ${n}`);
  }
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/** Writes the address in network order at offset; the buffer must have 4 bytes there. */
export function writeIpv4(buf: Buffer, offset: number, ip: string): void {
  buf.writeUInt32BE(ipv4ToUint32(ip), offset);
}

/** Reads 4 bytes at offset as an address; the buffer must have 4 bytes there. */
export function readIpv4(buf: Buffer, offset: number): string {
  return uint32ToIpv4(buf.readUInt32BE(offset));
}

// IPv6 (RFC 4291 text forms in, RFC 5952 canonical text out). No zone index ("%eth0"): the
// interface is always known from elsewhere, and a zone in a VIP would be a config mistake.

export type AddressFamily = 4 | 6;

const HEXTET = /^[0-9a-fA-F]{1,4}$/;

/** The 16 bytes of an IPv6 address, or undefined when the text is not one. */
function parseIpv6(text: string): Buffer | undefined {
  let s = text;
  // A dotted quad may end the address (::ffff:192.0.2.1): it is the last two hextets.
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (lastColon < 0 || !isIpv4(tail)) return undefined;
    const quad = ipv4ToUint32(tail);
    s = `${s.slice(0, lastColon + 1)}${(quad >>> 16).toString(16)}:${(quad & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const h of part.split(':')) {
      if (!HEXTET.test(h)) return undefined;
      out.push(parseInt(h, 16));
    }
    return out;
  };
  const head = parse(halves[0] ?? '');
  const rest = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (head === undefined || rest === undefined) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...Array<number>(missing).fill(0), ...rest];
  const bytes = Buffer.alloc(16);
  words.forEach((w, i) => bytes.writeUInt16BE(w, 2 * i));
  return bytes;
}

export function isIpv6(s: string): boolean {
  return parseIpv6(s) !== undefined;
}

/** 4 or 6 for an address in either text form, undefined for anything else. */
export function addressFamily(s: string): AddressFamily | undefined {
  if (isIpv4(s)) return 4;
  return isIpv6(s) ? 6 : undefined;
}

export function ipv6ToBytes(ip: string): Buffer {
  const bytes = parseIpv6(ip);
  if (bytes === undefined) throw new AddressError(`not an IPv6 address: ${JSON.stringify(ip)}`);
  return bytes;
}

/** RFC 5952: lower case, no leading zeros, the longest run of two or more zero hextets as "::". */
export function bytesToIpv6(buf: Uint8Array, offset = 0): string {
  if (buf.length < offset + 16) throw new AddressError('an IPv6 address needs 16 bytes');
  const b = Buffer.from(buf.buffer, buf.byteOffset + offset, 16);
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${uint32ToIpv4(b.readUInt32BE(12))}`;
  }
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

/** The canonical text of an address of either family (IPv6: RFC 5952); throws on anything else. */
export function canonicalAddress(ip: string): string {
  if (isIpv4(ip)) return ip;
  return bytesToIpv6(ipv6ToBytes(ip));
}

/** Network-order bytes of an address of either family (4 or 16). */
export function addressBytes(ip: string): Buffer {
  if (isIpv4(ip)) {
    const b = Buffer.alloc(4);
    writeIpv4(b, 0, ip);
    return b;
  }
  return ipv6ToBytes(ip);
}

/**
 * Numeric order of two addresses of the same family (the RFC's tie-break: "the primary IP
 * address ... higher"); an IPv4 address sorts before any IPv6 one.
 */
export function compareAddresses(a: string, b: string): number {
  return Buffer.compare(orderKey(a), orderKey(b));
}

function orderKey(ip: string): Buffer {
  const bytes = addressBytes(ip);
  return bytes.length === 4
    ? Buffer.concat([Buffer.alloc(1), bytes])
    : Buffer.concat([Buffer.from([1]), bytes]);
}

/** fe80::/10, the only source an IPv6 VRRP advert may have (RFC 5798 section 5.1.2.1). */
export function isLinkLocal(ip: string): boolean {
  const b = parseIpv6(ip);
  return b !== undefined && b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0x80;
}

/** Whether two addresses of one family share their first `prefix` bits. */
export function samePrefix(a: string, b: string, prefix: number): boolean {
  const x = addressBytes(a);
  const y = addressBytes(b);
  if (x.length !== y.length) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const mask = prefix - bit >= 8 ? 0xff : (0xff << (8 - (prefix - bit))) & 0xff;
    if (((x[bit / 8] ?? 0) & mask) !== ((y[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}
