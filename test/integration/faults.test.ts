/**
 * Faults in the namespace lab (issue 7): fw1 (priority 150) and fw2 (100) share a VIP.
 * - Random VRRP loss on the LAN (10, 30, 50 %, 30 s each, advert 1 s; one pair and LAN per level,
 *   the three side by side): spurious takeovers stay within what the protocol's arithmetic
 *   predicts, and once the loss stops fw1 is the one master, holding the VIP alone, within one
 *   master-down interval + 1 s.
 * - A busy up hook (3 s of CPU, run at each takeover by fw1) does not delay fw1's adverts at
 *   0.1 s: the 99th percentile of their spacing on the wire stays under 150 ms while it burns,
 *   and no gap comes near fw2's master-down interval.
 * - A tool the plans need that cannot run: a missing conntrackd binary (FAULT from the start-up
 *   plan on, so fw1 never takes over), iptables-restore failing under xt_cluster load sharing
 *   (the master plan rolls back, fw1 resigns with a priority-0 advert). Either way a log line
 *   names the tool and its complaint, fw2 holds the VIP, and vipd keeps running and answering.
 * - A control socket path that is taken by a regular file, or in a read-only directory: vipd
 *   exits 1 at start-up with one fatal line naming it and the reason, before touching any VIP
 *   (what control.test.ts checks of ControlServer alone, here end to end through `vipd run`).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/control/client.js';
import type { Lab, LabProcess } from '../lab/lab.js';
import { useLab, type LabFixture } from '../support/lab-fixture.js';
import { writeScript } from '../support/script.js';
import { until } from '../support/until.js';
import {
  controlSocket,
  logEvents,
  startVipdWith,
  transitions,
  vipdConfig,
  type InstanceOptions,
  type StartOptions,
} from '../support/vipd.js';
import type { DaemonStatus } from '../../src/router/status.js';

const VIP = '10.99.0.100';
const FW1 = '10.99.0.1';
/** fw2's (priority 100) Master_Down_Interval at a 1 s advert interval: 3 s + 156/256 s. */
const MDI_MS = 3_000 + (156 / 256) * 1_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** fw1 (priority 150) or fw2 (100) with one instance, VI_1 on eth0 with the VIP. */
function start(
  fx: LabFixture,
  host: 'fw1' | 'fw2',
  opts: Partial<InstanceOptions> = {},
  how: StartOptions = {},
): LabProcess {
  const instance = { priority: host === 'fw1' ? 150 : 100, ...opts };
  return fx.track(startVipdWith(fx.lab, host, vipdConfig(host, [instance]), how));
}

/** One master, fw1: its last transition to master, fw2's to backup, the VIP on fw1 alone. */
async function settled(
  lab: Lab,
  fw1: LabProcess,
  fw2: LabProcess,
): Promise<{ done: boolean; value: unknown }> {
  const on = await lab.holders(VIP);
  const last = [transitions(fw1).at(-1)?.to, transitions(fw2).at(-1)?.to];
  return { done: on.join() === 'fw1' && last.join() === 'master,backup', value: { on, last } };
}

/** A host's instance status over its control socket: an answer also shows the daemon alive. */
async function statusOf(lab: Lab, host: string): Promise<DaemonStatus['instances'][number]> {
  const reply = await sendRequest(controlSocket(lab, host), { cmd: 'status' });
  if (!reply.ok || !('status' in reply)) throw new Error(`status: ${JSON.stringify(reply)}`);
  const inst = reply.status.instances[0];
  if (inst === undefined) throw new Error('status: no instance');
  return inst;
}

const ascending = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

