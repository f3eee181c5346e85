import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { checkAdvert } from '../../src/vrrp/validate.js';
import type { VrrpAdvert } from '../../src/vrrp/packet.js';

const inst = (extra: Record<string, unknown> = {}) =>
  parseConfig({
    instances: [{ name: 'VI_1', interface: 'eth0', vrid: 51, vips: ['10.99.0.100/24'], ...extra }],
  }).instances[0]!;
const ctx = { src: '10.99.0.2', ttlChecked: true, subnet: { address: '10.99.0.1', prefix: 24 } };
const v3: VrrpAdvert = {
  version: 3,
  vrid: 51,
  priority: 100,
  intervalCs: 100,
  addresses: ['10.99.0.100'],
};
const v2: VrrpAdvert = { ...v3, version: 2, auth: { type: 0 } };

describe('checkAdvert (RFC receive rules that depend on our config)', () => {
  it('accepts a matching advert', () => {
    expect(checkAdvert(inst(), v3, ctx)).toEqual({ ok: true, addressMismatch: false });
  });
  it('drops the other version', () => {
    expect(checkAdvert(inst(), v2, ctx)).toMatchObject({ ok: false, reason: 'wrong-version' });
  });
  it('v2: drops a different auth type or password, and a different interval', () => {
    const pass = inst({ version: 2, authPassword: 's3cr3t' });
    expect(checkAdvert(pass, v2, ctx)).toMatchObject({ ok: false, reason: 'auth-mismatch' });
    expect(checkAdvert(pass, { ...v2, auth: { type: 1, password: 'other' } }, ctx)).toMatchObject({
      reason: 'auth-mismatch',
    });
    expect(checkAdvert(pass, { ...v2, auth: { type: 1, password: 's3cr3t' } }, ctx)).toMatchObject({
      ok: true,
    });
    expect(checkAdvert(inst({ version: 2 }), { ...v2, intervalCs: 200 }, ctx)).toMatchObject({
      reason: 'interval-mismatch',
    });
  });
  it('v3 adopts another interval (no mismatch rule)', () => {
    expect(checkAdvert(inst(), { ...v3, intervalCs: 35 }, ctx)).toMatchObject({ ok: true });
  });
  it('address list: v2 drops unless the owner sent it, v3 accepts and flags it', () => {
    const other = { addresses: ['10.99.0.200'] };
    expect(checkAdvert(inst({ version: 2 }), { ...v2, ...other }, ctx)).toMatchObject({
      reason: 'address-mismatch',
    });
    expect(checkAdvert(inst({ version: 2 }), { ...v2, ...other, priority: 255 }, ctx)).toEqual({
      ok: true,
      addressMismatch: true,
    });
    expect(checkAdvert(inst(), { ...v3, ...other }, ctx)).toEqual({
      ok: true,
      addressMismatch: true,
    });
  });
  it('unicast peers: only listed senders', () => {
    expect(checkAdvert(inst({ unicastPeers: ['10.99.0.3'] }), v3, ctx)).toMatchObject({
      reason: 'not-a-peer',
    });
    expect(checkAdvert(inst({ unicastPeers: ['10.99.0.2'] }), v3, ctx)).toMatchObject({ ok: true });
  });
  it('without a TTL check, only on-link senders', () => {
    const noTtl = { ...ctx, ttlChecked: false };
    expect(checkAdvert(inst(), v3, noTtl)).toMatchObject({ ok: true });
    expect(checkAdvert(inst(), v3, { ...noTtl, src: '10.98.0.2' })).toMatchObject({
      reason: 'off-link-source',
    });
    expect(checkAdvert(inst(), v3, { ...ctx, src: '10.98.0.2' })).toMatchObject({ ok: true });
  });
});

describe('checkAdvert over IPv6 (RFC 5798/9568 5.1.2.1: the source is link-local)', () => {
  const inst6 = (extra: Record<string, unknown> = {}) =>
    inst({ vips: ['fe80::200:5eff:fe00:233/64', '2001:db8:99::100/64'], ...extra });
  const a6: VrrpAdvert = { ...v3, addresses: ['fe80::200:5eff:fe00:233', '2001:db8:99::100'] };
  // The subnet is this router's IPv4 primary: an IPv6 source is never compared with it.
  const ctx6 = { ...ctx, src: 'fe80::ff:fe99:2' };

  it('accepts a link-local source, with or without a hop-limit check', () => {
    expect(checkAdvert(inst6(), a6, ctx6)).toEqual({ ok: true, addressMismatch: false });
    expect(checkAdvert(inst6(), a6, { ...ctx6, ttlChecked: false })).toMatchObject({ ok: true });
    expect(checkAdvert(inst6(), a6, { ...ctx6, src: 'febf::1' })).toMatchObject({ ok: true });
  });
  it('drops any other source, hop limit seen or not', () => {
    for (const src of ['2001:db8:99::2', 'fec0::2', '::ffff:10.99.0.2']) {
      for (const ttlChecked of [true, false]) {
        expect(checkAdvert(inst6(), a6, { ...ctx6, src, ttlChecked })).toEqual({
          ok: false,
          reason: 'source-not-link-local',
          detail: `${src} is not a link-local (fe80::/10) address, which an IPv6 advert must come from`,
        });
      }
    }
  });
  it('unicast peers: the listed peer may be global, an unlisted one is still not a peer', () => {
    // Built by hand: the config schema does not take IPv6 peers yet.
    const peers = { ...inst6(), unicastPeers: ['2001:db8:99::2'] };
    expect(checkAdvert(peers, a6, { ...ctx6, src: '2001:db8:99::2' })).toMatchObject({ ok: true });
    expect(checkAdvert(peers, a6, { ...ctx6, src: '2001:db8:99::3' })).toMatchObject({
      reason: 'not-a-peer',
    });
    expect(checkAdvert(peers, a6, ctx6)).toMatchObject({ reason: 'not-a-peer' });
  });
  it('an IPv4 source is still checked against the subnet (unchanged)', () => {
    const noTtl = { ...ctx, ttlChecked: false, src: '10.98.0.2' };
    expect(checkAdvert(inst(), v3, noTtl)).toMatchObject({ reason: 'off-link-source' });
  });
});
