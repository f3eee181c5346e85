/**
 * Something happens while a plan is still in flight (issue 12, defect 1): fw1 (priority 150) and
 * fw2 (100), adverts 0.2 s. Whatever fw1 was doing for a state it has left must not act any
 * more: the VIP ends on fw2 alone within a bound, fw1 does not hold it, add it or announce it
 * afterwards.
 * - Demoted while its master plan is in a slow up hook (3 s), GARP refresh every 1 s, a client
 *   pinging the VIP: fw2 holds the VIP within 3 s, fw1 no longer within 1.5 s, not one
 *   gratuitous ARP from fw1 from then on to 5 s after the hook would have ended, the client's
 *   ARP entry for the VIP on fw2's MAC once fw2 holds it.
 * - SIGTERM while its up hook hangs (hook timeout 10 s): fw1 exits within 4 s, its hook killed
 *   with it, fw2 holds the VIP alone within 3 s, the VIP on both at most 1.5 s.
 * - Demoted with a slow down hook (3 s): fw1's resignation (its priority-0 advert) hands the VIP
 *   to fw2 at once, so fw1 must not keep it while the hook runs: no longer on fw1 within 1.5 s.
 * - SIGTERM while its master plan waits on a slow conntrackd commit (3 s, before the VIP step):
 *   fw1 never adds the VIP during its own shutdown.
 * Address changes are timed by the kernel's reports (Lab.watchHolders), frames by tcpdump on the
 * switch. The bounds hold on a loaded 2-core machine: a correct box does each of these in well
 * under 100 ms when idle.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HolderTimeline, Lab, LabProcess } from '../lab/lab.js';
import { gratuitousArpFilter, macOf, neighbourOf } from '../support/arp.js';
import { demote } from '../support/control.js';
import { useLab } from '../support/lab-fixture.js';
import { PAIR_VIP as VIP, settledOn, startBox } from '../support/pair.js';
import { writeScript } from '../support/script.js';
import { until } from '../support/until.js';

const ADVERT = { advertInterval: 0.2 };
/** fw2 holds the VIP alone within this of the event that makes fw1 let go. */
const TAKEOVER_MS = 3_000;
/** fw1 no longer holds the VIP this long after a demotion or SIGTERM. */
const RELEASE_MS = 1_500;
/** fw1 has exited this long after SIGTERM, though a hook of its still runs (timeout 10 s). */
const EXIT_MS = 4_000;
/**
 * An announcement under way when the demotion arrives (2 rounds 0.1 s apart, e.g. the one fw1
 * makes on re-asserting itself against fw2 just after preempting) may finish its rounds.
 */
const ANNOUNCING_MS = 500;
const HOOK_TIMEOUT_S = 10;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A hook (or stand-in tool) that logs `start PID EPOCH` to `log`, runs `body`, then logs
 * `end PID EPOCH`. `exec` in `body` keeps the PID: the process the log names is the one running.
 */
function loggedScript(lab: Lab, name: string, log: string, body: string): string {
  writeFileSync(log, '');
  return writeScript(
    lab.logDir,
    name,
    [
      `echo "start $$ $(date +%s.%N)" >> ${log}`,
      body,
      `echo "end $$ $(date +%s.%N)" >> ${log}`,
    ].join('\n'),
  );
}

interface Run {
  pid: number;
  start: number;
  end?: number;
}

/** The runs `loggedScript` recorded, in start order, times in epoch ms. */
function runsOf(log: string): Run[] {
  const runs: Run[] = [];
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    const [what, pid, at] = line.split(' ');
    if (what === 'start') runs.push({ pid: Number(pid), start: Number(at) * 1000 });
    const run = runs.find((r) => r.pid === Number(pid));
    if (what === 'end' && run !== undefined) run.end = Number(at) * 1000;
  }
  return runs;
}

