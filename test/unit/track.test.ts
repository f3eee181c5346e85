/**
 * Health tracking pieces: the weight rules (pure) and a tracked script run for real: rise/fall,
 * and a script that hangs is killed with its whole process group at its timeout, counted, and
 * leaves nothing running.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, it, expect } from 'vitest';
import { monotonicClock } from '../../src/ports/clock.js';
import { ScriptCheck, type ScriptCheckConfig } from '../../src/track/script-check.js';
import { readTrackedValue } from '../../src/track/file-check.js';
import { effectivePriority } from '../../src/track/weights.js';
import { removeTempDirs, tempDir } from '../support/temp-dir.js';

afterAll(removeTempDirs);

const dir = tempDir('vipd-track-');

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

function check(path: string, over: Partial<ScriptCheckConfig> = {}): ScriptCheckConfig {
  return {
    name: 'chk',
    script: path,
    args: [],
    intervalMs: 100,
    timeoutMs: 1000,
    rise: 1,
    fall: 1,
    weight: 0,
    ...over,
  };
}

describe('effective priority', () => {
  it('weight 0 faults while down; positive adds while up; negative adds while down; clamped', () => {
    const e = effectivePriority(
      100,
      [
        { name: 'interface eth1', weight: 0, up: false },
        { name: 'script up', weight: 20, up: true },
        { name: 'script down', weight: -50, up: false },
        { name: 'script fine', weight: -50, up: true },
      ],
      [{ name: 'file f', weight: 2, value: 5 }],
    );
    expect(e).toEqual({
      priority: 80,
      faults: [{ name: 'interface eth1', why: 'down' }],
      parts: ['script up up +20', 'script down down -50', 'file f 5x2 +10'],
    });
    expect(effectivePriority(100, [{ name: 's', weight: -200, up: false }], []).priority).toBe(1);
    expect(effectivePriority(250, [{ name: 's', weight: 20, up: true }], []).priority).toBe(254);
    expect(effectivePriority(255, [{ name: 's', weight: -20, up: false }], []).priority).toBe(255);
    expect(effectivePriority(100, [], [{ name: 'f', weight: 0, value: 3 }]).faults).toEqual([
      { name: 'f', why: 'value 3' },
    ]);
  });

  it('a tracked file reads an integer; anything else reads as 0 and says why', async () => {
    const f = join(dir, 'value');
    writeFileSync(f, ' -12\n');
    expect(await readTrackedValue(f)).toEqual({ value: -12 });
    writeFileSync(f, 'banana');
    expect(await readTrackedValue(f)).toEqual({ value: 0, why: 'not an integer: "banana"' });
    expect((await readTrackedValue(join(dir, 'missing'))).why).toBe('cannot read: ENOENT');
  });
});

describe('tracked script', () => {
  it('goes up after rise successes and down after fall failures', async () => {
    const flag = join(dir, 'flag');
    writeFileSync(flag, 'ok');
    const path = script('flag.sh', `[ "$(cat ${flag})" = ok ]`);
    const changes: boolean[] = [];
    const c = new ScriptCheck(check(path, { rise: 2, fall: 3 }), monotonicClock, (up) =>
      changes.push(up),
    );
    try {
      await until(() => changes.length === 1, 5000);
      expect(c.runs).toBeGreaterThanOrEqual(2);
      writeFileSync(flag, 'bad');
      const runs = c.runs;
      await until(() => changes.length === 2, 5000);
      expect(c.runs - runs).toBeGreaterThanOrEqual(3);
      expect(changes).toEqual([true, false]);
    } finally {
      c.close();
    }
  });

  it('a hanging script is killed at its timeout with its children, and counted', async () => {
    const marker = `vipd-hang-${process.pid}`;
    const sleeper = script(`${marker}.sh`, 'sleep 300');
    // The script starts a child that would outlive it, then hangs.
    const path = script('hang.sh', `${sleeper} &\n${sleeper}`);
    const c = new ScriptCheck(
      check(path, { timeoutMs: 300, intervalMs: 200 }),
      monotonicClock,
      () => undefined,
    );
    try {
      await until(() => c.timeouts >= 2, 5000);
      expect(c.isUp).toBe(false);
    } finally {
      c.close();
    }
    await new Promise((r) => setTimeout(r, 200));
    const ps = await execa('ps', ['-eo', 'pid=,ppid=,stat=,args='], { reject: false });
    const left = ps.stdout
      .split('\n')
      .filter((l) => l.includes(marker))
      .map((l) => l.trim().split(/\s+/));
    // Nothing of the group still runs. Its orphans were re-parented to init when the script died;
    // reaping them is init's job, but none may be a zombie of ours (we reap our own child).
    expect(
      left.filter(([, , stat]) => !stat?.startsWith('Z')),
      'still running',
    ).toEqual([]);
    expect(
      left.filter(([, ppid]) => Number(ppid) === process.pid),
      'our zombies',
    ).toEqual([]);
  });
});

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}
