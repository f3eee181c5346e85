/**
 * CARP state machine, as ucarp 1.5.2 runs it (src/carp.c: carp_setrun, carp_master_down and the
 * advert handling in packethandler), so a vipd box and a ucarp box elect one master.
 *
 * Contract: as vrrp/fsm.ts, whose state, actions and reasons it shares so the router core drives
 * either machine alike: `step` is pure in (config, state, event, now), performs no I/O, reads no
 * clock; the caller delivers 'timer' once vrrp/fsm's `nextDeadline(state)` is due (the states
 * are the same shape); an early 'timer' is a no-op. Adverts reaching `step` are already checked (vhid, HMAC, TTL, checksum).
 *
 * ucarp's rules:
 * - A box advertises every advbase + advskew/256 s; the lower pair is the better master.
 * - A master hearing a better one (or an equal one from a lower address, compared as ucarp's
 *   in_addr on little-endian x86: last octet first) sends one more advert and becomes backup.
 * - A backup with preemption hearing a worse master takes over at once; any backup hearing a
 *   master that advertises more slowly than its own dead interval (deadRatio x advbase) takes
 *   over at once ("going to time out"); otherwise it waits deadRatio x advbase + advskew/256 s.
 * - ucarp has no resign packet. vipd resigns with advbase 255 / advskew 255, as OpenBSD's CARP
 *   does when its interface goes down: by the rules above a ucarp backup takes over at once when
 *   it preempts or its dead interval is under 256 s (every ucarp default). vipd takes a resign it
 *   hears over at once whatever its dead interval, as VRRP's priority 0: the sender is leaving.
 */
import type {
  FsmAction,
  FsmEvent,
  FsmResult,
  FsmState,
  Peer,
  TransitionReason,
  VrrpState,
} from '../vrrp/fsm.js';
import {
  initialState as vrrpInitialState,
  leaveMaster,
  transition,
  unchanged,
} from '../vrrp/fsm.js';
import { addressBytes } from '../net/address.js';
import { CARP_RESIGN } from './packet.js';

export interface CarpFsmConfig {
  /** Whole seconds (ucarp -b). */
  advbase: number;
  /** The effective skew, 0..254 (ucarp -k; health tracking may raise it). */
  advskew: number;
  /** ucarp -r. */
  deadRatio: number;
  /** ucarp -P. */
  preempt: boolean;
  /** Our advert source: the tie-break address. */
  primaryAddress: string;
}

export interface CarpTiming {
  advbase: number;
  advskew: number;
}

/**
 * VRRP's events but its advert (CARP's carries a timing, not a priority) and the quorum answer
 * (no quorum for CARP). 'priority-changed': the effective advskew moved; a master advertises it.
 */
export type CarpEvent =
  | Exclude<FsmEvent, { type: 'advert' } | { type: 'quorum' }>
  | { type: 'carp-advert'; src: string; advbase: number; advskew: number };

const MS_PER_S = 1000;
const EPISODE_GAP_INTERVALS = 3;

/** An advert interval in ms: advbase + advskew/256 s, ucarp's timeval without its truncation. */
export function carpIntervalMs(t: CarpTiming): number {
  return t.advbase * MS_PER_S + (t.advskew * MS_PER_S) / 256;
}

/** How long a backup waits for the master: deadRatio x advbase + advskew/256 s. */
export function carpMasterDownMs(config: CarpFsmConfig): number {
  return config.deadRatio * config.advbase * MS_PER_S + (config.advskew * MS_PER_S) / 256;
}

