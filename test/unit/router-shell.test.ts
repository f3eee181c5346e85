// The shell router (daemon/router.ts): on a takeover the new master's advert is sent, its log
// line written and its master plan started before the transition's event is emitted (events
// wait for the next turn of the loop); an advert counts from the kernel's receive time.
import { describe, expect, it } from 'vitest';
import { VirtualRouter } from '../../src/daemon/router.js';
import { createLoggerWith } from '../../src/log.js';
import type { Clock } from '../../src/ports/clock.js';
import { VRRP_GROUP } from '../../src/vrrp/packet.js';
import { advertBytes, simInstance } from '../support/sim.js';

interface ManualClock extends Clock {
  set(ms: number): void;
  /** The earliest deadline armed. */
  nextAt(): number;
  /** Runs the earliest deadline on time, as the link's timer heap would. */
  fireNext(): void;
}

function manualClock(): ManualClock {
  let now = 0;
  let armed: { at: number; fn: () => void }[] = [];
  const next = (): { at: number; fn: () => void } => {
    const first = armed.reduce<{ at: number; fn: () => void } | undefined>(
      (a, e) => (a === undefined || e.at < a.at ? e : a),
      undefined,
    );
    if (first === undefined) throw new Error('no timer armed');
    return first;
  };
  return {
    now: () => now,
    schedule(at, fn) {
      const entry = { at, fn };
      armed.push(entry);
      return () => {
        armed = armed.filter((e) => e !== entry);
      };
    },
    set(ms) {
      now = ms;
    },
    nextAt: () => next().at,
    fireNext() {
      const first = next();
      armed = armed.filter((e) => e !== first);
      now = first.at;
      first.fn();
    },
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

const CFG = simInstance(
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
/** Master_Down_Interval at priority 100 and 1 s adverts: 3 s plus Skew_Time (156/256 s). */
const MDI_MS = 3_000 + (156 * 1_000) / 256;

/** A backup router (started, its backup plan done) and what it did, in order. */
async function backup(): Promise<{ router: VirtualRouter; clock: ManualClock; order: string[] }> {
  const order: string[] = [];
  const clock = manualClock();
  const log = createLoggerWith('info', 'fw2', 'json', (line: string) => {
    const { event, to } = JSON.parse(line) as { event?: string; to?: string };
    if (event === 'transition') order.push(`log ${to ?? ''}`);
  });
  const router = new VirtualRouter(CFG, {
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
  return { router, clock, order };
}

/** The master's advert (priority 200) as the raw transport hands it over. */
function advert(receivedAt: number | undefined) {
  return {
    src: '192.0.2.1',
    dst: VRRP_GROUP,
    ttl: 255,
    payload: advertBytes(CFG, 200, '192.0.2.1', VRRP_GROUP),
    ...(receivedAt === undefined ? {} : { receivedAt }),
  };
}

describe('the shell router', () => {
  it('on a takeover: advert, log line and master plan first, then the event', async () => {
    const { router, clock, order } = await backup();
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

  it("restarts Master_Down_Timer from the kernel's receive time, never before the last event nor after now", async () => {
    const { router, clock } = await backup();
    clock.set(1_000);
    router.receive(advert(950.5));
    expect(clock.nextAt()).toBeCloseTo(950.5 + MDI_MS, 6);
    // Read late, but received before the advert above was handled: from that one's time.
    clock.set(1_100);
    router.receive(advert(900));
    expect(clock.nextAt()).toBeCloseTo(950.5 + MDI_MS, 6);
    // A time ahead of the clock (it cannot be): now.
    router.receive(advert(5_000));
    expect(clock.nextAt()).toBeCloseTo(1_100 + MDI_MS, 6);
    // No time from the transport (udp): now.
    clock.set(1_200);
    router.receive(advert(undefined));
    expect(clock.nextAt()).toBeCloseTo(1_200 + MDI_MS, 6);
    expect(router.state).toBe('backup');
    await router.stop();
  });
});
