/**
 * Property tests of the VRRP state machine on random networks, run through the discrete-event
 * simulator in test/support/sim.ts: convergence to the right single master after arbitrary chaos
 * (P1), fast hand-over on a priority-0 advert (P2), and never staying master over a better router
 * (P3, checked after every step of every chaos run). fast-check prints the seed and the shrunk
 * counterexample of any failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareAddresses, uint32ToIpv4 } from '../../src/net/address.js';
import {
  DEAF_AFTER,
  masterDownIntervalMs,
  skewTimeMs,
  type FsmConfig,
} from '../../src/vrrp/fsm.js';
import { Simulator, type PlanOutcome, type SimTrust, type StepRecord } from '../support/sim.js';

const MAX_ROUTERS = 6;
const MAX_CHAOS_DELAY_MS = 20;
const STABLE_DELAY_MS = 1;
const EPSILON_MS = 1;
/** Short, so a hold-down a chaos run triggers (one-way loss) is inside the convergence bound. */
const HOLD_DOWN_MS = 2000;

interface Network {
  configs: FsmConfig[];
}

interface Rank {
  priority: number;
  address: string;
}

function outranks(a: Rank, b: Rank): boolean {
  return (
    a.priority > b.priority ||
    (a.priority === b.priority && compareAddresses(a.address, b.address) > 0)
  );
}

function rankOf(config: FsmConfig): Rank {
  return { priority: config.priority, address: config.primaryAddress };
}

/** Index of the alive router with the highest (priority, address), if any is alive. */
function bestAlive(sim: Simulator): number | undefined {
  let best: number | undefined;
  for (let i = 0; i < sim.size; i += 1) {
    if (!sim.isAlive(i)) continue;
    if (best === undefined || outranks(rankOf(sim.config(i)), rankOf(sim.config(best)))) best = i;
  }
  return best;
}

function requireBestAlive(sim: Simulator): number {
  const best = bestAlive(sim);
  if (best === undefined) throw new Error('no router is alive');
  return best;
}

function largestIntervalCs(configs: readonly FsmConfig[]): number {
  return Math.max(...configs.map((c) => c.advertIntervalCs));
}

function largestIntervalMs(configs: readonly FsmConfig[]): number {
  return largestIntervalCs(configs) * 10;
}

/** The longest Master_Down_Interval any router can run, once it learned the largest interval. */
function longestMasterDownMs(configs: readonly FsmConfig[]): number {
  const largestCs = largestIntervalCs(configs);
  return Math.max(...configs.map((c) => masterDownIntervalMs(c, largestCs)));
}

/**
 * Random network. `priorities` decides how priorities are drawn: 'distinct' (1..254, optionally
 * with one 255 owner) or 'equal' (one shared priority). Addresses are distinct and span the whole
 * unsigned range, so the tie-break is exercised above 2^31.
 */
function networkArb(priorities: 'distinct' | 'equal'): fc.Arbitrary<Network> {
  const priorityList =
    priorities === 'distinct'
      ? fc
          .tuple(
            fc.uniqueArray(fc.integer({ min: 1, max: 254 }), {
              minLength: MAX_ROUTERS,
              maxLength: MAX_ROUTERS,
            }),
            fc.option(fc.nat(MAX_ROUTERS - 1), { nil: undefined }),
          )
          .map(([list, owner]) => list.map((p, i) => (i === owner ? 255 : p)))
      : fc.integer({ min: 1, max: 254 }).map((p) => Array.from({ length: MAX_ROUTERS }, () => p));
  return fc
    .record({
      n: fc.integer({ min: 2, max: MAX_ROUTERS }),
      version: fc.constantFrom<2 | 3>(2, 3),
      addresses: fc.uniqueArray(fc.integer({ min: 1, max: 0xfffffffe }), {
        minLength: MAX_ROUTERS,
        maxLength: MAX_ROUTERS,
      }),
      priorities: priorityList,
      v3IntervalsCs: fc.array(fc.integer({ min: 10, max: 300 }), {
        minLength: MAX_ROUTERS,
        maxLength: MAX_ROUTERS,
      }),
      v2IntervalCs: fc.constantFrom(100, 200, 300),
      reassertOnLower: fc.array(fc.boolean(), { minLength: MAX_ROUTERS, maxLength: MAX_ROUTERS }),
    })
    .map((r) => ({
      configs: Array.from({ length: r.n }, (_, i) => ({
        version: r.version,
        priority: r.priorities[i] ?? 100,
        advertIntervalCs: r.version === 3 ? (r.v3IntervalsCs[i] ?? 100) : r.v2IntervalCs,
        preempt: true,
        preemptDelayMs: 0,
        accept: false,
        primaryAddress: uint32ToIpv4(r.addresses[i] ?? i + 1),
        reassertOnLower: r.reassertOnLower[i] ?? true,
        holdDownMs: HOLD_DOWN_MS,
      })),
    }));
}

