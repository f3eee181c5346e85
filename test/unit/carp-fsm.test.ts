/**
 * Example-based tests of the CARP state machine (src/carp/fsm.ts), one rule of its header at a
 * time, each checked against ucarp 1.5.2's src/carp.c (cited as carp.c:<line>). Expected times
 * are computed by hand in the comments, never with the functions under test.
 */
import { describe, expect, it } from 'vitest';
import {
  carpIntervalMs,
  carpMasterDownMs,
  initialState,
  step,
  ucarpAddressOrder,
  type CarpEvent,
  type CarpFsmConfig,
} from '../../src/carp/fsm.js';
import {
  nextDeadline,
  type FsmAction,
  type FsmResult,
  type FsmState,
  type Peer,
  type TransitionReason,
  type VrrpState,
} from '../../src/vrrp/fsm.js';
import { backupAt, masterAt } from '../support/machine.js';

const OUR_ADDRESS = '10.0.0.1';
const PEER = '10.0.0.2';

function config(overrides: Partial<CarpFsmConfig> = {}): CarpFsmConfig {
  return {
    advbase: 1,
    advskew: 0,
    deadRatio: 3,
    preempt: true,
    primaryAddress: OUR_ADDRESS,
    ...overrides,
  };
}

function advert(src: string, advbase: number, advskew: number): CarpEvent {
  return { type: 'carp-advert', src, advbase, advskew };
}

const TIMER: CarpEvent = { type: 'timer' };
const STARTUP: CarpEvent = { type: 'startup' };
const SHUTDOWN: CarpEvent = { type: 'shutdown' };

const CARP = { initialState, step };
/** A box that started at `at` and sits in backup. */
const backup = (cfg: CarpFsmConfig, at = 0): FsmState => backupAt(CARP, cfg, at);
/** A box that became master at `at` through its master-down timer. */
const master = (cfg: CarpFsmConfig, at = 0): FsmState => masterAt(CARP, cfg, at);

function peer(address: string, advbase: number, advskew: number): Peer {
  return { address, priority: 0, carp: { advbase, advskew } };
}

/** A backup's takeover (carp.c:385-393): the advert first, then the transition. */
function tookOver(reason: TransitionReason, from: Peer | undefined): FsmAction[] {
  return [
    { type: 'send-advert', priority: 1, cause: 'became-master' },
    { type: 'transition', from: 'backup', to: 'master', reason, peer: from },
  ];
}

/** A backup started at 0 hearing PEER advertise (advbase, advskew) at `at`. */
function backupHears(cfg: CarpFsmConfig, advbase: number, advskew: number, at: number): FsmResult {
  return step(cfg, backup(cfg, 0), advert(PEER, advbase, advskew), at);
}

/** A master leaving: for a fault or a shutdown it resigns first (priority 0: 255/255 on the wire). */
function leftMaster(
  to: VrrpState,
  reason: TransitionReason,
  masterForMs: number,
  from?: Peer,
): FsmAction[] {
  const resign = reason === 'fault' || reason === 'shutdown';
  return [
    resign
      ? { type: 'send-advert', priority: 0, cause: reason }
      : { type: 'send-advert', priority: 1, cause: 'yield-notice' },
    { type: 'transition', from: 'master', to, reason, peer: from, masterForMs },
  ];
}

describe('timing formulas (carp.c:207, carp.c:348-349)', () => {
  it('an advert interval is advbase + advskew/256 s', () => {
    // 1 s + 50/256 s = 1000 + 195.3125 ms
    expect(carpIntervalMs({ advbase: 1, advskew: 50 })).toBe(1195.3125);
    // 2 s + 128/256 s
    expect(carpIntervalMs({ advbase: 2, advskew: 128 })).toBe(2500);
  });

  it('the master-down interval is deadRatio x advbase + advskew/256 s', () => {
    // 3 * 1 s + 50/256 s
    expect(carpMasterDownMs(config({ advskew: 50 }))).toBe(3195.3125);
    // 5 * 2 s + 128/256 s
    expect(carpMasterDownMs(config({ advbase: 2, advskew: 128, deadRatio: 5 }))).toBe(10500);
  });
});

