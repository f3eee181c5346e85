/**
 * The advert a router sends: its configured version, VRID, interval and the first
 * `advertisedCount` VIPs (RFC 5798: at most 255 addresses fit), with the priority of the moment
 * (the effective one, or 0 when resigning). Pure; the shell encodes and signs it.
 */
import type { InstanceConfig } from '../config/instance.js';
import type { VrrpAdvert } from '../vrrp/packet.js';

export function advertOf(cfg: InstanceConfig, priority: number): VrrpAdvert {
  return {
    version: cfg.version,
    vrid: cfg.vrid,
    priority,
    intervalCs: cfg.advertIntervalCs,
    addresses: cfg.vips.slice(0, cfg.advertisedCount).map((v) => v.address),
    ...(cfg.version === 2 ? { auth: cfg.auth ?? { type: 0 } } : {}),
  };
}
