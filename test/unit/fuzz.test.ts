/**
 * Hostile input (issue 7): 1,000,000 random and mutated packets through the whole receive path:
 * the IPv4 decoder, the VRRP decoder and the config-dependent checks stage by stage (each
 * rejection counted), then every advert they accept through RouterCore (its own receive verdict
 * and the state machine) as a backup and as a master, which must accept it too. Nothing may
 * throw; every rejection must carry a known reason and a detail. Mutations start from the
 * captured keepalived packets, and half of them get their checksums fixed up afterwards so the
 * fuzzing reaches past the checksum into the later checks.
 * A seeded generator keeps every run identical (the seed is in the failure message).
 * CARP (issue 15) gets the same mutations of the ucarp captures through its own receive path:
 * the IPv4 decoder, decodeCarp and checkCarp against the instance the captures were made with.
 */
import { describe, expect, it } from 'vitest';
import { CARP_REJECTIONS, checkCarp, decodeCarp } from '../../src/carp/packet.js';
import { parseConfig } from '../../src/config/config.js';
import { internetChecksum } from '../../src/net/checksum.js';
import { decodeIpv4, IPV4_REJECTIONS, type Ipv4Header } from '../../src/net/ipv4.js';
import type { InstanceConfig } from '../../src/config/instance.js';
import { deadline, initialCore, step, type CoreState } from '../../src/router/core.js';
import { decodeAdvert, VRRP_REJECTIONS } from '../../src/vrrp/packet.js';
import { checkAdvert } from '../../src/vrrp/validate.js';
import { mulberry32 } from '../support/sim.js';
import { loadVectors } from '../support/vectors.js';

const PACKETS = 1_000_000;
const CARP_PACKETS = 200_000;
const YIELD_EVERY = 10_000;
const SEED = 0x5eed;
const ADVERT_REJECTIONS = [
  'wrong-version',
  'auth-mismatch',
  'interval-mismatch',
  'address-mismatch',
  'not-a-peer',
  'off-link-source',
];

const vectors = loadVectors().vectors;
const seeds = vectors.map((v) => v.bytes);
const carpSeeds = vectors.filter((v) => v.carp !== undefined).map((v) => v.bytes);
/** The instance the ucarp captures were made with (test/vectors/ucarp.txt). */
const CARP_INSTANCE = { vhid: 10, password: Buffer.from('s3cr3t'), vip: '10.99.0.100' };

const config = parseConfig({
  instances: [
    { name: 'v3', interface: 'eth0', vrid: 1, vips: ['10.0.0.100/24'] },
    { name: 'v2', interface: 'eth0', vrid: 2, version: 2, vips: ['10.0.0.101/24'] },
  ],
});

const PRIMARY = { address: '10.0.0.1', prefix: 24 };
/** Core time of the fuzzed packets: after the cores below were built, growing with the index. */
const FUZZ_EPOCH_MS = 10_000;

/** One instance's router core as a backup and as a master. */
function coresOf(instance: InstanceConfig, ttlChecked: boolean): CoreState[] {
  const initial = initialCore({ instance, primary: PRIMARY, ttlChecked });
  const backup = step(initial, { type: 'start' }, 0).state;
  const master = step(backup, { type: 'tick' }, deadline(backup) ?? 0).state;
  if (master.fsm.state !== 'master') throw new Error(`${instance.name} did not become master`);
  return [backup, master];
}

/** Per instance, the cores for a transport without (index 0) and with (1) the TTL check. */
const cores = config.instances.map((inst) => [coresOf(inst, false), coresOf(inst, true)]);

/** Rewrites the IPv4 header checksum and (when it looks like one) the VRRP or CARP checksum. */
function fixChecksums(p: Buffer): void {
  if (p.length < 20) return;
  const ihl = ((p[0] ?? 0) & 0x0f) * 4;
  if (ihl < 20 || ihl > p.length) return;
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(internetChecksum(p.subarray(0, ihl)), 10);
  const vrrp = p.subarray(ihl);
  if (vrrp.length >= 8) {
    vrrp.writeUInt16BE(0, 6);
    vrrp.writeUInt16BE(internetChecksum(vrrp), 6);
  }
}

function mutate(random: () => number, from: Buffer[]): Buffer {
  const pick = (n: number): number => Math.floor(random() * n);
  const kind = pick(4);
  if (kind === 0 || from.length === 0) {
    return Buffer.from(Array.from({ length: pick(90) }, () => pick(256)));
  }
  const base = Buffer.from(from[pick(from.length)] ?? []);
  if (kind === 1) {
    for (let i = 0, n = 1 + pick(4); i < n; i += 1) {
      const at = pick(base.length);
      base[at] = (base[at] ?? 0) ^ (1 << pick(8));
    }
  } else if (kind === 2) {
    // Header fields on purpose: version/type, VRID, priority, count, interval, TTL, lengths
    // (CARP: vhid, advskew, authlen, demote, advbase).
    for (let i = 0, n = 1 + pick(3); i < n; i += 1)
      base[pick(Math.min(base.length, 32))] = pick(256);
  } else {
    const cut = pick(base.length + 16);
    const out = Buffer.alloc(cut);
    base.copy(out, 0, 0, Math.min(cut, base.length));
    for (let i = base.length; i < cut; i += 1) out[i] = pick(256);
    return out;
  }
  if (random() < 0.5) fixChecksums(base);
  return base;
}

