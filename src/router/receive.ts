/**
 * The receive verdict: one pure function from the bytes a socket delivered to either an advert
 * the state machine may see or a rejection with its reason. Stages in order: the vipd HMAC
 * trailer (when configured), the VRRP codec (RFC 5798/3768 section 7.1 wire checks), then the
 * checks against this router's configuration. The only memory it needs (the last HMAC nonce
 * accepted from each sender) is passed in and handed back, so the router core owns it.
 * A CARP instance has its own verdict (carpVerdict): CARP's wire checks, vhid and HMAC.
 */
import type { CarpConfig, InstanceConfig } from '../config/instance.js';
import { checkCarp, decodeCarp, isCarp } from '../carp/packet.js';
import type { CarpTiming } from '../carp/fsm.js';
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

export type CarpVerdict =
  { ok: true; timing: CarpTiming } | { ok: false; reason: string; detail: string };

/**
 * A CARP instance's verdict: the CARP wire checks, then vhid and ucarp's HMAC over the first VIP.
 * A VRRP advert on the same vhid is refused as 'vrrp' (a keepalived or VRRP vipd box that will
 * never hear this one), not as a broken CARP packet.
 */
export function carpVerdict(
  cfg: InstanceConfig,
  carp: CarpConfig,
  packet: ReceivedPacket,
): CarpVerdict {
  const meta = { src: packet.src, dst: packet.dst, ttl: packet.ttl };
  if (
    !isCarp(packet.payload) &&
    decodeAdvert(packet.payload, { ...meta, dst: meta.dst ?? VRRP_GROUP }).ok
  ) {
    return {
      ok: false,
      reason: 'vrrp',
      detail:
        'VRRP advertisement on a CARP instance: that box speaks VRRP (keepalived, FRR, vipd protocol vrrp) and will never hear this one',
    };
  }
  const decoded = decodeCarp(packet.payload, { ttl: packet.ttl, dst: packet.dst });
  if (!decoded.ok) return decoded;
  const checked = checkCarp(decoded.advert, {
    vhid: cfg.vrid,
    password: carp.password,
    vip: cfg.vips[0]?.address ?? '',
  });
  if (!checked.ok) return checked;
  return { ok: true, timing: { advbase: decoded.advert.advbase, advskew: decoded.advert.advskew } };
}
