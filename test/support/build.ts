/**
 * Global setup of the lab tier (vitest.lab.config.ts): compiles the project once before any
 * test, so the namespace tests run the same `dist/` artifact operators install, never a stale
 * one. The unit tier has no build step: it imports the TypeScript sources.
 */
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from './paths.js';

export function setup(): void {
  execFileSync(
    process.execPath,
    [`${REPO_ROOT}/node_modules/typescript/bin/tsc`, '-p', 'tsconfig.json'],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
    },
  );
}