interface Fuzzed {
  /** What decodeIpv4 accepted. */
  ip: { header: Ipv4Header; payload: Buffer };
  index: number;
  random: () => number;
  count: (outcome: string) => void;
  where: () => string;
}

/**
 * The harness: `packets` mutations of `from` through decodeIpv4 (its rejections counted as
 * `ip:<reason>`), each accepted one handed to `receive`, which counts its own outcomes. Prints
 * the counts as a `[measure] <label>` line and returns them.
 */
async function fuzz(
  label: string,
  packets: number,
  from: Buffer[],
  receive: (f: Fuzzed) => void,
): Promise<Map<string, number>> {
  const random = mulberry32(SEED);
  const counts = new Map<string, number>();
  const count = (k: string): void => {
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  for (let i = 0; i < packets; i += 1) {
    // The loop is synchronous: let vitest's worker answer its runner now and then.
    if (i % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
    const packet = mutate(random, from);
    // Built only for a failure's message: a million hex strings cost more than the decoding.
    const where = (): string => `packet ${i} (seed ${SEED}): ${packet.toString('hex')}`;
    const ip = decodeIpv4(packet);
    if (!ip.ok) {
      if (!IPV4_REJECTIONS.includes(ip.reason)) expect.fail(`${where()}: ip ${ip.reason}`);
      count(`ip:${ip.reason}`);
      continue;
    }
    receive({ ip, index: i, random, count, where });
  }
  const summary = [...counts].sort((a, b) => b[1] - a[1]);
  console.log(
    `[measure] ${label}: ${packets} packets: ${summary.map(([k, n]) => `${k} ${n}`).join(', ')}`,
  );
  return counts;
}

describe('fuzzing the receive path', () => {
  it(`${PACKETS.toLocaleString('en')} random and mutated packets: nothing throws, every rejection has a reason`, async () => {
    expect(seeds.length, 'the keepalived vectors are needed as seeds').toBeGreaterThan(0);
    const counts = await fuzz('fuzz', PACKETS, seeds, ({ ip, index, random, count, where }) => {
      const src = ip.header.src;
      const decoded = decodeAdvert(ip.payload, { src, dst: ip.header.dst, ttl: ip.header.ttl });
      if (!decoded.ok) {
        if (!VRRP_REJECTIONS.includes(decoded.reason) || decoded.detail === '') {
          expect.fail(`${where()}: rejection ${decoded.reason} / ${decoded.detail}`);
        }
        count(`vrrp:${decoded.reason}`);
        return;
      }
      const advert = decoded.advert;
      for (const [n, inst] of config.instances.entries()) {
        const ttlChecked = random() < 0.5;
        const verdict = checkAdvert(inst, advert, { src, ttlChecked, subnet: PRIMARY });
        if (!verdict.ok) {
          if (!ADVERT_REJECTIONS.includes(verdict.reason) || verdict.detail === '') {
            expect.fail(`${where()}: check ${verdict.reason} / ${verdict.detail}`);
          }
          count(`check:${verdict.reason}`);
          continue;
        }
        count('accepted');
        const packet = { payload: ip.payload, src, dst: ip.header.dst, ttl: ip.header.ttl };
        for (const core of cores[n]?.[ttlChecked ? 1 : 0] ?? []) {
          const r = step(core, { type: 'packet', packet, wallMs: 0 }, FUZZ_EPOCH_MS + index);
          if (r.state.counters.advertsReceived !== core.counters.advertsReceived + 1) {
            expect.fail(`${where()}: ${inst.name}'s core refused what the checks accepted`);
          }
          if (!['initialize', 'backup', 'master', 'fault'].includes(r.state.fsm.state)) {
            expect.fail(`${where()}: state ${r.state.fsm.state} from ${src}`);
          }
        }
      }
    });
    expect(counts.get('accepted') ?? 0).toBeGreaterThan(1000);
    expect([...counts.keys()].filter((k) => k.startsWith('vrrp:')).length).toBeGreaterThan(5);
  });

  it(`${CARP_PACKETS.toLocaleString('en')} mutated ucarp packets through the CARP checks: nothing throws, every rejection has a reason`, async () => {
    expect(carpSeeds.length, 'the ucarp vectors are needed as seeds').toBeGreaterThan(0);
    const counts = await fuzz(
      'fuzz carp',
      CARP_PACKETS,
      carpSeeds,
      ({ ip, random, count, where }) => {
        // Half the time as a transport that sees neither TTL nor destination.
        const seen = random() < 0.5;
        const meta = {
          ttl: seen ? ip.header.ttl : undefined,
          dst: seen ? ip.header.dst : undefined,
        };
        const decoded = decodeCarp(ip.payload, meta);
        const verdict = decoded.ok ? checkCarp(decoded.advert, CARP_INSTANCE) : decoded;
        if (!verdict.ok) {
          if (!CARP_REJECTIONS.includes(verdict.reason) || verdict.detail === '') {
            expect.fail(`${where()}: rejection ${verdict.reason} / ${verdict.detail}`);
          }
          count(verdict.reason);
          return;
        }
        count('accepted');
      },
    );
    expect(counts.get('accepted') ?? 0).toBeGreaterThan(1000);
    expect([...counts.keys()].filter((k) => k.startsWith('carp-')).length).toBeGreaterThan(5);
  });
});
