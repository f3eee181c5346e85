/**
 * Deterministic discrete-event simulator of N vipd routers on one segment (test support only).
 *
 * Contract: every router is the real RouterCore (src/router/core.ts) with an InstanceConfig made
 * by the real config parser from the FsmConfig a test gives, and the simulator is its shell:
 * - adverts travel as bytes: a `send` effect is encoded with the real codec (and signed with the
 *   real HMAC signer when the routers use HMAC; a CARP instance's with the CARP codec, its timing
 *   and its password), sent to the group, to the unicast peers, or with `to` to one router, and
 *   reaches each receiver as the core's `packet` event, so the core's receive verdict decodes and
 *   checks it;
 * - timers follow `deadline(state)`: after every step one `tick` is armed there, and a
 *   per-router generation turns a timer armed earlier into a no-op (the simulated boxes never
 *   stall, so ticks are never late and the core's stall grace never applies);
 * - `run-plan` runs on a per-router queue, one plan after another as the shell's PlanQueue does,
 *   and ends in `plan-done` after the plan's duration (default 0 ms; `plans` can make a plan fail
 *   or hang); `cancel-plan` ends a running plan at once and a queued one when its turn comes;
 * - `probe-quorum` is answered with `quorum-probed` from the `quorum(router)` hook.
 * Every random choice (per-packet delay and loss) comes from one seeded mulberry32 stream, and
 * jobs due at the same time run in the order they were queued, so the same configs, seed and
 * sequence of calls always replay identically. A packet's reachability and loss are decided when
 * it is sent; it is handed over only if its receiver is alive on arrival. Events and effects are
 * never handled inside another router's step: answers are queued for the current time.
 */
import type { Role } from '../../src/actions/plan.js';
import type { CarpTiming } from '../../src/carp/fsm.js';
import { encodeCarp } from '../../src/carp/packet.js';
import { advertOf } from '../../src/router/advert.js';
import { parseConfig } from '../../src/config/config.js';
import type { InstanceConfig } from '../../src/config/instance.js';
import {
  deadline,
  initialCore,
  step,
  type CoreConfig,
  type CoreEffect,
  type CoreEvent,
  type CoreState,
} from '../../src/router/core.js';
import type { FsmConfig, FsmState, VrrpState } from '../../src/vrrp/fsm.js';
import { HmacSigner } from '../../src/vrrp/hmac.js';
import { VRRP_GROUP, encodeAdvert } from '../../src/vrrp/packet.js';

/** mulberry32: a tiny, well-mixed 32-bit PRNG; returns uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Wall-clock ms at simulated time 0. HMAC nonces are wall-clock microseconds: the signers and the
 * receivers read this plus the simulated clock, so the boxes' clocks agree as NTP makes them.
 */
export const SIM_WALL_EPOCH_MS = 1_800_000_000_000;
/** The quorum witness of a quorum-gated router; its answer is the `quorum` hook's. */
export const SIM_WITNESS = '192.0.2.1';
const SIM_VIP = '192.0.2.100/24';
const SIM_HMAC_SECRET = 'vipd-simulator-shared-secret';

/**
 * Who a master believes when a lower master seems not to hear it (one-way loss):
 * - 'peers': every router lists the others as unicastPeers (adverts are unicast to each);
 * - 'hmac': adverts go to the group, signed with one shared HMAC key;
 * - 'none': group adverts, unauthenticated and no peers: vipd's default, where the core never
 *   concludes one-way loss (anyone could forge the lower adverts).
 */
export type SimTrust = 'peers' | 'hmac' | 'none';

export interface SimInstanceOptions {
  trust: SimTrust;
  /** The other routers' primary addresses (unicast peers when trust is 'peers'). */
  others: readonly string[];
  vrid?: number;
  name?: string;
  /** More keys in the file's shape, merged last. */
  extra?: Record<string, unknown>;
}

/**
 * Parsed configs by their document: the parser is pure and its result is never mutated, and the
 * cluster property alone would otherwise parse ten thousand of them. Bounded, as a safety net.
 */
const parsed = new Map<string, InstanceConfig>();
const PARSED_MAX = 10_000;

