/**
 * Example-based tests of the VRRP state machine, one rule of RFC 3768 / 5798 / 9568 section 6.4 at
 * a time. Expected times are computed by hand in the comments, never with the functions under test.
 */
import { describe, expect, it } from 'vitest';
import {
  initialState,
  masterDownIntervalMs,
  nextDeadline,
  skewTimeMs,
  step,
  type FsmConfig,
  type FsmEvent,
  type FsmResult,
  type FsmState,
} from '../../src/vrrp/fsm.js';
import { backupAt, masterAt } from '../support/machine.js';

const OUR_ADDRESS = '10.0.0.1';
const LOWER_ADDRESS = '10.0.0.0';
const HIGHER_ADDRESS = '10.0.0.2';
const HIGH_BIT_ADDRESS = '192.168.0.1'; // above 2^31: a signed compare would get it wrong
// 10.0.0.10 sorts before 10.0.0.2 as text: the tie-break must compare numbers.
const TEXT_ORDER_ADDRESS = '10.0.0.10';

function config(overrides: Partial<FsmConfig> = {}): FsmConfig {
  return {
    version: 3,
    priority: 100,
    advertIntervalCs: 100,
    preempt: true,
    preemptDelayMs: 0,
    accept: false,
    primaryAddress: OUR_ADDRESS,
    reassertOnLower: true,
    ...overrides,
  };
}

function advert(src: string, priority: number, intervalCs = 100): FsmEvent {
  return { type: 'advert', src, priority, intervalCs };
}

const TIMER: FsmEvent = { type: 'timer' };
const STARTUP: FsmEvent = { type: 'startup' };
const SHUTDOWN: FsmEvent = { type: 'shutdown' };

const VRRP = { initialState, step };
/** A router that started at `at` and sits in backup. */
const backup = (cfg: FsmConfig, at = 0): FsmState => backupAt(VRRP, cfg, at);
/** A router that became master at `at` through its Master_Down_Timer. */
const master = (cfg: FsmConfig, at = 0): FsmState => masterAt(VRRP, cfg, at);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

describe('timer formulas', () => {
  it('v3 Skew_Time scales with Master_Adver_Interval, in centiseconds', () => {
    // (256 - 100) * 100 / 256 = 60.9375 cs = 609.375 ms
    expect(skewTimeMs(config(), 100)).toBe(609.375);
    // 3 * 1000 ms + 609.375 ms
    expect(masterDownIntervalMs(config(), 100)).toBe(3609.375);
    // interval 2 s: (156 * 200) / 256 = 121.875 cs; 3 * 2000 + 1218.75
    expect(skewTimeMs(config(), 200)).toBe(1218.75);
    expect(masterDownIntervalMs(config(), 200)).toBe(7218.75);
  });

  it('v2 Skew_Time is (256 - priority) / 256 seconds whatever the interval', () => {
    const v2 = config({ version: 2 });
    // 156 / 256 s = 609.375 ms
    expect(skewTimeMs(v2, 100)).toBe(609.375);
    expect(masterDownIntervalMs(v2, 100)).toBe(3609.375);
    // interval 2 s: the skew stays 609.375 ms; 3 * 2000 + 609.375
    expect(skewTimeMs(v2, 200)).toBe(609.375);
    expect(masterDownIntervalMs(v2, 200)).toBe(6609.375);
    // priority 1: 255 / 256 s = 996.09375 ms
    expect(skewTimeMs(config({ version: 2, priority: 1 }), 100)).toBe(996.09375);
  });

  it('does not round sub-millisecond values', () => {
    // v3, priority 254, interval 1 cs: 2 * 1 / 256 cs = 0.078125 ms; 3 * 10 + 0.078125
    const fast = config({ priority: 254, advertIntervalCs: 1 });
    expect(skewTimeMs(fast, 1)).toBe(0.078125);
    expect(masterDownIntervalMs(fast, 1)).toBe(30.078125);
  });
});

