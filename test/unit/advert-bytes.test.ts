import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { AdvertBytes } from '../../src/router/advert-bytes.js';
import { VRRP_GROUP, decodeAdvert } from '../../src/vrrp/packet.js';

const instance = (extra: Record<string, unknown> = {}) =>
  parseConfig({
    node: { name: 'fw1' },
    instances: [{ name: 'VI_1', interface: 'eth0', vrid: 7, vips: ['10.0.0.7/24'], ...extra }],
  }).instances[0]!;

const SRC = '10.0.0.1';

describe('AdvertBytes', () => {
  it('encodes what the router is now, checksummed for the destination the receiver checks', () => {
    const cfg = instance({ unicastPeers: ['10.0.0.2', '10.0.0.3'] });
    const bytes = new AdvertBytes(true);
    for (const dst of ['10.0.0.2', '10.0.0.3']) {
      const decoded = decodeAdvert(bytes.get(cfg, 120, SRC, dst), { src: SRC, dst, ttl: 255 });
      expect(decoded).toMatchObject({
        ok: true,
        advert: { vrid: 7, priority: 120, addresses: ['10.0.0.7'] },
      });
    }
  });

  it('hands out the same bytes again until the config, priority or source changes', () => {
    const cfg = instance();
    const bytes = new AdvertBytes(true);
    const first = bytes.get(cfg, 100, SRC, VRRP_GROUP);
    expect(bytes.get(cfg, 100, SRC, VRRP_GROUP)).toBe(first);
    const changes: [Parameters<AdvertBytes['get']>, Record<string, unknown>][] = [
      [[cfg, 0, SRC, VRRP_GROUP], { priority: 0 }],
      [[instance({ advertInterval: 0.5 }), 100, SRC, VRRP_GROUP], { intervalCs: 50 }],
    ];
    for (const [args, expected] of changes) {
      const next = bytes.get(...args);
      expect(next).not.toBe(first);
      const src = args[2];
      expect(decodeAdvert(next, { src, dst: VRRP_GROUP, ttl: 255 })).toMatchObject({
        ok: true,
        advert: expected,
      });
    }
    // A new source changes the VRRPv3 pseudo-header checksum.
    const moved = bytes.get(cfg, 100, '10.0.0.9', VRRP_GROUP);
    expect(decodeAdvert(moved, { src: '10.0.0.9', dst: VRRP_GROUP, ttl: 255 }).ok).toBe(true);
    expect(decodeAdvert(moved, { src: SRC, dst: VRRP_GROUP, ttl: 255 }).ok).toBe(false);
  });
});
