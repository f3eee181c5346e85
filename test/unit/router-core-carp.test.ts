/**
 * RouterCore with a CARP instance: real ucarp 1.5.2 adverts (test/vectors/ucarp.txt, password
 * s3cr3t, vhid 10, VIP 10.99.0.100; fw1 10.99.0.1 advskew 0, fw2 10.99.0.2 advskew 50) go through
 * the core's CARP verdict into the CARP machine; what the core sends and logs says CARP.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import {
  deadline,
  initialCore,
  step,
  type CoreEffect,
  type CoreEvent,
  type CoreState,
} from '../../src/router/core.js';
import type { ReceivedPacket } from '../../src/router/receive.js';
import { loadVectors, type Vector } from '../support/vectors.js';

const IPV4_HEADER = 20;
const OWN = '10.99.0.3';
const { vectors, problems } = loadVectors();

function vector(pick: (v: Vector) => boolean, what: string): Vector {
  const found = vectors.find(pick);
  if (found === undefined) throw new Error(`no ${what} vector (${problems.join('; ')})`);
  return found;
}

const fw2 = vector((v) => v.carp?.advskew === 50, 'ucarp fw2 (advskew 50)');
const keepalived = vector((v) => v.vrrp?.advert.version === 3, 'keepalived VRRPv3');

function received(v: Vector): ReceivedPacket {
  return { payload: v.bytes.subarray(IPV4_HEADER), src: v.ip.src, dst: v.ip.dst, ttl: v.ip.ttl };
}

function packet(v: Vector): CoreEvent {
  return { type: 'packet', packet: received(v), wallMs: 0 };
}

function carpCore(carp: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const instance = parseConfig({
    instances: [
      {
        name: 'fw',
        interface: 'eth0',
        vrid: 10,
        protocol: 'carp',
        preempt: true,
        carp: { password: 's3cr3t', ...carp },
        vips: ['10.99.0.100/24'],
        ...extra,
      },
    ],
  }).instances[0];
  if (instance === undefined) throw new Error('no instance');
  return initialCore({ instance, primary: { address: OWN, prefix: 24 }, ttlChecked: true });
}

/** Runs events in order, each at its time; returns the last state and every effect. */
function run(
  state: CoreState,
  events: readonly [number, CoreEvent][],
): { state: CoreState; effects: CoreEffect[] } {
  const effects: CoreEffect[] = [];
  let s = state;
  for (const [at, event] of events) {
    const result = step(s, event, at);
    s = result.state;
    effects.push(...result.effects);
  }
  return { state: s, effects };
}

/**
 * Started at 0, given `meanwhile`, then ticked when the master-down timer is due (on time: a
 * late tick would get the core's stall grace).
 */
function startedAndTimedOut(
  core: CoreState,
  meanwhile: readonly [number, CoreEvent][] = [],
): { state: CoreState; effects: CoreEffect[] } {
  const started = run(core, [[0, { type: 'start' }], ...meanwhile]);
  const due = deadline(started.state) ?? 0;
  const timedOut = run(started.state, [[due, { type: 'tick' }]]);
  return { state: timedOut.state, effects: [...started.effects, ...timedOut.effects] };
}

/**
 * A core that started at 0 and took over when its master-down timer ran out (3 s + advskew/256 s,
 * at most 3996.1 ms), so its first advert timer is due at 4 s or later: events up to `SETTLED`
 * reach a master that has not advertised again yet.
 */
function masterCore(carp: Record<string, unknown> = {}): CoreState {
  const { state } = startedAndTimedOut(carpCore(carp));
  expect(state.fsm.state).toBe('master');
  return state;
}

const SETTLED = 3999;

const sends = (effects: readonly CoreEffect[]) => effects.filter((e) => e.type === 'send');
const transitionLogs = (effects: readonly CoreEffect[]) =>
  effects.filter((e) => e.type === 'log' && e.event === 'transition');

