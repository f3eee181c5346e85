/**
 * The Docker variant of the split-brain lab, part 2 (part 1, which needs no root, is
 * test/unit/docker-files.test.ts): the nft rules docker/splitbrain.sh sends into a box, taken
 * from a stand-in `docker` that records its calls, are checked with `nft -c` in a throwaway
 * network and mount namespace without /etc/protocols, as in the slim image: root, hence this
 * tier.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeDocker } from '../support/fake-docker.js';
import { REPO_ROOT } from '../support/paths.js';
import { UDP_PORT } from '../../scripts/splitbrain/scenario.js';

const DOCKER = join(REPO_ROOT, 'docker');
const COMPOSE_FILE = join(DOCKER, 'docker-compose.yml');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('docker/splitbrain.sh', () => {
  const docker = new FakeDocker();

  /** The nft argument splitbrain.sh hands to `docker compose exec -T BOX nft`. */
  function nftSent(args: string[]): string {
    docker.reset();
    const r = run(join(DOCKER, 'splitbrain.sh'), args, docker.env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [argv = [], ...more] = docker.calls();
    expect(more).toEqual([]);
    expect(argv.slice(0, 5)).toEqual(['compose', '-p', 'vipd-splitbrain', '-f', COMPOSE_FILE]);
    expect(argv.slice(5, 9)).toEqual(['exec', '-T', 'fw1', 'nft']);
    return argv[9] ?? '';
  }

  /**
   * nft's complaint about a ruleset ('' when it would load), checked in a fresh namespace where
   * /etc/protocols is empty: the image has none, so a protocol name would not resolve there.
   */
  const nftRejects = (ruleset: string): string => {
    const r = run('unshare', [
      '--net',
      '--mount',
      'sh',
      '-c',
      'mount --bind /dev/null /etc/protocols && exec nft -c "$1"',
      'sh',
      ruleset,
    ]);
    return r.code === 0 ? '' : r.stderr || `exit ${String(r.code)}`;
  };

  it('the check itself refuses a protocol name, as the image would', () => {
    expect(nftRejects('table inet t { chain c { ip protocol vrrp drop; }; }')).toMatch(
      /Could not resolve protocol name/,
    );
  });

  it.each([
    ['proto', 'raw', 'meta l4proto 112', ['hook input', 'hook output']],
    ['proto', 'udp', `udp dport ${UDP_PORT}`, ['hook input', 'hook output']],
    ['oneway', 'raw', 'meta l4proto 112', ['hook output']],
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
