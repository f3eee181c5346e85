/**
 * A fresh Debian 12 root for the lab tests that need a machine "as installed": the package's
 * install test (dpkg -i into it, chroot) and the Docker test's local base image (no registry
 * is reachable here). Made with `debootstrap --variant=minbase bookworm` (the set the official
 * debian:bookworm-slim image is made of) from the mirror this machine's apt uses, then kept as
 * a tarball in the lab cache, so only the first run of a machine pays the ~1 minute: every test
 * unpacks its own copy and nothing a test does reaches the cache.
 *
 * The root gets this machine's apt sources (suites and mirror) with the date checks off: the
 * mirrors here are frozen snapshots whose Release files have expired.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustRun } from './command.js';

/** Where lab tests keep what is slow to fetch or build: outside the clone, kept between runs. */
export const LAB_CACHE = process.env.VIPD_LAB_CACHE ?? '/var/cache/vipd-lab';
export const DEBIAN_SUITE = 'bookworm';
const TARBALL = join(LAB_CACHE, `debian-${DEBIAN_SUITE}-minbase.tar`);
const SOURCES = '/etc/apt/sources.list.d/debian.sources';

/** The first `URIs:` of this machine's deb822 sources, or Debian's own mirror. */
export function debianMirror(): string {
  if (!existsSync(SOURCES)) return 'http://deb.debian.org/debian';
  return (
    /^URIs:\s*(\S+)/m.exec(readFileSync(SOURCES, 'utf8'))?.[1] ?? 'http://deb.debian.org/debian'
  );
}

/** The cached tarball of a minbase root, debootstrapped on first use. Returns its path. */
export async function debianRootTarball(): Promise<string> {
  if (existsSync(TARBALL)) return TARBALL;
  mkdirSync(LAB_CACHE, { recursive: true });
  // Built beside the cache and renamed into it: a run killed half-way leaves no partial tarball,
  // and two runs building at once each rename a whole one.
  const build = join(LAB_CACHE, `.build-${process.pid}`);
  rmSync(build, { recursive: true, force: true });
  try {
    await mustRun('debootstrap', ['--variant=minbase', DEBIAN_SUITE, build, debianMirror()]);
    rmSync(join(build, 'etc/apt/sources.list'), { force: true });
    if (existsSync(SOURCES)) {
      writeFileSync(join(build, 'etc/apt/sources.list.d/debian.sources'), readFileSync(SOURCES));
    }
    writeFileSync(
      join(build, 'etc/apt/apt.conf.d/99frozen-mirror'),
      'Acquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n',
    );
    await mustRun('sh', [
      '-c',
      `rm -rf "${build}"/var/lib/apt/lists/* "${build}"/var/cache/apt/archives/*.deb`,
    ]);
    await mustRun('tar', ['-C', build, '-cf', `${TARBALL}.${process.pid}`, '.']);
    renameSync(`${TARBALL}.${process.pid}`, TARBALL);
  } finally {
    rmSync(build, { recursive: true, force: true });
    rmSync(`${TARBALL}.${process.pid}`, { force: true });
  }
  return TARBALL;
}

/** Unpacks a fresh minbase root into `dir` (created; must not hold another root). */
export async function freshDebianRoot(dir: string): Promise<void> {
  const tarball = await debianRootTarball();
  mkdirSync(dir, { recursive: true });
  await mustRun('tar', ['-C', dir, '-xf', tarball]);
}