describe('initialize', () => {
  it('starts with no deadline', () => {
    const state = initialState(config());
    expect(state.state).toBe('initialize');
    expect(nextDeadline(state)).toBeUndefined();
  });

  it('an address owner (255) becomes master at once and advertises', () => {
    const owner = config({ priority: 255 });
    const { state, actions } = step(owner, initialState(owner), STARTUP, 50);
    expect(actions).toEqual([
      { type: 'send-advert', priority: 255, cause: 'became-master' },
      {
        type: 'transition',
        from: 'initialize',
        to: 'master',
        reason: 'owner-startup',
        peer: undefined,
      },
    ]);
    expect(state.state).toBe('master');
    expect(state.advertAt).toBe(1050);
    expect(nextDeadline(state)).toBe(1050);
  });

  it('a non-owner becomes backup with Master_Down_Timer = Master_Down_Interval', () => {
    const cfg = config({ advertIntervalCs: 200 });
    const { state, actions } = step(cfg, initialState(cfg), STARTUP, 1000);
    expect(actions).toEqual([
      { type: 'transition', from: 'initialize', to: 'backup', reason: 'startup', peer: undefined },
    ]);
    expect(state).toMatchObject({
      state: 'backup',
      masterAdverIntervalCs: 200,
      masterDownAt: 1000 + 7218.75,
      backupSince: 1000,
      advertAt: undefined,
      master: undefined,
    });
    expect(nextDeadline(state)).toBe(8218.75);
  });

  it('ignores every event other than startup', () => {
    const cfg = config();
    const idle = initialState(cfg);
    for (const event of [TIMER, SHUTDOWN, advert(HIGHER_ADDRESS, 200), advert(HIGHER_ADDRESS, 0)]) {
      const result = step(cfg, idle, event, 10);
      expect(result.actions).toEqual([]);
      expect(result.state).toBe(idle);
    }
  });
});