describe('start-up (carp.c:341-349: INIT -> BACKUP, master-down timer armed)', () => {
  it('starts in initialize with no deadline', () => {
    const state = initialState(config());
    expect(state.state).toBe('initialize');
    expect(nextDeadline(state)).toBeUndefined();
  });

  it('goes backup and waits deadRatio x advbase + advskew/256 s', () => {
    const cfg = config({ advskew: 100 });
    const { state, actions } = step(cfg, initialState(cfg), STARTUP, 40);
    expect(actions).toEqual([
      { type: 'transition', from: 'initialize', to: 'backup', reason: 'startup', peer: undefined },
    ]);
    // 40 + 3000 + 100 * 1000 / 256 = 40 + 3000 + 390.625
    expect(state.masterDownAt).toBe(3430.625);
    expect(nextDeadline(state)).toBe(3430.625);
  });

  it('a dead ratio and advbase of its own: 5 x 2 s', () => {
    const cfg = config({ advbase: 2, deadRatio: 5 });
    expect(backup(cfg, 0).masterDownAt).toBe(10_000);
  });
});

describe('backup, timer (carp.c:376-393, carp_master_down)', () => {
  it('an early timer changes nothing', () => {
    const cfg = config();
    const state = backup(cfg, 0);
    const result = step(cfg, state, TIMER, 2999);
    expect(result.state).toBe(state);
    expect(result.actions).toEqual([]);
  });

  it('on time: master, advert first, then the transition; next advert one interval later', () => {
    const cfg = config({ advskew: 64 });
    const state = backup(cfg, 0);
    // 3000 + 64/256 s = 3250
    const { state: after, actions } = step(cfg, state, TIMER, 3250);
    expect(actions).toEqual(tookOver('master-down', undefined));
    expect(after.state).toBe('master');
    // 3250 + 1000 + 250
    expect(after.advertAt).toBe(4500);
    expect(after.masterSince).toBe(3250);
  });

  it('the master it last heard is the peer of the takeover', () => {
    const cfg = config({ advskew: 100 });
    const heard = backupHears(cfg, 1, 50, 500).state;
    // 500 + 3000 + 390.625
    expect(heard.masterDownAt).toBe(3890.625);
    const { actions } = step(cfg, heard, TIMER, 3890.625);
    expect(actions[1]).toMatchObject({ reason: 'master-down', peer: peer(PEER, 1, 50) });
  });
});

describe('master, timer (carp.c:366-371, the advert timer)', () => {
  it('advertises every advbase + advskew/256 s; an early timer is a no-op', () => {
    const cfg = config({ advskew: 128 });
    const state = master(cfg, 100);
    // 100 + 1000 + 500
    expect(state.advertAt).toBe(1600);
    expect(step(cfg, state, TIMER, 1599).actions).toEqual([]);
    const { state: after, actions } = step(cfg, state, TIMER, 1600);
    expect(actions).toEqual([{ type: 'send-advert', priority: 1, cause: 'adver-timer' }]);
    expect(after.advertAt).toBe(3100);
    expect(after.state).toBe('master');
  });
});

