/**
 * Property tests of the CARP election on random networks of two or three vipd boxes speaking
 * CARP, run through the discrete-event simulator in test/support/sim.ts (real RouterCores, adverts
 * as real CARP bytes with HMAC): whatever the start times, delays and losses, once the losses stop
 * and a few dead intervals pass there is exactly one master: with preemption, the one with the
 * lowest advskew; without, any one. fast-check prints the seed and the shrunk counterexample.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { uint32ToIpv4 } from '../../src/net/address.js';
import type { FsmConfig } from '../../src/vrrp/fsm.js';
import { Simulator } from '../support/sim.js';

const MAX_ROUTERS = 3;
const DEAD_RATIO = 3;
/** The longest master-down interval here: 3 x 1 s + 254/256 s, rounded up. */
const LONGEST_MASTER_DOWN_MS = 4000;
/** "A few dead intervals" after the losses stop. */
const SETTLE_MS = 4 * LONGEST_MASTER_DOWN_MS;

interface Network {
  advskews: number[];
  addresses: string[];
  startsMs: number[];
  seed: number;
  loss: number;
  maxDelayMs: number;
  lossyForMs: number;
}

const networkArb: fc.Arbitrary<Network> = fc
  .record({
    n: fc.integer({ min: 2, max: MAX_ROUTERS }),
    advskews: fc.uniqueArray(fc.integer({ min: 0, max: 254 }), {
      minLength: MAX_ROUTERS,
      maxLength: MAX_ROUTERS,
    }),
    // 10.0.0.0/8: the tie-break never matters (the skews are distinct), the addresses only differ.
    addresses: fc.uniqueArray(fc.integer({ min: 0x0a000001, max: 0x0afffffe }), {
      minLength: MAX_ROUTERS,
      maxLength: MAX_ROUTERS,
    }),
    startsMs: fc.array(fc.integer({ min: 0, max: 3000 }), {
      minLength: MAX_ROUTERS,
      maxLength: MAX_ROUTERS,
    }),
    seed: fc.integer(),
    loss: fc.double({ min: 0, max: 0.6, noNaN: true }),
    maxDelayMs: fc.integer({ min: 0, max: 60 }),
    lossyForMs: fc.integer({ min: 0, max: 15_000 }),
  })
  .map((r) => ({
    advskews: r.advskews.slice(0, r.n),
    addresses: r.addresses.slice(0, r.n).map(uint32ToIpv4),
    startsMs: r.startsMs.slice(0, r.n),
    seed: r.seed,
    loss: r.loss,
    maxDelayMs: r.maxDelayMs,
    lossyForMs: r.lossyForMs,
  }));

/**
 * The FsmConfig the simulator builds an instance from, with every VRRP key at the default a CARP
 * instance requires; the CARP keys come per router.
 */
function carpBox(address: string, preempt: boolean): FsmConfig {
  return {
    version: 3,
    priority: 100,
    advertIntervalCs: 100,
    preempt,
    preemptDelayMs: 0,
    accept: false,
    primaryAddress: address,
    reassertOnLower: true,
  };
}

/** Runs the network through its lossy phase and SETTLE_MS of calm; returns the simulator. */
function run(net: Network, preempt: boolean): Simulator {
  const sim = new Simulator(
    net.addresses.map((a) => carpBox(a, preempt)),
    {
      seed: net.seed,
      trust: 'none',
      delayMs: { min: 0, max: net.maxDelayMs },
      loss: net.loss,
      perRouter: (i) => ({
        protocol: 'carp',
        carp: { password: 'sim-carp', advskew: net.advskews[i] ?? 0, deadRatio: DEAD_RATIO },
      }),
    },
  );
  net.startsMs.forEach((at, i) => {
    sim.schedule(at, () => sim.start(i));
  });
  sim.schedule(net.lossyForMs, () => {
    sim.setLoss(0);
  });
  sim.runUntil(Math.max(net.lossyForMs, ...net.startsMs) + SETTLE_MS);
  return sim;
}

/** Every backup heard the master: the CARP bytes passed the real verdict, none was refused. */
function expectAdvertsFlowed(sim: Simulator): void {
  expect(sim.rejected).toEqual([]);
  for (let i = 0; i < sim.size; i += 1) {
    if (sim.state(i).state === 'master') continue;
    expect(sim.core(i).counters.advertsReceived).toBeGreaterThan(0);
  }
}

function lowestSkew(net: Network): number {
  const lowest = Math.min(...net.advskews);
  return net.advskews.indexOf(lowest);
}

/** The masters over the last dead interval: the same single one all along, or the evidence. */
function mastersAtEnd(sim: Simulator): { now: number[]; changedLately: boolean } {
  const since = sim.now - LONGEST_MASTER_DOWN_MS;
  return {
    now: sim.masters(),
    changedLately: sim.transitions.some((t) => t.time > since),
  };
}

describe('CARP election (simulated vipd boxes speaking CARP)', () => {
  it('with preemption: one master, the one with the lowest advskew, once losses stop', () => {
    fc.assert(
      fc.property(networkArb, (net) => {
        const sim = run(net, true);
        expectAdvertsFlowed(sim);
        expect(mastersAtEnd(sim)).toEqual({ now: [lowestSkew(net)], changedLately: false });
        expect(sim.vipHolders()).toEqual([lowestSkew(net)]);
      }),
      { numRuns: 300 },
    );
  });

  it('without preemption: exactly one master (any), once losses stop', () => {
    fc.assert(
      fc.property(networkArb, (net) => {
        const sim = run(net, false);
        expectAdvertsFlowed(sim);
        const end = mastersAtEnd(sim);
        expect(end.now).toHaveLength(1);
        expect(end.changedLately).toBe(false);
        expect(sim.vipHolders()).toEqual(end.now);
      }),
      { numRuns: 300 },
    );
  });

  it('without preemption a settled master keeps its place when a faster box starts', () => {
    // Box 0 (advskew 100) alone becomes master; box 1 (advskew 0) starts later and follows it.
    const net: Network = {
      advskews: [100, 0],
      addresses: ['10.0.0.1', '10.0.0.2'],
      startsMs: [0, 6000],
      seed: 1,
      loss: 0,
      maxDelayMs: 1,
      lossyForMs: 0,
    };
    expect(run(net, false).masters()).toEqual([0]);
    // With preemption the faster box takes over on the first advert it hears.
    const preempting = run(net, true);
    expect(preempting.masters()).toEqual([1]);
    expect(preempting.transitions.filter((t) => t.router === 1 && t.to === 'master')).toEqual([
      expect.objectContaining({ reason: 'preempt-lower-priority' }),
    ]);
  });
});
