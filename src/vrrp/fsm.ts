/**
 * VRRP protocol state machine: RFC 3768 section 6.4 for VRRPv2, RFC 5798 / RFC 9568 section 6.4
 * for VRRPv3.
 *
 * Contract: `step` is a pure function of (config, state, event, now). It performs no I/O, reads no
 * clock and arms no timer: `now` is the caller's clock in milliseconds (fractions allowed), the
 * caller delivers a 'timer' event once `now >= nextDeadline(state)`, and an early or spurious
 * 'timer' is a no-op. States are never mutated; a step that changes nothing returns the state it
 * was given. Actions are listed in the order the caller must perform them: the advert goes out
 * before the transition, on whose announcement the caller sends gratuitous ARP and moves the VIPs.
 * Adverts reaching `step` must already be validated (VRID, version, auth, checksum, TTL).
 */
import { compareAddresses } from '../net/address.js';

/**
 * 'fault' is keepalived's FAULT: the box cannot serve (its action plan failed, or later a tracked
 * interface or script is down). It neither advertises nor takes over until the shell says
 * 'recover', which restarts the election like a start-up.
 */
export type VrrpState = 'initialize' | 'backup' | 'master' | 'fault';

export interface FsmConfig {
  version: 2 | 3;
  /** 1..255; 255 = address owner. */
  priority: number;
  /** Configured Advertisement_Interval in centiseconds (v2: a multiple of 100). */
  advertIntervalCs: number;
  preempt: boolean;
  /** A backup does not preempt a lower-priority master until this long after it entered backup. */
  preemptDelayMs: number;
  /** Accept_Mode: only carried for the shell, which decides whether a master answers VIP traffic. */
  accept: boolean;
  /** The primary address (IPv6: the link-local adverts leave from), canonical text. */
  primaryAddress: string;
  /** RFC 9568: a master that hears a lower-priority advert asserts itself with an advert at once. */
  reassertOnLower: boolean;
  /**
   * A backup's takeover waits for the shell's quorum verdict (witnesses, peers): the machine asks
   * with 'check-quorum' and goes on with a 'quorum' event. Default false.
   */
  quorumGated?: boolean;
  /**
   * How long a master that yielded to a lower-priority master that cannot hear it (one-way loss)
   * stays backup without preempting it. Default 60 s.
   */
  holdDownMs?: number;
  /**
   * Who may make this master yield as a lower master that cannot hear it (one-way loss): 'any'
   * sender (adverts are authenticated), or only these addresses (configured peers), so a forged
   * lower advert from anyone else is answered with an advert and moves nothing. Default 'any';
   * the router core always sets it.
   */
  oneWayFrom?: 'any' | readonly string[];
}

export interface Peer {
  /** Canonical text (RFC 5952 for IPv6), so equal addresses are equal strings. */
  address: string;
  /** VRRP priority (0 for a CARP peer, which is ranked by `carp`). */
  priority: number;
  /** A CARP peer's advertised timing (carp/fsm.ts): the lower advbase, then advskew, wins. */
  carp?: { advbase: number; advskew: number };
}

/** Why a backup would take over if its Master_Down_Timer fired now. */
export type TakeoverReason =
  /** No acceptable advert for Master_Down_Interval (also: none at all since startup). */
  | 'master-down'
  /** The master resigned with a priority-0 advert, so the timer was cut to Skew_Time. */
  | 'priority-zero-heard'
  /** Preempt_Mode: the adverts of a lower-priority master were discarded, so the timer ran out. */
  | 'preempt-lower-priority';

export type TransitionReason =
  | 'owner-startup'
  | 'startup'
  | TakeoverReason
  | 'higher-priority'
  | 'equal-priority-higher-address'
  /** CARP: an equal master with the lower address (as ucarp orders them) wins. */
  | 'equal-priority-lower-address'
  /** CARP: the master advertises more slowly than our dead interval: it would time out anyway. */
  | 'master-too-slow'
  | 'shutdown'
  | 'fault'
  | 'recovered'
  /** A lower-priority master kept advertising through our re-assertions: it cannot hear us. */
  | 'peer-cannot-hear-us';

