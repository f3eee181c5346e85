// The shell router (daemon/router.ts) on a takeover: the new master's advert is sent, its log
// line written and its master plan started before the transition's event is emitted (events
// wait for the next turn of the loop).
import { describe, expect, it } from 'vitest';
import { VirtualRouter } from '../../src/daemon/router.js';
import { createLoggerWith } from '../../src/log.js';
import type { Clock } from '../../src/ports/clock.js';
import { simInstance } from '../support/sim.js';

/** A clock the test moves; `fireNext` runs the earliest deadline on time, as the link's heap would. */
function manualClock(): Clock & { fireNext(): void } {
  let now = 0;
  let armed: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    schedule(at, fn) {
      const entry = { at, fn };
      armed.push(entry);
      return () => {
        armed = armed.filter((e) => e !== entry);
      };
    },
    fireNext() {
      const next = armed.reduce<{ at: number; fn: () => void } | undefined>(
        (a, e) => (a === undefined || e.at < a.at ? e : a),
        undefined,
      );
      if (next === undefined) throw new Error('no timer armed');
      armed = armed.filter((e) => e !== next);
      now = next.at;
      next.fn();
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('takeover order in the shell router', () => {
  it('advert, log line and master plan first, then the event', async () => {
    const order: string[] = [];
    const clock = manualClock();
    const cfg = simInstance(
      {
        priority: 100,
        version: 3,
        advertIntervalCs: 100,
        preempt: true,
        preemptDelayMs: 0,
        accept: false,
        reassertOnLower: true,
        primaryAddress: '192.0.2.2',
      },
      { trust: 'none', others: [] },
    );
    const log = createLoggerWith('info', 'fw2', 'json', (line: string) => {
      const { event, to } = JSON.parse(line) as { event?: string; to?: string };
      if (event === 'transition') order.push(`log ${to ?? ''}`);
    });
    const router = new VirtualRouter(cfg, {
      clock,
      link: {
        send: () => {
          order.push('send');
          return Promise.resolve();
        },
      },
      ttlChecked: true,
      primary: { family: 4, address: '192.0.2.2', prefix: 24, secondary: false, tentative: false },
      mac: () => undefined,
      duties: {
        prepare: () => Promise.resolve(),
        carryOut: (role) => {
          order.push(`plan ${role}`);
          return Promise.resolve({ ok: true, cancelled: false });
        },
        announce: () => undefined,
        restore: () => Promise.resolve(),
      },
      log,
      emit: (e) => {
        if (e.type === 'transition') order.push(`event ${e.to}`);
      },
    });
    await router.start();
    await tick();
    await tick();
    expect(order).toEqual(['log backup', 'plan backup', 'event backup']);
    order.length = 0;
    // What has happened once this turn's microtasks are done: this immediate was queued before
    // the router's, so it runs first.
    const thisTurn = new Promise<string[]>((r) => setImmediate(() => r([...order])));
    // Nobody else speaks: Master_Down_Timer fires.
    clock.fireNext();
    expect(await thisTurn).toEqual(['send', 'log master', 'plan master']);
    await tick();
    expect(order).toEqual(['send', 'log master', 'plan master', 'event master']);
    expect(router.state).toBe('master');
    await router.stop();
  });
});