describe('backup hearing a master (carp.c:595-623)', () => {
  it('a better master restarts the master-down timer', () => {
    const cfg = config({ advskew: 100 });
    const { state, actions } = backupHears(cfg, 1, 50, 2000);
    expect(actions).toEqual([]);
    expect(state.state).toBe('backup');
    // 2000 + 3000 + 390.625
    expect(state.masterDownAt).toBe(5390.625);
    expect(state.master).toEqual(peer(PEER, 1, 50));
  });

  it('with preempt (-P), a slower master is taken over at once (carp.c:600-604)', () => {
    const cfg = config({ advskew: 0, preempt: true });
    const { state, actions } = backupHears(cfg, 1, 50, 700);
    expect(actions).toEqual(tookOver('preempt-lower-priority', peer(PEER, 1, 50)));
    expect(state.state).toBe('master');
    // 700 + 1000
    expect(state.advertAt).toBe(1700);
  });

  it('a larger advbase is slower whatever the skews: preempted', () => {
    const cfg = config({ advskew: 200 });
    const { actions } = backupHears(cfg, 2, 0, 700);
    expect(actions[1]).toMatchObject({ to: 'master', reason: 'preempt-lower-priority' });
  });

  it('without preempt, a slower master is followed: the timer restarts', () => {
    const cfg = config({ advskew: 0, preempt: false });
    const { state, actions } = backupHears(cfg, 1, 50, 700);
    expect(actions).toEqual([]);
    expect(state.state).toBe('backup');
    // 700 + 3000 + 0
    expect(state.masterDownAt).toBe(3700);
    expect(state.master).toEqual(peer(PEER, 1, 50));
  });

  it('an equal master is never preempted (timercmp <, strict)', () => {
    const cfg = config({ advskew: 50, preempt: true });
    const { state, actions } = backupHears(cfg, 1, 50, 700);
    expect(actions).toEqual([]);
    expect(state.state).toBe('backup');
  });

  describe("'master-too-slow': slower than our own dead interval (carp.c:611-617)", () => {
    it('advbase 4 against 3 x 1 s: taken over at once, even without preempt', () => {
      const cfg = config({ preempt: false });
      const { state, actions } = backupHears(cfg, 4, 0, 900);
      expect(state.state).toBe('master');
      expect(actions).toEqual(tookOver('master-too-slow', peer(PEER, 4, 0)));
    });

    it('exactly our dead interval is not too slow (timercmp <, strict)', () => {
      // ours: 3 * 1 s + 0; theirs: 3 s + 0
      const cfg = config({ preempt: false });
      const { state } = backupHears(cfg, 3, 0, 900);
      expect(state.state).toBe('backup');
    });

    it('our own skew is part of the dead interval, as sc_tv keeps its tv_usec', () => {
      // ours: 3 s + 100/256 s = 3.390625 s
      const cfg = config({ advskew: 100, preempt: false });
      // theirs 3 s + 50/256 s = 3.195 s: within our dead interval, followed
      expect(backupHears(cfg, 3, 50, 900).state.state).toBe('backup');
      // theirs 3 s + 101/256 s: beyond it, taken over
      const slower = backupHears(cfg, 3, 101, 900);
      expect(slower.state.state).toBe('master');
      expect(slower.actions[1]).toMatchObject({ reason: 'master-too-slow' });
    });

    it('with preempt the preemption rule answers first (carp.c:600 before carp.c:611)', () => {
      const cfg = config({ preempt: true });
      const { actions } = backupHears(cfg, 4, 0, 900);
      expect(actions[1]).toMatchObject({ reason: 'preempt-lower-priority' });
    });
  });

  it("a resign (255/255) is taken over at once, without preempt: 'priority-zero-heard'", () => {
    const cfg = config({ advskew: 100, preempt: false });
    const heard = backupHears(cfg, 1, 50, 500).state;
    const { state, actions } = step(cfg, heard, advert(PEER, 255, 255), 800);
    expect(state.state).toBe('master');
    expect(actions).toEqual(tookOver('priority-zero-heard', peer(PEER, 255, 255)));
  });

  // A deliberate difference: ucarp has no resign rule. 255/255 is only a very slow master to it,
  // taken over by preemption or when slower than its own dead interval (carp.c:600-617); with a
  // dead interval beyond 255.996 s (advbase 100 x dead ratio 3) and no -P ucarp follows it.
  // vipd takes a resign as one, like VRRP's priority 0: the box that sent it is going away.
  it('unlike ucarp: a resign is taken over at once even beyond a 256 s dead interval', () => {
    const cfg = config({ advbase: 100, preempt: false });
    const { state, actions } = backupHears(cfg, 255, 255, 800);
    expect(state.state).toBe('master');
    expect(actions).toEqual(tookOver('priority-zero-heard', peer(PEER, 255, 255)));
  });
});