/** Router indices are drawn in 0..MAX_ROUTERS-1 and taken modulo the network size. */
type ChaosOp =
  | { kind: 'partition'; atPermille: number; groupOf: number[] }
  | { kind: 'heal'; atPermille: number }
  | { kind: 'loss'; atPermille: number; p: number }
  | { kind: 'link-loss'; atPermille: number; from: number; to: number; p: number }
  | { kind: 'delay'; atPermille: number; maxMs: number }
  | { kind: 'crash' | 'restart' | 'shutdown'; atPermille: number; router: number };

interface Chaos {
  seed: number;
  lengthMs: number;
  startPermille: number[];
  ops: ChaosOp[];
  restartAtT0: boolean[];
}

const atPermille = fc.integer({ min: 0, max: 1000 });
const routerIndex = fc.nat(MAX_ROUTERS - 1);
const lossP = fc.double({ min: 0, max: 0.5, noNaN: true });

const chaosOpArb: fc.Arbitrary<ChaosOp> = fc.oneof(
  fc.record({
    kind: fc.constant('partition' as const),
    atPermille,
    groupOf: fc.array(fc.nat(2), { minLength: MAX_ROUTERS, maxLength: MAX_ROUTERS }),
  }),
  fc.record({ kind: fc.constant('heal' as const), atPermille }),
  fc.record({ kind: fc.constant('loss' as const), atPermille, p: lossP }),
  fc.record({
    kind: fc.constant('link-loss' as const),
    atPermille,
    from: routerIndex,
    to: routerIndex,
    p: lossP,
  }),
  fc.record({
    kind: fc.constant('delay' as const),
    atPermille,
    maxMs: fc.double({ min: 0, max: MAX_CHAOS_DELAY_MS, noNaN: true }),
  }),
  fc.record({
    kind: fc.constantFrom('crash' as const, 'restart' as const, 'shutdown' as const),
    atPermille,
    router: routerIndex,
  }),
);

const chaosArb: fc.Arbitrary<Chaos> = fc.record({
  seed: fc.integer(),
  lengthMs: fc.integer({ min: 0, max: 30_000 }),
  startPermille: fc.array(atPermille, { minLength: MAX_ROUTERS, maxLength: MAX_ROUTERS }),
  ops: fc.array(chaosOpArb, { maxLength: 30, size: 'medium' }),
  restartAtT0: fc.array(fc.boolean(), { minLength: MAX_ROUTERS, maxLength: MAX_ROUTERS }),
});

function applyOp(sim: Simulator, op: ChaosOp): void {
  const n = sim.size;
  switch (op.kind) {
    case 'partition': {
      const groups: number[][] = [[], [], []];
      for (let i = 0; i < n; i += 1) groups[op.groupOf[i] ?? 0]?.push(i);
      sim.partition(groups);
      return;
    }
    case 'heal':
      sim.heal();
      return;
    case 'loss':
      sim.setLoss(op.p);
      return;
    case 'link-loss':
      sim.setLinkLoss(op.from % n, op.to % n, op.p);
      return;
    case 'delay':
      sim.setDelay({ min: 0, max: op.maxMs });
      return;
    case 'crash':
      sim.crash(op.router % n);
      return;
    case 'restart':
      if (!sim.isAlive(op.router % n)) sim.start(op.router % n);
      return;
    case 'shutdown':
      if (sim.isAlive(op.router % n)) sim.shutdown(op.router % n);
      return;
  }
}

/**
 * P3: a router that accepted an advert (priority > 0) from a strictly better (priority, address)
 * sender must not be master after that step. Installed on every chaos run.
 */
function neverMasterOverBetter(record: StepRecord, sim: Simulator): void {
  const { advert, before, after, router } = record;
  if (advert === undefined || advert.priority === 0 || after.fsm.state !== 'master') return;
  // Only an advert the receive verdict let through reached the state machine.
  if (after.counters.advertsReceived === before.counters.advertsReceived) return;
  const sender = { priority: advert.priority, address: advert.src };
  if (outranks(sender, rankOf(sim.config(router)))) {
    throw new Error(
      `P3: router ${router} stayed master at ${record.time} after an advert from ${advert.src} ` +
        `(priority ${advert.priority})`,
    );
  }
}

