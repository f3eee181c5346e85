/**
 * RouterCore (src/router/core.ts) under random sequences of events, checked after every step:
 * packets of random priorities and senders (peers, strangers forging lower adverts, garbage,
 * signed, unsigned and wrongly signed), ticks on time, early and late (stalls), plan results for
 * the current plan and for stale ones, faults raised and cleared, priority changes, quorum
 * answers for the pending round and for stale ones, in-place updates and shutdown. Packets are
 * real bytes (the codec, the HMAC signer); configs come from the real parser.
 *
 * Invariants (each one made to fail once by breaking the core on purpose; see the commit):
 * - the reducer never throws;
 * - after a step the deadline is never before `now`, unless it already was and the step was not
 *   a tick (a stalled box handles waiting I/O before its overdue timer);
 * - a tick before the deadline changes nothing;
 * - a plan issued for role R is cancelled in the very step the router leaves R (after shutdown
 *   only a release may still run);
 * - a `plan-done` for a plan that is not the current one yields a debug log and nothing else;
 * - after `shutdown`: no advert but the shutdown's own priority 0, no plan but the release,
 *   no timer;
 * - `announce` only while master;
 * - a master yields to a lower master that cannot hear it only if it trusts the sender (HMAC
 *   configured, or a configured peer): without HMAC and peers, never;
 * - a running backup always has a timer, or waits for the quorum round it asked for.
 * A coverage count at the end makes sure the runs reached what the invariants are about.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Role } from '../../src/actions/plan.js';
import type { InstanceConfig } from '../../src/config/instance.js';
import { VRRP_GROUP } from '../../src/vrrp/packet.js';
import {
  deadline,
  initialCore,
  step,
  type CoreEffect,
  type CoreEvent,
  type CoreResult,
  type CoreState,
} from '../../src/router/core.js';
import type { FaultCause } from '../../src/router/faults.js';
import { parseTarget } from '../../src/router/quorum.js';
import { MS_PER_CS } from '../../src/vrrp/fsm.js';
import { HmacSigner } from '../../src/vrrp/hmac.js';
import {
  SIM_WALL_EPOCH_MS,
  SIM_WITNESS,
  advertBytes,
  simInstance,
  type SimTrust,
} from '../support/sim.js';

const RUNS = 400;
const OWN = '10.0.0.1';
/** Configured peers (unicastPeers with trust 'peers'; the first is also a quorum peer). */
const PEERS = ['10.0.0.2', '10.0.0.3'];
const STRANGERS = ['10.0.0.7', '10.0.0.250'];
/** Who adverts come from; our own address too (a multicast echo). */
const SENDERS = [...PEERS, ...STRANGERS, OWN];
/** Causes the shell raises and clears; the last, lost quorum, is the core's own (only cleared). */
const CAUSES: FaultCause[] = [
  { kind: 'demoted' },
  { kind: 'track', object: 'interface eth1' },
  { kind: 'plan', role: 'master' },
  { kind: 'sync-group', group: 'g', member: 'other' },
  { kind: 'quorum' },
];
const RAISED = CAUSES.length - 1;
/** Bounds one run of due timers: a deadline that never moves on would loop forever. */
const MAX_TICKS_PER_ADVANCE = 10_000;

type QuorumSetup = 'off' | 'witness' | 'witness+peer';

/** The keys a reload may change in place (router/reload-delta.ts), and the fixed ones. */
interface Setup {
  trust: SimTrust;
  version: 2 | 3;
  reassertOnLower: boolean;
  priority: number;
  intervalCs: number;
  preempt: boolean;
  preemptDelayMs: number;
  refreshS: number;
  quorum: QuorumSetup;
}

/** What an in-place update may change: the interval as an index into the version's list. */
interface Tweak {
  priority: number;
  interval: number;
  preempt: boolean;
  preemptDelayMs: number;
  refreshS: number;
  quorum: QuorumSetup;
  hmac: boolean;
}

const INTERVALS_CS: Record<2 | 3, number[]> = { 2: [100, 200], 3: [20, 100, 150] };

