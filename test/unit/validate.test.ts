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