export interface FsmState {
  state: VrrpState;
  /** v3: learned from the current master's adverts while backup; v2: always the configured one. */
  masterAdverIntervalCs: number;
  /** Backup only: when Master_Down_Timer fires. */
  masterDownAt: number | undefined;
  /** Master only: when Adver_Timer fires. */
  advertAt: number | undefined;
  /** Backup only: when this router entered backup (the preempt delay counts from here). */
  backupSince: number | undefined;
  /**
   * Backup only: the router whose last advert decided our Master_Down_Timer: the master we
   * accepted, the master that resigned (kept with priority 0), or the lower-priority master whose
   * adverts we discard to preempt it. It is the `peer` of our eventual takeover transition.
   */
  master: Peer | undefined;
  /** Backup only: the reason our takeover transition will give if Master_Down_Timer fires. */
  takeoverReason: TakeoverReason | undefined;
  /** Backup only: the timer fired and the takeover waits for the quorum verdict. */
  quorumPending: boolean;
  /** Backup only: until then a lower-priority master is accepted as if preemption were off. */
  holdUntil: number | undefined;
  /** Master only: when this router became master. */
  masterSince: number | undefined;
  /** Master only: the master we preempted (its last adverts are a hand-over, not a split brain). */
  preempted: Peer | undefined;
  /** Master only: another master we hear (split brain) and its adverts since we re-asserted. */
  rival: Rival | undefined;
}

export interface Rival extends Peer {
  lastHeard: number;
  /**
   * Its advert intervals that ended with it still master after one of our re-assertions: each
   * says it did not hear us. Only one advert per interval of real time counts, so a burst of its
   * own re-assertions (answering third routers) is not mistaken for deafness.
   */
  unanswered: number;
  lastCounted: number;
}

export type FsmEvent =
  | { type: 'startup' }
  | { type: 'shutdown' }
  | { type: 'advert'; src: string; priority: number; intervalCs: number }
  | { type: 'timer' }
  | { type: 'fault' }
  | { type: 'recover' }
  /** The shell's answer to 'check-quorum'. */
  | { type: 'quorum'; ok: boolean }
  /** `config.priority` changed (health tracking): a master advertises the new one at once. */
  | { type: 'priority-changed' };

export type AdvertCause =
  | 'adver-timer'
  | 'became-master'
  | 'reassert-lower'
  | 'answer-priority-zero'
  | 'shutdown'
  | 'fault'
  /** A master yielding to a higher one it heard says so once, so the winner hears it too. */
  | 'yield-notice'
  | 'priority-change';

export type FsmAction =
  /** To the group (or the unicast peers); with `to`, to that one router only. */
  | { type: 'send-advert'; priority: number; cause: AdvertCause; to?: string }
  | {
      type: 'transition';
      from: VrrpState;
      to: VrrpState;
      reason: TransitionReason;
      peer: Peer | undefined;
      /** Leaving master: how long we were master. */
      masterForMs?: number;
    }
  /** A master heard another master of this VRID that ranks lower: split brain, we win. */
  | { type: 'split-brain'; peer: Peer; masterForMs: number }
  /** Takeover pending: the shell checks the quorum and answers with a 'quorum' event. */
  | { type: 'check-quorum' };

export interface FsmResult {
  state: FsmState;
  actions: FsmAction[];
}

type AdvertEvent = Extract<FsmEvent, { type: 'advert' }>;
export type TransitionAction = Extract<FsmAction, { type: 'transition' }>;

export const MS_PER_CS = 10;
const PRIORITY_RESIGN = 0;
const PRIORITY_OWNER = 255;
/** Adverts of a lower master after our re-assertions before we conclude it cannot hear us. */
export const DEAF_AFTER = 3;
const DEFAULT_HOLD_DOWN_MS = 60_000;
/** A rival silent for this many advert intervals is gone; hearing it again is a new episode. */
const EPISODE_GAP_INTERVALS = 3;
/**
 * Two of a rival's adverts count as separate evidence only this fraction of its interval apart:
 * a real sender's adverts arrive an interval apart give or take delivery jitter.
 */
const EVIDENCE_SPACING = 0.75;

function mayConcludeDeaf(config: FsmConfig, address: string): boolean {
  const from = config.oneWayFrom ?? 'any';
  return from === 'any' || from.includes(address);
}

export function initialState(config: FsmConfig): FsmState {
  return {
    state: 'initialize',
    masterAdverIntervalCs: config.advertIntervalCs,
    masterDownAt: undefined,
    advertAt: undefined,
    backupSince: undefined,
    master: undefined,
    takeoverReason: undefined,
    quorumPending: false,
    holdUntil: undefined,
    masterSince: undefined,
    preempted: undefined,
    rival: undefined,
  };
}