/**
 * The InstanceConfig a simulated router runs, built by the real parser from the keys an
 * FsmConfig carries plus what `trust` needs.
 */
export function simInstance(config: FsmConfig, opts: SimInstanceOptions): InstanceConfig {
  const doc: Record<string, unknown> = {
    name: opts.name ?? 'sim',
    interface: 'sim0',
    vrid: opts.vrid ?? 1,
    priority: config.priority,
    version: config.version,
    advertInterval: config.advertIntervalCs / 100,
    preempt: config.preempt,
    preemptDelay: config.preemptDelayMs / 1000,
    accept: config.accept,
    reassertOnLower: config.reassertOnLower,
    oneWayHoldDown: (config.holdDownMs ?? 60_000) / 1000,
    vips: [SIM_VIP],
    unicastPeers: opts.trust === 'peers' ? opts.others : [],
    // No peers in the quorum: the `quorum` hook answers for the one witness.
    quorum: config.quorumGated === true ? { witnesses: [SIM_WITNESS], peers: [] } : null,
    hmac: opts.trust === 'hmac' ? { keys: [{ id: 1, secret: SIM_HMAC_SECRET }] } : null,
    ...opts.extra,
  };
  const key = JSON.stringify(doc);
  const known = parsed.get(key);
  if (known !== undefined) return known;
  const instance = parseConfig({ instances: [doc] }).instances[0];
  if (instance === undefined) throw new Error('the simulated instance did not parse');
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(key, instance);
  return instance;
}

/** The bytes a router with `cfg` sends as an advert of `priority` from `src` to `dst`. */
export function advertBytes(
  cfg: InstanceConfig,
  priority: number,
  src: string,
  dst: string,
): Buffer {
  return encodeAdvert(advertOf(cfg, priority), { src, dst, checksum: cfg.checksum });
}

export interface TransitionRecord {
  time: number;
  router: number;
  from: VrrpState;
  to: VrrpState;
  /** The FSM's TransitionReason, as the core's transition event reports it. */
  reason: string;
}

/** What a packet carried, as its sender built it (the receiving core only sees bytes). */
export interface SentAdvert {
  /** The sender's primary address. */
  src: string;
  priority: number;
}

/** One event handed to one router's core, seen by step hooks after its effects were handled. */
export interface StepRecord {
  time: number;
  router: number;
  event: CoreEvent;
  /** For a packet from a simulated router: what it carried; otherwise undefined. */
  advert: SentAdvert | undefined;
  before: CoreState;
  after: CoreState;
  effects: readonly CoreEffect[];
}

/** Throwing from a hook aborts the run: that is how tests assert an invariant at every step. */
export type StepHook = (record: StepRecord, sim: Simulator) => void;

/** How one action plan ends: after `ms`, ok or failed; or never, until it is cancelled. */
export type PlanOutcome = { ok: boolean; ms: number; detail?: string } | 'hang';

export interface DelayRange {
  min: number;
  max: number;
}

export interface SimOptions {
  seed: number;
  /** Per-packet delay in ms, uniform in [min, max]. Default: 1 ms. */
  delayMs?: DelayRange;
  /** Probability that a packet is lost on every link. Default: 0. */
  loss?: number;
  /** See SimTrust. Default 'peers'. */
  trust?: SimTrust;
  /** How long an action plan takes (ok) unless `plans` says otherwise. Default 0 ms. */
  planMs?: number;
  /** VRID of every router. Default 1. */
  vrid?: number;
  /** More instance keys (file shape: seconds, CIDR) for every router, e.g. { garp: { refresh: 1 } }. */
  instance?: Record<string, unknown>;
  /** More instance keys for one router, merged after `instance` (e.g. its CARP advskew). */
  perRouter?: (router: number) => Record<string, unknown>;
}

interface QueuedPlan {
  id: number;
  role: Role;
  cancelled: boolean;
}