describe('master hearing a better master (carp.c:560-578)', () => {
  it("a faster one: one more advert (the yield notice), then backup: 'higher-priority'", () => {
    const cfg = config({ advskew: 100 });
    const state = master(cfg, 1000);
    const { state: after, actions } = step(cfg, state, advert(PEER, 1, 50), 4000);
    expect(actions).toEqual(leftMaster('backup', 'higher-priority', 3000, peer(PEER, 1, 50)));
    expect(after.state).toBe('backup');
    // carp_setrun(BACKUP): 4000 + 3000 + 390.625
    expect(after.masterDownAt).toBe(7390.625);
    expect(after.advertAt).toBeUndefined();
    expect(after.master).toEqual(peer(PEER, 1, 50));
  });

  it('a smaller advbase beats any skew', () => {
    const cfg = config({ advbase: 2, advskew: 0 });
    const { actions } = step(cfg, master(cfg, 0), advert(PEER, 1, 254), 100);
    expect(actions[1]).toMatchObject({ to: 'backup', reason: 'higher-priority' });
  });
});

describe('equal timing: the lower address as ucarp compares in_addr on x86 (carp.c:567-568)', () => {
  // ucarp compares ip_src.s_addr < srcip.s_addr: the network-order bytes read as a little-endian
  // u32, so the last octet weighs most. 10.0.1.2 is 0x0201000a, 10.0.2.1 is 0x0102000a: 10.0.2.1
  // is the lower for ucarp although 10.0.1.2 is the lower as a number.
  const NUMERIC_LOWER = '10.0.1.2';
  const UCARP_LOWER = '10.0.2.1';
  // 192.168.0.1 is 0x0100a8c0, 10.0.0.200 is 0xc800000a: the high-bit address is the lower.
  const HIGH_FIRST_OCTET = '192.168.0.1';
  const LOW_FIRST_OCTET = '10.0.0.200';

  it('ucarpAddressOrder orders by the last octet first, unsigned', () => {
    expect(ucarpAddressOrder(UCARP_LOWER, NUMERIC_LOWER)).toBeLessThan(0);
    expect(ucarpAddressOrder(NUMERIC_LOWER, UCARP_LOWER)).toBeGreaterThan(0);
    expect(ucarpAddressOrder(HIGH_FIRST_OCTET, LOW_FIRST_OCTET)).toBeLessThan(0);
    expect(ucarpAddressOrder(NUMERIC_LOWER, NUMERIC_LOWER)).toBe(0);
  });

  it("a master at 10.0.1.2 yields to an equal one from 10.0.2.1: 'equal-priority-lower-address'", () => {
    const cfg = config({ advskew: 20, primaryAddress: NUMERIC_LOWER });
    const { state, actions } = step(cfg, master(cfg, 0), advert(UCARP_LOWER, 1, 20), 500);
    expect(state.state).toBe('backup');
    expect(actions).toEqual(
      leftMaster('backup', 'equal-priority-lower-address', 500, peer(UCARP_LOWER, 1, 20)),
    );
  });

  it('a master at 10.0.2.1 keeps its place against an equal one from 10.0.1.2 (carp.c:588-590)', () => {
    const cfg = config({ advskew: 20, primaryAddress: UCARP_LOWER });
    const { state, actions } = step(cfg, master(cfg, 0), advert(NUMERIC_LOWER, 1, 20), 500);
    expect(state.state).toBe('master');
    expect(actions).toContainEqual({ type: 'send-advert', priority: 1, cause: 'reassert-lower' });
  });

  it('the high-bit address wins: 10.0.0.200 yields to 192.168.0.1', () => {
    const cfg = config({ primaryAddress: LOW_FIRST_OCTET });
    const { state } = step(cfg, master(cfg, 0), advert(HIGH_FIRST_OCTET, 1, 0), 500);
    expect(state.state).toBe('backup');
    const other = config({ primaryAddress: HIGH_FIRST_OCTET });
    expect(step(other, master(other, 0), advert(LOW_FIRST_OCTET, 1, 0), 500).state.state).toBe(
      'master',
    );
  });
});