/**
 * Runs the chaos phase on [0, t0], then stabilises at t0: heal, no loss, a fixed small delay, and
 * each dead router either restarted at t0 or left dead (at least one router is alive afterwards).
 */
function runChaos(network: Network, chaos: Chaos): { sim: Simulator; t0: number } {
  const sim = new Simulator(network.configs, {
    seed: chaos.seed,
    delayMs: { min: 0, max: MAX_CHAOS_DELAY_MS },
  });
  sim.onStep(neverMasterOverBetter);
  const t0 = chaos.lengthMs;
  const at = (permille: number): number => (t0 * permille) / 1000;
  network.configs.forEach((_, i) => {
    sim.schedule(at(chaos.startPermille[i] ?? 0), () => {
      if (!sim.isAlive(i)) sim.start(i);
    });
  });
  for (const op of chaos.ops) sim.schedule(at(op.atPermille), () => applyOp(sim, op));
  sim.runUntil(t0);

  sim.heal();
  sim.setLoss(0);
  sim.clearLinkLoss();
  sim.setDelay({ min: STABLE_DELAY_MS, max: STABLE_DELAY_MS });
  network.configs.forEach((_, i) => {
    if (!sim.isAlive(i) && chaos.restartAtT0[i] === true) sim.start(i);
  });
  if (bestAlive(sim) === undefined) sim.start(0);
  return { sim, t0 };
}

/**
 * Convergence bound B after t0. Worst case: the winner W is a backup whose Master_Down_Timer was
 * re-armed by an advert still in flight at t0 (arriving up to MAX_CHAOS_DELAY_MS later) carrying
 * the largest interval in the network (a v3 backup learns the master's interval), so it fires at
 * most one Master_Down_Interval after that; W's became-master advert then reaches every router
 * STABLE_DELAY_MS later and demotes any other master. If W is already master at t0, its next
 * periodic advert (within one interval) does the same. Hence
 *   B = Master_Down_Interval(largest interval, largest skew) + largest interval
 *       + MAX_CHAOS_DELAY_MS + STABLE_DELAY_MS + EPSILON_MS.
 * One deliberate exception to the RFC adds a term: a master that yielded during the chaos to a
 * lower master that could not hear it (one-way loss) does not preempt it for HOLD_DOWN_MS, which
 * may run past t0 by up to that much: B += HOLD_DOWN_MS.
 */
function convergenceBoundMs(configs: readonly FsmConfig[]): number {
  return (
    HOLD_DOWN_MS +
    longestMasterDownMs(configs) +
    largestIntervalMs(configs) +
    MAX_CHAOS_DELAY_MS +
    STABLE_DELAY_MS +
    EPSILON_MS
  );
}

/** Runs from t0 + B to t0 + B + 3 intervals, checking `check` then and after every step. */
function holdsAfterBound(
  sim: Simulator,
  t0: number,
  check: (sim: Simulator) => void,
  extraMs = 0,
): void {
  const configs = Array.from({ length: sim.size }, (_, i) => sim.config(i));
  const settled = t0 + convergenceBoundMs(configs) + extraMs;
  sim.runUntil(settled);
  check(sim);
  sim.onStep((record, s) => {
    if (record.time >= settled) check(s);
  });
  sim.runUntil(settled + 3 * largestIntervalMs(configs));
}

const oneWayCutArb = fc.record({
  network: networkArb('distinct'),
  seed: fc.integer(),
  cutAtMs: fc.double({ min: 0, max: 5000, noNaN: true }),
});

/**
 * Elects the best router, then cuts every link from it to the others (it still hears them) and
 * runs the loss's settle time (the others' master-down interval at the largest interval, which
 * they may have learned from the best, plus the DEAF_AFTER adverts it takes to see the
 * deafness) and 20 s more.
 */
function cutTheBest(
  { network, seed, cutAtMs }: { network: Network; seed: number; cutAtMs: number },
  trust: SimTrust,
): { sim: Simulator; best: number; cut: number; settle: number } {
  // The hold-down outlasts the loss here, as the default (60 s) does in the lab test.
  const configs = network.configs.map((c) => ({ ...c, reassertOnLower: true, holdDownMs: 60_000 }));
  const sim = new Simulator(configs, { seed, delayMs: { min: 1, max: 1 }, trust });
  configs.forEach((_, i) => sim.start(i));
  sim.runUntil(longestMasterDownMs(configs) + largestIntervalMs(configs) + cutAtMs);
  const best = requireBestAlive(sim);
  expect(sim.masters()).toEqual([best]);
  const cut = sim.now;
  configs.forEach((_, j) => {
    if (j !== best) sim.setLinkLoss(best, j, 1);
  });
  const settle = longestMasterDownMs(configs) + (DEAF_AFTER + 2) * largestIntervalMs(configs);
  sim.runFor(settle + 20_000);
  return { sim, best, cut, settle };
}