describe('backup', () => {
  it('treats an early timer as a no-op and takes over when Master_Down_Timer fires', () => {
    const cfg = config();
    const waiting = backup(cfg); // masterDownAt = 3609.375
    const early = step(cfg, waiting, TIMER, 3609);
    expect(early.actions).toEqual([]);
    expect(early.state).toBe(waiting);

    const { state, actions } = step(cfg, waiting, TIMER, 3609.375);
    expect(actions).toEqual([
      { type: 'send-advert', priority: 100, cause: 'became-master' },
      { type: 'transition', from: 'backup', to: 'master', reason: 'master-down', peer: undefined },
    ]);
    expect(state).toMatchObject({
      state: 'master',
      advertAt: 3609.375 + 1000,
      masterDownAt: undefined,
      master: undefined,
    });
  });

  it('v3: adopts the interval of a higher-priority master and resets the timer', () => {
    const cfg = config();
    const { state, actions } = step(cfg, backup(cfg), advert(HIGHER_ADDRESS, 200, 200), 500);
    expect(actions).toEqual([]);
    // 500 + 3 * 2000 + (156 * 200 / 256) * 10 = 500 + 6000 + 1218.75
    expect(state).toMatchObject({
      state: 'backup',
      masterAdverIntervalCs: 200,
      masterDownAt: 7718.75,
      master: { address: HIGHER_ADDRESS, priority: 200 },
    });
  });

  it('v2: keeps its configured interval whatever the advert carries', () => {
    const cfg = config({ version: 2 });
    const { state } = step(cfg, backup(cfg), advert(HIGHER_ADDRESS, 200, 200), 500);
    // 500 + 3 * 1000 + 609.375
    expect(state).toMatchObject({ masterAdverIntervalCs: 100, masterDownAt: 4109.375 });
  });

  it('names the silent master when it takes over', () => {
    const cfg = config();
    const heard = step(cfg, backup(cfg), advert(HIGHER_ADDRESS, 200), 500).state;
    const { actions } = step(cfg, heard, TIMER, 4109.375);
    expect(actions[1]).toEqual({
      type: 'transition',
      from: 'backup',
      to: 'master',
      reason: 'master-down',
      peer: { address: HIGHER_ADDRESS, priority: 200 },
    });
  });

  it('accepts an equal-priority advert even with preempt on', () => {
    const cfg = config();
    const { state } = step(cfg, backup(cfg), advert(LOWER_ADDRESS, 100), 500);
    expect(state.masterDownAt).toBe(4109.375);
  });

  it('preempt on: discards a lower-priority advert, so the timer runs out and it preempts', () => {
    const cfg = config();
    const waiting = backup(cfg);
    const { state, actions } = step(cfg, waiting, advert(HIGHER_ADDRESS, 50), 500);
    expect(actions).toEqual([]);
    expect(state.masterDownAt).toBe(waiting.masterDownAt);
    expect(state.masterAdverIntervalCs).toBe(100);

    const takeover = step(cfg, state, TIMER, 3609.375);
    expect(takeover.actions[1]).toEqual({
      type: 'transition',
      from: 'backup',
      to: 'master',
      reason: 'preempt-lower-priority',
      peer: { address: HIGHER_ADDRESS, priority: 50 },
    });
  });

  it('preempt off: a lower-priority master keeps resetting the timer', () => {
    const cfg = config({ preempt: false });
    const { state } = step(cfg, backup(cfg), advert(HIGHER_ADDRESS, 50, 200), 500);
    // v3 adopts 200 cs: 500 + 6000 + 1218.75
    expect(state).toMatchObject({ masterAdverIntervalCs: 200, masterDownAt: 7718.75 });
  });

  it('preempt delay: lower adverts reset the timer until the delay has run out', () => {
    const cfg = config({ preemptDelayMs: 5000 });
    const waiting = backup(cfg, 1000); // backupSince = 1000, delay over at 6000
    const during = step(cfg, waiting, advert(HIGHER_ADDRESS, 50), 5999).state;
    expect(during.masterDownAt).toBe(5999 + 3609.375);
    const after = step(cfg, during, advert(HIGHER_ADDRESS, 50), 6000).state;
    expect(after.masterDownAt).toBe(5999 + 3609.375);
    expect(after.takeoverReason).toBe('preempt-lower-priority');
  });

  it('priority 0: Master_Down_Timer = Skew_Time, then a fast takeover', () => {
    const cfg = config();
    const following = step(cfg, backup(cfg), advert(HIGHER_ADDRESS, 200, 200), 500).state;
    const { state, actions } = step(cfg, following, advert(HIGHER_ADDRESS, 0, 200), 2000);
    expect(actions).toEqual([]);
    // skew from the learned 200 cs: 156 * 200 / 256 cs = 1218.75 ms
    expect(state.masterDownAt).toBe(3218.75);

    const takeover = step(cfg, state, TIMER, 3218.75);
    expect(takeover.actions).toEqual([
      { type: 'send-advert', priority: 100, cause: 'became-master' },
      {
        type: 'transition',
        from: 'backup',
        to: 'master',
        reason: 'priority-zero-heard',
        peer: { address: HIGHER_ADDRESS, priority: 0 },
      },
    ]);
  });

  it('v2 priority 0 with a 2 s interval waits the unscaled skew', () => {
    const cfg = config({ version: 2, advertIntervalCs: 200 });
    const { state } = step(cfg, backup(cfg), advert(HIGHER_ADDRESS, 0, 200), 2000);
    expect(state.masterDownAt).toBe(2609.375);
  });

  it('a new master heard after a priority-0 advert restores the full interval', () => {
    const cfg = config();
    const resigned = step(cfg, backup(cfg), advert(HIGHER_ADDRESS, 0), 500).state;
    const { state } = step(cfg, resigned, advert(HIGH_BIT_ADDRESS, 150), 600);
    expect(state).toMatchObject({ masterDownAt: 4209.375, takeoverReason: 'master-down' });
  });

  it('ignores startup and an advert carrying its own address', () => {
    const cfg = config();
    const waiting = backup(cfg);
    for (const event of [STARTUP, advert(OUR_ADDRESS, 200), advert(OUR_ADDRESS, 0)]) {
      const result = step(cfg, waiting, event, 100);
      expect(result.actions).toEqual([]);
      expect(result.state).toBe(waiting);
    }
  });

  it('shutdown: back to initialize, no advert, no deadline', () => {
    const cfg = config();
    const { state, actions } = step(cfg, backup(cfg), SHUTDOWN, 100);
    expect(actions).toEqual([
      { type: 'transition', from: 'backup', to: 'initialize', reason: 'shutdown', peer: undefined },
    ]);
    expect(state).toEqual(initialState(cfg));
    expect(nextDeadline(state)).toBeUndefined();
  });
});