interface RouterSlot {
  /** The FsmConfig the test gave. */
  readonly given: FsmConfig;
  readonly instance: InstanceConfig;
  readonly address: string;
  /** One per box for the whole run: its nonces never go back, even across a restart. */
  readonly signer: HmacSigner | undefined;
  core: CoreState;
  alive: boolean;
  /** Bumped on every start, crash and shutdown: plans and answers of an earlier run are dropped. */
  incarnation: number;
  /** Bumped whenever the timer is re-armed: an earlier timer job does nothing. */
  generation: number;
  timerAt: number | undefined;
  /** The plan queue: the head is running. */
  plans: QueuedPlan[];
  /** Whether the VIPs are on this box (see `vipHolders`). */
  holdsVips: boolean;
  /** CARP's advert counter: one up per advert, as ucarp's (nobody checks it). */
  carpCounter: bigint;
}

interface Job {
  time: number;
  seq: number;
  run: () => void;
}

/** Binary min-heap ordered by (time, seq): seq breaks ties in queueing order. */
class JobQueue {
  private readonly heap: Job[] = [];

  push(job: Job): void {
    this.heap.push(job);
    let i = this.heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  peekTime(): number | undefined {
    return this.heap[0]?.time;
  }

  pop(): Job | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (top === undefined || last === undefined || this.heap.length === 0) return top;
    this.heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.heap.length && this.before(left, smallest)) smallest = left;
      if (right < this.heap.length && this.before(right, smallest)) smallest = right;
      if (smallest === i) return top;
      this.swap(i, smallest);
      i = smallest;
    }
  }

  private before(i: number, j: number): boolean {
    const a = this.at(i);
    const b = this.at(j);
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private swap(i: number, j: number): void {
    const a = this.at(i);
    this.heap[i] = this.at(j);
    this.heap[j] = a;
  }

  private at(i: number): Job {
    const job = this.heap[i];
    if (job === undefined) throw new Error(`job queue index ${i} out of range`);
    return job;
  }
}

export class Simulator {
  /** Every state change of every router, in the order it happened. */
  readonly transitions: TransitionRecord[] = [];
  /** Every split-brain report: `router` (the winner) heard `peer` (an address) as master. */
  readonly splitBrains: { time: number; router: number; peer: string }[] = [];
  /** Every packet a core refused, with its reason (the simulator's own packets should pass). */
  readonly rejected: { time: number; router: number; reason: string; detail: string }[] = [];
  /** The quorum verdict a quorum-gated router gets when it asks (default: granted). */
  quorum: (router: number) => boolean = () => true;
  /** How each action plan ends (default: ok after the planMs option). */
  plans: (router: number, role: Role) => PlanOutcome;
  private readonly routers: RouterSlot[];
  private readonly byAddress = new Map<string, number>();
  private readonly queue = new JobQueue();
  private readonly random: () => number;
  private readonly hooks: StepHook[] = [];
  private readonly linkLoss = new Map<string, number>();
  /** Group id per router while partitioned; undefined when everyone hears everyone. */
  private groups: number[] | undefined;
  private delay: DelayRange;
  private loss: number;
  private clock = 0;
  private seq = 0;

  constructor(configs: readonly FsmConfig[], options: SimOptions) {
    const trust = options.trust ?? 'peers';
    const addresses = configs.map((c) => c.primaryAddress);
    this.routers = configs.map((given, i) => {
      const instance = simInstance(given, {
        trust,
        others: addresses.filter((_, j) => j !== i),
        vrid: options.vrid,
        name: `r${i}`,
        extra: { ...options.instance, ...options.perRouter?.(i) },
      });
      const address = addresses[i] ?? '';
      this.byAddress.set(address, i);
      return {
        given,
        instance,
        address,
        signer:
          instance.hmac === null ? undefined : new HmacSigner(instance.hmac, () => this.wallMs),
        core: initialCore(this.coreConfig(instance, address)),
        alive: false,
        incarnation: 0,
        generation: 0,
        timerAt: undefined,
        plans: [],
        holdsVips: false,
        carpCounter: 0n,
      };
    });
    this.random = mulberry32(options.seed);
    this.delay = options.delayMs ?? { min: 1, max: 1 };
    this.loss = options.loss ?? 0;
    const planMs = options.planMs ?? 0;
    this.plans = () => ({ ok: true, ms: planMs });
  }