async function started(log: string, what: string): Promise<Run> {
  return until(
    what,
    async () => {
      const run = runsOf(log)[0];
      return { done: run !== undefined, value: run as Run };
    },
    15_000,
    20,
  );
}

/** Whether `pid` runs: a process gone, or a zombie (killed, not yet reaped), does not. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Resolves with the exit code and when (epoch ms), or 'running' if still running after `ms`. */
async function exitWithin(
  proc: LabProcess,
  ms: number,
): Promise<{ code: number | null | 'running'; at: number }> {
  const code = await Promise.race([proc.exited, sleep(ms).then(() => 'running' as const)]);
  return { code, at: Date.now() };
}

/** Whole ms from `zero` to `t`; Infinity for a time that never came. */
function ms(t: number | undefined, zero: number): number {
  return t === undefined ? Infinity : Math.round(t - zero);
}

/** When `host` last held the VIP at or after `from` (the end of that span), or undefined. */
function heldUntil(timeline: HolderTimeline, host: string, from: number): number | undefined {
  return timeline
    .spans(from)
    .filter((s) => s.holders.includes(host))
    .at(-1)?.to;
}

/** Capture times (epoch ms) of tcpdump lines at or after `from`. */
function framesAfter(lines: string[], from: number): number[] {
  return lines.map((l) => Number(l.split(' ')[0]) * 1000).filter((t) => t >= from);
}

/** Waits (at most 5 s) until fw2 alone holds the VIP, so a timeline ends with what followed. */
async function fw2Alone(lab: Lab): Promise<void> {
  await until(
    'fw2 alone holding the VIP',
    async () => ({ done: (await lab.holders(VIP, ['fw1', 'fw2'])).join() === 'fw2', value: null }),
    5_000,
  ).catch(() => undefined);
}

