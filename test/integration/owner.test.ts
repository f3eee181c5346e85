/**
 * The address owner (priority 255) started alone: RFC 5798 6.4.1 has it send an advert and take
 * the VIPs at once. Its first advert must be on the wire at the transition, not an interval
 * later: before the fix the router started while its link's socket was still opening, the first
 * send failed ("no socket on eth0") and the first advert seen was the periodic one. The interval
 * is 10 s, so one advert within a second of the transition can only be the first.
 */
import { describe, expect, it } from 'vitest';
import { useLab } from '../support/lab-fixture.js';
import { logEvents, startVipd } from '../support/vipd.js';

describe('an address owner started alone', () => {
  const fx = useLab(['fw1']);

  it('sends its first advert at the owner-startup transition', async () => {
    const capture = await fx.lab.capture('ip proto 112 and src host 10.99.0.1');
    const fw1 = fx.track(startVipd(fx.lab, 'fw1', [{ priority: 255, advertInterval: 10 }]));
    const line = JSON.parse(await fw1.waitForLine(/"to":"master"/, 15_000)) as {
      reason: string;
      time: string;
    };
    await new Promise((r) => setTimeout(r, 1_000));
    const adverts = (await capture.stop()).map((l) => Number(l.split(' ')[0]) * 1000);
    expect(line.reason).toBe('owner-startup');
    expect(adverts.length).toBe(1);
    // The log's time is taken as the line is written, after the advert left.
    expect(Math.abs((adverts[0] ?? 0) - Date.parse(line.time))).toBeLessThan(500);
    expect(logEvents(fw1, 'send-failed')).toEqual([]);
  });
});
