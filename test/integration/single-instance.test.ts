/**
 * One vipd per network namespace, in a lab of one host (fw1, its own namespace, removed with the
 * lab): a second `vipd run` with its own config and control socket exits 1 at once with one fatal
 * line naming the first one's pid, before it opens a link or its control socket, and the first
 * keeps its VIP (before: the second's start-up removed it as stale). A SIGKILLed vipd leaves
 * nothing behind: the next one starts.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/control/client.js';
import { useLab } from '../support/lab-fixture.js';
import { until } from '../support/until.js';
import {
  controlSocket,
  logEvents,
  startVipd,
  startVipdWith,
  transitions,
  vipdConfig,
} from '../support/vipd.js';

const VIP = '10.99.0.100';
const INSTANCE = { priority: 150, advertInterval: 0.2 };
const SECOND = 'fw1-second';
/** Node's start-up and the config load, on a loaded machine; the refusal itself is one connect. */
const REFUSED_WITHIN_MS = 10_000;

describe('one vipd per network namespace', () => {
  const fx = useLab(['fw1']);
  // Its own control socket and no metrics port: nothing but the namespace lock is shared.
  const startSecond = (): ReturnType<typeof startVipd> =>
    fx.track(
      startVipdWith(
        fx.lab,
        'fw1',
        { ...(vipdConfig('fw1', [INSTANCE]) as object), metrics: { listen: null } },
        { name: SECOND },
      ),
    );

  it('a second vipd with another control socket exits 1 at once naming the first; the first keeps its VIP', async () => {
    const first = fx.track(startVipd(fx.lab, 'fw1', [INSTANCE]));
    await first.waitForLine(/"to":"master"/, 15_000);
    expect(await fx.lab.hasAddress('fw1', VIP)).toBe(true);

    const t0 = performance.now();
    const second = startSecond();
    await until(
      'the second vipd to exit',
      async () => ({ done: !second.running, value: second.lines.slice(-3) }),
      REFUSED_WITHIN_MS,
    );
    const took = performance.now() - t0;
    expect(await second.exited).toBe(1);
    console.log(`[measure] second vipd refused and exited in ${took.toFixed(0)} ms`);
    expect(second.lines.filter((l) => /"level":[56]0/.test(l))).toHaveLength(1);
    expect(logEvents(second, 'start-failed')).toEqual([
      expect.objectContaining({
        msg: `vipd could not start: another vipd is running in this network namespace (pid ${first.pid}); two in one namespace remove each other's VIPs: stop it first`,
      }),
    ]);
    // It claimed and touched nothing.
    expect(logEvents(second, 'link-open')).toEqual([]);
    expect(logEvents(second, 'control-listening')).toEqual([]);
    expect(existsSync(controlSocket(fx.lab, SECOND))).toBe(false);

    expect(await fx.lab.hasAddress('fw1', VIP)).toBe(true);
    expect(await sendRequest(controlSocket(fx.lab, 'fw1'), { cmd: 'status' })).toMatchObject({
      ok: true,
      status: { instances: [{ state: 'master' }] },
    });
    expect(first.running).toBe(true);
    expect(transitions(first).map((t) => t.to)).toEqual(['backup', 'master']);
  });

  it('a SIGKILLed vipd leaves no lock behind: the next one starts and takes the VIP', async () => {
    const first = fx.track(startVipd(fx.lab, 'fw1', [INSTANCE]));
    await first.waitForLine(/"event":"started"/, 15_000);
    first.kill('SIGKILL');
    await first.exited;
    const next = startSecond();
    await next.waitForLine(/"to":"master"/, 15_000);
    expect(await fx.lab.hasAddress('fw1', VIP)).toBe(true);
  });
});
