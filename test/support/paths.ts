/** Where things are, for tests and scripts: the repository root and the CLI, built or not. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ABOVE = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Also when this file runs compiled, from dist/test/support (the kernel test's guest program). */
export const REPO_ROOT = existsSync(join(ABOVE, 'package.json')) ? ABOVE : dirname(ABOVE);
/** The built CLI (dist/), what operators install: the lab tier runs this one. */
export const VIPD_CLI = resolve(REPO_ROOT, 'dist/src/cli.js');
/**
 * Node arguments that run the CLI from its TypeScript source (tsx as an ES module loader, named
 * by path so the child's working directory does not matter): for the unit tier, which has no
 * build step. `spawn(process.execPath, [...VIPD_FROM_SOURCE, 'check', ...])`.
 */
export const VIPD_FROM_SOURCE: readonly string[] = [
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
  resolve(REPO_ROOT, 'src/cli.ts'),
];