/** The nearest-rank percentile `p` of ascending `sorted`. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

describe('random VRRP loss on the LAN, default timers', () => {
  const LEVELS = [10, 30, 50];
  // A pair per level on a LAN of its own, all three at once: each level is its own 30 s of loss
  // from a settled pair, as in a row on one pair, in a third of the time. Three pairs at 1 s
  // adverts add next to no load; what the levels measure is counts, not milliseconds.
  const labs = LEVELS.map(() => useLab(['fw1', 'fw2']));

  /*
   * What to expect. fw2 declares fw1 dead Master_Down_Interval = 3 x 1 s + skew (156/256 s) =
   * 3.61 s after the last advert it heard: after a received advert the next three (+1, +2, +3 s)
   * must all be lost (the fourth, at +4 s, comes too late), so each received advert is followed
   * by a spurious takeover with probability p^3, and a 30 s run has ~30 (1 - p) of them:
   *   p = 10 %: p^3 = 0.1 %  -> 0.027 takeovers expected per run (P(>= 2) ~ 0.04 %)
   *   p = 30 %: p^3 = 2.7 %  -> 0.57
   *   p = 50 %: p^3 = 12.5 % -> 1.9
   * So zero is likely but not certain even at 10 %: the bound asserted there is one takeover;
   * 30 and 50 % are reported, not bounded (a Poisson count with a mean of 1.9 reaches 6 about
   * once in 75 runs). Each takeover heals by itself: fw1, still master, hears fw2's advert and
   * re-asserts at once (a split brain it reports); fw2 yields when it hears that.
   *
   * The one-way-loss hold-down is shortened to its minimum (1 s): at 50 % all of fw1's adverts
   * and re-assertions can be lost on their way to a spuriously promoted fw2 for long enough (~7
   * in a row, at most ~1 % of runs) that fw1 concludes fw2 cannot hear it and yields to it; the
   * 60 s default would then keep fw1 from preempting well past the recovery check.
   */
  /** Settles a pair on `fx`'s LAN, runs 30 s of `percent` % loss, checks it; returns its report. */
  async function lossLevel(fx: LabFixture, percent: number): Promise<string> {
    const guard = { advertInterval: 1, oneWayHoldDown: 1 };
    const fw1 = start(fx, 'fw1', guard);
    const fw2 = start(fx, 'fw2', guard);
    // Six daemons start at once: on a loaded 2-core machine that alone can take seconds.
    await until(`${percent} %: fw1 elected`, () => settled(fx.lab, fw1, fw2), 30_000);
    const before = { fw1: transitions(fw1).length, fw2: transitions(fw2).length };
    const splits = logEvents(fw1, 'split-brain').length;
    const heal = await fx.lab.loseElection(percent);
    await sleep(30_000);
    const { seen, dropped } = await heal();
    const t0 = performance.now();
    await until(
      `${percent} %: fw1 sole master after the loss`,
      () => settled(fx.lab, fw1, fw2),
      MDI_MS + 1_000,
      20,
    );
    const convergedMs = performance.now() - t0;
    const during = {
      fw1: transitions(fw1).slice(before.fw1),
      fw2: transitions(fw2).slice(before.fw2),
    };
    const takeovers = during.fw2.filter((t) => t.to === 'master').length;
    if (percent === 10) expect(takeovers).toBeLessThanOrEqual(1);
    // Every takeover healed: fw2 only went backup -> master -> backup.
    expect(during.fw2.every((t) => t.to === 'master' || t.to === 'backup')).toBe(true);
    expect(await fx.lab.holders(VIP)).toEqual(['fw1']);
    return (
      `${percent} %: dropped ${dropped}/${seen} adverts (${((100 * dropped) / Math.max(1, seen)).toFixed(1)} %), ` +
      `fw2 took over ${takeovers}x, transitions fw1 ${during.fw1.length} fw2 ${during.fw2.length} ` +
      `[${[...during.fw1.map((t) => `fw1 ${t.to}/${t.reason}`), ...during.fw2.map((t) => `fw2 ${t.to}/${t.reason}`)].join(', ')}], ` +
      `fw1 split brains ${logEvents(fw1, 'split-brain').length - splits}, converged ${convergedMs.toFixed(0)} ms after the loss stopped`
    );
  }

  it('spurious takeovers at 10/30/50 % loss, then fw1 sole master within MDI + 1 s', async () => {
    const levels = await Promise.allSettled(
      LEVELS.map((percent, i) => {
        const fx = labs[i];
        if (fx === undefined) throw new Error(`no lab for ${percent} %`);
        return lossLevel(fx, percent);
      }),
    );
    const report = levels.map((l) => (l.status === 'fulfilled' ? l.value : String(l.reason)));
    console.log(`[measure] VRRP loss, advert 1 s, 30 s per level:\n  ${report.join('\n  ')}`);
    for (const l of levels) if (l.status === 'rejected') throw l.reason;
  }, 90_000);
});