describe('master hearing a worse master (carp.c:580-593)', () => {
  it('re-asserts with an advert and reports the split brain once per episode', () => {
    const cfg = config({ advskew: 0 });
    const state = master(cfg, 1000);
    const first = step(cfg, state, advert(PEER, 1, 50), 2000);
    expect(first.state.state).toBe('master');
    expect(first.actions).toEqual([
      { type: 'split-brain', peer: peer(PEER, 1, 50), masterForMs: 1000 },
      { type: 'send-advert', priority: 1, cause: 'reassert-lower' },
    ]);
    // The re-assertion restarts the advert timer: 2000 + 1000.
    expect(first.state.advertAt).toBe(3000);
    // Its next advert, 1.2 s later: the same episode, no second report.
    const second = step(cfg, first.state, advert(PEER, 1, 50), 3195);
    expect(second.actions).toEqual([{ type: 'send-advert', priority: 1, cause: 'reassert-lower' }]);
    // Silent for more than 3 x its interval (3 x 1195.3125 = 3585.9 ms): a new episode.
    const third = step(cfg, second.state, advert(PEER, 1, 50), 3195 + 3600);
    expect(third.actions[0]).toMatchObject({ type: 'split-brain', masterForMs: 5795 });
  });

  it('another worse master is another episode', () => {
    const cfg = config();
    const first = step(cfg, master(cfg, 0), advert(PEER, 1, 50), 100);
    const other = step(cfg, first.state, advert('10.0.0.3', 1, 60), 200);
    expect(other.actions[0]).toMatchObject({ type: 'split-brain', peer: { address: '10.0.0.3' } });
  });

  it('the master it just preempted is a hand-over, not a split brain', () => {
    const cfg = config({ advskew: 0, preempt: true });
    const taken = backupHears(cfg, 1, 50, 500).state;
    expect(taken.state).toBe('master');
    // The old master has not heard us yet and advertises once more.
    const { state, actions } = step(cfg, taken, advert(PEER, 1, 50), 1695);
    expect(actions).toEqual([{ type: 'send-advert', priority: 1, cause: 'reassert-lower' }]);
    expect(state.state).toBe('master');
  });

  it('a hand-over ends: the preempted master still advertising much later is a split brain', () => {
    const cfg = config({ advskew: 0, preempt: true });
    const taken = backupHears(cfg, 1, 50, 500).state;
    // More than 3 x 1195.3125 ms after the takeover, and a fresh episode.
    const { actions } = step(cfg, taken, advert(PEER, 1, 50), 500 + 3600);
    expect(actions[0]).toMatchObject({ type: 'split-brain', peer: peer(PEER, 1, 50) });
  });

  it('a resign from a worse master is answered but is no split brain', () => {
    const cfg = config();
    const { state, actions } = step(cfg, master(cfg, 0), advert(PEER, 255, 255), 300);
    expect(state.state).toBe('master');
    expect(actions).toEqual([{ type: 'send-advert', priority: 1, cause: 'reassert-lower' }]);
  });
});

