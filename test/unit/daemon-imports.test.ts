/**
 * What `vipd run` loads before it reads its config: a child Node imports src/daemon/run.ts (from
 * source, through tsx) with a resolve hook that records every module resolved, ES or CommonJS,
 * and reports them with the built-ins Node compiled (process.moduleLoadList). Each module a
 * daemon may not need costs RSS in every daemon (issue 17): the command runner (execa), the
 * cluster and load-sharing code, the importers, prom-client's Pushgateway and cluster
 * aggregator, and the undici/http2 that an ES import of node:http drags in are imported where
 * they are used, and must not come back into the start-up graph unnoticed. prom-client and the
 * metrics registry are not in it either: they load after the first advert
 * (control/metrics-server.ts's attach), and each module before that costs start-up time; what
 * that loads later is recorded too (the child imports control/metrics.ts after run.ts).
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
let startUp;
process.on('vipd-started', () => {
  startUp = { resolved: [...resolved], builtins: [...process.moduleLoadList] };
});
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    resolved.add(r.url);
    return r;
  },
});
process.on('exit', () => {
  const later = { resolved: [...resolved], builtins: process.moduleLoadList };
  process.stdout.write(JSON.stringify({ startUp, later }));
});
`;

interface Loaded {
  resolved: string[];
  builtins: string[];
}

interface Recorded {
  /** What importing run.ts loads. */
  startUp: Loaded;
  /** That, and what importing the metrics (after the first advert) adds. */
  later: Loaded;
}

const dir = mkdtempSync(join(tmpdir(), 'vipd-imports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let loaded: Loaded;
let later: Loaded;

beforeAll(async () => {
  const recorder = join(dir, 'recorder.mjs');
  writeFileSync(recorder, RECORDER);
  const run = pathToFileURL(resolve(REPO_ROOT, 'src/daemon/run.ts')).href;
  const metrics = pathToFileURL(resolve(REPO_ROOT, 'src/control/metrics.ts')).href;
  const tsx = VIPD_FROM_SOURCE.slice(0, 2);
  const r = await execa(
    process.execPath,
    [
      ...tsx,
      '--import',
      pathToFileURL(recorder).href,
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(run)}); process.emit('vipd-started'); await import(${JSON.stringify(metrics)});`,
    ],
    { cwd: dir },
  );
  ({ startUp: loaded, later } = JSON.parse(r.stdout) as Recorded);
}, 60_000);

const src = (path: string): string => pathToFileURL(resolve(REPO_ROOT, 'src', path)).href;
const pkg = (path: string): RegExp => new RegExp(`/node_modules/${path}`);

describe("vipd run's start-up imports", () => {
  it('are recorded: the daemon, the config schema, the logger and the metrics port', () => {
    expect(loaded.resolved).toContain(src('daemon/daemon.ts'));
    expect(loaded.resolved).toContain(src('config/config.ts'));
    expect(loaded.resolved).toContain(src('control/metrics-server.ts'));
    for (const used of [pkg('zod/'), pkg('pino/')]) {
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
      pkg('prom-client/'),
      new RegExp(`^${src('control/metrics\\.ts')}$`),
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

describe("the metrics' imports, after the first advert", () => {
  it("are prom-client's registry and metric types, not its index, Pushgateway or cluster aggregator", () => {
    expect(later.resolved).toContain(src('control/metrics.ts'));
    expect(later.resolved.some((url) => pkg('prom-client/lib/registry\\.js').test(url))).toBe(true);
    for (const pattern of [
      pkg('prom-client/index\\.js'),
      pkg('prom-client/lib/(pushgateway|cluster)\\.js'),
    ]) {
      expect(later.resolved.filter((url) => pattern.test(url))).toEqual([]);
    }
    for (const builtin of ['internal/deps/undici/undici', 'http2', 'https', 'cluster']) {
      expect(later.builtins).not.toContain(`NativeModule ${builtin}`);
    }
  });
});
