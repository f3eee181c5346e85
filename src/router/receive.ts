/**
 * The receive verdict: one pure function from the bytes a socket delivered to either an advert
 * the state machine may see or a rejection with its reason. Stages in order: the vipd HMAC
 * trailer (when configured), the VRRP codec (RFC 5798/3768 section 7.1 wire checks), then the
 * checks against this router's configuration. The only memory it needs (the last HMAC nonce
 * accepted from each sender) is passed in and handed back, so the router core owns it.
 */
import type { InstanceConfig } from '../config/instance.js';
import { verifySigned } from '../vrrp/hmac.js';
import { VRRP_GROUP, decodeAdvert, type VrrpAdvert } from '../vrrp/packet.js';
import { checkAdvert } from '../vrrp/validate.js';

export interface ReceivedPacket {
  /** The VRRP message (plus the HMAC trailer when signed), without the IP header. */
  payload: Buffer;
  src: string;
  /** Where it was sent; undefined when the transport cannot tell (udp). */
  dst: string | undefined;
  /** The IP TTL; undefined when the transport cannot tell (udp). */
  ttl: number | undefined;
}

export interface ReceiveContext {
  /** The router's own primary address and prefix (a udp receiver's on-link proof). */
  primary: { address: string; prefix: number };
  /** Whether the transport reports the TTL (raw) or not (udp). */
  ttlChecked: boolean;
  /** Wall-clock ms: HMAC nonces are wall-clock microseconds. */
  wallMs: number;
  /** Last HMAC nonce accepted per sender. */
  nonces: ReadonlyMap<string, bigint>;
}

export type ReceiveVerdict =
  | {
      ok: true;
      advert: VrrpAdvert;
      src: string;
      /** The advert's address list differs from ours (RFC 5798: accepted, logged). */
      addressMismatch: boolean;
      nonces: ReadonlyMap<string, bigint>;
    }
  | { ok: false; reason: string; detail: string };

export function receiveVerdict(
  cfg: InstanceConfig,
  packet: ReceivedPacket,
  ctx: ReceiveContext,
): ReceiveVerdict {
  // A udp receiver cannot see the destination; peers send where we would.
  const dst = packet.dst ?? (cfg.unicastPeers.length > 0 ? ctx.primary.address : VRRP_GROUP);
  let message = packet.payload;
  let nonces = ctx.nonces;
  if (cfg.hmac !== null) {
    const verified = verifySigned(
      cfg.hmac,
      packet.payload,
      packet.src,
      ctx.wallMs,
      ctx.nonces.get(packet.src),
    );
    if (!verified.ok) return verified;
    message = verified.message;
    nonces = new Map(ctx.nonces).set(packet.src, verified.nonce);
  }
  const decoded = decodeAdvert(message, { src: packet.src, dst, ttl: packet.ttl });
  if (!decoded.ok) return decoded;
  const verdict = checkAdvert(cfg, decoded.advert, {
    src: packet.src,
    ttlChecked: ctx.ttlChecked,
    subnet: ctx.primary,
  });
  if (!verdict.ok) return verdict;
  return {
    ok: true,
    advert: decoded.advert,
    src: packet.src,
    addressMismatch: verdict.addressMismatch,
    nonces,
  };
}