describe('demoted while the master plan is in a slow up hook', () => {
  const fx = useLab(['fw1', 'fw2', 'client']);

  it('fw2 holds the VIP within 3 s, fw1 not after 1.5 s; no gratuitous ARP from fw1 afterwards; the client stays on fw2', async () => {
    const { lab } = fx;
    const refresh = { garp: { refresh: 1 } };
    const fw2 = startBox(fx, 'fw2', { ...ADVERT, ...refresh });
    await settledOn(lab, { host: 'fw2', proc: fw2 }, [], 15_000);
    // The client uses the VIP all along: its ARP entry is live, so every GARP re-points it.
    const ping = fx.track(lab.spawn('client', 'ping-vip', 'ping', ['-D', '-n', '-i', '0.2', VIP]));
    const [fw1Mac, fw2Mac] = [await macOf(lab, 'fw1'), await macOf(lab, 'fw2')];
    const garps = await lab.capture(gratuitousArpFilter(fw1Mac, VIP));
    const watch = await lab.watchHolders(VIP, ['fw1', 'fw2']);

    const hookLog = join(lab.logDir, 'slow-up.log');
    const up = loggedScript(lab, 'slow-up.sh', hookLog, 'sleep 3');
    startBox(fx, 'fw1', { ...ADVERT, ...refresh, hooks: { up, timeout: HOOK_TIMEOUT_S } });
    // fw1 preempts; its master plan has added the VIP, announced it, and now runs the hook.
    const hook = await started(hookLog, "fw1's up hook running");
    const demotedAt = Date.now();
    await demote(lab, 'fw1');

    // Until the hook would have ended, and 5 refresh periods after.
    const arp: { at: number; mac: string | undefined }[] = [];
    while (Date.now() < hook.start + 3_000 + 5_000) {
      arp.push({ at: Date.now(), mac: await neighbourOf(lab, 'client', VIP) });
      await sleep(200);
    }
    const timeline = await watch.stop();
    const frames = framesAfter(await garps.stop(), demotedAt);
    const late = frames.filter((t) => t >= demotedAt + ANNOUNCING_MS);
    const hookEnd = runsOf(hookLog)[0]?.end;
    const fw2Holds = timeline.heldFrom('fw2', demotedAt);
    const fw2From = timeline.soleFrom('fw2', demotedAt);
    const fw1Until = heldUntil(timeline, 'fw1', demotedAt);
    const onFw2 = arp.filter((s) => s.at >= (fw2From ?? Infinity) + 1_000);
    const wrongArp = onFw2.filter((s) => s.mac !== fw2Mac);
    const replies = ping.lines.filter(
      (l) =>
        Number(/^\[(\d+\.\d+)\] 64 bytes/.exec(l)?.[1]) * 1000 >= (fw2From ?? Infinity) + 1_000,
    ).length;
    console.log(
      `[measure] demote in a slow up hook: VIP ${timeline.describe(demotedAt, demotedAt - 500)} ms from the demotion; ` +
        `fw2 alone from +${ms(fw2From, demotedAt)} ms, fw1 held it until +${ms(fw1Until ?? demotedAt, demotedAt)} ms; ` +
        `fw1 sent ${frames.length} gratuitous ARP after the demotion (at ${JSON.stringify(frames.map((t) => ms(t, demotedAt)))} ms); ` +
        `the client's entry off fw2 in ${wrongArp.length} of ${onFw2.length} samples, ${replies} ping replies in ${onFw2.length} samples' time (a ping every 0.2 s) once fw2 held the VIP`,
    );
    // The scenario: the demotion reached fw1 while its up hook still ran.
    expect(hookEnd === undefined || hookEnd > demotedAt, 'the hook ended before the demotion').toBe(
      true,
    );
    expect(ms(fw2Holds, demotedAt), 'ms until fw2 held the VIP').toBeLessThanOrEqual(TAKEOVER_MS);
    expect(ms(fw1Until ?? demotedAt, demotedAt), 'ms fw1 kept the VIP').toBeLessThanOrEqual(
      RELEASE_MS,
    );
    expect(
      late.map((t) => `+${ms(t, demotedAt)} ms`),
      "fw1's gratuitous ARP after the demotion",
    ).toEqual([]);
    expect(
      wrongArp.map((s) => `+${ms(s.at, demotedAt)} ms: ${s.mac ?? 'none'}`),
      "the client's ARP entry for the VIP off fw2's MAC",
    ).toEqual([]);
    expect(ms(fw2From, demotedAt), 'ms until the VIP was on fw2 alone').toBeLessThanOrEqual(
      TAKEOVER_MS,
    );
  });
});

describe('SIGTERM while the up hook hangs', () => {
  const fx = useLab(['fw1', 'fw2']);

  it('fw1 exits within 4 s (hook timeout 10 s), its hook killed; fw2 holds the VIP alone within 3 s', async () => {
    const { lab } = fx;
    const fw2 = startBox(fx, 'fw2', ADVERT);
    await settledOn(lab, { host: 'fw2', proc: fw2 }, [], 15_000);
    const watch = await lab.watchHolders(VIP, ['fw1', 'fw2']);
    const hookLog = join(lab.logDir, 'hung-up.log');
    const up = loggedScript(lab, 'hung-up.sh', hookLog, 'exec sleep 60');
    const fw1 = startBox(fx, 'fw1', { ...ADVERT, hooks: { up, timeout: HOOK_TIMEOUT_S } });
    const hook = await started(hookLog, "fw1's up hook running");
    try {
      const termAt = Date.now();
      fw1.kill('SIGTERM');
      const exit = await exitWithin(fw1, 20_000);
      // Killed by then, it is gone (or a zombie) a moment later.
      const hookRuns = await until(
        "fw1's hook gone",
        async () => {
          const value = running(hook.pid);
          return { done: !value, value };
        },
        1_000,
      ).catch(() => true);
      await fw2Alone(lab);
      const timeline = await watch.stop();
      const fw2From = timeline.soleFrom('fw2', termAt);
      const both = timeline.msWhen((h) => h.length === 2, termAt);
      console.log(
        `[measure] SIGTERM in a hung up hook: fw1 exited ${exit.code} after ${exit.at - termAt} ms (hook timeout ${HOOK_TIMEOUT_S} s), its hook ${hookRuns ? 'still running 1 s later' : 'gone'}; ` +
          `VIP ${timeline.describe(termAt, termAt - 500)} ms from SIGTERM; on both ${Math.round(both)} ms`,
      );
      expect(exit.at - termAt, 'ms from SIGTERM to fw1 exit').toBeLessThanOrEqual(EXIT_MS);
      expect(exit.code, 'fw1 exit code').toBe(0);
      expect(hookRuns, "fw1's up hook outlived fw1").toBe(false);
      expect(ms(fw2From, termAt), 'ms until the VIP was on fw2 alone').toBeLessThanOrEqual(
        TAKEOVER_MS,
      );
      expect(both, 'ms the VIP was on both boxes').toBeLessThanOrEqual(RELEASE_MS);
    } finally {
      if (running(hook.pid)) process.kill(hook.pid, 'SIGKILL');
    }
  });
});

