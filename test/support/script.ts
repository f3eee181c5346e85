/** Throw-away shell scripts for tests (hooks, stand-ins for tools): written executable, path returned. */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
