/**
 * RouterCore: every decision about one virtual router's mastership, as a pure reducer
 * `step(state, event, now) -> { state, effects }`.
 *
 * Contract:
 * - Pure and total: no I/O, no clock (`now` is the caller's monotonic ms), no throw for any event
 *   in any state. States are never mutated.
 * - It owns the receive verdict (HMAC, codec, checks: receive.ts), the VRRP state machine
 *   (vrrp/fsm.ts), the stall grace, fault causes and their expiry, quorum rounds, plan identity,
 *   the gratuitous-ARP refresh and re-assertion announcements, and in-place config updates.
 * - Timers are declarative: after every step the shell arms one timer at `deadline(state)` and
 *   delivers `tick` when it is due; an early or spurious tick changes nothing.
 * - Every plan carries an id and the role it serves. When the router leaves that role the plan is
 *   cancelled (`cancel-plan`) and superseded by the new role's plan; a `plan-done` for a plan
 *   that is no longer current changes nothing, so nothing is ever done for a state the router
 *   has left (no refresh armed, no fault raised, no VIP re-announced).
 * - Quorum probe results carry their round; an answer to a round no longer pending is ignored.
 */
import type { InstanceConfig } from '../config/instance.js';
import type { Role } from '../actions/plan.js';
import {
  DEAF_AFTER,
  MS_PER_CS,
  initialState,
  nextDeadline,
  step as fsmStep,
  type AdvertCause,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmResult,
  type FsmState,
  type Peer,
  type TransitionAction,
  type VrrpState,
} from '../vrrp/fsm.js';
import {
  initialState as carpInitialState,
  step as carpStep,
  type CarpEvent,
  type CarpFsmConfig,
  type CarpTiming,
} from '../carp/fsm.js';
import type { DaemonEvent } from './events.js';
import { faultKey, type Fault, type FaultCause } from './faults.js';
import { masterIsolated, parseTarget, takeoverVerdict, type Probe } from './quorum.js';
import { CARP_RESIGN } from '../carp/packet.js';
import { carpVerdict, receiveVerdict, type ReceivedPacket } from './receive.js';

export interface CoreConfig {
  instance: InstanceConfig;
  /** The link's primary address: the advert source and the tie-break address. */
  primary: { address: string; prefix: number };
  /** Whether the transport reports the received TTL (raw) or not (udp). */
  ttlChecked: boolean;
}

export interface CoreCounters {
  advertsReceived: number;
  /** Another master heard while master (we won and re-asserted). */
  splitBrains: number;
  /** Lower masters that could not hear us: we yielded and held off. */
  oneWayLosses: number;
  quorumDenied: number;
  quorumLost: number;
  /** Master-down timers that fired late (this box stalled) and were given one more interval. */
  stalls: number;
  /** VIPs a master found removed under it (by hand, by another tool) and put back. */
  vipsRestored: number;
}

export interface PlanRef {
  id: number;
  role: Role;
  done: boolean;
}