describe('demoted with a slow down hook', () => {
  const fx = useLab(['fw1', 'fw2']);

  it('fw2 holds the VIP alone within 3 s; fw1 does not keep it while its down hook runs (3 s)', async () => {
    const { lab } = fx;
    const hookLog = join(lab.logDir, 'slow-down.log');
    const down = loggedScript(lab, 'slow-down.sh', hookLog, 'sleep 3');
    const fw1 = startBox(fx, 'fw1', { ...ADVERT, hooks: { down, timeout: HOOK_TIMEOUT_S } });
    const fw2 = startBox(fx, 'fw2', ADVERT);
    await settledOn(lab, { host: 'fw1', proc: fw1 }, [fw2], 15_000);
    // The start-up backup plan ran the hook too: that run is over (ended or killed) first.
    await until(
      'the start-up down hook over',
      async () => {
        const value = runsOf(hookLog);
        return { done: value.every((r) => r.end !== undefined || !running(r.pid)), value };
      },
      10_000,
    );
    const watch = await lab.watchHolders(VIP, ['fw1', 'fw2']);
    const demotedAt = Date.now();
    await demote(lab, 'fw1');
    await until(
      'the down hook of the demotion ended',
      async () => {
        const runs = runsOf(hookLog).filter((r) => r.start >= demotedAt - 1_000);
        return { done: runs.some((r) => r.end !== undefined), value: runs };
      },
      15_000,
    ).catch(() => undefined);
    await fw2Alone(lab);
    const timeline = await watch.stop();
    const runs = runsOf(hookLog).filter((r) => r.start >= demotedAt - 1_000);
    const fw2From = timeline.soleFrom('fw2', demotedAt);
    const fw1Until = heldUntil(timeline, 'fw1', demotedAt);
    const both = timeline.msWhen((h) => h.length === 2, demotedAt);
    console.log(
      `[measure] demote with a slow down hook: VIP ${timeline.describe(demotedAt, demotedAt - 500)} ms from the demotion; ` +
        `fw1 held it until +${ms(fw1Until ?? demotedAt, demotedAt)} ms, on both ${Math.round(both)} ms; ` +
        `down hook ran ${JSON.stringify(runs.map((r) => [ms(r.start, demotedAt), r.end === undefined ? null : ms(r.end, demotedAt)]))} ms`,
    );
    expect(
      ms(timeline.heldFrom('fw2', demotedAt), demotedAt),
      'ms until fw2 held the VIP',
    ).toBeLessThanOrEqual(TAKEOVER_MS);
    expect(ms(fw1Until ?? demotedAt, demotedAt), 'ms fw1 kept the VIP').toBeLessThanOrEqual(
      RELEASE_MS,
    );
    expect(ms(fw2From, demotedAt), 'ms until the VIP was on fw2 alone').toBeLessThanOrEqual(
      TAKEOVER_MS,
    );
  });
});

