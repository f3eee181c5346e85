import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  HEALTHY,
  MAX_BACKOFF_MS,
  backoffMs,
  linkHealthStep,
  type LinkHealth,
  type LinkHealthEvent,
} from '../../src/router/link-health.js';
import { interfaceVerdict } from '../../src/router/interface-state.js';

const sendError = (code = 'EIO'): LinkHealthEvent => ({ type: 'error', op: 'send', code });

function run(events: LinkHealthEvent[]): { health: LinkHealth; actions: string[] } {
  let health = HEALTHY;
  const actions: string[] = [];
  for (const e of events) {
    const r = linkHealthStep(health, e);
    health = r.health;
    actions.push(...r.actions.map((a) => (a.type === 'reopen' ? `reopen ${a.delayMs}` : a.type)));
  }
  return { health, actions };
}

describe('link health', () => {
  it('reopens at once after one error, without a fault', () => {
    expect(run([sendError()])).toEqual({
      health: { failures: 1, faulted: false },
      actions: ['reopen 0'],
    });
  });

  it('a datagram carried after the reopen forgives the error', () => {
    const r = run([sendError(), { type: 'reopened' }, { type: 'carried' }, sendError()]);
    expect(r.actions).toEqual(['reopen 0', 'reopen 0']);
    expect(r.health.faulted).toBe(false);
  });

  it('a second error before anything was carried holds FAULT and backs off', () => {
    const r = run([sendError(), { type: 'reopened' }, sendError('ENETDOWN')]);
    expect(r.actions).toEqual(['reopen 0', 'fault', 'reopen 100']);
    expect(r.health).toEqual({ failures: 2, faulted: true });
  });

  it('a reopen that works clears the fault but keeps counting, so the next backoff is longer', () => {
    const r = run([
      sendError(),
      { type: 'reopened' },
      sendError(),
      { type: 'reopened' },
      { type: 'error', op: 'recv', code: 'EIO' },
    ]);
    expect(r.actions).toEqual(['reopen 0', 'fault', 'reopen 100', 'clear', 'fault', 'reopen 200']);
  });

  it('a socket that cannot be opened faults at once', () => {
    expect(run([{ type: 'error', op: 'open', code: 'ENODEV' }]).actions).toEqual([
      'fault',
      'reopen 100',
    ]);
  });

  it("the kernel's try-again on a send loses one datagram and changes nothing", () => {
    expect(run([sendError('ENOBUFS'), sendError('EAGAIN')])).toEqual({
      health: HEALTHY,
      actions: [],
    });
  });

  it('backs off at most MAX_BACKOFF_MS, and a fault is raised once per episode', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('error', 'reopened', 'carried'), { maxLength: 60 }),
        (kinds) => {
          let health = HEALTHY;
          for (const kind of kinds) {
            const event: LinkHealthEvent = kind === 'error' ? sendError() : { type: kind };
            const r = linkHealthStep(health, event);
            for (const a of r.actions) {
              if (a.type === 'reopen') expect(a.delayMs).toBeLessThanOrEqual(MAX_BACKOFF_MS);
              if (a.type === 'fault') expect(health.faulted).toBe(false);
              if (a.type === 'clear') expect(health.faulted).toBe(true);
            }
            health = r.health;
          }
        },
      ),
    );
    expect(backoffMs(100)).toBe(MAX_BACKOFF_MS);
  });
});

describe('interface verdict', () => {
  const eth0 = { name: 'eth0', index: 2, mac: '02:00:00:00:00:01', up: true };
  const own = {
    family: 4 as const,
    address: '10.0.0.1',
    prefix: 24,
    secondary: false,
    tentative: false,
  };
  const vip = { ...own, address: '10.0.0.100' };

  it('needs the interface, up, with an address of its own', () => {
    const vips = new Set(['10.0.0.100']);
    expect(interfaceVerdict('eth0', undefined, [], vips, 4)).toEqual({
      ok: false,
      reason: 'interface eth0 does not exist',
    });
    expect(interfaceVerdict('eth0', { ...eth0, up: false }, [own], vips, 4)).toEqual({
      ok: false,
      reason: 'interface eth0 is down',
    });
    expect(interfaceVerdict('eth0', eth0, [vip], vips, 4).ok).toBe(false);
    expect(interfaceVerdict('eth0', eth0, [vip, own], vips, 4)).toEqual({
      ok: true,
      link: eth0,
      primary: own,
    });
  });
});