/** Not rounded: sub-millisecond skews are what keep backups of close priorities apart. */
export function skewTimeMs(config: FsmConfig, masterAdverIntervalCs: number): number {
  // RFC 3768 defines the v2 skew in seconds, independent of the advertisement interval.
  if (config.version === 2) return ((256 - config.priority) * 1000) / 256;
  return ((256 - config.priority) * masterAdverIntervalCs * MS_PER_CS) / 256;
}

export function masterDownIntervalMs(config: FsmConfig, masterAdverIntervalCs: number): number {
  return 3 * masterAdverIntervalCs * MS_PER_CS + skewTimeMs(config, masterAdverIntervalCs);
}

export function nextDeadline(state: FsmState): number | undefined {
  switch (state.state) {
    case 'initialize':
    case 'fault':
      return undefined;
    case 'backup':
      return state.masterDownAt;
    case 'master':
      return state.advertAt;
  }
}

export function step(config: FsmConfig, state: FsmState, event: FsmEvent, now: number): FsmResult {
  // Our own multicast echo is dropped by the shell; should one slip through, it must not count
  // as an equal-priority rival.
  if (event.type === 'advert' && event.src === config.primaryAddress) return unchanged(state);
  if (event.type === 'fault') return enterFault(config, state, now);
  switch (state.state) {
    case 'initialize':
      return event.type === 'startup'
        ? startup(config, now, 'initialize', 'startup')
        : unchanged(state);
    case 'fault':
      return faultStep(config, state, event, now);
    case 'backup':
      return backupStep(config, state, event, now);
    case 'master':
      return masterStep(config, state, event, now);
  }
}

function startup(
  config: FsmConfig,
  now: number,
  from: 'initialize' | 'fault',
  reason: 'startup' | 'recovered',
): FsmResult {
  if (config.priority === PRIORITY_OWNER) {
    return becomeMaster(
      config,
      now,
      from,
      from === 'initialize' ? 'owner-startup' : reason,
      undefined,
    );
  }
  return {
    state: enterBackup(config, now, config.advertIntervalCs, undefined),
    actions: [transition(from, 'backup', reason, undefined)],
  };
}

/** A master resigns with priority 0 so a backup takes over after Skew_Time, not Master_Down. */
function enterFault(config: FsmConfig, state: FsmState, now: number): FsmResult {
  if (state.state === 'fault') return unchanged(state);
  const resign = state.state === 'master' ? [sendAdvert(PRIORITY_RESIGN, 'fault')] : [];
  return {
    state: { ...initialState(config), state: 'fault' },
    actions: [
      ...resign,
      state.state === 'master'
        ? leaveMaster(state, now, 'fault', 'fault', undefined)
        : transition(state.state, 'fault', 'fault', undefined),
    ],
  };
}

function faultStep(config: FsmConfig, state: FsmState, event: FsmEvent, now: number): FsmResult {
  switch (event.type) {
    case 'recover':
      return startup(config, now, 'fault', 'recovered');
    case 'shutdown':
      return {
        state: initialState(config),
        actions: [transition('fault', 'initialize', 'shutdown', undefined)],
      };
    default:
      return unchanged(state);
  }
}

function backupStep(config: FsmConfig, state: FsmState, event: FsmEvent, now: number): FsmResult {
  switch (event.type) {
    // priority-changed: the next advert is judged against the new priority (the skew follows).
    case 'startup':
    case 'fault':
    case 'recover':
    case 'priority-changed':
      return unchanged(state);
    case 'shutdown':
      return {
        state: initialState(config),
        actions: [transition('backup', 'initialize', 'shutdown', undefined)],
      };
    case 'timer':
      if (state.masterDownAt === undefined || now < state.masterDownAt) return unchanged(state);
      if (config.quorumGated === true) {
        return {
          state: { ...state, masterDownAt: undefined, quorumPending: true },
          actions: [{ type: 'check-quorum' }],
        };
      }
      return takeOver(config, state, now);
    case 'quorum':
      if (!state.quorumPending) return unchanged(state);
      if (event.ok) return takeOver(config, state, now);
      // Denied: stay backup and ask again after another master-down interval.
      return {
        state: {
          ...state,
          quorumPending: false,
          masterDownAt: now + masterDownIntervalMs(config, state.masterAdverIntervalCs),
        },
        actions: [],
      };
    case 'advert':
      return { state: backupAdvert(config, state, event, now), actions: [] };
  }
}