  get now(): number {
    return this.clock;
  }

  get size(): number {
    return this.routers.length;
  }

  /** The FSM config the router's core runs (its effective priority included). */
  config(router: number): FsmConfig {
    return this.slot(router).core.fsmConfig;
  }

  instance(router: number): InstanceConfig {
    return this.slot(router).instance;
  }

  state(router: number): FsmState {
    return this.slot(router).core.fsm;
  }

  core(router: number): CoreState {
    return this.slot(router).core;
  }

  isAlive(router: number): boolean {
    return this.slot(router).alive;
  }

  /**
   * Indices of the alive routers whose box has the VIPs: from the start of a master plan (it
   * adds them early) until a releasing plan starts (it gives them up first), as far as a plan
   * can tell; a cancelled plan that never started changes nothing. The acceptance: the
   * VIPs on exactly one box.
   */
  vipHolders(): number[] {
    const result: number[] = [];
    this.routers.forEach((r, i) => {
      if (r.alive && r.holdsVips) result.push(i);
    });
    return result;
  }

  /** Indices of the alive routers that are in 'master'. */
  masters(): number[] {
    const result: number[] = [];
    this.routers.forEach((r, i) => {
      if (r.alive && r.core.fsm.state === 'master') result.push(i);
    });
    return result;
  }

  onStep(hook: StepHook): void {
    this.hooks.push(hook);
  }

  /** Runs `action` when the clock reaches `time` (after jobs already queued for that time). */
  schedule(time: number, action: () => void): void {
    this.push(Math.max(time, this.clock), action);
  }

  /** A fresh process: a new core that starts the election at once. */
  start(router: number): void {
    const slot = this.slot(router);
    if (slot.alive) throw new Error(`router ${router} is already running`);
    this.reset(slot);
    slot.alive = true;
    this.apply(router, { type: 'start' });
  }

  /** Stops silently, as on SIGKILL or power loss: no priority-0 advert, no plan finishes. */
  crash(router: number): void {
    const slot = this.slot(router);
    slot.alive = false;
    this.reset(slot);
  }

  /** Graceful stop: the core sees 'shutdown', so a master's priority-0 advert goes out. */
  shutdown(router: number): void {
    const slot = this.slot(router);
    if (!slot.alive) throw new Error(`router ${router} is not running`);
    this.apply(router, { type: 'shutdown' });
    slot.alive = false;
    // The process exits once its release plan is done; nothing of it is observable after that.
    slot.incarnation += 1;
    slot.plans = [];
  }

  /** Hands a running router one core event (a fault, a priority change, an update...). */
  inject(router: number, event: CoreEvent): void {
    if (!this.slot(router).alive) throw new Error(`router ${router} is not running`);
    this.apply(router, event);
  }

  /** Routers in different groups cannot hear each other; routers not listed are isolated. */
  partition(groups: readonly (readonly number[])[]): void {
    const ids = this.routers.map((_, i) => -1 - i);
    groups.forEach((members, id) => {
      for (const router of members) {
        this.slot(router);
        ids[router] = id;
      }
    });
    this.groups = ids;
  }

  heal(): void {
    this.groups = undefined;
  }

  setDelay(delay: DelayRange): void {
    if (delay.min < 0 || delay.max < delay.min) throw new Error('bad delay range');
    this.delay = delay;
  }

  /** Loss probability applied to every link, on top of any one-way loss. */
  setLoss(probability: number): void {
    this.loss = probability;
  }

  /** One-way loss from `from` to `to`; 0 removes it. */
  setLinkLoss(from: number, to: number, probability: number): void {
    this.linkLoss.set(linkKey(from, to), probability);
  }

  clearLinkLoss(): void {
    this.linkLoss.clear();
  }

  runUntil(time: number): void {
    for (;;) {
      const due = this.queue.peekTime();
      if (due === undefined || due > time) break;
      const job = this.queue.pop();
      if (job === undefined) break;
      this.clock = job.time;
      job.run();
    }
    this.clock = Math.max(this.clock, time);
  }