function instanceOf(s: Setup): InstanceConfig {
  return simInstance(
    {
      version: s.version,
      priority: s.priority,
      advertIntervalCs: s.intervalCs,
      preempt: s.preempt,
      preemptDelayMs: s.preemptDelayMs,
      accept: false,
      primaryAddress: '0.0.0.0',
      reassertOnLower: s.reassertOnLower,
      holdDownMs: 2000,
    },
    {
      trust: s.trust,
      others: PEERS,
      extra: {
        garp: { refresh: s.refreshS },
        faultRecovery: 1,
        quorum:
          s.quorum === 'off'
            ? null
            : {
                witnesses: [SIM_WITNESS],
                peers: s.quorum === 'witness' ? [] : PEERS.slice(0, 1),
                interval: 0.5,
              },
      },
    },
  );
}

/** Who may make this master yield as a lower master that cannot hear it. */
function trusted(cfg: InstanceConfig, src: string): boolean {
  if (cfg.hmac !== null) return true;
  const peers = [...cfg.unicastPeers, ...(cfg.quorum?.peers ?? [])];
  return peers.some((p) => parseTarget(p)?.address === src);
}

type Priority = { rel: number } | { abs: number };

type Op =
  | { kind: 'start' }
  | { kind: 'advance'; ms: number; stall: boolean }
  /** Time passes with the shell answering at once: plans succeed, quorum probes as told. */
  | { kind: 'quiet'; ms: number; quorumUp: boolean }
  | { kind: 'tick'; lateMs: number }
  | { kind: 'early-tick' }
  | {
      kind: 'advert';
      from: number;
      priority: Priority;
      intervalCs: number | undefined;
      auth: 'signed' | 'unsigned' | 'wrong-key';
      ttl: number;
    }
  /** A rival master: adverts `spacing` of an interval apart (due timers fire in between). */
  | { kind: 'series'; from: number; priority: Priority; count: number; spacing: number }
  | { kind: 'garbage'; bytes: number[] }
  | { kind: 'plan-done'; current: boolean; ok: boolean; cancelled: boolean }
  | { kind: 'fault'; cause: number; detail: string; forMs: number | undefined }
  | { kind: 'clear'; cause: number }
  | { kind: 'priority'; priority: number }
  | { kind: 'quorum'; current: boolean; witnessUp: boolean; peerUp: boolean }
  | { kind: 'update'; tweak: Tweak }
  /** The kernel reports addresses gone from the interface (ours and a stranger's). */
  | { kind: 'vips-missing'; ours: boolean; stranger: boolean }
  | { kind: 'vips-restored'; ok: boolean }
  /** The link's primary address changed (one of the senders' addresses, or back to ours). */
  | { kind: 'source'; from: number }
  | { kind: 'shutdown' };

const priorityArb: fc.Arbitrary<Priority> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ rel: fc.integer({ min: -40, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ abs: fc.constantFrom(0, 255) }) },
);
const tweakArb: fc.Arbitrary<Tweak> = fc.record({
  priority: fc.integer({ min: 1, max: 255 }),
  interval: fc.nat(2),
  preempt: fc.boolean(),
  preemptDelayMs: fc.constantFrom(0, 1000),
  refreshS: fc.constantFrom(0, 0.5),
  quorum: fc.constantFrom<QuorumSetup>('off', 'witness', 'witness+peer'),
  hmac: fc.boolean(),
});

/** The setup's keys a tweak sets (HMAC is the trust's business). */
function tweaked(version: 2 | 3, t: Tweak): Omit<Setup, 'trust' | 'version' | 'reassertOnLower'> {
  const list = INTERVALS_CS[version];
  return {
    priority: t.priority,
    intervalCs: list[t.interval % list.length] ?? 100,
    preempt: t.preempt,
    preemptDelayMs: t.preemptDelayMs,
    refreshS: t.refreshS,
    quorum: t.quorum,
  };
}