function takeOver(config: FsmConfig, state: FsmState, now: number): FsmResult {
  const reason = state.takeoverReason ?? 'master-down';
  const result = becomeMaster(config, now, 'backup', reason, state.master);
  return reason === 'preempt-lower-priority'
    ? { ...result, state: { ...result.state, preempted: state.master } }
    : result;
}

function backupAdvert(
  config: FsmConfig,
  state: FsmState,
  event: AdvertEvent,
  now: number,
): FsmState {
  const sender: Peer = { address: event.src, priority: event.priority };
  if (event.priority === PRIORITY_RESIGN) {
    return {
      ...state,
      masterDownAt: now + skewTimeMs(config, state.masterAdverIntervalCs),
      master: sender,
      takeoverReason: 'priority-zero-heard',
      quorumPending: false,
    };
  }
  const preemptDelayOver = now >= (state.backupSince ?? now) + config.preemptDelayMs;
  const holding = state.holdUntil !== undefined && now < state.holdUntil;
  if (config.preempt && event.priority < config.priority && preemptDelayOver && !holding) {
    // Discarding the advert lets the running Master_Down_Timer expire: that is the preemption.
    return { ...state, master: sender, takeoverReason: 'preempt-lower-priority' };
  }
  const intervalCs = learnedIntervalCs(config, event);
  return {
    ...state,
    masterAdverIntervalCs: intervalCs,
    masterDownAt: now + masterDownIntervalMs(config, intervalCs),
    master: sender,
    takeoverReason: 'master-down',
    quorumPending: false,
  };
}

function masterStep(config: FsmConfig, state: FsmState, event: FsmEvent, now: number): FsmResult {
  switch (event.type) {
    case 'startup':
    case 'fault':
    case 'recover':
    case 'quorum':
      return unchanged(state);
    case 'priority-changed':
      return readvertise(config, state, now, 'priority-change');
    case 'shutdown':
      return {
        state: initialState(config),
        actions: [
          sendAdvert(PRIORITY_RESIGN, 'shutdown'),
          leaveMaster(state, now, 'initialize', 'shutdown', undefined),
        ],
      };
    case 'timer':
      if (state.advertAt === undefined || now < state.advertAt) return unchanged(state);
      return readvertise(config, state, now, 'adver-timer');
    case 'advert':
      return masterAdvert(config, state, event, now);
  }
}

function masterAdvert(
  config: FsmConfig,
  state: FsmState,
  event: AdvertEvent,
  now: number,
): FsmResult {
  if (event.priority === PRIORITY_RESIGN) {
    return readvertise(config, state, now, 'answer-priority-zero');
  }
  const sender: Peer = { address: event.src, priority: event.priority };
  const reason = yieldReason(config, event);
  if (reason !== undefined) {
    // Our last advert tells the winner we were master too: it re-asserts and re-points the
    // neighbours, which may still point at us (otherwise it never learns there was a split).
    // Unicast to the winner alone: other backups must not take it for a master's advert.
    return {
      state: enterBackup(config, now, learnedIntervalCs(config, event), sender),
      actions: [
        sendAdvert(config.priority, 'yield-notice', sender.address),
        leaveMaster(state, now, 'backup', reason, sender),
      ],
    };
  }
  return rivalAdvert(config, state, sender, event.intervalCs, now);
}

/**
 * Another master ranking lower: a split brain we win (RFC 9568: re-assert at once). Reported
 * once per episode, not when it is the master we just preempted handing over. If it keeps
 * advertising through DEAF_AFTER re-assertions, spread over its intervals, it cannot hear us
 * (one-way loss): two masters would last as long as the loss, so we yield and hold off
 * preempting it for holdDownMs, but only to a sender `oneWayFrom` trusts.
 */
