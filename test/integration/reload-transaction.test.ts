/**
 * Reload is a transaction (issue 12, defect 2): fw1 (priority 150) and fw2 (100), adverts 0.2 s.
 * - A reload naming an interface that does not exist is refused with an error naming it, through
 *   `vipd reload` and through SIGHUP, and VI_1 runs on exactly as before: still master, still
 *   listed by status, the VIP on fw1 alone the whole time, no transition on either box; the
 *   original config then reloads cleanly, with still no transition.
 * - An open-ended demotion survives a reload that replaces the instance (its VIP list changed):
 *   fw1 stays in FAULT "demoted" and does not preempt fw2, which keeps the VIP alone; promoted,
 *   fw1 takes the VIP back.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { demote, instanceStatus, promote, reload } from '../support/control.js';
import { useLab } from '../support/lab-fixture.js';
import { PAIR_VIP as VIP, settledOn, startBox } from '../support/pair.js';
import { VIPD_CLI } from '../support/paths.js';
import { until } from '../support/until.js';
import { configFile, controlSocket, transitions } from '../support/vipd.js';

const ADVERT = { advertInterval: 0.2 };
/** Longer than fw2's master-down interval (0.72 s) and fw1's preemption (0.68 s), with room. */
const QUIET_MS = 3_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ConfigDoc {
  instances: Record<string, unknown>[];
}

/** Rewrites the first instance of `host`'s config file; returns the original text. */
function editInstance(file: string, change: (instance: Record<string, unknown>) => void): string {
  const original = readFileSync(file, 'utf8');
  const doc = JSON.parse(original) as ConfigDoc;
  const first = doc.instances[0];
  if (first === undefined) throw new Error(`${file} has no instance`);
  change(first);
  writeFileSync(file, JSON.stringify(doc, null, 2));
  return original;
}

describe('a reload that cannot be applied', () => {
  const fx = useLab(['fw1', 'fw2']);

  it('naming an interface that does not exist: refused, naming it; VI_1 runs on untouched; the original config reloads cleanly', async () => {
    const { lab } = fx;
    const fw1 = startBox(fx, 'fw1', ADVERT);
    const fw2 = startBox(fx, 'fw2', ADVERT);
    await settledOn(lab, { host: 'fw1', proc: fw1 }, [fw2], 15_000);
    const before = { fw1: transitions(fw1).length, fw2: transitions(fw2).length };
    const watch = await lab.watchHolders(VIP, ['fw1', 'fw2']);
    const file = configFile(lab, 'fw1');
    const original = editInstance(file, (i) => (i.interface = 'nosuch0'));

    /** What an operator would check after each reload, with the transitions since the start. */
    const observe = async (): Promise<unknown> => {
      const vi1 = await instanceStatus(lab, 'fw1');
      return {
        listed: vi1 === undefined ? 'VI_1 not listed' : 'VI_1 listed',
        state: vi1?.state,
        interface: vi1?.interface,
        vips: vi1?.vips,
        holders: await lab.holders(VIP, ['fw1', 'fw2']),
        transitions: [
          ...transitions(fw1)
            .slice(before.fw1)
            .map((t) => `fw1 ${t.from}->${t.to} ${t.reason}`),
          ...transitions(fw2)
            .slice(before.fw2)
            .map((t) => `fw2 ${t.from}->${t.to} ${t.reason}`),
        ],
      };
    };
    const untouched = {
      listed: 'VI_1 listed',
      state: 'master',
      interface: 'eth0',
      vips: [`${VIP}/24`],
      holders: ['fw1'],
      transitions: [],
    };

    const cli = await execa(
      process.execPath,
      [VIPD_CLI, 'reload', '--socket', controlSocket(lab, 'fw1')],
      { reject: false },
    );
    await sleep(QUIET_MS);
    const afterCli = await observe();
    const hupFrom = fw1.lines.length;
    fw1.kill('SIGHUP');
    // Refused in the log, at error level or above, naming the interface.
    const refused = await fw1
      .waitForLine(/"level":[56]0.*nosuch0/, 15_000, hupFrom)
      .catch((err: unknown) => `no error line: ${(err as Error).message}`);
    await sleep(QUIET_MS);
    const afterHup = await observe();
    writeFileSync(file, original);
    const back = await reload(lab, 'fw1');
    await sleep(QUIET_MS);
    const afterOriginal = await observe();
    const timeline = await watch.stop();
    const notOnFw1Alone = timeline.msWhen((h) => h.join() !== 'fw1');
    console.log(
      `[measure] reload naming a missing interface: vipd reload exit ${cli.exitCode}, stderr ${JSON.stringify(cli.stderr)}; ` +
        `after it ${JSON.stringify(afterCli)}; after SIGHUP ${JSON.stringify(afterHup)}; ` +
        `original config reloaded: ${JSON.stringify(back)}, then ${JSON.stringify(afterOriginal)}; ` +
        `VIP ${timeline.describe(timeline.startedAt)} ms (not on fw1 alone for ${Math.round(notOnFw1Alone)} ms)`,
    );
    expect({ code: cli.exitCode, stdout: cli.stdout }).toEqual({ code: 1, stdout: '' });
    expect(cli.stderr).toMatch(/nosuch0/);
    expect(afterCli, 'after vipd reload').toEqual(untouched);
    expect(refused).toMatch(/nosuch0/);
    expect(afterHup, 'after SIGHUP').toEqual(untouched);
    expect(back.ok).toBe(true);
    expect(afterOriginal, 'after reloading the original config').toEqual(untouched);
    expect(Math.round(notOnFw1Alone), 'ms the VIP was not on fw1 alone').toBe(0);
  });
});