/** ucarp compares in_addr values as host integers: on x86 the last octet weighs most. */
export function ucarpAddressOrder(a: string, b: string): number {
  const x = addressBytes(a);
  const y = addressBytes(b);
  for (let i = x.length - 1; i >= 0; i--) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function initialState(config: CarpFsmConfig): FsmState {
  return vrrpInitialState({
    version: 2,
    priority: 1,
    advertIntervalCs: Math.round(carpIntervalMs(config) / 10),
    preempt: config.preempt,
    preemptDelayMs: 0,
    accept: false,
    primaryAddress: config.primaryAddress,
    reassertOnLower: true,
  });
}

export function step(
  config: CarpFsmConfig,
  state: FsmState,
  event: CarpEvent,
  now: number,
): FsmResult {
  if (event.type === 'carp-advert' && event.src === config.primaryAddress) {
    return unchanged(state);
  }
  if (event.type === 'fault') return enterFault(config, state, now);
  switch (state.state) {
    case 'initialize':
      return event.type === 'startup'
        ? startBackup(config, now, 'initialize', 'startup')
        : unchanged(state);
    case 'fault':
      if (event.type === 'recover') return startBackup(config, now, 'fault', 'recovered');
      if (event.type === 'shutdown') return toInitialize(config, state, now, 'fault');
      return unchanged(state);
    case 'backup':
      return backupStep(config, state, event, now);
    case 'master':
      return masterStep(config, state, event, now);
  }
}

function backupStep(
  config: CarpFsmConfig,
  state: FsmState,
  event: CarpEvent,
  now: number,
): FsmResult {
  switch (event.type) {
    case 'shutdown':
      return toInitialize(config, state, now, 'backup');
    case 'timer':
      if (state.masterDownAt === undefined || now < state.masterDownAt) return unchanged(state);
      return becomeMaster(config, now, state.takeoverReason ?? 'master-down', state.master);
    case 'carp-advert': {
      const sender = peerOf(event);
      const theirs = carpIntervalMs(event);
      const ours = carpIntervalMs(config);
      if (isResign(event)) return becomeMaster(config, now, 'priority-zero-heard', sender);
      if (config.preempt && ours < theirs) {
        return becomeMaster(config, now, 'preempt-lower-priority', sender);
      }
      // ucarp: deadRatio x advbase with our own skew, against the master's whole interval.
      if (carpMasterDownMs(config) < theirs) {
        return becomeMaster(config, now, 'master-too-slow', sender);
      }
      return {
        state: {
          ...state,
          masterAdverIntervalCs: Math.round(theirs / 10),
          masterDownAt: now + carpMasterDownMs(config),
          master: sender,
          takeoverReason: 'master-down',
        },
        actions: [],
      };
    }
    default:
      return unchanged(state);
  }
}

function masterStep(
  config: CarpFsmConfig,
  state: FsmState,
  event: CarpEvent,
  now: number,
): FsmResult {
  switch (event.type) {
    case 'shutdown':
      return toInitialize(config, state, now, 'master');
    case 'priority-changed':
      return readvertise(config, state, now, 'priority-change');
    case 'timer':
      if (state.advertAt === undefined || now < state.advertAt) return unchanged(state);
      return readvertise(config, state, now, 'adver-timer');
    case 'carp-advert':
      return masterAdvert(config, state, event, now);
    default:
      return unchanged(state);
  }
}

function masterAdvert(
  config: CarpFsmConfig,
  state: FsmState,
  event: Extract<CarpEvent, { type: 'carp-advert' }>,
  now: number,
): FsmResult {
  const sender = peerOf(event);
  const ours = carpIntervalMs(config);
  const theirs = carpIntervalMs(event);
  const lowerAddress = ucarpAddressOrder(event.src, config.primaryAddress) < 0;
  const reason: TransitionReason | undefined =
    ours > theirs
      ? 'higher-priority'
      : ours === theirs && lowerAddress
        ? 'equal-priority-lower-address'
        : undefined;
  if (reason !== undefined) {
    // ucarp's own words: "to be really sure the new master knows that it has to reassert control
    // of the VIP", one more advert to the group, then backup.
    return {
      state: enterBackup(config, now, sender),
      actions: [
        { type: 'send-advert', priority: 1, cause: 'yield-notice' },
        leaveMaster(state, now, 'backup', reason, sender),
      ],
    };
  }
  // A worse master (or one resigning): ucarp re-announces the VIP; vipd also advertises, so
  // the other master hears the better one at once rather than at its next interval.
  const gapMs = EPISODE_GAP_INTERVALS * Math.max(ours, theirs);
  const prior = state.rival;
  const fresh =
    prior === undefined || prior.address !== sender.address || now - prior.lastHeard > gapMs;
  const rival = { ...sender, lastHeard: now, unanswered: 0, lastCounted: now };
  const masterForMs = now - (state.masterSince ?? now);
  // The master we just preempted still advertises until it hears us: a hand-over, not a split.
  const handover = state.preempted?.address === sender.address && masterForMs <= gapMs;
  const report: FsmAction[] =
    fresh && !handover && !isResign(event)
      ? [{ type: 'split-brain', peer: sender, masterForMs }]
      : [];
  const again = readvertise(config, { ...state, rival }, now, 'reassert-lower');
  return { ...again, actions: [...report, ...again.actions] };
}

function isResign(t: CarpTiming): boolean {
  return t.advbase === CARP_RESIGN.advbase && t.advskew === CARP_RESIGN.advskew;
}

function peerOf(event: Extract<CarpEvent, { type: 'carp-advert' }>): Peer {
  return {
    address: event.src,
    priority: 0,
    carp: { advbase: event.advbase, advskew: event.advskew },
  };
}

function startBackup(
  config: CarpFsmConfig,
  now: number,
  from: 'initialize' | 'fault',
  reason: 'startup' | 'recovered',
): FsmResult {
  return {
    state: enterBackup(config, now, undefined),
    actions: [transition(from, 'backup', reason, undefined)],
  };
}

function enterBackup(config: CarpFsmConfig, now: number, master: Peer | undefined): FsmState {
  return {
    ...initialState(config),
    state: 'backup',
    masterDownAt: now + carpMasterDownMs(config),
    backupSince: now,
    master,
    takeoverReason: 'master-down',
  };
}

function becomeMaster(
  config: CarpFsmConfig,
  now: number,
  reason: TransitionReason,
  peer: Peer | undefined,
): FsmResult {
  return {
    state: {
      ...initialState(config),
      state: 'master',
      advertAt: now + carpIntervalMs(config),
      masterSince: now,
      // Taken over from a live master (preempted, too slow): its next adverts are a hand-over.
      preempted: reason === 'master-down' ? undefined : peer,
    },
    actions: [
      { type: 'send-advert', priority: 1, cause: 'became-master' },
      transition('backup', 'master', reason, peer),
    ],
  };
}

/** A master resigns (advbase 255 / advskew 255) so a backup need not wait out its dead interval. */
function enterFault(config: CarpFsmConfig, state: FsmState, now: number): FsmResult {
  if (state.state === 'fault') return unchanged(state);
  const wasMaster = state.state === 'master';
  return {
    state: { ...initialState(config), state: 'fault' },
    actions: [
      ...(wasMaster ? [resign('fault')] : []),
      wasMaster
        ? leaveMaster(state, now, 'fault', 'fault', undefined)
        : transition(state.state, 'fault', 'fault', undefined),
    ],
  };
}

function toInitialize(
  config: CarpFsmConfig,
  state: FsmState,
  now: number,
  from: VrrpState,
): FsmResult {
  const wasMaster = from === 'master';
  return {
    state: initialState(config),
    actions: [
      ...(wasMaster ? [resign('shutdown')] : []),
      wasMaster
        ? leaveMaster(state, now, 'initialize', 'shutdown', undefined)
        : transition(from, 'initialize', 'shutdown', undefined),
    ],
  };
}

/** Priority 0 is the core's word for "resign": it sends CARP's 255/255. */
function resign(cause: 'fault' | 'shutdown'): FsmAction {
  return { type: 'send-advert', priority: 0, cause };
}

function readvertise(
  config: CarpFsmConfig,
  state: FsmState,
  now: number,
  cause: 'adver-timer' | 'priority-change' | 'reassert-lower',
): FsmResult {
  return {
    state: { ...state, advertAt: now + carpIntervalMs(config) },
    actions: [{ type: 'send-advert', priority: 1, cause }],
  };
}
