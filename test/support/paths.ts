/** Where things are, for tests and scripts: the repository root and the built CLI. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const VIPD_CLI = resolve(REPO_ROOT, 'dist/src/cli.js');
