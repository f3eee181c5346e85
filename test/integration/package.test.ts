/**
 * The Debian package (`npm run package`, scripts/package.ts): built once into a temporary
 * directory, read as dpkg and lintian read it, and run from an extracted copy with the Node it
 * carries. Nothing is installed on this machine and no maintainer script runs on it (they would
 * enable a unit in the host's systemd): the package is installed, run, removed and purged in a
 * fresh debootstrap root (test/support/debian-root.ts), in a chroot, with apt resolving its
 * Depends from the Debian mirror; two vipd from that root elect in a namespace lab.
 * Needs dpkg-deb, lintian, groff and man (scripts/setup installs lintian); the install needs
 * debootstrap's root and the Debian mirror (downloads cached: test/support/apt-cache.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, optionFlags } from '../../src/help.js';
import { roffText } from '../../src/help-man.js';
import {
  CONFFILE,
  LIB_DIR,
  UNCONFIGURED,
  UNIT_PATH,
  debianVersion,
} from '../../scripts/package.js';
import { Lab, type LabProcess } from '../lab/lab.js';
import { restoreAptCache, saveAptCache } from '../support/apt-cache.js';
import { Chroot } from '../support/chroot.js';
import { freshDebianRoot } from '../support/debian-root.js';
import { REPO_ROOT } from '../support/paths.js';
import { until } from '../support/until.js';
import { transitions, vipdConfig } from '../support/vipd.js';

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
      [UNCONFIGURED, '-rw-r--r--'],
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
    // The unit's ExecCondition knows the shipped conffile by this copy of it.
    expect(readFileSync(join(root, UNCONFIGURED))).toEqual(readFileSync(join(root, CONFFILE)));
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

  /**
   * As a firewall gets it: `apt-get install ./vipd_….deb` in a fresh minbase root, so apt
   * resolves the Depends from the Debian mirror before dpkg unpacks anything (dpkg -i would
   * leave vipd half-configured until `apt-get -f install`). No systemd runs in the chroot, as in
   * an image build: postinst must enable the unit and start nothing.
   */
  describe('installed into a fresh Debian root', () => {
    const VIP = '10.99.0.100';
    /** The second box's config, beside the root's own /etc/vipd/vipd.json (the first box's). */
    const FW2_CONFIG = '/root/fw2.json';
    const FW2_SOCKET = '/run/vipd-fw2/vipd.sock';
    let debian = '';
    let chroot: Chroot | undefined;
    let lab: Lab | undefined;
    let installed: Run = { code: null, stdout: '', stderr: '' };
    /** `dpkg -L vipd` while installed. */
    let shipped: string[] = [];
    const at = (path: string): string => join(debian, path);
    const inRoot = (cmd: string, args: string[], env: string[] = []): Promise<Run> => {
      if (chroot === undefined) throw new Error('the Debian root was not set up (see beforeAll)');
      return chroot.run(cmd, args, env);
    };
    /** Daemons a test started, stopped after it whatever happened. */
    let daemons: LabProcess[] = [];
    /** Starts `argv` from the root in a lab host's namespace. */
    const spawnIn = (host: string, argv: string[]): LabProcess => {
      if (chroot === undefined || lab === undefined) throw new Error('no root or lab (beforeAll)');
      const [cmd = '', ...args] = chroot.command(argv[0] ?? '', argv.slice(1));
      const daemon = lab.spawn(host, `vipd-${host}`, cmd, args);
      daemons.push(daemon);
      return daemon;
    };
    const checkIn = (host: string, config: string): Promise<string> => {
      if (chroot === undefined || lab === undefined) throw new Error('no root or lab (beforeAll)');
      const [cmd = '', ...args] = chroot.command('vipd', ['check', '--config', config]);
      return lab.exec(host, cmd, args);
    };
    const exists = (path: string): boolean => {
      try {
        lstatSync(at(path));
        return true;
      } catch {
        return false;
      }
    };
    const isDir = (path: string): boolean => lstatSync(at(path)).isDirectory();
    /** Every process whose root directory is the chroot. */
    const processesInRoot = (): string[] =>
      readdirSync('/proc')
        .filter((pid) => /^\d+$/.test(pid))
        .filter((pid) => {
          try {
            return readlinkSync(`/proc/${pid}/root`) === debian;
          } catch {
            return false; // exited meanwhile
          }
        });
    /** Paths under /etc/systemd and /var/lib/systemd naming vipd: the unit's enablement. */
    const unitState = (): string[] =>
      ['etc/systemd', 'var/lib/systemd']
        .filter((d) => existsSync(at(d)))
        .flatMap((d) =>
          readdirSync(at(d), { recursive: true, encoding: 'utf8' })
            .filter((p) => p.includes('vipd'))
            .map((p) => `/${d}/${p}`),
        )
        .sort();
    const unitLine = (key: string): string => {
      const line = new RegExp(`^${key}=(.+)$`, 'm').exec(readFileSync(at(UNIT_PATH), 'utf8'));
      expect(line, key).not.toBeNull();
      return line?.[1] ?? '';
    };

    beforeAll(async () => {
      const t0 = performance.now();
      debian = join(dir, 'debian');
      // The lab and the root are independent: built at once.
      const [root, made] = await Promise.allSettled([
        (async () => {
          await freshDebianRoot(debian);
          restoreAptCache(debian);
          copyFileSync(deb, at(`tmp/${basename(deb)}`));
          chroot = await Chroot.open(debian);
        })(),
        Lab.create({ hosts: ['fw1', 'fw2'] }).then((l) => (lab = l)),
      ]);
      for (const r of [root, made]) if (r.status === 'rejected') throw r.reason;
      const t1 = performance.now();
      const apt = ['DEBIAN_FRONTEND=noninteractive'];
      const update = await inRoot('apt-get', ['update'], apt);
      expect(update.code, update.stdout + update.stderr).toBe(0);
      const t2 = performance.now();
      // --force-unsafe-io: dpkg skips its fsync of every file (what a power cut needs, not a
      // throwaway root): half the install's time here, and the same files, scripts and state.
      installed = await inRoot(
        'apt-get',
        ['install', '--yes', '-o', 'Dpkg::Options::=--force-unsafe-io', `/tmp/${basename(deb)}`],
        apt,
      );
      expect(installed.code, installed.stdout + installed.stderr).toBe(0);
      const t3 = performance.now();
      saveAptCache(debian);
      const fetched = /^Fetched .*$/gm;
      console.log(
        `[measure] root and lab ${((t1 - t0) / 1000).toFixed(1)} s, apt-get update ${((t2 - t1) / 1000).toFixed(1)} s (${update.stdout.match(fetched)?.join('; ') ?? 'nothing fetched'}), apt-get install ${((t3 - t2) / 1000).toFixed(1)} s (${installed.stdout.match(fetched)?.join('; ') ?? 'nothing fetched'})`,
      );
    }, 600_000);

    afterEach(async () => {
      await Promise.all(daemons.map((d) => d.stop()));
      daemons = [];
    });

    afterAll(async () => {
      // Daemons first (they hold the chroot's mount namespace), then the mounts; the outer
      // afterAll removes the root with the rest of `dir`.
      await lab?.destroy();
      await chroot?.close();
    });

    it('apt-get installs it with its Depends from the mirror; postinst enables the unit, starts nothing', () => {
      expect(installed.stdout).toContain(`Setting up vipd (${debianVersion(pkg.version)}) ...`);
      for (const dep of ['iproute2', 'nftables'])
        expect(installed.stdout).toContain(`Setting up ${dep} (`);
      // The maintainer scripts said nothing (deb-systemd-helper is there in minbase) and apt
      // neither warned nor failed.
      expect(installed.stderr.split('\n').filter((l) => /vipd|systemd|^[EW]:/.test(l))).toEqual([]);
      const wants = readlinkSync(at('etc/systemd/system/multi-user.target.wants/vipd.service'));
      expect(wants).toMatch(/^(\/usr)?\/lib\/systemd\/system\/vipd\.service$/);
      expect(existsSync(at(wants))).toBe(true);
      expect(processesInRoot()).toEqual([]);
    });

    it('runs there: --version, --help, and check refuses the shipped config; the man page is in place', async () => {
      const [node, version, help, refused] = await Promise.all([
        inRoot(`${LIB_DIR}/node`, ['-p', 'process.versions.node']),
        inRoot('vipd', ['--version']),
        inRoot('vipd', ['--help']),
        inRoot('vipd', ['check', '--config', CONFFILE]),
      ]);
      expect(ok(version)).toBe(`vipd ${pkg.version}\nNode.js v${ok(node).trim()}\n`);
      for (const c of COMMANDS) expect(ok(help)).toContain(c.name);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(
        /instances: at least one instance \(or a cluster\) is required/,
      );
      expect(lstatSync(at('usr/share/man/man8/vipd.8.gz')).size).toBeGreaterThan(1000);
    });

    it('the enabled unit is skipped, not failed, until the operator writes the config', async () => {
      // Run as systemd runs it: exit 1..254 skips the start ("condition unmet"), 0 goes on.
      const condition = /^\/bin\/sh -c '(.+)'$/.exec(unitLine('ExecCondition'))?.[1] ?? '';
      const skipped = await inRoot('/bin/sh', ['-c', condition]);
      expect(skipped.code).toBe(1);
      expect(skipped.stderr).toMatch(
        /\/etc\/vipd\/vipd\.json is the unconfigured one .*write the config/,
      );
      // A config the operator wrote, even one vipd refuses, is for ExecStart to run (or fail).
      writeFileSync(at(CONFFILE), '{ "instances": [');
      expect((await inRoot('/bin/sh', ['-c', condition])).code).toBe(0);
      const config = (host: string, priority: number): unknown => ({
        ...(vipdConfig(host, [{ priority, advertInterval: 0.2 }]) as object),
        ...(host === 'fw2' ? { control: { socket: FW2_SOCKET } } : {}),
      });
      writeFileSync(at(CONFFILE), JSON.stringify(config('fw1', 150), null, 2));
      writeFileSync(at(FW2_CONFIG), JSON.stringify(config('fw2', 100), null, 2));
      expect((await inRoot('/bin/sh', ['-c', condition])).code).toBe(0);
      // vipd check accepts each, with the interface checks of its own box.
      await Promise.all([checkIn('fw1', CONFFILE), checkIn('fw2', FW2_CONFIG)]);
    });

    it('two vipd from the root elect, and the backup takes over when the master stops', async () => {
      // The first box runs the unit's own command line; each has its control socket.
      const t0 = performance.now();
      const fw1 = spawnIn('fw1', unitLine('ExecStart').split(' '));
      const fw2 = spawnIn('fw2', ['/usr/bin/vipd', 'run', '--config', FW2_CONFIG]);
      // Started at once, either may come up first (and be master until fw1 preempts it): the
      // election is over when fw1 is master, fw2 backup and the VIP on fw1 alone.
      const last = (d: LabProcess): string | undefined => transitions(d).at(-1)?.to;
      await until(
        'fw1 master, fw2 backup, the VIP on fw1 alone',
        async () => {
          const value = { fw1: last(fw1), fw2: last(fw2), holders: await lab?.holders(VIP) };
          const done =
            value.fw1 === 'master' && value.fw2 === 'backup' && value.holders?.join() === 'fw1';
          return { done, value };
        },
        60_000,
      );
      const elected = performance.now();
      const [s1, s2] = await Promise.all([
        inRoot('vipd', ['status']),
        inRoot('vipd', ['status', '--socket', FW2_SOCKET]),
      ]);
      expect(ok(s1)).toMatch(/^VI_1 +MASTER /m);
      expect(ok(s2)).toMatch(/^VI_1 +BACKUP /m);

      const from = fw2.lines.length;
      const stopped = performance.now();
      fw1.kill('SIGTERM');
      expect(await fw1.exited).toBe(0);
      await fw2.waitForLine(/"to":"master"/, 30_000, from);
      expect(transitions(fw2).at(-1)).toMatchObject({
        to: 'master',
        reason: 'priority-zero-heard',
      });
      expect(
        await until(
          'the VIP on fw2 alone',
          async () => {
            const on = (await lab?.holders(VIP)) ?? [];
            return { done: on.length === 1 && on[0] === 'fw2', value: on };
          },
          10_000,
        ),
      ).toEqual(['fw2']);
      const tookOver = performance.now();
      fw2.kill('SIGTERM');
      expect(await fw2.exited).toBe(0);
      expect(await lab?.holders(VIP)).toEqual([]);
      console.log(
        `[measure] elected ${((elected - t0) / 1000).toFixed(1)} s after start; backup took over ${((tookOver - stopped) / 1000).toFixed(1)} s after SIGTERM`,
      );
    }, 120_000);

    it('dpkg -r removes everything it installed but the conffile', async () => {
      shipped = ok(await inRoot('dpkg-query', ['-L', 'vipd']))
        .trim()
        .split('\n');
      expect(shipped).toEqual(
        expect.arrayContaining([CONFFILE, UNIT_PATH, LIB_DIR, '/usr/bin/vipd']),
      );
      ok(await inRoot('dpkg', ['-r', 'vipd']));
      const left = shipped.filter(exists);
      expect(left.filter((p) => !isDir(p))).toEqual([CONFFILE]);
      // The directories left hold other packages' files too (and /etc/vipd, the conffile).
      for (const d of left.filter(isDir)) {
        expect([d, readdirSync(at(d)).length > 0]).toEqual([d, true]);
      }
      expect(left).not.toContain(LIB_DIR);
      expect(ok(await inRoot('dpkg-query', ['-W', '-f', '${Status}', 'vipd']))).toBe(
        'deinstall ok config-files',
      );
      // Left for a reinstall to find, as dh_installsystemd leaves them: the enablement, and a
      // mask in case a unit file lingers.
      expect(readlinkSync(at('etc/systemd/system/vipd.service'))).toBe('/dev/null');
      expect(unitState()).toContain('/etc/systemd/system/multi-user.target.wants/vipd.service');
    });

    it('dpkg -P removes the conffile and the unit enablement too', async () => {
      expect(shipped).toContain(CONFFILE);
      ok(await inRoot('dpkg', ['-P', 'vipd']));
      expect(shipped.filter((p) => exists(p) && !isDir(p))).toEqual([]);
      expect(exists('/etc/vipd')).toBe(false);
      expect((await inRoot('dpkg', ['-s', 'vipd'])).code).toBe(1);
      expect(unitState()).toEqual([]);
      expect(processesInRoot()).toEqual([]);
    });
  });
});
