/**
 * The kernel's load-sharing hashes, reproduced bit for bit so `vipd cluster owner` can say which
 * node number (and so which box) answers a client: Bob Jenkins' lookup3 `jhash` as in
 * include/linux/jhash.h, and `reciprocal_scale` (value * N >> 32).
 *
 * - xt_cluster: node = scale(jhash_1word(saddr as loaded by a little-endian CPU, seed), N) + 1
 *   (the match tests bit node-1; vipd numbers nodes from 1 like CLUSTERIP).
 * - nft `jhash ct original ip saddr [. proto-src [. proto-dst]] mod N seed S offset 1`: jhash over
 *   the concatenation's bytes (each field padded to 4 bytes) - the same as xt_cluster for sourceip.
 * - CLUSTERIP (kernels before 6.3): jhash_{1,2,3}words(ntohl(saddr), sport, dport) with the ports
 *   as raw network-order u16 loaded little-endian; node = scale(h, N) + 1.
 * Pure; verified against the running kernel in test/integration/cluster-hash.test.ts.
 */
import { ipv4ToUint32 } from '../net/address.js';
import type { BackendName, HashMode } from '../config/load-sharing.js';

const JHASH_INITVAL = 0xdeadbeef;

const rol32 = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

function final(a0: number, b0: number, c0: number): number {
  let a = a0 >>> 0;
  let b = b0 >>> 0;
  let c = c0 >>> 0;
  c = ((c ^ b) - rol32(b, 14)) >>> 0;
  a = ((a ^ c) - rol32(c, 11)) >>> 0;
  b = ((b ^ a) - rol32(a, 25)) >>> 0;
  c = ((c ^ b) - rol32(b, 16)) >>> 0;
  a = ((a ^ c) - rol32(c, 4)) >>> 0;
  b = ((b ^ a) - rol32(a, 14)) >>> 0;
  c = ((c ^ b) - rol32(b, 24)) >>> 0;
  return c;
}

/** jhash_1word / jhash_2words / jhash_3words. */
export function jhashWords(words: readonly number[], initval: number): number {
  const [a = 0, b = 0, c = 0] = words;
  const iv = (initval + JHASH_INITVAL + (words.length << 2)) >>> 0;
  return final(a + iv, b + iv, c + iv);
}

/** jhash over at most 12 bytes (all vipd needs), little-endian loads as on x86 and arm64. */
export function jhashBytes(key: Uint8Array, initval: number): number {
  if (key.length === 0 || key.length > 12) throw new RangeError('jhashBytes: 1..12 bytes');
  const word = (i: number): number =>
    ((key[i] ?? 0) |
      ((key[i + 1] ?? 0) << 8) |
      ((key[i + 2] ?? 0) << 16) |
      ((key[i + 3] ?? 0) << 24)) >>>
    0;
  const iv = (JHASH_INITVAL + key.length + initval) >>> 0;
  const a = iv + word(0);
  const b = iv + (key.length > 4 ? word(4) : 0);
  const c = iv + (key.length > 8 ? word(8) : 0);
  return final(a, b, c);
}

export const reciprocalScale = (value: number, n: number): number =>
  Number((BigInt(value >>> 0) * BigInt(n)) >> 32n);

export interface Flow {
  /** The client's address (the original direction's source). */
  saddr: string;
  sport?: number;
  dport?: number;
}

function addressBytes(ip: string): number[] {
  const v = ipv4ToUint32(ip);
  return [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** A port as the kernel loads a network-order u16 on a little-endian CPU. */
const rawPort = (port: number): number => ((port & 0xff) << 8) | (port >>> 8);

/** The node number (1..totalNodes) that answers `flow`. */
export function ownerNode(
  backend: BackendName,
  hashmode: HashMode,
  flow: Flow,
  totalNodes: number,
  seed: number,
): number {
  const withPorts = hashmode !== 'sourceip';
  if (withPorts && flow.sport === undefined)
    throw new RangeError(`hashmode ${hashmode} needs the client's source port`);
  if (hashmode === 'sourceip-sourceport-destport' && flow.dport === undefined) {
    throw new RangeError(`hashmode ${hashmode} needs the destination port`);
  }
  let h: number;
  if (backend === 'clusterip') {
    const words = [ipv4ToUint32(flow.saddr)];
    if (withPorts) words.push(rawPort(flow.sport ?? 0));
    if (hashmode === 'sourceip-sourceport-destport') words.push(rawPort(flow.dport ?? 0));
    h = jhashWords(words, seed);
  } else {
    // nft pads each concatenated field to 4 bytes; ports stay in network order.
    const bytes = [...addressBytes(flow.saddr)];
    const port = (p: number): number[] => [p >>> 8, p & 0xff, 0, 0];
    if (withPorts) bytes.push(...port(flow.sport ?? 0));
    if (hashmode === 'sourceip-sourceport-destport') bytes.push(...port(flow.dport ?? 0));
    h = jhashBytes(Uint8Array.from(bytes), seed);
  }
  return reciprocalScale(h, totalNodes) + 1;
}