describe('master', () => {
  it('treats an early timer as a no-op and re-advertises when Adver_Timer fires', () => {
    const cfg = config();
    const active = master(cfg, 0); // advertAt = 1000
    const early = step(cfg, active, TIMER, 999.5);
    expect(early.actions).toEqual([]);
    expect(early.state).toBe(active);

    const { state, actions } = step(cfg, active, TIMER, 1000);
    expect(actions).toEqual([{ type: 'send-advert', priority: 100, cause: 'adver-timer' }]);
    expect(state.advertAt).toBe(2000);
  });

  it('a late timer schedules the next advert from now', () => {
    const cfg = config();
    const { state } = step(cfg, master(cfg, 0), TIMER, 1300);
    expect(state.advertAt).toBe(2300);
  });

  it('answers a priority-0 advert at once and resets Adver_Timer', () => {
    const cfg = config();
    const { state, actions } = step(cfg, master(cfg, 0), advert(HIGHER_ADDRESS, 0), 400);
    expect(actions).toEqual([
      { type: 'send-advert', priority: 100, cause: 'answer-priority-zero' },
    ]);
    expect(state).toMatchObject({ state: 'master', advertAt: 1400 });
  });

  it('yields to a higher priority, adopting its interval (v3)', () => {
    const cfg = config();
    const { state, actions } = step(cfg, master(cfg, 0), advert(LOWER_ADDRESS, 101, 50), 400);
    const peer = { address: LOWER_ADDRESS, priority: 101 };
    // The parting advert lets the winner know there were two masters (it re-asserts, re-GARPs).
    expect(actions).toEqual([
      { type: 'send-advert', priority: 100, cause: 'yield-notice', to: LOWER_ADDRESS },
      {
        type: 'transition',
        from: 'master',
        to: 'backup',
        reason: 'higher-priority',
        peer,
        masterForMs: 400,
      },
    ]);
    // 400 + 3 * 500 + (156 * 50 / 256) * 10 = 400 + 1500 + 304.6875
    expect(state).toEqual({
      ...initialState(cfg),
      state: 'backup',
      masterAdverIntervalCs: 50,
      masterDownAt: 2204.6875,
      backupSince: 400,
      master: peer,
      takeoverReason: 'master-down',
    });
  });

  it('v2: yields but keeps its configured interval', () => {
    const cfg = config({ version: 2 });
    const { state } = step(cfg, master(cfg, 0), advert(LOWER_ADDRESS, 101, 300), 400);
    // 400 + 3000 + 609.375
    expect(state).toMatchObject({ masterAdverIntervalCs: 100, masterDownAt: 4009.375 });
  });

  it('equal priority: yields to a higher address, compared unsigned', () => {
    const cfg = config();
    const { actions } = step(cfg, master(cfg, 0), advert(HIGH_BIT_ADDRESS, 100), 400);
    expect(actions).toEqual([
      { type: 'send-advert', priority: 100, cause: 'yield-notice', to: HIGH_BIT_ADDRESS },
      {
        type: 'transition',
        from: 'master',
        to: 'backup',
        reason: 'equal-priority-higher-address',
        peer: { address: HIGH_BIT_ADDRESS, priority: 100 },
        masterForMs: 400,
      },
    ]);
  });

  it('equal priority: addresses compare as numbers, not text, in both families', () => {
    const cfg = config({ primaryAddress: HIGHER_ADDRESS });
    const yields = step(cfg, master(cfg, 0), advert(TEXT_ORDER_ADDRESS, 100), 400);
    expect(yields.state.state).toBe('backup');
    const v6 = config({ primaryAddress: 'fe80::2' });
    expect(step(v6, master(v6, 0), advert('fe80::10', 100), 400).state.state).toBe('backup');
    expect(step(v6, master(v6, 0), advert('fe80::1', 100), 400).state.state).toBe('master');
  });

  it('equal priority: a lower address is a lower advert (reasserted)', () => {
    const cfg = config({ primaryAddress: HIGH_BIT_ADDRESS });
    const { state, actions } = step(cfg, master(cfg, 0), advert(OUR_ADDRESS, 100), 400);
    expect(actions).toEqual([
      { type: 'split-brain', peer: { address: OUR_ADDRESS, priority: 100 }, masterForMs: 400 },
      { type: 'send-advert', priority: 100, cause: 'reassert-lower' },
    ]);
    expect(state).toMatchObject({ state: 'master', advertAt: 1400 });
  });

  it('reassertOnLower on: answers a lower-priority advert at once', () => {
    const cfg = config();
    const { state, actions } = step(cfg, master(cfg, 0), advert(HIGHER_ADDRESS, 99), 400);
    expect(actions).toEqual([
      { type: 'split-brain', peer: { address: HIGHER_ADDRESS, priority: 99 }, masterForMs: 400 },
      { type: 'send-advert', priority: 100, cause: 'reassert-lower' },
    ]);
    expect(state.advertAt).toBe(1400);
  });

  it('reassertOnLower off: reports the split brain once, sends nothing, stays master', () => {
    const cfg = config({ reassertOnLower: false });
    const active = master(cfg, 0);
    const first = step(cfg, active, advert(HIGHER_ADDRESS, 99), 400);
    expect(first.actions).toEqual([
      { type: 'split-brain', peer: { address: HIGHER_ADDRESS, priority: 99 }, masterForMs: 400 },
    ]);
    expect(first.state).toMatchObject({ state: 'master', advertAt: active.advertAt });
    let state = first.state;
    for (const at of [1400, 2400, 3400, 4400]) {
      const next = step(cfg, state, advert(HIGHER_ADDRESS, 99), at);
      expect(next.actions).toEqual([]);
      state = next.state;
    }
    expect(state.state).toBe('master');
  });

  it('ignores startup and an advert carrying its own address', () => {
    const cfg = config();
    const active = master(cfg, 0);
    for (const event of [STARTUP, advert(OUR_ADDRESS, 200), advert(OUR_ADDRESS, 0)]) {
      const result = step(cfg, active, event, 100);
      expect(result.actions).toEqual([]);
      expect(result.state).toBe(active);
    }
  });

  it('shutdown: priority-0 advert, then initialize with no deadline', () => {
    const cfg = config();
    const { state, actions } = step(cfg, master(cfg, 0), SHUTDOWN, 100);
    expect(actions).toEqual([
      { type: 'send-advert', priority: 0, cause: 'shutdown' },
      {
        type: 'transition',
        from: 'master',
        to: 'initialize',
        reason: 'shutdown',
        peer: undefined,
        masterForMs: 100,
      },
    ]);
    expect(state).toEqual(initialState(cfg));
    expect(nextDeadline(state)).toBeUndefined();
  });

  it('can start again after a shutdown', () => {
    const owner = config({ priority: 255 });
    const active = step(owner, initialState(owner), STARTUP, 0).state;
    const stopped = step(owner, active, SHUTDOWN, 100).state;
    const { state } = step(owner, stopped, STARTUP, 200);
    expect(state).toMatchObject({ state: 'master', advertAt: 1200 });
  });
});

