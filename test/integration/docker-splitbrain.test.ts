/**
 * The Docker variant of the split-brain lab, part 2 (part 1, which needs no root, is
 * test/unit/docker-files.test.ts): the nft rules docker/splitbrain.sh sends into a box, taken
 * from a stand-in `docker` that records its calls, are checked with `nft -c` in a throwaway
 * network namespace: root, hence this tier.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';
import { UDP_PORT } from '../../scripts/splitbrain/scenario.js';

const DOCKER = join(REPO_ROOT, 'docker');
const COMPOSE_FILE = join(DOCKER, 'docker-compose.yml');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('docker/splitbrain.sh', () => {
  // A stand-in docker: answers `docker compose version`, records every other call.
  const bin = mkdtempSync(join(tmpdir(), 'vipd-fake-docker-'));
  const calls = join(bin, 'calls.jsonl');
  writeFileSync(
    join(bin, 'docker'),
    `#!${process.execPath}\n` +
      `const args = process.argv.slice(2);\n` +
      `if (args[0] === 'compose' && args[1] === 'version') process.exit(0);\n` +
      `require('node:fs').appendFileSync(${JSON.stringify(calls)}, JSON.stringify(args) + '\\n');\n`,
  );
  chmodSync(join(bin, 'docker'), 0o755);

  /** The nft argument splitbrain.sh hands to `docker compose exec -T BOX nft`. */
  function nftSent(args: string[]): string {
    writeFileSync(calls, '');
    const r = run(join(DOCKER, 'splitbrain.sh'), args, {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [call, ...more] = readFileSync(calls, 'utf8').trim().split('\n');
    expect(more).toEqual([]);
    const argv = JSON.parse(call ?? '[]') as string[];
    expect(argv.slice(0, 5)).toEqual(['compose', '-p', 'vipd-splitbrain', '-f', COMPOSE_FILE]);
    expect(argv.slice(5, 9)).toEqual(['exec', '-T', 'fw1', 'nft']);
    return argv[9] ?? '';
  }

  /** nft's complaint about a ruleset ('' when it would load), checked in a fresh namespace. */
  const nftRejects = (ruleset: string): string => {
    const r = run('unshare', ['--net', 'nft', '-c', ruleset]);
    return r.code === 0 ? '' : r.stderr || `exit ${String(r.code)}`;
  };

  it.each([
    ['proto', 'raw', 'ip protocol vrrp', ['hook input', 'hook output']],
    ['proto', 'udp', `udp dport ${UDP_PORT}`, ['hook input', 'hook output']],
    ['oneway', 'raw', 'ip protocol vrrp', ['hook output']],
    ['oneway', 'udp', `udp dport ${UDP_PORT}`, ['hook output']],
    ['link', 'raw', 'iifname "eth0" drop', ['hook input', 'hook output', 'table arp']],
  ])('cut --mode %s --transport %s sends a valid ruleset', (mode, transport, match, parts) => {
    const ruleset = nftSent(['--mode', mode, '--transport', transport, 'cut', 'fw1']);
    expect(ruleset).toContain(match);
    for (const p of parts) expect(ruleset).toContain(p);
    if (mode === 'oneway') expect(ruleset).not.toContain('hook input');
    expect(nftRejects(ruleset)).toBe('');
  });

  it('heals by deleting what any cut created, cut or not', () => {
    const ruleset = nftSent(['heal', 'fw1']);
    expect(ruleset).toMatch(/delete table inet vipd_cut/);
    expect(ruleset).toMatch(/delete table arp vipd_cut/);
    expect(nftRejects(ruleset)).toBe('');
  });
});