/** A plan's duration at most, and FAULT after a failed one, in the plans-in-flight runs. */
const MAX_PLAN_MS = 3000;
const FAULT_RECOVERY_MS = 1000;

const planChaosArb = fc.record({
  seed: fc.integer(),
  lengthMs: fc.integer({ min: 1000, max: 20_000 }),
  /** Taken in turn by every plan any router runs until the chaos ends. */
  outcomes: fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.record({ ok: fc.boolean(), ms: fc.nat(MAX_PLAN_MS) }) },
      { weight: 1, arbitrary: fc.constant<PlanOutcome>('hang') },
    ),
    { minLength: 1, maxLength: 20 },
  ),
  demotions: fc.array(fc.record({ atPermille, router: routerIndex, demote: fc.boolean() }), {
    maxLength: 12,
  }),
});

/** An announcement (gratuitous ARP for the VIPs) only from a master. Installed on plan runs. */
function announcesOnlyAsMaster(record: StepRecord): void {
  if (record.effects.some((e) => e.type === 'announce') && record.after.fsm.state !== 'master') {
    throw new Error(
      `router ${record.router} announced the VIPs at ${record.time} as ${record.after.fsm.state}`,
    );
  }
}

describe('VRRP FSM properties (simulated network)', () => {
  it('P1 (+P3): distinct priorities converge to the single best alive master', () => {
    fc.assert(
      fc.property(networkArb('distinct'), chaosArb, (network, chaos) => {
        const { sim, t0 } = runChaos(network, chaos);
        const winner = requireBestAlive(sim);
        holdsAfterBound(sim, t0, (s) => expect(s.masters()).toEqual([winner]));
        // The simulator's own adverts always pass the receive verdict.
        expect(sim.rejected).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('P1-equal (+P3): equal priorities converge to exactly one master', () => {
    fc.assert(
      fc.property(networkArb('equal'), chaosArb, (network, chaos) => {
        const { sim, t0 } = runChaos(network, chaos);
        holdsAfterBound(sim, t0, (s) => expect(s.masters()).toHaveLength(1));
        expect(sim.rejected).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('P2: a priority-0 advert hands over within Skew_Time to the best remaining router', () => {
    // One fixed delay per run keeps every link FIFO, as on a real segment: with reordering, an
    // advert sent just before the priority-0 one could overtake it and re-arm the full interval.
    const scenario = fc.record({
      network: networkArb('distinct'),
      seed: fc.integer(),
      delayMs: fc.double({ min: 0, max: 5, noNaN: true }),
      phaseMs: fc.double({ min: 0, max: 3000, noNaN: true }),
    });
    fc.assert(
      fc.property(scenario, ({ network, seed, delayMs, phaseMs }) => {
        const { configs } = network;
        const sim = new Simulator(configs, { seed, delayMs: { min: delayMs, max: delayMs } });
        configs.forEach((_, i) => sim.start(i));
        const stable = longestMasterDownMs(configs) + largestIntervalMs(configs) + delayMs;
        sim.runUntil(stable + EPSILON_MS + phaseMs);
        const old = requireBestAlive(sim);
        expect(sim.masters()).toEqual([old]);

        const stoppedAt = sim.now;
        sim.shutdown(old);
        const heir = requireBestAlive(sim);
        const heirSkew = skewTimeMs(sim.config(heir), sim.state(heir).masterAdverIntervalCs);
        sim.runUntil(stoppedAt + heirSkew + delayMs + EPSILON_MS);
        const takeover = sim.transitions.find((t) => t.time > stoppedAt && t.to === 'master');
        expect(takeover?.reason).toBe('priority-zero-heard');

        sim.runFor(largestIntervalMs(configs) + delayMs + EPSILON_MS);
        expect(sim.masters()).toEqual([heir]);
      }),
      { numRuns: 200 },
    );
  });

  it('one-way loss (nobody hears the best router for 30 s): few transitions, one master, reported', () => {
    // The core concludes one-way loss only from a sender it trusts: peers, or HMAC-signed adverts.
    const scenario = fc.record({
      cut: oneWayCutArb,
      trust: fc.constantFrom<SimTrust>('peers', 'hmac'),
    });
    fc.assert(
      fc.property(scenario, ({ cut: c, trust }) => {
        const { sim, best, cut, settle } = cutTheBest(c, trust);
        const after = sim.transitions.filter((t) => t.time > cut);
        // The best yields once, the others elect among themselves once (routers whose timers
        // fire together may both take over for a moment); then nothing moves for 20 s.
        expect(after.length).toBeLessThanOrEqual(2 * sim.size);
        expect(after.filter((t) => t.time > cut + settle)).toEqual([]);
        expect(
          after.filter((t) => t.reason === 'peer-cannot-hear-us').map((t) => t.router),
        ).toEqual([best]);
        expect(sim.masters()).toHaveLength(1);
        expect(sim.splitBrains.filter((r) => r.time > cut).length).toBeGreaterThan(0);
        expect(sim.rejected).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it('one-way loss without HMAC or peers: nobody yields to the unheard, two masters while it lasts', () => {
    // The price of refusing forged lower adverts (issue 12, defect 3): without a sender to trust,
    // the best keeps the VIPs and re-asserts, the others elect their own master.
    fc.assert(
      fc.property(oneWayCutArb, (c) => {
        const { sim, best, cut, settle } = cutTheBest(c, 'none');
        const after = sim.transitions.filter((t) => t.time > cut);
        expect(after.filter((t) => t.reason === 'peer-cannot-hear-us')).toEqual([]);
        expect(after.filter((t) => t.time > cut + settle)).toEqual([]);
        const masters = sim.masters();
        expect(masters).toHaveLength(2);
        expect(masters).toContain(best);
        expect(sim.rejected).toEqual([]);
      }),
      { numRuns: 30 },
    );
  });

  it('plans in flight (slow, failing, hanging) and demotions: VIPs announced only by a master, then on the best box alone', () => {
    // Issue 12, defect 1: a master plan that finished after its router was demoted armed the
    // gratuitous-ARP refresh, and the demoted box announced the VIP for as long as it ran.
    fc.assert(
      fc.property(networkArb('distinct'), planChaosArb, (network, chaos) => {
        const sim = new Simulator(network.configs, {
          seed: chaos.seed,
          delayMs: { min: 0, max: 5 },
          instance: { garp: { refresh: 0.5 }, faultRecovery: FAULT_RECOVERY_MS / 1000 },
        });
        sim.onStep(neverMasterOverBetter);
        sim.onStep(announcesOnlyAsMaster);
        let next = 0;
        sim.plans = () => chaos.outcomes[next++ % chaos.outcomes.length] ?? 'hang';
        const t0 = chaos.lengthMs;
        const demoted = { type: 'fault', cause: { kind: 'demoted' }, detail: 'operator' } as const;
        const promoted = { type: 'clear', cause: { kind: 'demoted' } } as const;
        network.configs.forEach((_, i) => sim.start(i));
        for (const d of chaos.demotions) {
          sim.schedule((t0 * d.atPermille) / 1000, () =>
            sim.inject(d.router % sim.size, d.demote ? demoted : promoted),
          );
        }
        sim.runUntil(t0);
        sim.plans = () => ({ ok: true, ms: 0 });
        network.configs.forEach((_, i) => sim.inject(i, promoted));
        const winner = requireBestAlive(sim);
        // A plan started before t0 may fail up to MAX_PLAN_MS later: FAULT, then recovery.
        holdsAfterBound(
          sim,
          t0,
          (s) => {
            expect(s.masters()).toEqual([winner]);
            // A plan left running for a state its router left would keep the VIPs (or the
            // queue) where they no longer belong.
            expect(s.vipHolders()).toEqual([winner]);
          },
          MAX_PLAN_MS + FAULT_RECOVERY_MS,
        );
      }),
      { numRuns: 60 },
    );
  });

  it('the simulator replays a seed identically', () => {
    const run = (): string => {
      const configs = [0x0a000001, 0x0a000002, 0x0a000003].map((address, i) => ({
        version: 3 as const,
        priority: 100 + i,
        advertIntervalCs: 20,
        preempt: true,
        preemptDelayMs: 0,
        accept: false,
        primaryAddress: uint32ToIpv4(address),
        reassertOnLower: true,
      }));
      const sim = new Simulator(configs, { seed: 7, delayMs: { min: 0, max: 5 }, loss: 0.3 });
      configs.forEach((_, i) => sim.start(i));
      sim.runUntil(10_000);
      sim.crash(2);
      sim.runUntil(20_000);
      return JSON.stringify(sim.transitions);
    };
    expect(run()).toBe(run());
  });
});