describe('purity', () => {
  it('never mutates the state it is given', () => {
    const cfg = deepFreeze(config());
    const states = [initialState(cfg), backup(cfg), master(cfg, 0)].map(deepFreeze);
    const events = [
      STARTUP,
      SHUTDOWN,
      TIMER,
      advert(HIGHER_ADDRESS, 200),
      advert(HIGHER_ADDRESS, 0),
    ];
    for (const state of states) {
      for (const event of events) expect(() => step(cfg, state, event, 1e6)).not.toThrow();
    }
  });
});

describe('FAULT', () => {
  const FAULT: FsmEvent = { type: 'fault' };
  const RECOVER: FsmEvent = { type: 'recover' };

  it('a master resigns with a priority-0 advert and goes quiet', () => {
    const cfg = config();
    const { state, actions } = step(cfg, master(cfg, 0), FAULT, 100);
    expect(actions).toEqual([
      { type: 'send-advert', priority: 0, cause: 'fault' },
      {
        type: 'transition',
        from: 'master',
        to: 'fault',
        reason: 'fault',
        peer: undefined,
        masterForMs: 100,
      },
    ]);
    expect(state.state).toBe('fault');
    expect(nextDeadline(state)).toBeUndefined();
  });

  it('a backup goes to fault without an advert; adverts and timers are ignored there', () => {
    const cfg = config();
    const { state, actions } = step(cfg, backup(cfg, 0), FAULT, 100);
    expect(actions).toEqual([
      { type: 'transition', from: 'backup', to: 'fault', reason: 'fault', peer: undefined },
    ]);
    expect(step(cfg, state, advert(LOWER_ADDRESS, 50), 200)).toEqual({ state, actions: [] });
    expect(step(cfg, state, TIMER, 99_999)).toEqual({ state, actions: [] });
    expect(step(cfg, state, FAULT, 300)).toEqual({ state, actions: [] });
  });

  it('recover restarts the election: backup with a fresh Master_Down_Timer, or master for the owner', () => {
    const cfg = config();
    const faulted = step(cfg, backup(cfg, 0), FAULT, 100).state;
    const { state, actions } = step(cfg, faulted, RECOVER, 1000);
    expect(actions).toEqual([
      { type: 'transition', from: 'fault', to: 'backup', reason: 'recovered', peer: undefined },
    ]);
    // priority 100, 100 cs: 1000 + 3000 + 609.375
    expect(state.masterDownAt).toBe(4609.375);
    const owner = config({ priority: 255 });
    const ownerFault = step(
      owner,
      step(owner, initialState(owner), STARTUP, 0).state,
      FAULT,
      5,
    ).state;
    expect(step(owner, ownerFault, RECOVER, 10).actions).toEqual([
      { type: 'send-advert', priority: 255, cause: 'became-master' },
      { type: 'transition', from: 'fault', to: 'master', reason: 'recovered', peer: undefined },
    ]);
  });

  it('shutdown from fault sends nothing', () => {
    const cfg = config();
    const faulted = step(cfg, master(cfg, 0), FAULT, 100).state;
    expect(step(cfg, faulted, SHUTDOWN, 200).actions).toEqual([
      { type: 'transition', from: 'fault', to: 'initialize', reason: 'shutdown', peer: undefined },
    ]);
  });
});