function rivalAdvert(
  config: FsmConfig,
  state: FsmState,
  sender: Peer,
  intervalCs: number,
  now: number,
): FsmResult {
  // Measured in the rival's own interval (never shorter than ours, whatever it claims): it is
  // its silence that ends an episode, and only one of its adverts per interval of real time
  // counts as evidence, so a burst (its re-assertions to third routers, or a forger's flood)
  // never adds up to a conclusion.
  const intervalMs = Math.max(intervalCs, config.advertIntervalCs) * MS_PER_CS;
  const gapMs = EPISODE_GAP_INTERVALS * intervalMs;
  const prior = state.rival;
  const fresh =
    prior === undefined || prior.address !== sender.address || now - prior.lastHeard > gapMs;
  const counts = !fresh && now - prior.lastCounted >= intervalMs * EVIDENCE_SPACING;
  const rival: Rival = fresh
    ? { ...sender, lastHeard: now, unanswered: 0, lastCounted: now }
    : {
        ...sender,
        lastHeard: now,
        unanswered: prior.unanswered + (counts ? 1 : 0),
        lastCounted: counts ? now : prior.lastCounted,
      };
  const masterForMs = now - (state.masterSince ?? now);
  const handover = state.preempted?.address === sender.address && masterForMs <= gapMs;
  const report: FsmAction[] =
    fresh && !handover ? [{ type: 'split-brain', peer: sender, masterForMs }] : [];
  if (!config.reassertOnLower) return { state: { ...state, rival }, actions: report };
  if (rival.unanswered >= DEAF_AFTER && mayConcludeDeaf(config, sender.address)) {
    return {
      state: {
        // Its adverts now keep our timer: learn its interval as from any master we accept.
        ...enterBackup(
          config,
          now,
          config.version === 3 ? intervalCs : config.advertIntervalCs,
          sender,
        ),
        holdUntil: now + (config.holdDownMs ?? DEFAULT_HOLD_DOWN_MS),
      },
      actions: [leaveMaster(state, now, 'backup', 'peer-cannot-hear-us', sender)],
    };
  }
  const again = readvertise(config, { ...state, rival }, now, 'reassert-lower');
  return { ...again, actions: [...report, ...again.actions] };
}

/** A master's transition out, with how long it was master (shared with carp/fsm.ts). */
export function leaveMaster(
  state: FsmState,
  now: number,
  to: VrrpState,
  reason: TransitionReason,
  peer: Peer | undefined,
): FsmAction {
  return {
    ...transition('master', to, reason, peer),
    masterForMs: now - (state.masterSince ?? now),
  };
}

/** Why a master must step down for this advert, or undefined when the sender ranks lower. */
function yieldReason(config: FsmConfig, event: AdvertEvent): TransitionReason | undefined {
  if (event.priority > config.priority) return 'higher-priority';
  // `>>> 0` keeps the comparison unsigned even if a caller hands in a signed 32-bit read.
  if (
    event.priority === config.priority &&
    compareAddresses(event.src, config.primaryAddress) > 0
  ) {
    return 'equal-priority-higher-address';
  }
  return undefined;
}

/** RFC 3768 carries the interval only for troubleshooting; v3 backups adopt the master's. */
function learnedIntervalCs(config: FsmConfig, event: AdvertEvent): number {
  return config.version === 3 ? event.intervalCs : config.advertIntervalCs;
}

function enterBackup(
  config: FsmConfig,
  now: number,
  masterAdverIntervalCs: number,
  master: Peer | undefined,
): FsmState {
  return {
    ...initialState(config),
    state: 'backup',
    masterAdverIntervalCs,
    masterDownAt: now + masterDownIntervalMs(config, masterAdverIntervalCs),
    backupSince: now,
    master,
    takeoverReason: 'master-down',
  };
}

function becomeMaster(
  config: FsmConfig,
  now: number,
  from: VrrpState,
  reason: TransitionReason,
  peer: Peer | undefined,
): FsmResult {
  return {
    state: {
      ...initialState(config),
      state: 'master',
      advertAt: now + config.advertIntervalCs * MS_PER_CS,
      masterSince: now,
    },
    actions: [
      sendAdvert(config.priority, 'became-master'),
      transition(from, 'master', reason, peer),
    ],
  };
}

function readvertise(
  config: FsmConfig,
  state: FsmState,
  now: number,
  cause: AdvertCause,
): FsmResult {
  return {
    state: { ...state, advertAt: now + config.advertIntervalCs * MS_PER_CS },
    actions: [sendAdvert(config.priority, cause)],
  };
}

export function unchanged(state: FsmState): FsmResult {
  return { state, actions: [] };
}

function sendAdvert(priority: number, cause: AdvertCause, to?: string): FsmAction {
  return to === undefined
    ? { type: 'send-advert', priority, cause }
    : { type: 'send-advert', priority, cause, to };
}

export function transition(
  from: VrrpState,
  to: VrrpState,
  reason: TransitionReason,
  peer: Peer | undefined,
): TransitionAction {
  return { type: 'transition', from, to, reason, peer };
}