describe('fault and shutdown: a master resigns first (priority 0: the core sends 255/255)', () => {
  it('fault from master: resign, then master -> fault', () => {
    const cfg = config();
    const { state, actions } = step(cfg, master(cfg, 1000), { type: 'fault' }, 1500);
    expect(actions).toEqual(leftMaster('fault', 'fault', 500));
    expect(state.state).toBe('fault');
    expect(nextDeadline(state)).toBeUndefined();
  });

  it('fault from backup: no advert; adverts are ignored in fault; recover starts over', () => {
    const cfg = config({ advskew: 10 });
    const { state, actions } = step(cfg, backup(cfg, 0), { type: 'fault' }, 100);
    expect(actions).toEqual([
      { type: 'transition', from: 'backup', to: 'fault', reason: 'fault', peer: undefined },
    ]);
    expect(step(cfg, state, advert(PEER, 1, 50), 200).actions).toEqual([]);
    expect(step(cfg, state, { type: 'fault' }, 200).actions).toEqual([]);
    const back = step(cfg, state, { type: 'recover' }, 1000);
    expect(back.actions).toEqual([
      { type: 'transition', from: 'fault', to: 'backup', reason: 'recovered', peer: undefined },
    ]);
    // 1000 + 3000 + 10/256 s
    expect(back.state.masterDownAt).toBe(4039.0625);
  });

  it('shutdown from master: resign, then master -> initialize', () => {
    const cfg = config();
    const { state, actions } = step(cfg, master(cfg, 0), SHUTDOWN, 2500);
    expect(actions).toEqual(leftMaster('initialize', 'shutdown', 2500));
    expect(state.state).toBe('initialize');
  });

  it('shutdown from backup or fault: no advert', () => {
    const cfg = config();
    expect(step(cfg, backup(cfg, 0), SHUTDOWN, 10).actions).toEqual([
      { type: 'transition', from: 'backup', to: 'initialize', reason: 'shutdown', peer: undefined },
    ]);
    const fault = step(cfg, backup(cfg, 0), { type: 'fault' }, 5).state;
    expect(step(cfg, fault, SHUTDOWN, 10).actions).toEqual([
      { type: 'transition', from: 'fault', to: 'initialize', reason: 'shutdown', peer: undefined },
    ]);
  });
});

describe('priority-changed (the effective advskew moved)', () => {
  it('a master advertises at once and restarts its advert timer with the new skew', () => {
    const cfg = config({ advskew: 0 });
    const state = master(cfg, 0);
    const weaker = config({ advskew: 128 });
    const { state: after, actions } = step(weaker, state, { type: 'priority-changed' }, 300);
    expect(actions).toEqual([{ type: 'send-advert', priority: 1, cause: 'priority-change' }]);
    // 300 + 1000 + 500
    expect(after.advertAt).toBe(1800);
  });

  it('a backup says nothing', () => {
    const cfg = config();
    const state = backup(cfg, 0);
    expect(step(cfg, state, { type: 'priority-changed' }, 300)).toEqual({ state, actions: [] });
  });
});

describe('own adverts (multicast loopback) are ignored', () => {
  it('in backup and in master, whatever they carry', () => {
    const cfg = config({ advskew: 100, preempt: false });
    const waiting = backup(cfg, 0);
    for (const [advbase, advskew] of [
      [1, 0],
      [1, 200],
      [255, 255],
    ] as const) {
      expect(step(cfg, waiting, advert(OUR_ADDRESS, advbase, advskew), 50)).toEqual({
        state: waiting,
        actions: [],
      });
    }
    const leading = master(cfg, 0);
    expect(step(cfg, leading, advert(OUR_ADDRESS, 1, 0), 50)).toEqual({
      state: leading,
      actions: [],
    });
  });
});

describe('events that mean nothing in a state', () => {
  it('initialize ignores everything but startup', () => {
    const cfg = config();
    const state = initialState(cfg);
    for (const event of [TIMER, advert(PEER, 1, 0), { type: 'recover' } as const]) {
      expect(step(cfg, state, event, 10)).toEqual({ state, actions: [] });
    }
  });

  it('a backup ignores recover; a master ignores recover', () => {
    const cfg = config();
    const waiting = backup(cfg, 0);
    expect(step(cfg, waiting, { type: 'recover' }, 10).state).toBe(waiting);
    const leading = master(cfg, 0);
    expect(step(cfg, leading, { type: 'recover' }, 10).state).toBe(leading);
  });
});
