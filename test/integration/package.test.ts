/**
 * The Debian package (`npm run package`, scripts/package.ts): built once into a temporary
 * directory, read as dpkg and lintian read it, and run from an extracted copy with the Node it
 * carries. Nothing is installed on this machine and no maintainer script runs here (they would
 * enable a unit in the host's systemd): installing into a debootstrap root is another test.
 * Needs dpkg-deb, lintian, groff and man (scripts/setup installs lintian).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, optionFlags } from '../../src/help.js';
import { roffText } from '../../src/help-man.js';
import { CONFFILE, LIB_DIR, UNIT_PATH, debianVersion } from '../../scripts/package.js';
import { REPO_ROOT } from '../support/paths.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
const ENV = { ...process.env, MANWIDTH: '100', MANPAGER: 'cat', LC_ALL: 'C.UTF-8' };
function run(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): Run {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    cwd: opts.cwd ?? REPO_ROOT,
    input: opts.input,
    maxBuffer: 64 * 1024 * 1024,
    env: ENV,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** For the minutes-long build and lintian: the worker must keep answering vitest meanwhile. */
function runLong(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
/** The output of a command that must succeed (its stderr is the failure message). */
const ok = (r: Run): string => {
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
};

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

describe('the Debian package', () => {
  let dir = '';
  let deb = '';
  let root = '';
  let control = '';
  /** `dpkg-deb -c`: path (without the leading `.`) -> [mode, owner]. */
  const entries = new Map<string, [string, string]>();
  const lib = (path: string): string => join(root, LIB_DIR, path);
  /** The CLI from the extracted copy, on the packaged Node. */
  const vipd = (...args: string[]): Run => run(lib('node'), [lib('dist/src/cli.js'), ...args]);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vipd-package-test-'));
    const built = await runLong('npm', [
      'run',
      '--silent',
      'package',
      '--',
      '--out',
      join(dir, 'out'),
    ]);
    expect(built.code, built.stderr).toBe(0);
    deb = built.stdout.trim().split('\n').at(-1) ?? '';
    expect(deb).toBe(join(dir, 'out', `vipd_${debianVersion(pkg.version)}_amd64.deb`));
    root = join(dir, 'root');
    control = join(dir, 'DEBIAN');
    ok(run('dpkg-deb', ['-x', deb, root]));
    ok(run('dpkg-deb', ['-e', deb, control]));
    for (const line of ok(run('dpkg-deb', ['-c', deb]))
      .trim()
      .split('\n')) {
      const [mode = '', owner = '', , , , path = ''] = line.split(/\s+/);
      entries.set(path.replace(/^\./, '').replace(/(.)\/$/, '$1'), [mode, owner]);
    }
  }, 600_000);

  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('holds the runtime, the command, the unit, the conffile and the docs, all root-owned', () => {
    const expected: [string, string][] = [
      [`${LIB_DIR}/node`, '-rwxr-xr-x'],
      [`${LIB_DIR}/package.json`, '-rw-r--r--'],
      [`${LIB_DIR}/dist/src/cli.js`, '-rw-r--r--'],
      [`${LIB_DIR}/build/Release/vipd_native.node`, '-rw-r--r--'],
      ['/usr/bin/vipd', '-rwxr-xr-x'],
      [UNIT_PATH, '-rw-r--r--'],
      [CONFFILE, '-rw-------'],
      ['/usr/share/man/man8/vipd.8.gz', '-rw-r--r--'],
      ['/usr/share/doc/vipd/copyright', '-rw-r--r--'],
      ['/usr/share/doc/vipd/changelog.gz', '-rw-r--r--'],
      ['/usr/share/doc/vipd/examples/example.json', '-rw-r--r--'],
      ['/usr/share/doc/vipd/examples/cluster-example.json', '-rw-r--r--'],
      ['/usr/share/doc/vipd/examples/README', '-rw-r--r--'],
      ['/usr/share/lintian/overrides/vipd', '-rw-r--r--'],
    ];
    for (const [path, mode] of expected)
      expect([path, entries.get(path)?.[0]]).toEqual([path, mode]);
    for (const [path, [mode, owner]] of entries) {
      expect([path, owner]).toEqual([path, 'root/root']);
      if (mode.startsWith('d')) expect([path, mode]).toEqual([path, 'drwxr-xr-x']);
    }
    // The runtime dependencies, and none of the development ones, sources or source maps.
    for (const name of Object.keys(pkg.dependencies).filter((n) => n !== 'node-addon-api')) {
      expect(entries.has(`${LIB_DIR}/node_modules/${name}/package.json`), name).toBe(true);
    }
    const paths = [...entries.keys()];
    expect(
      paths.filter((p) => /\/node_modules\/(typescript|vitest|eslint|tsx|@types)\//.test(p)),
    ).toEqual([]);
    expect(paths.filter((p) => /\.(ts|map)$/.test(p) || p.includes('/dist/test/'))).toEqual([]);
    expect(paths.filter((p) => p.includes('/src/') && !p.startsWith(`${LIB_DIR}/`))).toEqual([]);
  });

  it('states what it is and depends only on Debian packages it runs', () => {
    const field = (name: string): string => ok(run('dpkg-deb', ['-f', deb, name])).trim();
    expect(field('Package')).toBe('vipd');
    expect(field('Version')).toBe(debianVersion(pkg.version));
    expect(field('Architecture')).toBe('amd64');
    expect(field('Section')).toBe('net');
    expect(field('Priority')).toBe('optional');
    expect(field('Maintainer')).toMatch(/^[^<>]+ <[^<>\s]+@[^<>\s]+>$/);
    expect(field('Description')).toMatch(/^VRRP and CARP failover daemon/);
    const names = (f: string): string[] =>
      field(f)
        .split(',')
        .map((d) => d.trim().split(/[\s(]/)[0] ?? '');
    expect(names('Depends').sort()).toEqual(
      ['iproute2', 'libc6', 'libgcc-s1', 'libstdc++6', 'nftables'].sort(),
    );
    expect(field('Depends')).toMatch(/libc6 \(>= 2\.\d+\)/);
    expect(names('Recommends')).not.toContain('conntrackd');
    expect(names('Suggests')).toContain('conntrackd');
    for (const f of ['Depends', 'Recommends', 'Suggests']) expect(names(f)).not.toContain('ucarp');
  });

  it('marks the config a conffile, and its scripts enable the unit without starting it', () => {
    expect(readFileSync(join(control, 'conffiles'), 'utf8')).toBe(`${CONFFILE}\n`);
    const script = (name: string): string => {
      ok(run('sh', ['-n', join(control, name)]));
      return readFileSync(join(control, name), 'utf8');
    };
    const postinst = script('postinst');
    expect(postinst).toMatch(/^set -e$/m);
    expect(postinst).toMatch(/deb-systemd-helper enable vipd\.service/);
    // Only an upgrade touches a running daemon, and only one that runs (try-restart).
    expect(postinst).not.toMatch(/deb-systemd-invoke (start|restart)/);
    expect(postinst).toMatch(
      /if \[ -n "\$2" \]; then\s+deb-systemd-invoke try-restart vipd\.service/,
    );
    expect(script('prerm')).toMatch(/"\$1" = remove .*\n\s+deb-systemd-invoke stop vipd\.service/);
    expect(script('postrm')).toMatch(/"\$1" = purge .*\n\s+deb-systemd-helper purge vipd\.service/);
    // md5sums covers every file but the conffile, and the extracted files match it.
    const sums = readFileSync(join(control, 'md5sums'), 'utf8');
    expect(sums).toMatch(/ {2}usr\/bin\/vipd$/m);
    expect(sums).not.toMatch(/etc\/vipd/);
    ok(run('md5sum', ['--check', '--quiet', join(control, 'md5sums')], { cwd: root }));
  });

  it('runs from an extracted copy on the Node it carries, with its addon', () => {
    const nodeVersion = ok(run(lib('node'), ['-p', 'process.versions.node'])).trim();
    expect(Number(nodeVersion.split('.')[0])).toBeGreaterThanOrEqual(22);
    expect(ok(vipd('--version'))).toBe(`vipd ${pkg.version}\nNode.js v${nodeVersion}\n`);
    const help = ok(vipd('--help'));
    for (const c of COMMANDS) expect(help).toContain(c.name);
    const addon = run(lib('node'), [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(lib('dist/src/native.js'))}); console.log(typeof m.loadNative().rawSocket);`,
    ]);
    expect(ok(addon).trim()).toBe('function');
    expect(readFileSync(join(root, 'usr/bin/vipd'), 'utf8')).toMatch(
      new RegExp(`^exec ${LIB_DIR}/node ${LIB_DIR}/dist/src/cli\\.js "\\$@"$`, 'm'),
    );
  });

  it('ships examples vipd accepts, and a conffile it refuses until the operator writes one', () => {
    for (const f of ['example.json', 'cluster-example.json']) {
      const r = vipd('check', '--config', join(root, 'usr/share/doc/vipd/examples', f));
      expect([f, r.code]).toEqual([f, 0]);
    }
    const r = vipd('check', '--config', join(root, CONFFILE));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/instances: at least one instance \(or a cluster\) is required/);
  });

  it('has a man page, rendered from the same text as --help', () => {
    const page = ok(run('gzip', ['-dc', join(root, 'usr/share/man/man8/vipd.8.gz')]));
    expect(page).toMatch(/^\.TH VIPD 8 "\d{4}-\d\d-\d\d" /m);
    expect(page).toContain(`"vipd ${roffText(pkg.version)}"`);
    // groff's own warnings (-ww) are errors here; a wide line and no hyphenation keep each
    // summary on one line, to find it.
    const text = ok(
      run('groff', ['-man', '-Tutf8', '-ww', '-rLL=400n', '-rHY=0', '-P-cbou'], { input: page }),
    );
    const flat = text.replace(/\s+/g, ' ');
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'EXIT STATUS', 'FILES']) {
      expect(text).toMatch(new RegExp(`^${section}$`, 'm'));
    }
    for (const c of COMMANDS) {
      expect(flat).toContain(`vipd ${c.name}`);
      expect(flat).toContain(c.summary);
      for (const o of c.options) expect(flat).toContain(optionFlags(o));
    }
    const man = run('man', ['-l', join(root, 'usr/share/man/man8/vipd.8.gz')]);
    expect(man.code, man.stderr).toBe(0);
    expect(man.stdout).toMatch(/^VIPD\(8\)/);
  });

  it('has a machine-readable copyright naming everything it bundles', () => {
    const copyright = readFileSync(join(root, 'usr/share/doc/vipd/copyright'), 'utf8');
    expect(copyright).toMatch(
      /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/$/m,
    );
    expect(copyright).toMatch(/^Files: \*\nCopyright: .+\nLicense: Expat$/m);
    expect(copyright).toContain(`Files: ${LIB_DIR.slice(1)}/node\n`);
    const bundled = [...entries.keys()].filter((p) =>
      /\/node_modules\/(@[^/]+\/)?[^/@]+\/package\.json$/.test(p),
    );
    expect(bundled.length).toBeGreaterThan(10);
    for (const path of bundled) {
      expect(copyright).toContain(`Files: ${path.slice(1).replace(/\/package\.json$/, '')}/*\n`);
    }
  });

  it('lintian reports no error and no warning', async () => {
    const r = await runLong('lintian', ['--fail-on', 'error,warning', deb]);
    expect(r.stdout.split('\n').filter((l) => /^[EW]: /.test(l))).toEqual([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  }, 300_000);
});