describe('a busy up hook, advert 0.1 s', () => {
  const fx = useLab(['fw1', 'fw2']);
  /** fw2's (priority 100) Master_Down_Interval at 0.1 s: 300 ms + 156/256 x 100 ms. */
  const FAST_MDI_MS = 300 + (156 / 256) * 100;

  /*
   * The hook runs in its own process and vipd awaits it asynchronously, so fw1's advert timer
   * keeps firing. What can still delay an advert is the machine: the burner takes one of CI's 2
   * cores, the other is shared by both daemons, tcpdump, vitest and whatever else runs there
   * (here: another engineer's benchmarks), and a timer that wakes a moment after its deadline
   * sends late. Measured on this 2-core box over 10 runs, the worst single interval of a run was
   * 103-107 ms in seven, 116, 124 and 162 ms in the others, mid-burn rather than at the hook's
   * start; a second CPU hog on the other core did not make it worse, and 3 s without any hook
   * reached 112 ms in the same run as the 124: a bound on the maximum would test the machine.
   * So the bound is on the 99th percentile (150 ms: half an interval late, against 101-120 ms
   * measured) over ~180 intervals, and the maximum is held to what matters for the protocol:
   * below fw2's master-down interval (361 ms), with no takeover by fw2 during any burn. The same
   * figures for 3 s of fw1 as master without a hook are reported beside them for comparison.
   */
  it("fw1's adverts keep their 100 ms spacing while its up hook burns a CPU for 3 s", async () => {
    const runs = 6;
    const out = join(fx.lab.logDir, 'busy-hook.times');
    writeFileSync(out, '');
    const up = writeScript(
      fx.lab.logDir,
      'busy-up.sh',
      [
        `echo "start $(date +%s.%N)" >> ${out}`,
        `timeout 3 sh -c 'while :; do :; done'`,
        `echo "end $(date +%s.%N)" >> ${out}`,
        // timeout's 124 is the expected end of the burn, not a failed hook.
        'exit 0',
      ].join('\n'),
    );
    const capture = await fx.lab.capture(`ip proto 112 and src host ${FW1}`);
    const fw1 = start(fx, 'fw1', { advertInterval: 0.1, hooks: { up } });
    const fw2 = start(fx, 'fw2', { advertInterval: 0.1 });
    const ended = async (n: number): Promise<void> => {
      await until(
        `up hook run ${n} ended`,
        async () => {
          const value = readFileSync(out, 'utf8').match(/^end /gm)?.length ?? 0;
          return { done: value >= n, value };
        },
        20_000,
        100,
      );
    };
    await ended(1);
    for (let n = 2; n <= runs; n += 1) {
      // A failover away and back: fw1 resigns for 1 s, fw2 takes over, fw1 preempts again.
      const from = fw1.lines.length;
      const reply = await sendRequest(controlSocket(fx.lab, 'fw1'), {
        cmd: 'demote',
        instance: 'VI_1',
        forSeconds: 1,
      });
      expect(reply.ok).toBe(true);
      await fw1.waitForLine(/"to":"master"/, 10_000, from);
      await ended(n);
    }
    // The comparison: fw1 master, no hook running.
    const quietFrom = Date.now() / 1000 + 0.2;
    await sleep(3_200);
    const quiet = [{ start: quietFrom, end: quietFrom + 3 }];
    const adverts = (await capture.stop()).map((l) => ({
      at: Number(l.split(' ')[0]),
      priority: Number(/prio (\d+)/.exec(l)?.[1]),
    }));
    const times = readFileSync(out, 'utf8').trim().split('\n');
    const ends = times.filter((l) => l.startsWith('end '));
    const burns = times
      .filter((l) => l.startsWith('start '))
      .map((l, i) => ({ start: Number(l.split(' ')[1]), end: Number(ends[i]?.split(' ')[1]) }));
    /*
     * The gaps (ms) between consecutive adverts that overlap one of `windows`. Only the master's
     * regular ones (priority 150): the priority-0 advert of the demotion after a burn is sent on
     * request, early by design.
     */
    const gapsIn = (windows: { start: number; end: number }[]): number[] =>
      adverts.slice(1).flatMap((a, i) => {
        const prev = adverts[i] ?? a;
        const regular = prev.priority === 150 && a.priority === 150;
        const overlaps = windows.some((w) => prev.at < w.end && a.at > w.start);
        return regular && overlaps ? [(a.at - prev.at) * 1000] : [];
      });
    const describeGaps = (gaps: number[]): string => {
      const sorted = ascending(gaps);
      const jitter = Math.max(...gaps.map((g) => Math.abs(g - 100)));
      return (
        `${gaps.length} intervals, min ${sorted[0]?.toFixed(1)} / median ${percentile(sorted, 50).toFixed(1)} / ` +
        `p99 ${percentile(sorted, 99).toFixed(1)} / max ${sorted.at(-1)?.toFixed(1)} ms, max jitter vs 100 ms ${jitter.toFixed(1)} ms`
      );
    };
    const gaps = gapsIn(burns);
    console.log(
      `[measure] fw1's adverts (0.1 s) while its up hook burns a CPU (${burns.length} x 3 s): ${describeGaps(gaps)}; ` +
        `without a hook (3 s): ${describeGaps(gapsIn(quiet))}`,
    );
    expect(burns).toHaveLength(runs);
    // ~30 adverts per 3 s burn: fewer would mean fw1 stopped advertising (or lost master).
    expect(gaps.length).toBeGreaterThanOrEqual(runs * 25);
    expect(percentile(ascending(gaps), 99)).toBeLessThan(150);
    expect(Math.max(...gaps)).toBeLessThan(FAST_MDI_MS);
    const fw2Took = logEvents(fw2, 'transition')
      .filter((t) => t.to === 'master')
      .map((t) => Date.parse(String(t.time)) / 1000);
    expect(fw2Took.filter((at) => burns.some((w) => at > w.start && at < w.end))).toEqual([]);
  }, 90_000);
});

