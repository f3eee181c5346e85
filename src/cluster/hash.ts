/**
 * The kernel's load-sharing hashes, reproduced bit for bit so `vipd cluster owner` can say which
 * node number (and so which box) answers a client: Bob Jenkins' lookup3 `jhash` as in
 * include/linux/jhash.h, and `reciprocal_scale` (value * N >> 32).
 *
 * - xt_cluster: node = scale(jhash_1word(saddr as loaded by a little-endian CPU, seed), N) + 1
 *   (the match tests bit node-1; vipd numbers nodes from 1 like CLUSTERIP). IPv6 is
 *   jhash2(saddr, NF_CT_TUPLE_L3SIZE / sizeof(u32), seed), but NF_CT_TUPLE_L3SIZE counts u32
 *   words (4), not bytes: the kernel hashes ONE word, the first 32 bits of the address, loaded
 *   the same way. Every client of one /32 lands on the same node (measured in the lab).
 * - nft `jhash ct original ip[6] saddr [. proto-src [. proto-dst]] mod N seed S offset 1`: jhash
 *   over the concatenation's bytes (each field padded to 4 bytes: 12 bytes with ports for IPv4,
 *   16 or 24 for IPv6) - the same as xt_cluster for IPv4 sourceip, not for IPv6 (all 128 bits).
 * - CLUSTERIP (kernels before 6.3, IPv4 only): jhash_{1,2,3}words(ntohl(saddr), sport, dport)
 *   with the ports as raw network-order u16 loaded little-endian; node = scale(h, N) + 1.
 * Pure; verified against the running kernel in test/integration/cluster-hash.test.ts.
 */
import { addressBytes, ipv4ToUint32, isIpv4 } from '../net/address.js';
import type { BackendName, HashMode } from '../config/load-sharing.js';

const JHASH_INITVAL = 0xdeadbeef;

const rol32 = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** __jhash_mix's rotations; step k works on a, b, c in turn (x -= z; x ^= rol(z, r); z += y). */
const MIX_ROTATIONS = [4, 6, 8, 16, 19, 4];

/** __jhash_mix: folds one 12-byte block into the state. */
function mix(state: [number, number, number]): [number, number, number] {
  const s: [number, number, number] = [...state];
  type Slot = 0 | 1 | 2;
  MIX_ROTATIONS.forEach((r, k) => {
    const [x, y, z] = [k % 3, (k + 1) % 3, (k + 2) % 3] as [Slot, Slot, Slot];
    s[x] = ((s[x] - s[z]) ^ rol32(s[z], r)) >>> 0;
    s[z] = (s[z] + s[y]) >>> 0;
  });
  return s;
}

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

/**
 * lookup3's body over u32 words from an initial value: every 3-word block but the last through
 * mix, the last (1..3 words, missing ones 0) through final.
 */
function jhashCore(words: readonly number[], iv: number): number {
  let state: [number, number, number] = [iv, iv, iv];
  let at = 0;
  for (; words.length - at > 3; at += 3) {
    state = mix([
      state[0] + (words[at] ?? 0),
      state[1] + (words[at + 1] ?? 0),
      state[2] + (words[at + 2] ?? 0),
    ]);
  }
  return final(
    state[0] + (words[at] ?? 0),
    state[1] + (words[at + 1] ?? 0),
    state[2] + (words[at + 2] ?? 0),
  );
}

/** jhash2 over u32 words; jhash_1word, _2words and _3words are its 1- to 3-word cases. */
export function jhashWords(words: readonly number[], initval: number): number {
  if (words.length === 0) throw new RangeError('jhashWords: at least 1 word');
  return jhashCore(words, (JHASH_INITVAL + words.length * 4 + initval) >>> 0);
}

/** Little-endian loads of every 4 bytes, as on x86 and arm64; a short tail is padded with 0. */
function loadWords(key: Uint8Array): number[] {
  return Array.from(
    { length: Math.ceil(key.length / 4) },
    (_, w) =>
      ((key[4 * w] ?? 0) |
        ((key[4 * w + 1] ?? 0) << 8) |
        ((key[4 * w + 2] ?? 0) << 16) |
        ((key[4 * w + 3] ?? 0) << 24)) >>>
      0,
  );
}

/**
 * jhash over bytes. Its blocks are the words of the little-endian loads (bytes left > 12 exactly
 * when words left > 3, and a short tail adds its bytes as a padded load would): it differs from
 * jhash2 only in counting the length in bytes in the initial value.
 */
export function jhashBytes(key: Uint8Array, initval: number): number {
  if (key.length === 0) throw new RangeError('jhashBytes: at least 1 byte');
  return jhashCore(loadWords(key), (JHASH_INITVAL + key.length + initval) >>> 0);
}

export const reciprocalScale = (value: number, n: number): number =>
  Number((BigInt(value >>> 0) * BigInt(n)) >> 32n);

export interface Flow {
  /** The client's address (the original direction's source). */
  saddr: string;
  sport?: number;
  dport?: number;
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
    if (!isIpv4(flow.saddr))
      throw new RangeError(`CLUSTERIP hashes IPv4 clients only, not ${flow.saddr}`);
    const words = [ipv4ToUint32(flow.saddr)];
    if (withPorts) words.push(rawPort(flow.sport ?? 0));
    if (hashmode === 'sourceip-sourceport-destport') words.push(rawPort(flow.dport ?? 0));
    h = jhashWords(words, seed);
  } else if (backend === 'xt_cluster') {
    // The source alone (the match has no ports); of an IPv6 source only its first word.
    h = jhashWords(loadWords(addressBytes(flow.saddr)).slice(0, 1), seed);
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
