/**
 * What `vipd run` loads before it reads its config: a child Node imports src/daemon/run.ts (from
 * source, through tsx) with a resolve hook that records every module resolved, ES or CommonJS,
 * and reports them with the built-ins Node compiled (process.moduleLoadList). Each module a
 * daemon may not need costs RSS in every daemon (issue 17): the command runner (execa), the
 * cluster and load-sharing code, the importers, prom-client's Pushgateway and cluster
 * aggregator, and the undici/http2 that an ES import of node:http drags in are imported where
 * they are used, and must not come back into the start-up graph unnoticed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, VIPD_FROM_SOURCE } from '../support/paths.js';

const RECORDER = `
import { registerHooks } from 'node:module';
const resolved = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    resolved.add(r.url);
    return r;
  },
});
process.on('exit', () => {
  process.stdout.write(JSON.stringify({ resolved: [...resolved], builtins: process.moduleLoadList }));
});
`;

interface Loaded {
  resolved: string[];
  builtins: string[];
}

const dir = mkdtempSync(join(tmpdir(), 'vipd-imports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let loaded: Loaded;

beforeAll(async () => {
  const recorder = join(dir, 'recorder.mjs');
  writeFileSync(recorder, RECORDER);
  const run = pathToFileURL(resolve(REPO_ROOT, 'src/daemon/run.ts')).href;
  const tsx = VIPD_FROM_SOURCE.slice(0, 2);
  const r = await execa(
    process.execPath,
    [
      ...tsx,
      '--import',
      pathToFileURL(recorder).href,
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(run)});`,
    ],
    { cwd: dir },
  );
  loaded = JSON.parse(r.stdout) as Loaded;
}, 60_000);

const src = (path: string): string => pathToFileURL(resolve(REPO_ROOT, 'src', path)).href;
const pkg = (path: string): RegExp => new RegExp(`/node_modules/${path}`);

describe("vipd run's start-up imports", () => {
  it('are recorded: the daemon, the config schema, the logger and the metrics', () => {
    expect(loaded.resolved).toContain(src('daemon/daemon.ts'));
    expect(loaded.resolved).toContain(src('config/config.ts'));
    for (const used of [pkg('zod/'), pkg('pino/'), pkg('prom-client/lib/registry\\.js')]) {
      expect(
        loaded.resolved.some((url) => used.test(url)),
        String(used),
      ).toBe(true);
    }
    expect(loaded.builtins).toContain('NativeModule http');
  });

  it('leave out what only some daemons or other commands use', () => {
    const unused = [
      pkg('execa/'),
      pkg('prom-client/index\\.js'),
      pkg('prom-client/lib/(pushgateway|cluster)\\.js'),
      new RegExp(`^${src('migrate/')}`),
      new RegExp(`^${src('cluster/(member|select|nft|xt-cluster|clusterip|command)\\.ts')}$`),
    ];
    for (const pattern of unused) {
      expect(loaded.resolved.filter((url) => pattern.test(url))).toEqual([]);
    }
    for (const builtin of ['internal/deps/undici/undici', 'http2', 'https', 'cluster']) {
      expect(loaded.builtins).not.toContain(`NativeModule ${builtin}`);
    }
  });
});