describe('a backup whose event loop is held longer than its master-down interval', () => {
  const fx = useLab(['fw1', 'fw2']);
  const ROUTERS = 16;
  const FREEZES = 5;
  const FREEZE_MS = 1_000;

  /**
   * n routers (VRIDs 1..n) at advert 0.1 s: fw1 (150) started and master of all, then fw2 (100)
   * started and backup of all, then 1 s to settle.
   */
  async function settledPair(n: number): Promise<{ fw1: LabProcess; fw2: LabProcess }> {
    const instances = (priority: number): InstanceOptions[] =>
      Array.from({ length: n }, (_, i) => ({
        name: `VI_${i + 1}`,
        vrid: i + 1,
        priority,
        advertInterval: 0.1,
        vips: [`10.99.0.${101 + i}/24`],
      }));
    const allIn = (proc: LabProcess, state: string) => async () => {
      const last = new Map(transitions(proc).map((t) => [t.instance, t.to]));
      const count = [...last.values()].filter((to) => to === state).length;
      return { done: count === n, value: count };
    };
    const fw1 = fx.track(startVipdWith(fx.lab, 'fw1', vipdConfig('fw1', instances(150))));
    await until('fw1 master of all', allIn(fw1, 'master'), 20_000);
    const fw2 = fx.track(startVipdWith(fx.lab, 'fw2', vipdConfig('fw2', instances(100))));
    await until('fw2 backup of all', allIn(fw2, 'backup'), 20_000);
    await sleep(1_000);
    return { fw1, fw2 };
  }

  /*
   * SIGSTOP holds fw2 as a long spawn, GC pause or loaded machine would, for 1 s: 2.8 times its
   * master-down interval at 0.1 s (361 ms), while fw1 keeps advertising all 16 routers and the
   * kernel queues the adverts in fw2's socket. On SIGCONT every router's timer has expired, but
   * the master never went away: its adverts are waiting to be read. Node runs expired timers
   * before it reads sockets, so without the clock's deferral and the transport reading all that
   * is queued, fw2 took over routers on every thaw.
   */
  it('takes over nothing when it resumes: the adverts queued meanwhile are read first', async () => {
    const { fw2 } = await settledPair(ROUTERS);
    const before = transitions(fw2).length;
    for (let i = 0; i < FREEZES; i++) {
      process.kill(fw2.pid, 'SIGSTOP');
      await sleep(FREEZE_MS);
      process.kill(fw2.pid, 'SIGCONT');
      await sleep(1_500);
    }
    const after = transitions(fw2).slice(before);
    console.log(
      `[measure] ${FREEZES} freezes of ${FREEZE_MS} ms: fw2 made ${after.length} transitions`,
    );
    expect(after.map((t) => `${t.instance} ${t.to}`)).toEqual([]);
    // fw2 was alive and listening all along: still backup of every router, and answering.
    expect(fw2.running).toBe(true);
    expect(await fx.lab.holders('10.99.0.101')).toEqual(['fw1']);
  });

  /*
   * The soak saw this on the CI machine: the whole VM stalled for ~0.4 s (the host reclaiming
   * memory), so master and backup stopped together, and on resuming the backup's timer had
   * expired before the master's next advert was sent. Both boxes frozen for 1 s, resumed
   * together (the backup first, as the scheduler may): the backup notices its timer is late,
   * gives the master one more interval, hears it, and stays backup.
   */
  it('takes over nothing when the whole machine stalls: a late timer gives the master one more interval', async () => {
    const { fw1, fw2 } = await settledPair(1);
    const before = [transitions(fw1).length, transitions(fw2).length];
    for (let i = 0; i < FREEZES; i++) {
      process.kill(fw1.pid, 'SIGSTOP');
      process.kill(fw2.pid, 'SIGSTOP');
      await sleep(FREEZE_MS);
      process.kill(fw2.pid, 'SIGCONT');
      process.kill(fw1.pid, 'SIGCONT');
      await sleep(1_500);
    }
    const after = [...transitions(fw1).slice(before[0]), ...transitions(fw2).slice(before[1])];
    const stalls = logEvents(fw2, 'stalled');
    console.log(
      `[measure] ${FREEZES} machine-wide freezes of ${FREEZE_MS} ms: ${after.length} transitions, fw2 logged ${stalls.length} stalls (late ${stalls.map((e) => String(e.lateMs)).join(', ')} ms)`,
    );
    expect(after.map((t) => `${t.instance} ${t.from} -> ${t.to}`)).toEqual([]);
    expect(stalls.length).toBeGreaterThan(0);
    expect(await fx.lab.holders('10.99.0.101')).toEqual(['fw1']);
  });
});

