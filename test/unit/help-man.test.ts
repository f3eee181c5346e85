import { describe, expect, it } from 'vitest';
import { COMMANDS, command } from '../../src/help.js';
import { manPage, roffText } from '../../src/help-man.js';
import { debianVersion } from '../../scripts/package.js';

describe('vipd(8) from help.ts', () => {
  const page = manPage('1.2.3-rc.1', '2026-01-02');

  it('escapes text for roff: no control character at a line start, hyphens copyable', () => {
    expect(roffText('.config and more')).toBe('\\&.config and more');
    expect(roffText("'quoted")).toBe("\\&'quoted");
    expect(roffText('a\\b --json')).toBe('a\\eb \\-\\-json');
    expect(roffText('run `vipd status` now')).toBe('run \\fBvipd status\\fR now');
  });

  it('has every command with its synopsis, summary and options, and the page header', () => {
    expect(page).toMatch(
      /^\.TH VIPD 8 "2026-01-02" "vipd 1\.2\.3\\-rc\.1" "System Administration"$/m,
    );
    for (const c of COMMANDS) {
      expect(page).toContain(`.SS ${roffText(`vipd ${c.name}`)}\n.SY "vipd ${roffText(c.name)}"\n`);
      expect(page).toContain(`\n${roffText(c.summary)}\n`);
      for (const o of c.options) expect(page).toContain(`\n${roffText(o.text)}\n`);
    }
    // The requests the generator writes; any other line starting with . or ' would be one by
    // accident.
    const requests = /^\.(\\"|TH|SH|SS|SY|YS|PP|TP|RS|RE|br|nf|fi)( |$)/;
    const lines = page.split('\n').filter((l) => !requests.test(l));
    expect(lines.filter((l) => /^[.']/.test(l))).toEqual([]);
  });

  it('keeps indented detail lines as written, in no-fill blocks', () => {
    const ucarp = page.slice(page.indexOf('.SS vipd ucarp'), page.indexOf('.SS vipd help'));
    expect(ucarp).toContain(
      `.nf\n${roffText('  1. On the backup: stop ucarp, start vipd ucarp with the same command line plus')}\n`,
    );
    expect(ucarp.match(/^\.nf$/gm)?.length).toBe(ucarp.match(/^\.fi$/gm)?.length);
    expect(command('ucarp').details.length).toBeGreaterThan(0);
  });
});

describe('debianVersion', () => {
  it('keeps a release, sorts a pre-release before it, and never has a hyphen', () => {
    expect(debianVersion('0.1.0')).toBe('0.1.0');
    expect(debianVersion('1.0.0-rc.1')).toBe('1.0.0~rc.1');
    expect(debianVersion('1.0.0-rc-2+build-5')).toBe('1.0.0~rc.2+build.5');
    expect(() => debianVersion('1.0')).toThrow(/not semver/);
  });
});
