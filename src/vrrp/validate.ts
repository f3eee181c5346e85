/**
 * The receive checks that depend on this router's configuration (RFC 3768 section 7.1,
 * RFC 5798/9568 section 7.1), applied after the codec has accepted a packet and before the
 * state machine sees it. The sender's family is that of ctx.src. Pure: a verdict, never a side
 * effect.
 */
import type { InstanceConfig } from '../config/instance.js';
import { addressFamily, ipv4ToUint32, isLinkLocal } from '../net/address.js';
import type { VrrpAdvert } from './packet.js';

export type AdvertRejection =
  | 'wrong-version'
  | 'auth-mismatch'
  | 'interval-mismatch'
  | 'address-mismatch'
  | 'not-a-peer'
  | 'off-link-source'
  | 'source-not-link-local';

export type AdvertVerdict =
  { ok: true; addressMismatch: boolean } | { ok: false; reason: AdvertRejection; detail: string };

export interface ReceiveContext {
  src: string;
  /** Whether the transport proved the sender is on-link (TTL 255 seen); UDP cannot. */
  ttlChecked: boolean;
  /** This router's own subnet, used instead of the TTL proof when there is none (IPv4 only). */
  subnet: { address: string; prefix: number };
}

function inSubnet(address: string, subnet: { address: string; prefix: number }): boolean {
  const mask = subnet.prefix === 0 ? 0 : (0xffffffff << (32 - subnet.prefix)) >>> 0;
  return (ipv4ToUint32(address) & mask) >>> 0 === (ipv4ToUint32(subnet.address) & mask) >>> 0;
}

function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

export function checkAdvert(
  cfg: InstanceConfig,
  advert: VrrpAdvert,
  ctx: ReceiveContext,
): AdvertVerdict {
  if (advert.version !== cfg.version) {
    return {
      ok: false,
      reason: 'wrong-version',
      detail: `VRRPv${advert.version} advert for a v${cfg.version} instance`,
    };
  }
  if (cfg.unicastPeers.length > 0 && !cfg.unicastPeers.includes(ctx.src)) {
    return { ok: false, reason: 'not-a-peer', detail: `${ctx.src} is not in unicastPeers` };
  }
  if (addressFamily(ctx.src) === 6) {
    // RFC 5798/9568 5.1.2.1: the source is the sender's link-local address, which also proves it
    // on-link without a hop limit. Listed unicast peers were matched above and may be global.
    if (cfg.unicastPeers.length === 0 && !isLinkLocal(ctx.src)) {
      return {
        ok: false,
        reason: 'source-not-link-local',
        detail: `${ctx.src} is not a link-local (fe80::/10) address, which an IPv6 advert must come from`,
      };
    }
  } else if (!ctx.ttlChecked && cfg.unicastPeers.length === 0 && !inSubnet(ctx.src, ctx.subnet)) {
    return {
      ok: false,
      reason: 'off-link-source',
      detail: `${ctx.src} is outside ${ctx.subnet.address}/${ctx.subnet.prefix} and this transport cannot check TTL`,
    };
  }
  if (cfg.version === 2) {
    const want = cfg.auth ?? { type: 0 };
    const got = advert.auth ?? { type: 0 };
    // RFC 3768 5.3.6/7.1: a mismatched authentication type or password MUST be discarded.
    if (
      want.type !== got.type ||
      (want.type === 1 && got.type === 1 && want.password !== got.password)
    ) {
      return {
        ok: false,
        reason: 'auth-mismatch',
        detail: `auth type ${got.type} or password differs from ours (type ${want.type})`,
      };
    }
    // RFC 3768 7.1: v2 routers MUST discard adverts whose interval differs from their own.
    if (advert.intervalCs !== cfg.advertIntervalCs) {
      return {
        ok: false,
        reason: 'interval-mismatch',
        detail: `advert interval ${advert.intervalCs / 100} s, ours ${cfg.advertIntervalCs / 100} s`,
      };
    }
  }
  const mismatch = !sameAddresses(
    advert.addresses,
    cfg.vips.slice(0, cfg.advertisedCount).map((v) => v.address),
  );
  // RFC 3768 7.1: a v2 list mismatch is dropped unless the address owner sent it; RFC 5798 only asks to log it.
  if (mismatch && cfg.version === 2 && advert.priority !== 255) {
    return {
      ok: false,
      reason: 'address-mismatch',
      detail: `advertised ${advert.addresses.join(',')} differs from our VIPs`,
    };
  }
  return { ok: true, addressMismatch: mismatch };
}
