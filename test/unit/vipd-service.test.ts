/**
 * The unit's ExecCondition (config/vipd.service): a start is skipped (exit 1..254, "condition
 * unmet", not failed) only while /etc/vipd/vipd.json is byte for byte the unconfigured conffile
 * the package installed (its copy in /usr/lib/vipd); any config the operator wrote, even one
 * vipd refuses, and any install without that copy (from a checkout) goes on to ExecStart. Run
 * with sh as systemd runs it, on files in a temporary directory standing in for the two paths.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFFILE, UNCONFIGURED } from '../../scripts/package.js';
import { REPO_ROOT } from '../support/paths.js';

const unit = readFileSync(join(REPO_ROOT, 'config/vipd.service'), 'utf8');
const condition = /^ExecCondition=\/bin\/sh -c '([^']+)'$/m.exec(unit)?.[1] ?? '';
const shipped = join(REPO_ROOT, 'packaging/deb/vipd.json');
const COMPARE = `cmp -s ${CONFFILE} ${UNCONFIGURED}`;

describe("vipd.service's ExecCondition", () => {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-unit-'));
  const conf = join(dir, 'vipd.json');
  const copy = join(dir, 'unconfigured.json');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** The condition's exit code and stderr, on the stand-in files. */
  const check = (): { code: number | null; stderr: string } => {
    const script = condition.replace(COMPARE, `cmp -s ${conf} ${copy}`);
    const r = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8' });
    return { code: r.status, stderr: r.stderr };
  };

  it('compares the conffile with the copy the package installs, and skips a start before ExecStart', () => {
    expect(condition).toContain(COMPARE);
    expect(unit.indexOf('ExecCondition=')).toBeLessThan(unit.indexOf('ExecStart='));
  });

  it('skips, saying what to do, while the conffile is the one shipped', () => {
    copyFileSync(shipped, conf);
    copyFileSync(shipped, copy);
    const r = check();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `vipd: ${CONFFILE} is the unconfigured one the package installed: write the config (see /usr/share/doc/vipd/examples), then systemctl start vipd\n`,
    );
  });

  it('lets ExecStart run (and fail loudly if it must) for any config the operator wrote', () => {
    copyFileSync(shipped, copy);
    for (const text of [
      readFileSync(join(REPO_ROOT, 'config/example.json'), 'utf8'),
      '{ "instances": [',
      `${readFileSync(shipped, 'utf8')} `,
    ]) {
      writeFileSync(conf, text);
      expect([text, check()]).toEqual([text, { code: 0, stderr: '' }]);
    }
  });

  it('lets ExecStart run where no copy was installed (a unit copied from a checkout)', () => {
    copyFileSync(shipped, conf);
    rmSync(copy, { force: true });
    expect(check()).toEqual({ code: 0, stderr: '' });
    // No config at all: ExecStart says so (vipd cannot read it), as without the condition.
    rmSync(conf);
    expect(check()).toEqual({ code: 0, stderr: '' });
  });
});
