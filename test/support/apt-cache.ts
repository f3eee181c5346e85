/**
 * apt's downloads kept between lab runs, as an apt proxy keeps them for a site's boxes: the
 * indexes (/var/lib/apt/lists) and packages (/var/cache/apt/archives) a fresh Debian root
 * (debian-root.ts) fetched are saved in the lab cache, and put into the next fresh root before
 * its `apt-get update`. apt still works from the mirror: update fetches the signed InRelease
 * files and whatever changed since, and install checks every cached .deb against the hashes of
 * the index; only the transfers are saved (on this machine's mirror, ~16 MB of indexes and the
 * packages: most of a minute).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DEBIAN_SUITE, LAB_CACHE } from './debian-root.js';

const CACHE = join(LAB_CACHE, `apt-${DEBIAN_SUITE}`);
/** Where apt keeps each, inside a root, and the name the cache gives it. */
const DIRS = [
  { name: 'lists', inRoot: 'var/lib/apt/lists' },
  { name: 'archives', inRoot: 'var/cache/apt/archives' },
];
/** apt's lock files and half-done downloads: never cached. */
const KEEP = (name: string): boolean => name !== 'lock' && name !== 'partial';

/** Copies the cached indexes and packages (if any) into `root`, keeping their times. */
export function restoreAptCache(root: string): void {
  for (const d of DIRS) {
    const from = join(CACHE, d.name);
    if (!existsSync(from)) continue;
    for (const name of readdirSync(from)) {
      cpSync(join(from, name), join(root, d.inRoot, name), {
        recursive: true,
        preserveTimestamps: true,
      });
    }
  }
}

/**
 * Replaces the cache with the indexes and Debian's packages now in `root` (a package installed
 * from a local file is not in apt's archives). Written beside the cache and renamed into place,
 * so a run killed half-way leaves the old cache or the new one, never a mix.
 */
export function saveAptCache(root: string): void {
  const next = `${CACHE}.${process.pid}`;
  const old = `${CACHE}.old.${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  try {
    for (const d of DIRS) {
      const from = join(root, d.inRoot);
      mkdirSync(join(next, d.name), { recursive: true });
      for (const name of readdirSync(from).filter(KEEP)) {
        cpSync(join(from, name), join(next, d.name, name), {
          recursive: true,
          preserveTimestamps: true,
        });
      }
    }
    if (existsSync(CACHE)) renameSync(CACHE, old);
    renameSync(next, CACHE);
  } finally {
    rmSync(next, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}
