/**
 * Forged lower-priority adverts (issue 12, defect 3): fw1 (priority 150) master and fw2 (100)
 * backup, adverts 0.2 s, no authentication. A third host on the segment sends unauthenticated
 * VRRPv3 adverts for their VRID with priority 50, 5 a second for 10 s, claiming an interval of
 * 0.2 s in one test and 1 s in the other. RFC 9568 (and keepalived): a master answers a lower
 * advert with an advert of its own and moves nothing. So: no transition on either box, the VIP
 * on fw1 alone the whole time, never on none.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { instanceStatus } from '../support/control.js';
import { useLab } from '../support/lab-fixture.js';
import { PAIR_VIP as VIP, settledOn, startBox } from '../support/pair.js';
import { REPO_ROOT } from '../support/paths.js';
import type { LabProcess } from '../lab/lab.js';
import { logEvents, transitions } from '../support/vipd.js';

const FORGER = resolve(REPO_ROOT, 'test/support/vrrp-forge-cli.ts');
const FORGED_PRIORITY = 50;
const PER_SECOND = 5;
const SECONDS = 10;

/** `host`'s transitions after its first `n`, each with its time from `zero` (epoch ms). */
function movedSince(host: string, proc: LabProcess, n: number, zero: number): string[] {
  return logEvents(proc, 'transition')
    .slice(n)
    .map(
      (t) =>
        `${host} ${String(t.from)}->${String(t.to)} ${String(t.reason)} +${Date.parse(String(t.time)) - zero} ms`,
    );
}

describe('forged lower-priority adverts from a third host', () => {
  const fx = useLab(['fw1', 'fw2', 'forger']);

  it.each([0.2, 1])(
    'claimed interval %s s, 5 a second for 10 s: no transition, the VIP on fw1 alone throughout',
    async (claimedS) => {
      const { lab } = fx;
      const fw1 = startBox(fx, 'fw1', { advertInterval: 0.2 });
      const fw2 = startBox(fx, 'fw2', { advertInterval: 0.2 });
      await settledOn(lab, { host: 'fw1', proc: fw1 }, [fw2], 15_000);
      const before = { fw1: transitions(fw1).length, fw2: transitions(fw2).length };
      const watch = await lab.watchHolders(VIP, ['fw1', 'fw2']);
      const out = await lab.exec('forger', process.execPath, [
        '--import',
        'tsx',
        FORGER,
        lab.host('forger').address,
        '51',
        String(FORGED_PRIORITY),
        String(Math.round(claimedS * 100)),
        String(PER_SECOND),
        String(PER_SECOND * SECONDS),
        VIP,
      ]);
      const forged = JSON.parse(out) as { sent: number; firstAt: number; ms: number };
      const startedAt = forged.firstAt;
      // What the forgery set in motion has time to show (a master-down interval and more).
      await new Promise((r) => setTimeout(r, 1_500));
      const timeline = await watch.stop();
      const vi1 = await instanceStatus(lab, 'fw1');
      const moved = [
        ...movedSince('fw1', fw1, before.fw1, startedAt),
        ...movedSince('fw2', fw2, before.fw2, startedAt),
      ];
      const none = timeline.msWhen((h) => h.length === 0);
      const notFw1 = timeline.msWhen((h) => h.join() !== 'fw1');
      console.log(
        `[measure] forged priority-${FORGED_PRIORITY} adverts claiming ${claimedS} s: forger ${out.trim()}; ` +
          `transitions ${JSON.stringify(moved)}; VIP ${timeline.describe(startedAt)} ms from the first forgery ` +
          `(on none ${Math.round(none)} ms, not on fw1 alone ${Math.round(notFw1)} ms); fw1 now ${vi1?.state}`,
      );
      expect(forged.sent).toBe(PER_SECOND * SECONDS);
      expect(moved, 'transitions while and after the forger sent').toEqual([]);
      expect(Math.round(notFw1), 'ms the VIP was not on fw1 alone').toBe(0);
      expect(vi1?.state).toBe('master');
    },
  );
});
