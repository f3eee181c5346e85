/**
 * Signed adverts (vrrp/hmac.ts) with real HMAC-SHA256: a signed advert verifies and yields the
 * VRRP message; unsigned, forged, re-addressed, stale and replayed adverts are refused with their
 * reason; two keys are accepted during a rollover. Clocks are injected.
 */
import { describe, expect, it } from 'vitest';
import { encodeAdvert } from '../../src/vrrp/packet.js';
import { HmacSigner, TRAILER_LENGTH, verifySigned, type Verified } from '../../src/vrrp/hmac.js';
import type { HmacConfig } from '../../src/config/instance.js';

const OLD = { id: 1, secret: Buffer.from('old secret, 16+ bytes') };
const NEW = { id: 2, secret: Buffer.from('new secret, 16+ bytes') };
const cfg = (over: Partial<HmacConfig> = {}): HmacConfig => ({
  keys: [OLD],
  sendKeyId: 1,
  windowMs: 5000,
  ...over,
});
const SRC = '10.99.0.1';
/** A receiver's replay memory, as the router core keeps it: the last nonce accepted per sender. */
function receiver(config: HmacConfig, wallMs: () => number) {
  const last = new Map<string, bigint>();
  return {
    verify(packet: Buffer, src: string): Verified {
      const v = verifySigned(config, packet, src, wallMs(), last.get(src));
      if (v.ok) last.set(src, v.nonce);
      return v;
    },
  };
}
const message = encodeAdvert(
  { version: 3, vrid: 51, priority: 255, intervalCs: 100, addresses: ['10.99.0.100'] },
  { src: SRC, dst: '224.0.0.18', checksum: 'rfc5798' },
);

describe('HMAC-signed adverts', () => {
  it('a signed advert verifies and gives back the VRRP message', () => {
    const signed = new HmacSigner(cfg(), () => 1_000_000).sign(message, SRC);
    expect(signed.length).toBe(message.length + TRAILER_LENGTH);
    const v = receiver(cfg(), () => 1_000_000).verify(signed, SRC);
    expect(v).toMatchObject({ ok: true, message, keyId: 1 });
  });

  it('refuses unsigned, forged, re-addressed and wrong-key adverts', () => {
    const verifier = receiver(cfg(), () => 1_000_000);
    expect(verifier.verify(message, SRC)).toMatchObject({ ok: false, reason: 'unsigned' });
    const signed = new HmacSigner(cfg(), () => 1_000_000).sign(message, SRC);
    const forged = Buffer.from(signed);
    forged.writeUInt8(100, 2); // priority 255 -> 100, MAC unchanged
    expect(verifier.verify(forged, SRC)).toMatchObject({ ok: false, reason: 'bad-mac' });
    expect(verifier.verify(signed, '10.99.0.66')).toMatchObject({ ok: false, reason: 'bad-mac' });
    const other = new HmacSigner(cfg({ keys: [NEW], sendKeyId: 2 }), () => 1_000_000).sign(
      message,
      SRC,
    );
    expect(verifier.verify(other, SRC)).toMatchObject({ ok: false, reason: 'unknown-key' });
    const sameIdOtherSecret = new HmacSigner(
      cfg({ keys: [{ id: 1, secret: NEW.secret }] }),
      () => 1_000_000,
    ).sign(message, SRC);
    expect(verifier.verify(sameIdOtherSecret, SRC)).toMatchObject({ ok: false, reason: 'bad-mac' });
  });

  it('refuses replays: the same advert twice, an older one, one outside the window', () => {
    let now = 1_000_000;
    const signer = new HmacSigner(cfg(), () => now);
    const verifier = receiver(cfg(), () => now);
    const first = signer.sign(message, SRC);
    const second = signer.sign(message, SRC); // same millisecond: the nonce still increases
    expect(verifier.verify(first, SRC).ok).toBe(true);
    expect(verifier.verify(second, SRC).ok).toBe(true);
    expect(verifier.verify(first, SRC)).toMatchObject({ ok: false, reason: 'replayed-nonce' });
    now += 6000;
    const late = receiver(cfg(), () => now);
    expect(late.verify(first, SRC)).toMatchObject({ ok: false, reason: 'stale-nonce' });
    expect(late.verify(signer.sign(message, SRC), SRC).ok).toBe(true);
  });

  it('rollover: both keys accepted while the pair changes keys', () => {
    const both = cfg({ keys: [OLD, NEW] });
    const verifier = receiver(both, () => 1_000_000);
    const byOld = new HmacSigner(cfg(), () => 1_000_000).sign(message, SRC);
    const byNew = new HmacSigner(cfg({ keys: [NEW], sendKeyId: 2 }), () => 1_000_001).sign(
      message,
      SRC,
    );
    expect(verifier.verify(byOld, SRC)).toMatchObject({ ok: true, keyId: 1 });
    expect(verifier.verify(byNew, SRC)).toMatchObject({ ok: true, keyId: 2 });
  });
});