describe('RouterCore, protocol carp', () => {
  it('the ucarp vectors are there', () => {
    expect(problems).toEqual([]);
    expect(fw2.ip.src).toBe('10.99.0.2');
  });

  it("accepts ucarp's advert and the CARP machine sees its advbase and advskew", () => {
    // advskew 100: fw2 (50) is the better master, followed.
    const { state, effects } = run(carpCore({ advskew: 100 }), [
      [0, { type: 'start' }],
      [1000, packet(fw2)],
    ]);
    expect(effects.filter((e) => e.type === 'rejected')).toEqual([]);
    expect(state.counters.advertsReceived).toBe(1);
    expect(state.fsm.state).toBe('backup');
    expect(state.fsm.master).toEqual({
      address: '10.99.0.2',
      priority: 0,
      carp: { advbase: 1, advskew: 50 },
    });
    // 1000 + 3 * 1000 + 100 * 1000 / 256
    expect(state.fsm.masterDownAt).toBe(4390.625);
  });

  it('with preempt and advskew 0, takes over from ucarp at once; sends and logs say CARP', () => {
    const { state, effects } = run(carpCore({ advskew: 0 }), [
      [0, { type: 'start' }],
      [1000, packet(fw2)],
    ]);
    expect(state.fsm.state).toBe('master');
    expect(sends(effects)).toEqual([
      { type: 'send', priority: 1, cause: 'became-master', carp: { advbase: 1, advskew: 0 } },
    ]);
    const logs = transitionLogs(effects);
    expect(logs.map((l) => l.type === 'log' && l.fields)).toEqual([
      expect.objectContaining({ protocol: 'carp', from: 'initialize', to: 'backup' }),
      expect.objectContaining({
        protocol: 'carp',
        from: 'backup',
        to: 'master',
        reason: 'preempt-lower-priority',
        advbase: 1,
        advskew: 0,
        peer: '10.99.0.2',
        peerAdvbase: 1,
        peerAdvskew: 50,
      }),
    ]);
    expect(logs[1]?.type === 'log' && logs[1].msg).toBe(
      'fw: backup -> master (preempt-lower-priority, carp)',
    );
    expect(effects).toContainEqual({ type: 'run-plan', id: 2, role: 'master' });
  });

  it.each([
    [
      "ucarp's advert with a wrong password",
      { password: 'wrong' },
      fw2,
      'carp-auth',
      'HMAC does not match',
    ],
    ["keepalived's VRRP advert", {}, keepalived, 'vrrp', 'VRRP advertisement on a CARP instance'],
  ])("%s is refused as '%s'", (_what, carp, v, reason, detail) => {
    const { state, effects } = run(carpCore(carp), [
      [0, { type: 'start' }],
      [1000, packet(v)],
    ]);
    expect(effects).toContainEqual({
      type: 'rejected',
      reason,
      detail: expect.stringContaining(detail) as unknown,
      src: v.ip.src,
    });
    expect(effects).toContainEqual({
      type: 'event',
      event: { type: 'rejected', instance: 'fw', reason },
    });
    expect(state.counters.advertsReceived).toBe(0);
    expect(state.fsm.master).toBeUndefined();
  });

  it('the advert timer sends our timing; health tracking raises the advskew by the drop', () => {
    const master = masterCore({ advskew: 10 });
    // priority 100 -> 90: advskew 10 + 10
    const demoted = run(master, [[SETTLED, { type: 'priority', priority: 90, why: 'track' }]]);
    expect(sends(demoted.effects)).toEqual([
      { type: 'send', priority: 1, cause: 'priority-change', carp: { advbase: 1, advskew: 20 } },
    ]);
    // Its next advert: 3999 + 1000 + 20/256 s = 5077.125
    expect(demoted.state.fsm.advertAt).toBe(5077.125);
    const timer = run(demoted.state, [[5077.125, { type: 'tick' }]]);
    expect(sends(timer.effects)).toEqual([
      { type: 'send', priority: 1, cause: 'adver-timer', carp: { advbase: 1, advskew: 20 } },
    ]);
  });

  it('the raised advskew is capped at 254', () => {
    const master = masterCore({ advskew: 200 });
    // 200 + (100 - 1) = 299 -> 254
    const { effects } = run(master, [[SETTLED, { type: 'priority', priority: 1, why: 'track' }]]);
    expect(sends(effects)).toEqual([
      { type: 'send', priority: 1, cause: 'priority-change', carp: { advbase: 1, advskew: 254 } },
    ]);
  });

  it('the raised advskew is what the election compares: ucarp at 50 now wins', () => {
    // advskew 0 + (100 - 40) = 60 > fw2's 50
    const master = masterCore({ advskew: 0 });
    const { state, effects } = run(master, [
      [SETTLED, { type: 'priority', priority: 40, why: 'track' }],
      [SETTLED, packet(fw2)],
    ]);
    expect(state.fsm.state).toBe('backup');
    expect(sends(effects)).toContainEqual({
      type: 'send',
      priority: 1,
      cause: 'yield-notice',
      carp: { advbase: 1, advskew: 60 },
    });
    expect(transitionLogs(effects).map((l) => l.type === 'log' && l.fields)).toEqual([
      expect.objectContaining({
        protocol: 'carp',
        from: 'master',
        to: 'backup',
        reason: 'higher-priority',
        advskew: 60,
        peerAdvskew: 50,
      }),
    ]);
  });

  it('shutdown from master resigns with advbase 255 / advskew 255', () => {
    const { state, effects } = run(masterCore(), [[SETTLED, { type: 'shutdown' }]]);
    expect(sends(effects)).toEqual([
      { type: 'send', priority: 0, cause: 'shutdown', carp: { advbase: 255, advskew: 255 } },
    ]);
    expect(state.stopped).toBe(true);
  });

  it('a fault from master resigns with 255/255 too', () => {
    const { effects } = run(masterCore(), [
      [SETTLED, { type: 'fault', cause: { kind: 'interface', name: 'eth0' }, detail: 'link down' }],
    ]);
    expect(sends(effects)).toEqual([
      { type: 'send', priority: 0, cause: 'fault', carp: { advbase: 255, advskew: 255 } },
    ]);
  });

  it('shutdown from backup sends nothing', () => {
    const { effects } = run(carpCore(), [
      [0, { type: 'start' }],
      [100, { type: 'shutdown' }],
    ]);
    expect(sends(effects)).toEqual([]);
  });
});

describe('RouterCore, protocol vrrp (unchanged by CARP)', () => {
  it("sends carry no CARP timing and the log says 'vrrp'; a CARP advert is refused", () => {
    const instance = parseConfig({
      instances: [{ name: 'vi', interface: 'eth0', vrid: 10, vips: ['10.99.0.100/24'] }],
    }).instances[0];
    if (instance === undefined) throw new Error('no instance');
    const core = initialCore({ instance, primary: { address: OWN, prefix: 24 }, ttlChecked: true });
    const { state, effects } = startedAndTimedOut(core, [[1000, packet(fw2)]]);
    expect(state.counters.advertsReceived).toBe(0);
    expect(effects).toContainEqual(
      expect.objectContaining({ type: 'rejected', src: '10.99.0.2', reason: 'carp' }),
    );
    expect(sends(effects)).toEqual([{ type: 'send', priority: 100, cause: 'became-master' }]);
    expect(transitionLogs(effects).map((l) => l.type === 'log' && l.fields.protocol)).toEqual([
      'vrrp',
      'vrrp',
    ]);
  });
});