export interface CoreState {
  cfg: CoreConfig;
  /** The FSM's view of cfg; its priority is the effective one (health tracking moves it). */
  fsmConfig: FsmConfig;
  fsm: FsmState;
  faults: readonly Fault[];
  stopped: boolean;
  /** The plan issued last: the only one whose result counts. */
  plan: PlanRef | undefined;
  /** VIPs reported removed while the master plan ran: put back once it is done. */
  missing: readonly string[];
  nextPlanId: number;
  /** Master only, once its plan is done: when the next gratuitous-ARP refresh is due. */
  refreshAt: number | undefined;
  lastReassertAnnounce: number | undefined;
  /** The quorum probe round whose answer is awaited. */
  quorumRound: { round: number; purpose: 'takeover' | 'watch' } | undefined;
  nextRound: number;
  /** Master (or FAULT for lost quorum): when the next quorum watch round starts. */
  quorumWatchAt: number | undefined;
  /** The master-down deadline already extended once for a stall (never extended twice). */
  stallGraceAt: number | undefined;
  nonces: ReadonlyMap<string, bigint>;
  counters: CoreCounters;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type CoreEffect =
  /**
   * An advert with this priority: to the group or the unicast peers, or with `to` to one router.
   * A CARP instance's carries the timing to send instead (advbase 255 / advskew 255 to resign).
   */
  | { type: 'send'; priority: number; cause: AdvertCause; to?: string; carp?: CarpTiming }
  | { type: 'run-plan'; id: number; role: Role }
  /** Stop plan `id` at its next step boundary, killing a running hook's process group. */
  | { type: 'cancel-plan'; id: number }
  /** Gratuitous ARP for the VIPs (while master: refresh, or after re-asserting). */
  | { type: 'announce'; why: 'refresh' | 'reassert' }
  /** Put these VIPs back on the interface and announce them; answer with `vips-restored`. */
  | { type: 'restore-vips'; addresses: string[] }
  /** Probe the quorum's witnesses and peers; answer with `quorum-probed` for this round. */
  | { type: 'probe-quorum'; round: number }
  /** A packet refused: counted by reason (and logged without flooding) by the shell. */
  | { type: 'rejected'; reason: string; detail: string; src: string }
  | { type: 'event'; event: DaemonEvent }
  | {
      type: 'log';
      level: LogLevel;
      event: string;
      fields: Record<string, unknown>;
      msg: string;
    };

export type CoreEvent =
  /** Start-up done (what an earlier run left is cleared): the election starts. */
  | { type: 'start' }
  | { type: 'packet'; packet: ReceivedPacket; wallMs: number }
  | { type: 'tick' }
  | { type: 'plan-done'; id: number; ok: boolean; cancelled: boolean; detail?: string }
  | { type: 'fault'; cause: FaultCause; detail: string; forMs?: number }
  | { type: 'clear'; cause: FaultCause }
  /** Health tracking moved the effective priority. */
  | { type: 'priority'; priority: number; why: string }
  | { type: 'quorum-probed'; round: number; witnesses: Probe[]; peers: Probe[] }
  /** Reload in place: keys a running router can take (priority, timers, hooks, hmac...). */
  | { type: 'update'; instance: InstanceConfig }
  /** The link's primary address changed: adverts leave from it and the tie-break uses it. */
  | { type: 'source'; primary: { address: string; prefix: number } }
  /** Addresses removed from the interface by someone else (the kernel's address monitor). */
  | { type: 'vips-missing'; addresses: string[] }
  | { type: 'vips-restored'; addresses: string[]; ok: boolean; detail?: string }
  | { type: 'shutdown' };

export interface CoreResult {
  state: CoreState;
  effects: CoreEffect[];
}

function fsmConfigOf(cfg: CoreConfig, priority: number): FsmConfig {
  const i = cfg.instance;
  // Without authentication anyone can forge a lower advert: only configured peers may make us
  // yield as a master that cannot hear us.
  const peers = [...i.unicastPeers, ...(i.quorum?.peers ?? [])]
    .map((p) => parseTarget(p)?.address)
    .filter((a): a is string => a !== undefined);
  return {
    version: i.version,
    priority,
    advertIntervalCs: i.advertIntervalCs,
    preempt: i.preempt,
    preemptDelayMs: i.preemptDelayMs,
    accept: i.accept,
    primaryAddress: cfg.primary.address,
    reassertOnLower: i.reassertOnLower,
    quorumGated: i.quorum !== null,
    holdDownMs: i.holdDownMs,
    oneWayFrom: i.hmac !== null ? 'any' : peers,
  };
}

/**
 * A CARP instance's machine config. Health tracking moves the effective priority; for CARP a
 * priority that many points below the configured one raises the skew as much (capped at 254), so
 * a weakened box advertises less often and loses, as a lower priority does in VRRP.
 */
function carpConfigOf(cfg: CoreConfig, priority: number): CarpFsmConfig | undefined {
  const carp = cfg.instance.carp;
  if (carp === null) return undefined;
  const advskew = Math.min(254, Math.max(0, carp.advskew + cfg.instance.priority - priority));
  return {
    advbase: carp.advbase,
    advskew,
    deadRatio: carp.deadRatio,
    preempt: cfg.instance.preempt,
    primaryAddress: cfg.primary.address,
  };
}

export function initialCore(cfg: CoreConfig): CoreState {
  const fsmConfig = fsmConfigOf(cfg, cfg.instance.priority);
  const carp = carpConfigOf(cfg, cfg.instance.priority);
  return {
    cfg,
    fsmConfig,
    fsm: carp === undefined ? initialState(fsmConfig) : carpInitialState(carp),
    faults: [],
    stopped: false,
    plan: undefined,
    missing: [],
    nextPlanId: 1,
    refreshAt: undefined,
    lastReassertAnnounce: undefined,
    quorumRound: undefined,
    nextRound: 1,
    quorumWatchAt: undefined,
    stallGraceAt: undefined,
    nonces: new Map(),
    counters: {
      advertsReceived: 0,
      splitBrains: 0,
      oneWayLosses: 0,
      quorumDenied: 0,
      quorumLost: 0,
      stalls: 0,
      vipsRestored: 0,
    },
  };
}

/** When the shell must deliver the next `tick`, or undefined for none. */
export function deadline(s: CoreState): number | undefined {
  if (s.stopped) return undefined;
  const all = [
    nextDeadline(s.fsm),
    s.refreshAt,
    s.quorumWatchAt,
    ...s.faults.map((f) => f.until),
  ].filter((t): t is number => t !== undefined);
  return all.length === 0 ? undefined : Math.min(...all);
}

/** Effects are collected here while a step runs; the state is replaced, never mutated. */
class Step {
  readonly effects: CoreEffect[] = [];
  constructor(
    public s: CoreState,
    readonly now: number,
  ) {}