describe('a demotion across a reload that replaces the instance', () => {
  const fx = useLab(['fw1', 'fw2']);

  it('fw1, demoted until promoted, stays demoted and does not preempt fw2 after its VIP list changed; promoted, it takes over', async () => {
    const { lab } = fx;
    const fw1 = startBox(fx, 'fw1', ADVERT);
    const fw2 = startBox(fx, 'fw2', ADVERT);
    await settledOn(lab, { host: 'fw1', proc: fw1 }, [fw2], 15_000);
    await demote(lab, 'fw1');
    await until(
      'fw2 master, holding the VIP alone',
      async () => {
        const on = await lab.holders(VIP, ['fw1', 'fw2']);
        const last = transitions(fw2).at(-1)?.to;
        return { done: on.join() === 'fw2' && last === 'master', value: { on, last } };
      },
      5_000,
    );
    const watch = await lab.watchHolders(VIP, ['fw1', 'fw2']);
    const fw1From = transitions(fw1).length;
    // A second VIP: a change the running router cannot take in place.
    editInstance(configFile(lab, 'fw1'), (i) => (i.vips = [`${VIP}/24`, '10.99.0.101/24']));
    const reloadedAt = Date.now();
    const result = await reload(lab, 'fw1');
    await sleep(QUIET_MS);
    const vi1 = await instanceStatus(lab, 'fw1');
    const timeline = await watch.stop();
    const since = transitions(fw1)
      .slice(fw1From)
      .map((t) => `${t.from}->${t.to} ${t.reason}`);
    console.log(
      `[measure] demotion across a replacing reload: ${JSON.stringify(result)}; fw1 then ${vi1?.state} ${JSON.stringify(vi1?.faults)}, ` +
        `transitions since the reload ${JSON.stringify(since)}; VIP ${timeline.describe(reloadedAt)} ms from the reload`,
    );
    // The scenario: the reload replaced VI_1 (the kind of change that built a new router).
    expect(result).toMatchObject({
      ok: true,
      report: { replaced: [expect.stringMatching(/^VI_1/)] },
    });
    expect({ state: vi1?.state, faults: vi1?.faults }, 'fw1 after the reload').toEqual({
      state: 'fault',
      faults: [expect.stringMatching(/^demoted: /)],
    });
    expect(
      since.filter((t) => t.includes('->master')),
      'fw1 became master after the reload',
    ).toEqual([]);
    expect(timeline.soleFrom('fw2'), 'the VIP on fw2 alone from the reload on').toBe(
      timeline.startedAt,
    );
    // Still an ordinary demotion: promoted, fw1 preempts fw2 again.
    await promote(lab, 'fw1');
    await settledOn(lab, { host: 'fw1', proc: fw1 }, [fw2], 5_000);
  });
});