describe('a tool the action plans need cannot run', () => {
  const fx = useLab(['fw1', 'fw2']);

  it('conntrackd binary missing: FAULT naming the binary, fw2 holds the VIP, vipd keeps running', async () => {
    const binary = '/nonexistent/conntrackd';
    // A config with a LogFile, so nothing but the binary is missing.
    const config = join(fx.lab.logDir, 'conntrackd.conf');
    writeFileSync(config, `General {\n  LogFile ${join(fx.lab.logDir, 'conntrackd.log')}\n}\n`);
    const fw1 = start(fx, 'fw1', {
      advertInterval: 1,
      conntrackd: { enabled: true, binary, config },
      faultRecovery: 2,
    });
    const fw2 = start(fx, 'fw2', { advertInterval: 1 });
    // The start-up plan (backup: start conntrackd if it is not running) is the first to need
    // the binary, so fw1 goes to FAULT before it could ever take over.
    await fw1.waitForLine(/"to":"fault"/, 10_000);
    await fw2.waitForLine(/"event":"plan","role":"master","ok":true/, MDI_MS + 3_000);
    // faultRecovery 2 s: it retries, fails the same way, and is still there to do it again.
    await until(
      'a second failed attempt',
      async () => {
        const value = logEvents(fw1, 'step').filter((s) => s.ok === false).length;
        return { done: value >= 2, value };
      },
      6_000,
    );
    const failed = logEvents(fw1, 'step').find((s) => s.ok === false);
    console.log(`[measure] conntrackd missing: fw1's step line: ${JSON.stringify(failed)}`);
    expect(failed?.step).toMatch(/^conntrackd ensure-running/);
    expect(failed?.error).toBe(
      `conntrackd -d could not run ${binary} (ENOENT): install conntrackd or point conntrackd.binary at it`,
    );
    expect(logEvents(fw1, 'fault-raised')[0]).toMatchObject({
      cause: 'plan',
      detail: `backup plan failed: conntrackd ensure-running, schedule-flush, request-resync: conntrackd -d could not run ${binary} (ENOENT): install conntrackd or point conntrackd.binary at it`,
    });
    expect(transitions(fw1).filter((t) => t.to === 'master')).toEqual([]);
    expect(fw1.running).toBe(true);
    // Alive and answering; between two attempts it may be back in backup for a moment.
    expect((await statusOf(fx.lab, 'fw1')).state).toMatch(/^(fault|backup)$/);
    expect(await fx.lab.holders(VIP)).toEqual(['fw2']);
  });

  it('iptables-restore failing (xt_cluster): the master plan rolls back, FAULT, fw2 takes over', async () => {
    // xt-cluster.ts reads with iptables-save and writes with iptables-restore: only the writer
    // fails, as when the kernel or another tool refuses the mangle table.
    const shim = mkdtempSync(join(fx.lab.logDir, 'shim-'));
    writeScript(
      shim,
      'iptables-restore',
      'cat > /dev/null\necho "iptables-restore: shadowed by faults.test.ts: mangle table refused" >&2\nexit 1',
    );
    const sharing = {
      loadSharing: {
        backend: 'xt_cluster',
        clusterMac: '01:00:5e:00:01:0a',
        totalNodes: 2,
        localNode: 1,
      },
    };
    const fw2 = start(fx, 'fw2', { advertInterval: 1 });
    await fw2.waitForLine(/"event":"plan","role":"master","ok":true/, MDI_MS + 3_000);
    const fw1 = start(
      fx,
      'fw1',
      { advertInterval: 1, ...sharing },
      { env: { PATH: `${shim}:${process.env.PATH ?? ''}` } },
    );
    const from = fw2.lines.length;
    await fw1.waitForLine(/"to":"fault"/, MDI_MS + 5_000);
    // Resigned with a priority-0 advert: fw2 takes over in its skew time, not a master-down.
    await fw2.waitForLine(/"reason":"priority-zero-heard"/, 3_000, from);
    await fw1.waitForLine(/"event":"plan","role":"fault"/, 5_000);
    const failed = logEvents(fw1, 'step').find((s) => s.ok === false);
    console.log(`[measure] iptables-restore failing: fw1's step line: ${JSON.stringify(failed)}`);
    expect(failed).toMatchObject({
      plan: 'master plan',
      step: 'load sharing install owning node(s) 1',
    });
    expect(String(failed?.error)).toMatch(
      /^installing the xt_cluster rules: `iptables-restore --noflush` failed \(exit 1\): iptables-restore: shadowed by faults\.test\.ts: mangle table refused/,
    );
    expect(transitions(fw1).map((t) => t.to)).toEqual(['backup', 'master', 'fault']);
    expect(
      logEvents(fw1, 'step').some(
        (s) => s.step === 'undo VIPs add 10.99.0.100/24' && s.ok === true,
      ),
    ).toBe(true);
    await until(
      'VIP on fw2 only',
      async () => {
        const on = await fx.lab.holders(VIP);
        return { done: on.join() === 'fw2', value: on };
      },
      3_000,
    );
    // What the failed install did before failing (cluster MAC, ARP rewrite) is gone too.
    expect(await fx.lab.exec('fw1', 'nft', ['list', 'tables'])).not.toMatch(/vipd_arp/);
    expect(await fx.lab.exec('fw1', 'ip', ['maddr', 'show', 'dev', 'eth0'])).not.toMatch(
      /01:00:5e:00:01:0a/,
    );
    expect(fw1.running).toBe(true);
    expect(await statusOf(fx.lab, 'fw1')).toMatchObject({
      state: 'fault',
      faults: [
        expect.stringMatching(
          /^plan: master plan failed: load sharing install owning node\(s\) 1: installing the xt_cluster rules/,
        ),
      ],
    });
  });
});

