/**
 * Authenticated adverts between vipd boxes (issue 7): VRRPv3 has no authentication, and the udp
 * transport cannot even check the TTL, so any host that reaches the port could send priority 255
 * and take the VIPs. With `hmac` configured every advert carries a trailer after the VRRP
 * message:
 *
 *   'V' 'H' | key id (u8) | 0 (u8) | nonce (u64, big endian) | HMAC-SHA256 (32 bytes)
 *
 * The MAC covers the sender's address, the VRRP message and the trailer up to the MAC, so a
 * captured advert cannot be re-sent from another address or with another nonce. The nonce is the
 * sender's wall clock in microseconds, forced strictly increasing: a receiver accepts it only
 * within `windowMs` of its own clock (the boxes need NTP, as every firewall pair has) and only
 * above the last nonce it accepted from that sender, so a replay is refused even inside the
 * window. Key rollover: every configured key is accepted; adverts are signed with `sendKeyId`.
 * A message that fails any check is rejected with its reason and never reaches the state machine.
 * Only vipd speaks this: keepalived and RFC peers would see trailing bytes, so it is for vipd
 * pairs (udp, or raw unicast between vipd boxes).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HmacConfig } from '../config/instance.js';
import { addressBytes } from '../net/address.js';

export const HMAC_REJECTIONS = [
  'unsigned',
  'unknown-key',
  'bad-mac',
  'stale-nonce',
  'replayed-nonce',
] as const;
export type HmacRejection = (typeof HMAC_REJECTIONS)[number];

const MAGIC = 0x5648; // 'VH'
const MAC_LENGTH = 32;
export const TRAILER_LENGTH = 2 + 1 + 1 + 8 + MAC_LENGTH;

/** The sender's address (4 or 16 bytes) is under the MAC: a replay from another box fails. */
function mac(key: Buffer, src: string, signed: Buffer): Buffer {
  return createHmac('sha256', key).update(addressBytes(src)).update(signed).digest();
}

/** Signs adverts from one sender: nonces strictly increase even when the clock does not. */
export class HmacSigner {
  private last = 0n;

  constructor(
    private readonly cfg: HmacConfig,
    private readonly wallClockMs: () => number = Date.now,
  ) {}

  sign(message: Buffer, src: string): Buffer {
    const key = this.cfg.keys.find((k) => k.id === this.cfg.sendKeyId);
    if (key === undefined) throw new RangeError(`hmac: no key with id ${this.cfg.sendKeyId}`);
    const now = BigInt(Math.floor(this.wallClockMs() * 1000));
    this.last = now > this.last ? now : this.last + 1n;
    const head = Buffer.alloc(TRAILER_LENGTH - MAC_LENGTH);
    head.writeUInt16BE(MAGIC, 0);
    head.writeUInt8(key.id, 2);
    head.writeBigUInt64BE(this.last, 4);
    const signed = Buffer.concat([message, head]);
    return Buffer.concat([signed, mac(key.secret, src, signed)]);
  }
}

export type Verified =
  | { ok: true; message: Buffer; keyId: number; nonce: bigint }
  | { ok: false; reason: HmacRejection; detail: string };

/**
 * Checks one signed advert from `src` at wall-clock time `wallMs`. `lastNonce` is the last nonce
 * accepted from that sender (the caller keeps it: this function has no memory); a nonce not
 * above it is a replay.
 */
export function verifySigned(
  cfg: HmacConfig,
  packet: Buffer,
  src: string,
  wallMs: number,
  lastNonce: bigint | undefined,
): Verified {
  const at = packet.length - TRAILER_LENGTH;
  if (at < 0 || packet.readUInt16BE(at) !== MAGIC) {
    return { ok: false, reason: 'unsigned', detail: 'no vipd HMAC trailer' };
  }
  const keyId = packet.readUInt8(at + 2);
  const key = cfg.keys.find((k) => k.id === keyId);
  if (key === undefined) {
    return {
      ok: false,
      reason: 'unknown-key',
      detail: `key id ${keyId} is not configured (have ${cfg.keys.map((k) => k.id).join(', ')})`,
    };
  }
  const signed = packet.subarray(0, packet.length - MAC_LENGTH);
  const expected = mac(key.secret, src, signed);
  if (!timingSafeEqual(expected, packet.subarray(packet.length - MAC_LENGTH))) {
    return { ok: false, reason: 'bad-mac', detail: `HMAC does not match (key id ${keyId})` };
  }
  const nonce = packet.readBigUInt64BE(at + 4);
  const skewMs = Number(nonce / 1000n) - wallMs;
  if (Math.abs(skewMs) > cfg.windowMs) {
    return {
      ok: false,
      reason: 'stale-nonce',
      detail: `timestamp ${skewMs > 0 ? 'ahead' : 'behind'} by ${Math.abs(Math.round(skewMs))} ms (window ${cfg.windowMs} ms): replay or clocks out of sync`,
    };
  }
  if (lastNonce !== undefined && nonce <= lastNonce) {
    return {
      ok: false,
      reason: 'replayed-nonce',
      detail: `nonce not above the last one from ${src}`,
    };
  }
  return { ok: true, message: packet.subarray(0, at), keyId, nonce };
}