describe('SIGTERM while the master plan waits on a slow conntrackd commit', () => {
  const fx = useLab(['fw1', 'fw2']);

  /*
   * The master plan commits conntrackd's table before it adds the VIPs (plan.ts); a stand-in
   * conntrackd takes 3 s to commit, as one with a big table would. SIGTERM during the commit:
   * fw1 is shutting down, so the VIP step must never run.
   */
  it('fw1 never adds the VIP during its own shutdown; fw2 holds it alone within 3 s', async () => {
    const { lab } = fx;
    const calls = join(lab.logDir, 'conntrackd-calls.log');
    const ctLog = join(lab.logDir, 'conntrackd-standin.log');
    const config = join(lab.logDir, 'conntrackd-standin.conf');
    writeFileSync(calls, '');
    writeFileSync(ctLog, '');
    writeFileSync(config, `General {\n  LogFile ${ctLog}\n}\n`);
    // Called as `conntrackd -C CONFIG FLAG`: logs FLAG; -s (is it running?) and the others
    // succeed at once, -c (commit) reports in the log after 3 s, as conntrackd does.
    const binary = writeScript(
      lab.logDir,
      'conntrackd-standin',
      [
        `echo "$3 $(date +%s.%N)" >> ${calls}`,
        `if [ "$3" = "-c" ]; then sleep 3; echo "Committed 0 new entries" >> ${ctLog}; fi`,
      ].join('\n'),
    );
    const fw2 = startBox(fx, 'fw2', ADVERT);
    await settledOn(lab, { host: 'fw2', proc: fw2 }, [], 15_000);
    const fw1Mac = await macOf(lab, 'fw1');
    const garps = await lab.capture(gratuitousArpFilter(fw1Mac, VIP));
    const watch = await lab.watchHolders(VIP, ['fw1', 'fw2']);
    const fw1 = startBox(fx, 'fw1', { ...ADVERT, conntrackd: { enabled: true, binary, config } });
    await until(
      "fw1's master plan committing",
      async () => {
        const value = readFileSync(calls, 'utf8');
        return { done: /^-c /m.test(value), value };
      },
      15_000,
      20,
    );
    const termAt = Date.now();
    fw1.kill('SIGTERM');
    const exit = await exitWithin(fw1, 20_000);
    await fw2Alone(lab);
    const timeline = await watch.stop();
    const frames = framesAfter(await garps.stop(), termAt - 1_000);
    const atTerm = timeline.spans(termAt, termAt + 1)[0]?.holders ?? [];
    const adds = timeline.added('fw1', termAt);
    const fw2From = timeline.soleFrom('fw2', termAt);
    const both = timeline.msWhen((h) => h.length === 2, termAt);
    console.log(
      `[measure] SIGTERM during a slow commit: fw1 exited ${exit.code} after ${exit.at - termAt} ms; VIP ${timeline.describe(termAt, termAt - 500)} ms from SIGTERM; ` +
        `fw1 added it at ${JSON.stringify(adds.map((t) => ms(t, termAt)))} ms, on both ${Math.round(both)} ms; ` +
        `fw1's gratuitous ARP for it at ${JSON.stringify(frames.map((t) => ms(t, termAt)))} ms`,
    );
    expect(exit.code).toBe(0);
    // The scenario: the master plan had not reached its VIP step.
    expect(atTerm, 'VIP holders at SIGTERM').not.toContain('fw1');
    expect(
      adds.map((t) => `+${ms(t, termAt)} ms`),
      'fw1 added the VIP after SIGTERM',
    ).toEqual([]);
    expect(ms(fw2From, termAt), 'ms until the VIP was on fw2 alone').toBeLessThanOrEqual(
      TAKEOVER_MS,
    );
  });
});
