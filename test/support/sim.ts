/**
 * Deterministic discrete-event simulator for the VRRP state machine (test support only).
 *
 * Contract: drives the real `step` of src/vrrp/fsm.ts for N routers on one segment under a fake
 * clock. Every random choice (per-packet delay and loss) comes from one seeded mulberry32 stream,
 * and jobs due at the same time run in the order they were queued, so the same configs, seed and
 * sequence of calls always replay identically. Timers follow the daemon's rule: after every step
 * one 'timer' job is queued at nextDeadline(state), and a per-router generation counter turns any
 * earlier one into a no-op. A packet's reachability and loss are decided when it is sent; it is
 * handed over only if its receiver is alive on arrival.
 */
import {
  initialState,
  nextDeadline,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmState,
  type TransitionReason,
  type VrrpState,
} from '../../src/vrrp/fsm.js';

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

export interface TransitionRecord {
  time: number;
  router: number;
  from: VrrpState;
  to: VrrpState;
  reason: TransitionReason;
}

/** One event handed to one router's FSM, seen by step hooks after its actions took effect. */
export interface StepRecord {
  time: number;
  router: number;
  event: FsmEvent;
  before: FsmState;
  after: FsmState;
  actions: readonly FsmAction[];
}

/** Throwing from a hook aborts the run: that is how tests assert an invariant at every step. */
export type StepHook = (record: StepRecord, sim: Simulator) => void;

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
}

interface RouterSlot {
  readonly config: FsmConfig;
  state: FsmState;
  alive: boolean;
  generation: number;
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
  readonly splitBrains: { time: number; router: number; peer: number }[] = [];
  /** The quorum verdict a quorum-gated router gets when it asks (default: granted). */
  quorum: (router: number) => boolean = () => true;
  private readonly routers: RouterSlot[];
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
    this.routers = configs.map((config) => ({
      config,
      state: initialState(config),
      alive: false,
      generation: 0,
    }));
    this.random = mulberry32(options.seed);
    this.delay = options.delayMs ?? { min: 1, max: 1 };
    this.loss = options.loss ?? 0;
  }

  get now(): number {
    return this.clock;
  }

  get size(): number {
    return this.routers.length;
  }

  config(router: number): FsmConfig {
    return this.slot(router).config;
  }

  state(router: number): FsmState {
    return this.slot(router).state;
  }

  isAlive(router: number): boolean {
    return this.slot(router).alive;
  }

  /** Indices of the alive routers that are in 'master'. */
  masters(): number[] {
    const result: number[] = [];
    this.routers.forEach((r, i) => {
      if (r.alive && r.state.state === 'master') result.push(i);
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

  start(router: number): void {
    const slot = this.slot(router);
    if (slot.alive) throw new Error(`router ${router} is already running`);
    slot.alive = true;
    this.apply(router, { type: 'startup' });
  }

  /** Stops silently, as on SIGKILL or power loss: no priority-0 advert. */
  crash(router: number): void {
    const slot = this.slot(router);
    slot.alive = false;
    slot.state = initialState(slot.config);
    slot.generation += 1;
  }

  /** Graceful stop: the FSM sees 'shutdown', so a master's priority-0 advert goes out. */
  shutdown(router: number): void {
    const slot = this.slot(router);
    if (!slot.alive) throw new Error(`router ${router} is not running`);
    this.apply(router, { type: 'shutdown' });
    slot.alive = false;
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

  private apply(router: number, event: FsmEvent): void {
    const slot = this.slot(router);
    const before = slot.state;
    const { state, actions } = step(slot.config, before, event, this.clock);
    slot.state = state;
    for (const action of actions) {
      if (action.type === 'send-advert') {
        this.broadcast(router, action.priority, action.to);
      } else if (action.type === 'transition') {
        const { from, to, reason } = action;
        this.transitions.push({ time: this.clock, router, from, to, reason });
      } else if (action.type === 'split-brain') {
        this.splitBrains.push({ time: this.clock, router, peer: action.peer.address });
      } else {
        const ok = this.quorum(router);
        this.push(this.clock, () => this.apply(router, { type: 'quorum', ok }));
      }
    }
    this.armTimer(router);
    const record: StepRecord = { time: this.clock, router, event, before, after: state, actions };
    for (const hook of this.hooks) hook(record, this);
  }

  private armTimer(router: number): void {
    const slot = this.slot(router);
    slot.generation += 1;
    const generation = slot.generation;
    const deadline = nextDeadline(slot.state);
    if (deadline === undefined) return;
    this.push(deadline, () => {
      if (slot.alive && slot.generation === generation) this.apply(router, { type: 'timer' });
    });
  }

  /** To every connected router, or with `only` (an address) to that router alone (unicast). */
  private broadcast(from: number, priority: number, only?: number): void {
    const { primaryAddress, advertIntervalCs } = this.slot(from).config;
    const advert: FsmEvent = {
      type: 'advert',
      src: primaryAddress,
      priority,
      intervalCs: advertIntervalCs,
    };
    this.routers.forEach((receiver, to) => {
      if (to === from || !receiver.alive || !this.connected(from, to)) return;
      if (only !== undefined && receiver.config.primaryAddress !== only) return;
      const linkLoss = this.linkLoss.get(linkKey(from, to)) ?? 0;
      if (this.random() < 1 - (1 - this.loss) * (1 - linkLoss)) return;
      const delay = this.delay.min + this.random() * (this.delay.max - this.delay.min);
      this.push(this.clock + delay, () => {
        if (receiver.alive) this.apply(to, advert);
      });
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
