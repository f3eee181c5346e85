/**
 * `vipd run` creates the control socket's directory when it is missing (daemon/runtime-dir.ts):
 * like `mkdir -p -m 0700`, an existing directory keeps its mode, a failure names the path. All in
 * a temporary directory, never /run; the control server then binds its socket in the directory
 * created, as `vipd run` does next.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ControlServer } from '../../src/control/server.js';
import { ensureRuntimeDir, RuntimeDirError } from '../../src/daemon/runtime-dir.js';

const quiet = pino({ level: 'silent' });
const mode = (path: string): number => statSync(path).mode & 0o777;

let tmp: string;
let server: ControlServer | undefined;

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'vipd-rundir-'));
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(tmp, { recursive: true, force: true });
});

describe('ensureRuntimeDir', () => {
  it('creates a missing directory and its parents, mode 0700, and the socket binds in it', async () => {
    const dir = join(tmp, 'run', 'vipd');
    expect(await ensureRuntimeDir(dir)).toBe(true);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(tmp, 'run'))).toBe(0o700);
    const path = join(dir, 'vipd.sock');
    server = await ControlServer.listen(path, quiet);
    expect(statSync(path).isSocket()).toBe(true);
  });

  it('leaves an existing directory and its mode alone', async () => {
    const dir = join(tmp, 'vipd');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'keep'), 'x');
    expect(await ensureRuntimeDir(dir)).toBe(false);
    expect(mode(dir)).toBe(0o755);
    expect(statSync(join(dir, 'keep')).isFile()).toBe(true);
  });

  it('names the path when it cannot create it', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    for (const dir of [file, join(file, 'vipd')]) {
      const err = await ensureRuntimeDir(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RuntimeDirError);
      expect((err as Error).message).toMatch(
        new RegExp(
          `^cannot create the runtime directory ${dir} for the control socket: .*; create it \\(root's, mode 0700\\) or set control.socket to another path$`,
        ),
      );
    }
  });
});
