/**
 * The installed vipd package: its root is the nearest directory above this module with a
 * package.json, the same from src/ (tsx), dist/src/ (a built checkout) and an installed copy
 * (/usr/lib/vipd/dist/src with /usr/lib/vipd/package.json, which the package ships anyway: it
 * makes dist/ ES modules and places the addon, build/Release/ beside it). The version is read
 * from that package.json at run time, so it is the one of the files actually running.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** No package.json above the sources, or one without a version: a broken installation. */
export class PackageFileError extends Error {
  override name = 'PackageFileError';
}

/** The nearest directory above this file with a package.json, from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new PackageFileError('no package.json above the vipd sources');
    dir = parent;
  }
  return dir;
}

/** package.json's version, e.g. `0.1.0`. */
export function packageVersion(): string {
  const file = join(packageRoot(), 'package.json');
  let version: unknown;
  try {
    version = (JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version;
  } catch (err) {
    throw new PackageFileError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (typeof version !== 'string' || version === '') {
    throw new PackageFileError(`${file} has no version: reinstall vipd`);
  }
  return version;
}
