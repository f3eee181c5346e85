// IPv4 address conversions between dotted quads, unsigned 32-bit numbers (network order:
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