describe('split brain', () => {
  const RIVAL = HIGHER_ADDRESS;

  /** Feeds the rival's adverts (priority 99, lower) at the given times to a master. */
  function rivalAdverts(cfg: FsmConfig, start: FsmState, times: number[]): FsmResult[] {
    const out: FsmResult[] = [];
    let state = start;
    for (const at of times) {
      const r = step(cfg, state, advert(RIVAL, 99), at);
      out.push(r);
      state = r.state;
    }
    return out;
  }

  it('a lower master that keeps advertising through 3 re-assertions cannot hear us: yield and hold', () => {
    const cfg = config({ holdDownMs: 10_000 });
    const results = rivalAdverts(cfg, master(cfg, 0), [1000, 2000, 3000, 4000]);
    expect(results.slice(0, 3).map((r) => r.actions.map((a) => a.type))).toEqual([
      ['split-brain', 'send-advert'],
      ['send-advert'],
      ['send-advert'],
    ]);
    const last = results[3];
    expect(last?.actions).toEqual([
      {
        type: 'transition',
        from: 'master',
        to: 'backup',
        reason: 'peer-cannot-hear-us',
        peer: { address: RIVAL, priority: 99 },
        masterForMs: 4000,
      },
    ]);
    expect(last?.state).toMatchObject({ state: 'backup', holdUntil: 14_000 });
    // Held: the rival's adverts are accepted like a master's, so the timer never runs out.
    let state = last?.state ?? initialState(cfg);
    for (let at = 5000; at < 14_000; at += 1000) {
      state = step(cfg, state, advert(RIVAL, 99), at).state;
      expect(state).toMatchObject({ state: 'backup', takeoverReason: 'master-down' });
      expect(step(cfg, state, TIMER, at + 500).state.state).toBe('backup');
    }
    // Hold over: preemption resumes (the rival's adverts are discarded again).
    state = step(cfg, state, advert(RIVAL, 99), 14_000).state;
    expect(state.takeoverReason).toBe('preempt-lower-priority');
    const back = step(cfg, state, TIMER, state.masterDownAt ?? Infinity);
    expect(back.state.state).toBe('master');
  });

  it('a rival silent for 3 intervals is a new episode: reported again, count restarted', () => {
    const cfg = config();
    const results = rivalAdverts(cfg, master(cfg, 0), [1000, 2000, 6000, 7000, 8000]);
    expect(results.map((r) => r.actions.map((a) => a.type))).toEqual([
      ['split-brain', 'send-advert'],
      ['send-advert'],
      ['split-brain', 'send-advert'],
      ['send-advert'],
      ['send-advert'],
    ]);
    expect(results[4]?.state.state).toBe('master');
  });

  it('the master we just preempted handing over is not reported as a split brain', () => {
    const cfg = config();
    let state = backup(cfg, 0);
    state = step(cfg, state, advert(RIVAL, 99), 100).state;
    expect(state.takeoverReason).toBe('preempt-lower-priority');
    const took = step(cfg, state, TIMER, state.masterDownAt ?? Infinity);
    expect(took.state).toMatchObject({ state: 'master', preempted: { address: RIVAL } });
    const handover = step(cfg, took.state, advert(RIVAL, 99), (state.masterDownAt ?? 0) + 5);
    expect(handover.actions).toEqual([
      { type: 'send-advert', priority: 100, cause: 'reassert-lower' },
    ]);
  });
});