describe('control socket unusable at start-up', () => {
  const fx = useLab(['fw1']);

  /**
   * Runs fw1 with `socket` as its control socket while its VIP is on eth0 (as another vipd would
   * have it): returns the fatal line, after checking the exit code, that it is the only line
   * at error level or above, and that the VIP was left alone.
   */
  async function refused(socket: string, how: StartOptions = {}): Promise<string> {
    await fx.lab.exec('fw1', 'ip', ['addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
    try {
      const doc = { control: { socket }, ...(vipdConfig('fw1', [{ priority: 150 }]) as object) };
      const fw1 = fx.track(startVipdWith(fx.lab, 'fw1', doc, how));
      expect(await fw1.exited).toBe(1);
      const bad = fw1.lines.filter((l) => /"level":[56]0/.test(l));
      expect(bad).toHaveLength(1);
      const fatal = JSON.parse(bad[0] ?? '{}') as { level: number; event: string; msg: string };
      expect(fatal).toMatchObject({ level: 60, event: 'start-failed' });
      expect(fw1.lines.some((l) => l.includes('"event":"link-open"'))).toBe(false);
      expect(await fx.lab.hasAddress('fw1', VIP)).toBe(true);
      return fatal.msg;
    } finally {
      await fx.lab.exec('fw1', 'ip', ['addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
    }
  }

  it('a regular file at the path: exit 1, one fatal line naming it, the file untouched', async () => {
    const path = join(fx.lab.logDir, 'taken.sock');
    writeFileSync(path, 'not a socket\n');
    const msg = await refused(path);
    console.log(`[measure] control socket path is a file: ${msg}`);
    expect(msg).toBe(
      `vipd could not start: ${path} exists and is not a socket: vipd will not remove it; delete it or set control.socket to another path`,
    );
    expect(readFileSync(path, 'utf8')).toBe('not a socket\n');
  });

  it('a read-only directory: exit 1, one fatal line naming it and EROFS', async () => {
    // Root ignores mode bits, so the directory is made read-only for real: a read-only tmpfs
    // mounted over it in a mount namespace of vipd's own (gone when it exits).
    const dir = mkdtempSync(join(fx.lab.logDir, 'ro-'));
    const wrapper = [
      'unshare',
      '-m',
      'sh',
      '-c',
      'mount -t tmpfs -o ro vipd-ro "$0" && exec "$@"',
      dir,
    ];
    const msg = await refused(join(dir, 'vipd.sock'), { wrapper });
    console.log(`[measure] control socket directory read-only: ${msg}`);
    expect(msg).toBe(
      `vipd could not start: cannot create the control socket in ${dir} (EROFS): vipd needs write access to that directory, or set control.socket to another path`,
    );
  });
});