const setupArb: fc.Arbitrary<Setup> = fc
  .record({
    trust: fc.constantFrom<SimTrust>('none', 'peers', 'hmac'),
    version: fc.constantFrom<2 | 3>(2, 3, 3),
    // Mostly on: the one-way-loss rule needs it.
    reassertOnLower: fc.constantFrom(true, true, true, false),
    tweak: tweakArb,
  })
  .map(({ trust, version, reassertOnLower, tweak }) => ({
    trust,
    version,
    reassertOnLower,
    ...tweaked(version, tweak),
  }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'start' }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 5000 }),
      stall: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('quiet' as const),
      ms: fc.integer({ min: 0, max: 6000 }),
      quorumUp: fc.constantFrom(true, true, true, false),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      lateMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 })),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'early-tick' }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('advert' as const),
      from: fc.nat(SENDERS.length - 1),
      priority: priorityArb,
      intervalCs: fc.option(fc.constantFrom(20, 50, 100, 300), { nil: undefined }),
      auth: fc.constantFrom('signed', 'signed', 'signed', 'unsigned', 'wrong-key'),
      ttl: fc.constantFrom(255, 255, 255, 64),
    }),
  },
  {
    // Rival masters are what one-way loss needs: frequent enough that every run of the
    // property meets a few (the coverage check below wants at least one).
    weight: 7,
    arbitrary: fc.record({
      kind: fc.constant('series' as const),
      from: fc.nat(SENDERS.length - 1),
      priority: fc.oneof(
        { weight: 4, arbitrary: fc.record({ rel: fc.integer({ min: -40, max: -1 }) }) },
        { weight: 1, arbitrary: priorityArb },
      ),
      count: fc.integer({ min: 2, max: 7 }),
      spacing: fc.double({ min: 0.05, max: 1.5, noNaN: true }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('garbage' as const),
      bytes: fc.array(fc.nat(255), { maxLength: 60 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('plan-done' as const),
      current: fc.boolean(),
      ok: fc.boolean(),
      cancelled: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      cause: fc.nat(RAISED - 1),
      detail: fc.constantFrom('a', 'b'),
      forMs: fc.option(fc.integer({ min: 0, max: 4000 }), { nil: undefined }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('clear' as const),
      cause: fc.nat(CAUSES.length - 1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('priority' as const),
      priority: fc.integer({ min: 1, max: 254 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('quorum' as const),
      current: fc.boolean(),
      witnessUp: fc.boolean(),
      peerUp: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('update' as const),
      tweak: tweakArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('vips-missing' as const),
      ours: fc.boolean(),
      stranger: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('vips-restored' as const), ok: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('source' as const),
      from: fc.nat(SENDERS.length),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'shutdown' }) },
);

/** How often the runs reached what the invariants are about (all runs of one property). */
interface Coverage {
  steps: number;
  master: number;
  cancelled: number;
  stalePlanDone: number;
  announced: number;
  shutdowns: number;
  stalls: number;
  oneWayYields: number;
  untrustedSeries: number;
  rejected: number;
  quorumRounds: number;
  restored: number;
}

function check(cond: boolean, what: () => string): void {
  if (!cond) throw new Error(what());
}

const describeEvent = (e: CoreEvent): string =>
  e.type === 'packet'
    ? `packet from ${e.packet.src} (${e.packet.payload.length} bytes)`
    : JSON.stringify(e);

/** One router core, driven as the shell drives it, with the invariants checked at every step. */
class Run {
  state: CoreState;
  now = 0;
  private setup: Setup;
  /** Plans issued and neither done nor cancelled: each must serve the current state. */
  private readonly open = new Map<number, Role>();
  /** Plans cancelled or done: their ids make stale `plan-done`s. */
  private readonly ended: number[] = [];
  private readonly rounds: number[] = [];
  private readonly signers = new Map<string, HmacSigner>();
  /** In a quiet period: plans succeed at once, quorum probes answer this (undefined: not quiet). */
  private answering: { quorumUp: boolean } | undefined;

  constructor(
    setup: Setup,
    private readonly cov: Coverage,
  ) {
    this.setup = setup;
    this.state = initialCore({
      instance: instanceOf(setup),
      primary: { address: OWN, prefix: 24 },
      ttlChecked: true,
    });
  }

  private get cfg(): InstanceConfig {
    return this.state.cfg.instance;
  }

  private get wallMs(): number {
    return SIM_WALL_EPOCH_MS + this.now;
  }

  do(op: Op): void {
    switch (op.kind) {
      case 'start':
        this.apply({ type: 'start' });
        return;
      case 'advance':
        this.advanceTo(this.now + op.ms, op.stall);
        return;
      case 'quiet':
        this.answering = { quorumUp: op.quorumUp };
        this.advanceTo(this.now + op.ms, false);
        this.answering = undefined;
        return;
      case 'tick': {
        const d = deadline(this.state);
        this.now = d === undefined ? this.now + 10 : Math.max(this.now, d) + op.lateMs;
        this.apply({ type: 'tick' });
        return;
      }
      case 'early-tick':
        this.apply({ type: 'tick' });
        return;
      case 'advert':
        this.advert(SENDERS[op.from] ?? OWN, this.priority(op.priority), op);
        return;
      case 'series':
        this.series(op);
        return;
      case 'garbage':
        this.packet(Buffer.from(op.bytes), STRANGERS[0] ?? OWN, 255);
        return;
      case 'plan-done': {
        const current = this.state.plan;
        const id =
          op.current && current !== undefined && !current.done
            ? current.id
            : (this.ended[op.ok ? 0 : this.ended.length - 1] ?? this.state.nextPlanId + 3);
        this.apply({ type: 'plan-done', id, ok: op.ok, cancelled: op.cancelled });
        return;
      }
      case 'fault': {
        const cause = CAUSES[op.cause] ?? { kind: 'demoted' };
        this.apply(
          op.forMs === undefined
            ? { type: 'fault', cause, detail: op.detail }
            : { type: 'fault', cause, detail: op.detail, forMs: op.forMs },
        );
        return;
      }
      case 'clear':
        this.apply({ type: 'clear', cause: CAUSES[op.cause] ?? { kind: 'demoted' } });
        return;
      case 'priority':
        this.apply({ type: 'priority', priority: op.priority, why: 'tracking' });
        return;
      case 'quorum': {
        const pending = this.state.quorumRound?.round;
        const round =
          op.current && pending !== undefined
            ? pending
            : (this.rounds[0] ?? this.state.nextRound + 2);
        this.quorumAnswer(round, op.witnessUp, op.peerUp);
        return;
      }
      case 'update':
        this.update(op.tweak);
        return;
      case 'vips-missing': {
        const vips = this.cfg.vips.map((v) => v.address);
        this.apply({
          type: 'vips-missing',
          addresses: [...(op.ours ? vips : []), ...(op.stranger ? ['192.0.2.77'] : [])],
        });
        return;
      }
      case 'vips-restored':
        this.apply({
          type: 'vips-restored',
          addresses: this.cfg.vips.map((v) => v.address),
          ok: op.ok,
        });
        return;
      case 'source':
        this.apply({
          type: 'source',
          primary: { address: SENDERS[op.from] ?? OWN, prefix: 24 },
        });
        return;
      case 'shutdown':
        this.apply({ type: 'shutdown' });
        return;
    }
  }

  private priority(p: Priority): number {
    return 'abs' in p ? p.abs : Math.min(254, Math.max(1, this.state.fsmConfig.priority + p.rel));
  }

  private update(t: Tweak): void {
    // unicastPeers and the version are not in-place keys; HMAC and the rest are.
    const trust: SimTrust = this.setup.trust === 'peers' ? 'peers' : t.hmac ? 'hmac' : 'none';
    this.setup = { ...this.setup, ...tweaked(this.setup.version, t), trust };
    this.apply({ type: 'update', instance: instanceOf(this.setup) });
  }

  private quorumAnswer(round: number, witnessUp: boolean, peerUp: boolean): void {
    this.apply({
      type: 'quorum-probed',
      round,
      witnesses: [{ target: SIM_WITNESS, up: witnessUp }],
      peers: (this.cfg.quorum?.peers ?? []).map((target) => ({ target, up: peerUp })),
    });
  }

  private advert(
    src: string,
    priority: number,
    opts: {
      intervalCs?: number | undefined;
      auth?: 'signed' | 'unsigned' | 'wrong-key';
      ttl?: number;
    },
  ): void {
    const cfg = this.cfg;
    const dst = cfg.unicastPeers.length > 0 ? OWN : VRRP_GROUP;
    // VRRPv2 carries whole seconds (another interval than ours is refused on receipt).
    const intervalCs =
      opts.intervalCs === undefined
        ? cfg.advertIntervalCs
        : cfg.version === 2
          ? Math.ceil(opts.intervalCs / 100) * 100
          : opts.intervalCs;
    const bytes = advertBytes({ ...cfg, advertIntervalCs: intervalCs }, priority, src, dst);
    this.packet(this.sign(bytes, src, opts.auth ?? 'signed'), src, opts.ttl ?? 255, dst);
  }

  /** Signed when the router expects it (or with a key it does not know), else as is. */
  private sign(bytes: Buffer, src: string, auth: 'signed' | 'unsigned' | 'wrong-key'): Buffer {
    const hmac = this.cfg.hmac;
    if (hmac === null || auth === 'unsigned') return bytes;
    const key = auth === 'signed' ? src : `forger ${src}`;
    let signer = this.signers.get(key);
    if (signer === undefined) {
      const cfg =
        auth === 'signed'
          ? hmac
          : {
              ...hmac,
              keys: [{ id: hmac.sendKeyId, secret: Buffer.from('not the shared secret!') }],
            };
      signer = new HmacSigner(cfg, () => this.wallMs);
      this.signers.set(key, signer);
    }
    return signer.sign(bytes, src);
  }

  private packet(payload: Buffer, src: string, ttl: number, dst = VRRP_GROUP): void {
    this.apply({ type: 'packet', packet: { payload, src, dst, ttl }, wallMs: this.wallMs });
  }

  private series(op: Extract<Op, { kind: 'series' }>): void {
    const src = SENDERS[op.from] ?? OWN;
    if (!trusted(this.cfg, src) && this.state.fsm.state === 'master') this.cov.untrustedSeries += 1;
    for (let i = 0; i < op.count; i += 1) {
      const intervalMs = this.cfg.advertIntervalCs * MS_PER_CS;
      if (i > 0) this.advanceTo(this.now + op.spacing * intervalMs, false);
      this.advert(src, this.priority(op.priority), {});
    }
  }

  /** Moves the clock to `t`, firing every deadline due on the way at its time unless stalled. */
  private advanceTo(t: number, stall: boolean): void {
    for (let n = 0; !stall; n += 1) {
      const d = deadline(this.state);
      if (d === undefined || d > t) break;
      check(n < MAX_TICKS_PER_ADVANCE, () => `the deadline stays at ${d}: timers never settle`);
      this.now = Math.max(this.now, d);
      this.apply({ type: 'tick' });
    }
    this.now = Math.max(this.now, t);
  }

  apply(event: CoreEvent): void {
    const before = this.state;
    const result = step(before, event, this.now);
    this.state = result.state;
    this.checkStep(before, event, result);
    const answering = this.answering;
    if (answering === undefined) return;
    // The shell's answers, at once: every plan succeeds, quorum probes all up or all down.
    for (const e of result.effects) {
      if (e.type === 'run-plan' && this.state.plan?.id === e.id && !this.state.plan.done) {
        this.apply({ type: 'plan-done', id: e.id, ok: true, cancelled: false });
      } else if (e.type === 'probe-quorum') {
        this.quorumAnswer(e.round, answering.quorumUp, answering.quorumUp);
      }
    }
  }

  private checkStep(before: CoreState, event: CoreEvent, result: CoreResult): void {
    const { state: after, effects } = result;
    const now = this.now;
    const what = (rule: string) => (): string =>
      `${rule}\n  at ${now} ms, ${before.fsm.state} -> ${after.fsm.state}, event ${describeEvent(event)}\n  effects ${JSON.stringify(effects.filter((e) => e.type !== 'log'))}`;
    const of = <T extends CoreEffect['type']>(type: T): Extract<CoreEffect, { type: T }>[] =>
      effects.filter((e): e is Extract<CoreEffect, { type: T }> => e.type === type);
    this.count(before, after, effects);

    // Deadlines: never behind `now`, unless already overdue and the step was not the tick.
    const dBefore = deadline(before);
    const dAfter = deadline(after);
    if (dAfter !== undefined && dAfter < now) {
      const overdue = dBefore !== undefined && dBefore < now && event.type !== 'tick';
      check(overdue, what(`deadline ${dAfter} is before now`));
    }
    if (event.type === 'tick' && (dBefore === undefined || now < dBefore)) {
      check(effects.length === 0, what(`a tick before the deadline (${dBefore}) did something`));
    }

    // Plans: the one not current any more changes nothing.
    if (event.type === 'plan-done' && event.id !== before.plan?.id) {
      check(
        effects.length === 1 &&
          effects[0]?.type === 'log' &&
          effects[0].level === 'debug' &&
          after.fsm === before.fsm,
        what(`plan-done for plan ${event.id}, not the current ${before.plan?.id}, acted`),
      );
    }
    if (event.type === 'plan-done' && event.id === before.plan?.id) this.end(event.id);
    for (const e of of('run-plan')) this.open.set(e.id, e.role);
    for (const e of of('cancel-plan')) this.end(e.id);
    for (const [id, role] of this.open) {
      // After shutdown the release (backup or fault plan) finishes; a master plan never does.
      const allowed = after.stopped ? role !== 'master' : role === after.fsm.state;
      check(allowed, what(`plan ${id} (${role}) still runs in ${after.fsm.state}`));
    }

    // Shutdown: the priority-0 advert and the release, then nothing.
    if (before.stopped) {
      check(
        of('send').length === 0 && of('run-plan').length === 0,
        what('an advert or a plan after shutdown'),
      );
    }
    if (event.type === 'shutdown' && !before.stopped) {
      check(
        of('send').every((e) => e.priority === 0) &&
          of('run-plan').every((e) => e.role !== 'master') &&
          of('run-plan').length <= 1,
        what('shutdown sent more than its priority-0 advert or ran more than the release'),
      );
    }
    if (after.stopped) check(dAfter === undefined, what('a timer after shutdown'));

    check(
      of('announce').length === 0 || after.fsm.state === 'master',
      what('announced while not master'),
    );
    // VIPs are put back only by a master whose own plan is done, and only its own.
    const mine = new Set(this.cfg.vips.map((v) => v.address));
    for (const e of of('restore-vips')) {
      check(
        after.fsm.state === 'master' &&
          after.plan?.role === 'master' &&
          after.plan.done &&
          e.addresses.every((a) => mine.has(a)),
        what('VIPs put back by a router that is not a settled master, or not its own'),
      );
    }

    // One-way loss only from a sender this router trusts.
    for (const e of of('event')) {
      if (e.event.type !== 'transition' || e.event.reason !== 'peer-cannot-hear-us') continue;
      check(
        event.type === 'packet' && trusted(before.cfg.instance, event.packet.src),
        what('yielded to an untrusted sender as one that cannot hear us'),
      );
    }

    // Liveness: a running backup has a timer, or waits for the answer to its own quorum round;
    // a box held for lost quorum keeps probing for it.
    if (after.fsm.state === 'backup' && !after.stopped && dAfter === undefined) {
      check(
        after.fsm.quorumPending &&
          after.quorumRound?.purpose === 'takeover' &&
          after.cfg.instance.quorum !== null,
        what('a backup without a timer that waits for nothing'),
      );
    }
    if (after.faults.some((f) => f.cause.kind === 'quorum') && !after.stopped) {
      check(
        after.cfg.instance.quorum !== null &&
          (after.quorumWatchAt !== undefined || after.quorumRound?.purpose === 'watch'),
        what('held for lost quorum with no probe to regain it'),
      );
    }
  }

  private end(id: number): void {
    if (this.open.delete(id)) this.ended.push(id);
  }

  private count(before: CoreState, after: CoreState, effects: readonly CoreEffect[]): void {
    const c = this.cov;
    c.steps += 1;
    if (before.fsm.state !== 'master' && after.fsm.state === 'master') c.master += 1;
    if (after.counters.stalls > before.counters.stalls) c.stalls += 1;
    if (after.counters.oneWayLosses > before.counters.oneWayLosses) c.oneWayYields += 1;
    for (const e of effects) {
      if (e.type === 'cancel-plan') c.cancelled += 1;
      else if (e.type === 'announce') c.announced += 1;
      else if (e.type === 'rejected') c.rejected += 1;
      else if (e.type === 'restore-vips') c.restored += 1;
      else if (e.type === 'probe-quorum') {
        c.quorumRounds += 1;
        this.rounds.push(e.round);
      } else if (e.type === 'log' && e.event === 'plan-superseded') c.stalePlanDone += 1;
    }
    if (!before.stopped && after.stopped) c.shutdowns += 1;
  }
}

describe('RouterCore properties (random event sequences)', () => {
  it(`${RUNS} runs: never throws, timers ahead, plans cancelled with their state, nothing after shutdown, announce only as master, one-way loss only from the trusted`, () => {
    const cov: Coverage = {
      steps: 0,
      master: 0,
      cancelled: 0,
      stalePlanDone: 0,
      announced: 0,
      shutdowns: 0,
      stalls: 0,
      oneWayYields: 0,
      untrustedSeries: 0,
      rejected: 0,
      quorumRounds: 0,
      restored: 0,
    };
    fc.assert(
      fc.property(setupArb, fc.array(opArb, { maxLength: 60, size: 'medium' }), (setup, ops) => {
        const run = new Run(setup, cov);
        run.do({ kind: 'start' });
        for (const op of ops) run.do(op);
      }),
      { numRuns: RUNS },
    );
    console.log(
      `[measure] router-core: ${RUNS} runs, ${Object.entries(cov)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    );
    // Every invariant had something to bite on.
    for (const [key, n] of Object.entries(cov)) expect(n, key).toBeGreaterThan(0);
  });
});