  runFor(ms: number): void {
    this.runUntil(this.clock + ms);
  }

  private get wallMs(): number {
    return SIM_WALL_EPOCH_MS + this.clock;
  }

  private coreConfig(instance: InstanceConfig, address: string): CoreConfig {
    // Raw transport: the receiver sees TTL and destination, so the prefix plays no part.
    return { instance, primary: { address, prefix: 24 }, ttlChecked: true };
  }

  /** A new process on the same box: fresh core, no timer, no plans. */
  private reset(slot: RouterSlot): void {
    slot.core = initialCore(this.coreConfig(slot.instance, slot.address));
    slot.incarnation += 1;
    slot.generation += 1;
    slot.timerAt = undefined;
    slot.plans = [];
    // Start-up clears what an earlier run left (a crashed box answers for nothing).
    slot.holdsVips = false;
  }

  private apply(router: number, event: CoreEvent, advert?: SentAdvert): void {
    const slot = this.slot(router);
    const before = slot.core;
    const { state, effects } = step(before, event, this.clock);
    slot.core = state;
    for (const effect of effects) this.perform(router, effect, advert);
    this.armTimer(router);
    const record: StepRecord = {
      time: this.clock,
      router,
      event,
      advert,
      before,
      after: state,
      effects,
    };
    for (const hook of this.hooks) hook(record, this);
  }

  private perform(router: number, effect: CoreEffect, advert: SentAdvert | undefined): void {
    switch (effect.type) {
      case 'send':
        this.send(router, effect.priority, effect.to, effect.carp);
        return;
      case 'run-plan': {
        const slot = this.slot(router);
        slot.plans.push({ id: effect.id, role: effect.role, cancelled: false });
        if (slot.plans.length === 1) this.startPlan(router);
        return;
      }
      case 'cancel-plan':
        this.cancelPlan(router, effect.id);
        return;
      case 'probe-quorum': {
        const { round } = effect;
        const ok = this.quorum(router);
        this.answer(router, () => ({
          type: 'quorum-probed',
          round,
          witnesses: [{ target: SIM_WITNESS, up: ok }],
          peers: [],
        }));
        return;
      }
      case 'rejected':
        this.rejected.push({
          time: this.clock,
          router,
          reason: effect.reason,
          detail: effect.detail,
        });
        return;
      case 'event':
        if (effect.event.type === 'transition') {
          const { from, to, reason } = effect.event;
          this.transitions.push({ time: this.clock, router, from, to, reason });
        } else if (effect.event.type === 'split-brain' && advert !== undefined) {
          // Reported on the rival's advert: its sender is the peer.
          this.splitBrains.push({ time: this.clock, router, peer: advert.src });
        }
        return;
      case 'announce':
      case 'log':
        return;
    }
  }

  /** Queues `event` for the current time, for this run of the router only. */
  private answer(router: number, event: () => CoreEvent): void {
    const slot = this.slot(router);
    const incarnation = slot.incarnation;
    this.push(this.clock, () => {
      if (slot.alive && slot.incarnation === incarnation) this.apply(router, event());
    });
  }

  /** Runs the plan at the head of the queue: it ends after its outcome's time, or never. */
  private startPlan(router: number): void {
    const slot = this.slot(router);
    const head = slot.plans[0];
    if (head === undefined) return;
    if (head.cancelled) {
      this.endPlan(router, head, { ok: false, cancelled: true });
      return;
    }
    slot.holdsVips = head.role === 'master';
    const outcome = this.plans(router, head.role);
    if (outcome === 'hang') return;
    const incarnation = slot.incarnation;
    this.push(this.clock + outcome.ms, () => {
      if (slot.incarnation !== incarnation || slot.plans[0] !== head) return;
      const done: { ok: boolean; cancelled: boolean; detail?: string } = {
        ok: outcome.ok,
        cancelled: false,
      };
      if (outcome.detail !== undefined) done.detail = outcome.detail;
      this.endPlan(router, head, done);
    });
  }