describe('quorum-gated takeover', () => {
  const gated = config({ quorumGated: true });

  it('the timer asks for the quorum instead of taking over; a grant takes over', () => {
    const waiting = backup(gated, 0);
    const asked = step(gated, waiting, TIMER, waiting.masterDownAt ?? 0);
    expect(asked.actions).toEqual([{ type: 'check-quorum' }]);
    expect(asked.state).toMatchObject({ state: 'backup', quorumPending: true });
    expect(nextDeadline(asked.state)).toBeUndefined();
    const granted = step(gated, asked.state, { type: 'quorum', ok: true }, 4000);
    expect(granted.state.state).toBe('master');
    expect(granted.actions.map((a) => a.type)).toEqual(['send-advert', 'transition']);
  });

  it('a denial keeps it backup and asks again one master-down interval later', () => {
    const waiting = backup(gated, 0);
    const asked = step(gated, waiting, TIMER, 3700);
    const denied = step(gated, asked.state, { type: 'quorum', ok: false }, 3800);
    expect(denied.actions).toEqual([]);
    expect(denied.state).toMatchObject({ state: 'backup', quorumPending: false });
    expect(nextDeadline(denied.state)).toBe(3800 + masterDownIntervalMs(gated, 100));
  });

  it("a master's advert while the verdict is out cancels the takeover; a late grant is ignored", () => {
    const waiting = backup(gated, 0);
    const asked = step(gated, waiting, TIMER, 3700);
    const heard = step(gated, asked.state, advert(HIGHER_ADDRESS, 200), 3750);
    expect(heard.state.quorumPending).toBe(false);
    const late = step(gated, heard.state, { type: 'quorum', ok: true }, 3800);
    expect(late.state).toBe(heard.state);
    expect(late.actions).toEqual([]);
  });
});