  get name(): string {
    return this.s.cfg.instance.name;
  }

  log(level: LogLevel, event: string, fields: Record<string, unknown>, msg: string): void {
    this.effects.push({ type: 'log', level, event, fields, msg });
  }

  emit(event: DaemonEvent): void {
    this.effects.push({ type: 'event', event });
  }

  count(key: keyof CoreCounters): void {
    this.s = { ...this.s, counters: { ...this.s.counters, [key]: this.s.counters[key] + 1 } };
  }
}

export function step(state: CoreState, event: CoreEvent, now: number): CoreResult {
  const st = new Step(state, now);
  handle(st, event);
  return { state: st.s, effects: st.effects };
}

function handle(st: Step, event: CoreEvent): void {
  if (st.s.stopped && event.type !== 'plan-done') return;
  switch (event.type) {
    case 'start':
      fsm(st, { type: 'startup' });
      return;
    case 'packet':
      packet(st, event.packet, event.wallMs);
      return;
    case 'tick':
      tick(st);
      return;
    case 'plan-done':
      planDone(st, event);
      return;
    case 'fault':
      raiseFault(st, event.cause, event.detail, event.forMs);
      return;
    case 'clear':
      clearFault(st, event.cause);
      return;
    case 'priority':
      setPriority(st, event.priority, event.why);
      return;
    case 'quorum-probed':
      quorumProbed(st, event);
      return;
    case 'update':
      update(st, event.instance);
      return;
    case 'source':
      source(st, event.primary);
      return;
    case 'vips-missing':
      vipsMissing(st, event.addresses);
      return;
    case 'vips-restored':
      vipsRestored(st, event);
      return;
    case 'shutdown':
      st.s = { ...st.s, stopped: true, refreshAt: undefined, quorumWatchAt: undefined };
      fsm(st, { type: 'shutdown' });
      st.s = { ...st.s, quorumRound: undefined };
      return;
  }
}

function packet(st: Step, p: ReceivedPacket, wallMs: number): void {
  const cfg = st.s.cfg;
  if (cfg.instance.carp !== null) {
    const verdict = carpVerdict(cfg.instance, cfg.instance.carp, p);
    if (!verdict.ok) {
      rejected(st, verdict.reason, verdict.detail, p.src);
      return;
    }
    received(st);
    fsm(st, { type: 'carp-advert', src: p.src, ...verdict.timing });
    return;
  }
  const verdict = receiveVerdict(cfg.instance, p, {
    primary: cfg.primary,
    ttlChecked: cfg.ttlChecked,
    wallMs,
    nonces: st.s.nonces,
  });
  if (!verdict.ok) {
    rejected(st, verdict.reason, verdict.detail, p.src);
    return;
  }
  if (verdict.addressMismatch) {
    st.effects.push({
      type: 'rejected',
      reason: 'address-mismatch-accepted',
      detail: `advertised ${verdict.advert.addresses.join(',')}`,
      src: p.src,
    });
  }
  if (verdict.nonces !== st.s.nonces) st.s = { ...st.s, nonces: verdict.nonces };
  received(st);
  fsm(st, {
    type: 'advert',
    src: verdict.src,
    priority: verdict.advert.priority,
    intervalCs: verdict.advert.intervalCs,
  });
}

function rejected(st: Step, reason: string, detail: string, src: string): void {
  st.effects.push({ type: 'rejected', reason, detail, src });
  st.emit({ type: 'rejected', instance: st.name, reason });
}

function received(st: Step): void {
  st.count('advertsReceived');
}

function tick(st: Step): void {
  const now = st.now;
  for (const f of st.s.faults) if (f.until !== undefined && f.until <= now) clearFault(st, f.cause);
  const due = nextDeadline(st.s.fsm);
  if (due !== undefined && due <= now) masterDownOrAdvert(st, due);
  if (st.s.refreshAt !== undefined && st.s.refreshAt <= now) {
    st.effects.push({ type: 'announce', why: 'refresh' });
    st.s = { ...st.s, refreshAt: now + st.s.cfg.instance.garp.refreshMs };
  }
  if (st.s.quorumWatchAt !== undefined && st.s.quorumWatchAt <= now) {
    st.s = { ...st.s, quorumWatchAt: undefined };
    probe(st, 'watch');
  }
}

/**
 * A backup's master-down timer firing more than half an advert interval past its deadline means
 * this box was not running (stalled, or the whole machine was: the soak saw a VM stall of ~0.4 s).
 * The master's sender most likely stalled with it and sends as soon as it runs again, so deciding
 * now would take over from a live master: wait one more advert interval, once.
 */
function masterDownOrAdvert(st: Step, due: number): void {
  const s = st.s;
  const lateMs = st.now - due;
  const intervalMs = s.fsm.masterAdverIntervalCs * MS_PER_CS;
  if (s.fsm.state === 'backup' && lateMs > intervalMs / 2 && s.stallGraceAt !== due) {
    const graceAt = st.now + intervalMs;
    st.s = { ...s, fsm: { ...s.fsm, masterDownAt: graceAt }, stallGraceAt: graceAt };
    st.count('stalls');
    st.log(
      'warn',
      'stalled',
      { lateMs: Math.round(lateMs), graceMs: intervalMs },
      `${st.name}: master-down timer ${Math.round(lateMs)} ms late (this box was stalled): ` +
        `one more advert interval (${intervalMs} ms) for the master to be heard`,
    );
    return;
  }
  fsm(st, { type: 'timer' });
}

type MachineEvent = FsmEvent | Extract<CarpEvent, { type: 'carp-advert' }>;

/** The instance's protocol machine; an event the other protocol's machine knows changes nothing. */
function fsm(st: Step, event: MachineEvent): void {
  const result = machineStep(st.s, event, st.now);
  st.s = { ...st.s, fsm: result.state };
  for (const action of result.actions) perform(st, action);
}

function machineStep(s: CoreState, event: MachineEvent, now: number): FsmResult {
  const carp = carpConfigOf(s.cfg, s.fsmConfig.priority);
  if (carp !== undefined) {
    return event.type === 'advert' || event.type === 'quorum'
      ? { state: s.fsm, actions: [] }
      : carpStep(carp, s.fsm, event, now);
  }
  return event.type === 'carp-advert'
    ? { state: s.fsm, actions: [] }
    : fsmStep(s.fsmConfig, s.fsm, event, now);
}

/** What a CARP advert carries: our timing, or the resign pair for a priority-0 advert. */
function carpTiming(s: CoreState, priority: number): CarpTiming | undefined {
  const carp = carpConfigOf(s.cfg, s.fsmConfig.priority);
  if (carp === undefined) return undefined;
  return priority === 0 ? CARP_RESIGN : { advbase: carp.advbase, advskew: carp.advskew };
}

/** How a router ranks in log lines: VRRP's priority or CARP's advbase/advskew. */
function rankOf(peer: Pick<Peer, 'priority' | 'carp'>): string {
  return peer.carp === undefined
    ? `priority ${peer.priority}`
    : `advbase ${peer.carp.advbase} advskew ${peer.carp.advskew}`;
}

function ownRank(s: CoreState): string {
  return rankOf({ priority: s.fsmConfig.priority, carp: carpTiming(s, s.fsmConfig.priority) });
}

function perform(st: Step, action: FsmAction): void {
  switch (action.type) {
    case 'send-advert': {
      const carp = carpTiming(st.s, action.priority);
      st.effects.push({
        type: 'send',
        priority: action.priority,
        cause: action.cause,
        ...(action.to === undefined ? {} : { to: action.to }),
        ...(carp === undefined ? {} : { carp }),
      });
      if (action.cause === 'reassert-lower') reasserted(st);
      return;
    }
    case 'split-brain': {
      st.count('splitBrains');
      st.emit({ type: 'split-brain', instance: st.name });
      const peer = action.peer.address;
      st.log(
        'warn',
        'split-brain',
        {
          peer,
          ...peerFields(action.peer),
          priority: st.s.fsmConfig.priority,
          masterForMs: Math.round(action.masterForMs),
          outcome: 'reassert',
        },
        `${st.name}: split brain: ${peer} (${rankOf(action.peer)}) is master too; we (${ownRank(st.s)}, master for ${(action.masterForMs / 1000).toFixed(1)} s) win: re-asserting and re-pointing neighbours`,
      );
      return;
    }
    case 'check-quorum':
      probe(st, 'takeover');
      return;
    case 'transition':
      transition(st, action);
      return;
  }
}

/**
 * Neighbours may point at the other master: re-announce, at most once per advert interval, and
 * only once the master plan is done (until then the VIPs may not be ours yet, and the plan's own
 * gratuitous ARP step announces them).
 */
function reasserted(st: Step): void {
  if (st.s.plan?.role !== 'master' || !st.s.plan.done) return;
  const last = st.s.lastReassertAnnounce;
  const intervalMs = st.s.cfg.instance.advertIntervalCs * MS_PER_CS;
  if (last !== undefined && st.now - last < intervalMs) return;
  st.s = { ...st.s, lastReassertAnnounce: st.now };
  st.effects.push({ type: 'announce', why: 'reassert' });
}

function transition(st: Step, action: TransitionAction): void {
  const { from, to, reason, peer } = action;
  const peerAddress = peer?.address;
  st.emit({ type: 'transition', instance: st.name, from, to, reason });
  const protocol = st.s.cfg.instance.protocol;
  st.log(
    'info',
    'transition',
    {
      protocol,
      from,
      to,
      reason,
      priority: st.s.fsmConfig.priority,
      ...(protocol === 'carp' ? carpTiming(st.s, st.s.fsmConfig.priority) : {}),
      peer: peerAddress,
      ...(peer === undefined ? {} : peerFields(peer)),
      masterForMs: action.masterForMs === undefined ? undefined : Math.round(action.masterForMs),
      faults: to === 'fault' ? st.s.faults.map((f) => faultKey(f.cause)) : undefined,
    },
    `${st.name}: ${from} -> ${to} (${reason}, ${protocol})`,
  );
  if (reason === 'peer-cannot-hear-us') {
    st.count('oneWayLosses');
    const holdDownMs = st.s.cfg.instance.holdDownMs;
    st.log(
      'warn',
      'one-way-loss',
      { peer: peerAddress, peerPriority: peer?.priority, holdDownMs },
      `${st.name}: one-way loss: ${peerAddress ?? '?'} stays master through ${DEAF_AFTER} re-assertions, so it cannot hear us; yielding to it and not preempting for ${holdDownMs / 1000} s`,
    );
  }
  st.s = {
    ...st.s,
    refreshAt: undefined,
    quorumWatchAt: undefined,
    quorumRound: st.s.quorumRound?.purpose === 'watch' ? undefined : st.s.quorumRound,
  };
  const role = planFor(from, to);
  if (role !== undefined) issuePlan(st, role);
  if (to === 'master' || (to === 'fault' && hasFault(st.s, 'quorum'))) watchQuorum(st);
}

function peerFields(peer: Peer): Record<string, number> {
  return peer.carp === undefined
    ? { peerPriority: peer.priority }
    : { peerAdvbase: peer.carp.advbase, peerAdvskew: peer.carp.advskew };
}

/** Entering backup from anywhere but master also reconciles: start-up, recovery from fault. */
function planFor(from: VrrpState, to: VrrpState): Role | undefined {
  if (to === 'master' || to === 'fault') return to;
  if (to === 'backup' || from === 'master') return 'backup';
  return undefined;
}

function issuePlan(st: Step, role: Role): void {
  const prior = st.s.plan;
  if (prior !== undefined && !prior.done) st.effects.push({ type: 'cancel-plan', id: prior.id });
  const id = st.s.nextPlanId;
  st.s = { ...st.s, plan: { id, role, done: false }, missing: [], nextPlanId: id + 1 };
  st.effects.push({ type: 'run-plan', id, role });
}

function planDone(st: Step, event: Extract<CoreEvent, { type: 'plan-done' }>): void {
  const plan = st.s.plan;
  if (plan === undefined || plan.id !== event.id) {
    st.log(
      'debug',
      'plan-superseded',
      { id: event.id, ok: event.ok },
      `${st.name}: plan ${event.id} ended after it was superseded; its result is ignored`,
    );
    return;
  }
  st.s = { ...st.s, plan: { ...plan, done: true } };
  if (st.s.stopped || event.cancelled) return;
  const here = st.s.fsm.state === plan.role;
  if (event.ok && here && plan.role === 'master' && st.s.cfg.instance.garp.refreshMs > 0) {
    st.s = { ...st.s, refreshAt: st.now + st.s.cfg.instance.garp.refreshMs };
  }
  if (event.ok && here && plan.role === 'master' && st.s.missing.length > 0) {
    const missing = st.s.missing;
    st.s = { ...st.s, missing: [] };
    vipsMissing(st, missing);
  }
  if (!event.ok && here) {
    raiseFault(
      st,
      { kind: 'plan', role: plan.role },
      `${plan.role} plan failed${event.detail === undefined ? '' : `: ${event.detail}`}`,
      st.s.cfg.instance.faultRecoveryMs,
    );
  }
}

function hasFault(s: CoreState, kind: FaultCause['kind']): boolean {
  return s.faults.some((f) => f.cause.kind === kind);
}

function faultsChanged(st: Step): void {
  st.emit({ type: 'faults', instance: st.name, causes: st.s.faults.map((f) => f.cause) });
}

/**
 * Holds the router in FAULT for `cause`: a master resigns with a priority-0 advert and the fault
 * plan releases everything. With `forMs` the cause clears itself after that long.
 */
function raiseFault(st: Step, cause: FaultCause, detail: string, forMs?: number): void {
  const key = faultKey(cause);
  const existing = st.s.faults.find((f) => faultKey(f.cause) === key);
  if (existing !== undefined && existing.detail === detail && forMs === undefined) return;
  const first = st.s.faults.length === 0;
  const fault: Fault = {
    cause,
    detail,
    until: forMs === undefined ? undefined : st.now + forMs,
  };
  st.s = {
    ...st.s,
    faults: [...st.s.faults.filter((f) => faultKey(f.cause) !== key), fault],
  };
  const keys = st.s.faults.map((f) => faultKey(f.cause));
  st.log(
    'warn',
    'fault-raised',
    { cause: key, detail, faults: keys },
    `${st.name}: ${key}: ${detail}`,
  );
  faultsChanged(st);
  if (first) fsm(st, { type: 'fault' });
}

/** Clears `cause`; the election restarts when no cause is left. */
function clearFault(st: Step, cause: FaultCause): void {
  const key = faultKey(cause);
  if (!st.s.faults.some((f) => faultKey(f.cause) === key)) return;
  st.s = { ...st.s, faults: st.s.faults.filter((f) => faultKey(f.cause) !== key) };
  const keys = st.s.faults.map((f) => faultKey(f.cause));
  st.log(
    'info',
    'fault-cleared',
    { cause: key, faults: keys },
    `${st.name}: ${key} cleared${keys.length > 0 ? `; still held by ${keys.join(', ')}` : ''}`,
  );
  faultsChanged(st);
  if (keys.length === 0) fsm(st, { type: 'recover' });
}

function setPriority(st: Step, priority: number, why: string): void {
  const before = st.s.fsmConfig.priority;
  if (priority === before) return;
  st.s = { ...st.s, fsmConfig: fsmConfigOf(st.s.cfg, priority) };
  st.log(
    'info',
    'priority-changed',
    { from: before, to: priority, why },
    `${st.name}: priority ${before} -> ${priority}${st.s.cfg.instance.carp === null ? '' : ` (CARP: ${ownRank(st.s)})`} (${why})`,
  );
  fsm(st, { type: 'priority-changed' });
}

/**
 * Takes a changed config in place (reload). Tracking restarts with the new config and reports
 * the effective priority again, so the configured one is taken here. A master advertises it at
 * once; a running refresh or quorum watch follows the new settings.
 */
function update(st: Step, instance: InstanceConfig): void {
  const cfg = { ...st.s.cfg, instance };
  const master = st.s.fsm.state === 'master';
  const refreshOn = master && st.s.plan?.done === true && instance.garp.refreshMs > 0;
  const q = instance.quorum;
  const watching = q !== null && (master || hasFault(st.s, 'quorum'));
  st.s = {
    ...st.s,
    cfg,
    fsmConfig: fsmConfigOf(cfg, instance.priority),
    refreshAt: refreshOn ? (st.s.refreshAt ?? st.now + instance.garp.refreshMs) : undefined,
    quorumWatchAt: watching ? (st.s.quorumWatchAt ?? st.now + q.intervalMs) : undefined,
  };
  st.log(
    'info',
    'updated',
    { priority: instance.priority },
    `${instance.name}: config updated in place`,
  );
  fsm(st, { type: 'priority-changed' });
  // Without a quorum any more, nothing may wait for one: a takeover waiting for its verdict goes
  // ahead (its answer would be ignored, leaving a backup with no timer), and a hold for lost
  // quorum ends (no watch round would ever clear it).
  if (q === null) {
    if (st.s.quorumRound?.purpose === 'takeover') {
      st.s = { ...st.s, quorumRound: undefined };
      fsm(st, { type: 'quorum', ok: true });
    }
    clearFault(st, { kind: 'quorum' });
  }
}

function source(st: Step, primary: { address: string; prefix: number }): void {
  const before = st.s.cfg.primary;
  if (before.address === primary.address && before.prefix === primary.prefix) return;
  const cfg = { ...st.s.cfg, primary };
  st.s = { ...st.s, cfg, fsmConfig: fsmConfigOf(cfg, st.s.fsmConfig.priority) };
  st.log(
    'info',
    'source-changed',
    { from: before.address, to: primary.address },
    `${st.name}: adverts now leave from ${primary.address} (was ${before.address})`,
  );
}

/**
 * A VIP removed under a settled master (by hand, by another tool, a flush) is put back at once:
 * the config says where the VIPs are. One removed while the master plan runs may already have
 * been added by it: it is put back when the plan is done. Outside master removing them is what
 * this box wants.
 */
function vipsMissing(st: Step, addresses: readonly string[]): void {
  const mine = new Set(st.s.cfg.instance.vips.map((v) => v.address));
  const missing = addresses.filter((a) => mine.has(a));
  if (missing.length === 0 || st.s.fsm.state !== 'master') return;
  // Entering master issues the master plan, so in master the current plan is that one.
  if (st.s.plan?.done !== true) {
    st.s = { ...st.s, missing: [...new Set([...st.s.missing, ...missing])] };
    return;
  }
  st.s = {
    ...st.s,
    counters: { ...st.s.counters, vipsRestored: st.s.counters.vipsRestored + missing.length },
  };
  st.log(
    'warn',
    'vips-missing',
    { vips: missing },
    `${st.name}: ${missing.length} VIP(s) removed from ${st.s.cfg.instance.interface} under this master (${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''}): putting them back`,
  );
  st.effects.push({ type: 'restore-vips', addresses: missing });
}

/** A restore that fails leaves the master unable to serve its VIPs: FAULT, as a failed plan. */
function vipsRestored(st: Step, event: Extract<CoreEvent, { type: 'vips-restored' }>): void {
  if (event.ok) {
    st.log(
      'info',
      'vips-restored',
      { vips: event.addresses },
      `${st.name}: ${event.addresses.length} VIP(s) put back and announced`,
    );
    return;
  }
  if (st.s.fsm.state !== 'master') return;
  raiseFault(
    st,
    { kind: 'plan', role: 'master' },
    `putting back removed VIPs failed${event.detail === undefined ? '' : `: ${event.detail}`}`,
    st.s.cfg.instance.faultRecoveryMs,
  );
}

function probe(st: Step, purpose: 'takeover' | 'watch'): void {
  const round = st.s.nextRound;
  st.s = { ...st.s, quorumRound: { round, purpose }, nextRound: round + 1 };
  st.effects.push({ type: 'probe-quorum', round });
}

function watchQuorum(st: Step): void {
  const q = st.s.cfg.instance.quorum;
  if (q === null) return;
  st.s = { ...st.s, quorumWatchAt: st.now + q.intervalMs };
}

function quorumProbed(st: Step, event: Extract<CoreEvent, { type: 'quorum-probed' }>): void {
  const pending = st.s.quorumRound;
  const q = st.s.cfg.instance.quorum;
  if (pending === undefined || pending.round !== event.round || q === null) return;
  st.s = { ...st.s, quorumRound: undefined };
  const { witnesses, peers } = event;
  if (pending.purpose === 'takeover') {
    // An advert meanwhile answered the question: the master is alive after all.
    if (!st.s.fsm.quorumPending) return;
    const verdict = takeoverVerdict(q, witnesses, peers);
    if (verdict.ok) {
      st.log('info', 'quorum-granted', { why: verdict.why }, `${st.name}: quorum: ${verdict.why}`);
    } else {
      st.count('quorumDenied');
      st.log(
        'warn',
        'quorum-denied',
        { why: verdict.why, down: [...witnesses, ...peers].filter((p) => !p.up) },
        `${st.name}: master down, but no quorum (${verdict.why}): staying backup`,
      );
    }
    fsm(st, { type: 'quorum', ok: verdict.ok });
    return;
  }
  // A watch round: a master cut off from everything resigns; a box held for lost quorum
  // recovers once a round would grant a takeover again.
  if (st.s.fsm.state === 'master' && masterIsolated(q, witnesses, peers)) {
    st.count('quorumLost');
    st.log(
      'warn',
      'quorum-lost',
      { down: [...witnesses, ...peers] },
      `${st.name}: no witness and no peer answers: this box is cut off`,
    );
    raiseFault(st, { kind: 'quorum' }, 'no witness and no peer answers');
    return;
  }
  if (st.s.fsm.state === 'fault' && hasFault(st.s, 'quorum')) {
    const verdict = takeoverVerdict(q, witnesses, peers);
    if (verdict.ok) {
      st.log(
        'info',
        'quorum-regained',
        { why: verdict.why },
        `${st.name}: quorum regained (${verdict.why})`,
      );
      clearFault(st, { kind: 'quorum' });
      return;
    }
  }
  if (st.s.fsm.state === 'master' || hasFault(st.s, 'quorum')) watchQuorum(st);
}