  /** A running plan stops now (its hook is killed); a queued one reports when its turn comes. */
  private cancelPlan(router: number, id: number): void {
    const slot = this.slot(router);
    const plan = slot.plans.find((p) => p.id === id);
    if (plan === undefined || plan.cancelled) return;
    plan.cancelled = true;
    if (slot.plans[0] === plan) this.endPlan(router, plan, { ok: false, cancelled: true });
  }

  private endPlan(
    router: number,
    plan: QueuedPlan,
    outcome: { ok: boolean; cancelled: boolean; detail?: string },
  ): void {
    const slot = this.slot(router);
    slot.plans = slot.plans.filter((p) => p !== plan);
    this.answer(router, () => ({ type: 'plan-done', id: plan.id, ...outcome }));
    this.startPlan(router);
  }

  private armTimer(router: number): void {
    const slot = this.slot(router);
    const at = slot.alive ? deadline(slot.core) : undefined;
    if (at === slot.timerAt) return;
    slot.generation += 1;
    slot.timerAt = at;
    if (at === undefined) return;
    const generation = slot.generation;
    // Never into the past: the queue's clock only moves forward (a core property test checks
    // that deadlines are never before `now` anyway).
    this.push(Math.max(at, this.clock), () => {
      if (!slot.alive || slot.generation !== generation) return;
      slot.timerAt = undefined;
      this.apply(router, { type: 'tick' });
    });
  }

  /**
   * Sends as the shell does: with `to` to that router alone, else to each unicast peer, else to
   * the group. The bytes are encoded per destination (the v3 checksum covers it) and signed.
   */
  private send(
    from: number,
    priority: number,
    to: string | undefined,
    carp: CarpTiming | undefined,
  ): void {
    const sender = this.slot(from);
    const cfg = sender.instance;
    const destinations =
      to !== undefined ? [to] : cfg.unicastPeers.length > 0 ? cfg.unicastPeers : [VRRP_GROUP];
    const advert: SentAdvert = { src: sender.given.primaryAddress, priority };
    for (const dst of destinations) {
      const bytes =
        cfg.carp !== null && carp !== undefined
          ? this.carpBytes(sender, cfg.carp.password, carp)
          : advertBytes(cfg, priority, sender.address, dst);
      const payload = sender.signer?.sign(bytes, sender.address) ?? bytes;
      const receivers =
        dst === VRRP_GROUP ? this.routers.map((_, i) => i) : [this.byAddress.get(dst)];
      for (const receiver of receivers) {
        if (receiver === undefined || receiver === from) continue;
        this.deliver(from, receiver, { payload, src: sender.address, dst, ttl: 255 }, advert);
      }
    }
  }

  private carpBytes(sender: RouterSlot, password: Buffer, timing: CarpTiming): Buffer {
    sender.carpCounter += 1n;
    const vip = sender.instance.vips[0]?.address ?? '';
    const { vrid } = sender.instance;
    return encodeCarp({ vhid: vrid, ...timing, counter: sender.carpCounter, password, vip });
  }

  private deliver(
    from: number,
    to: number,
    packet: Extract<CoreEvent, { type: 'packet' }>['packet'],
    advert: SentAdvert,
  ): void {
    const receiver = this.slot(to);
    if (!receiver.alive || !this.connected(from, to)) return;
    const linkLoss = this.linkLoss.get(linkKey(from, to)) ?? 0;
    if (this.random() < 1 - (1 - this.loss) * (1 - linkLoss)) return;
    const delay = this.delay.min + this.random() * (this.delay.max - this.delay.min);
    this.push(this.clock + delay, () => {
      if (receiver.alive) this.apply(to, { type: 'packet', packet, wallMs: this.wallMs }, advert);
    });
  }

  private connected(a: number, b: number): boolean {
    return this.groups === undefined || this.groups[a] === this.groups[b];
  }

  private push(time: number, run: () => void): void {
    this.seq += 1;
    this.queue.push({ time, seq: this.seq, run });
  }

  private slot(router: number): RouterSlot {
    const slot = this.routers[router];
    if (slot === undefined) throw new Error(`no router ${router}`);
    return slot;
  }
}

function linkKey(from: number, to: number): string {
  return `${from}>${to}`;
}
