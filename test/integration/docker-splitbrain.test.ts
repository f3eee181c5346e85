/**
 * The Docker variant of the split-brain lab, part 2 (part 1, which needs no root, is
 * test/unit/docker-files.test.ts; part 3, on a real engine, is docker-engine.test.ts): the nft
 * rules docker/splitbrain.sh sends into each box, taken from a stand-in `docker` that records
 * its calls, are checked with `nft -c` in a throwaway network and mount namespace without
 * /etc/protocols, as in the slim image: root, hence this tier.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FakeDocker } from '../support/fake-docker.js';
import { REPO_ROOT } from '../support/paths.js';
import { removeTempDirs } from '../support/temp-dir.js';
import { UDP_PORT } from '../../scripts/splitbrain/scenario.js';

afterAll(removeTempDirs);

const DOCKER = join(REPO_ROOT, 'docker');

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('docker/splitbrain.sh', () => {
  const docker = new FakeDocker();

  /** The nft argument splitbrain.sh hands to `docker exec <box's container> nft`, per box. */
  function nftSent(args: string[]): Map<string, string> {
    docker.reset();
    const r = run(join(DOCKER, 'splitbrain.sh'), args, docker.env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const sent = new Map<string, string>();
    for (const argv of docker.calls()) {
      if (argv[0] === 'ps') {
        expect(argv).toContain('label=com.docker.compose.project=vipd-splitbrain');
        continue;
      }
      expect(argv.slice(0, 1)).toEqual(['exec']);
      expect(argv[2]).toBe('nft');
      sent.set((argv[1] ?? '').replace(/^fake-/, ''), argv[3] ?? '');
    }
    return sent;
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

  const raw = 'meta l4proto 112 drop';
  const udp = `udp dport ${UDP_PORT} drop`;
  it.each([
    ['proto', 'raw', { fw1: raw, fw2: `ip saddr 10.99.0.1 ${raw}` }],
    ['proto', 'udp', { fw1: udp, fw2: `ip saddr 10.99.0.1 ${udp}` }],
    ['oneway', 'raw', { fw2: `ip saddr 10.99.0.1 ${raw}` }],
    ['oneway', 'udp', { fw2: `ip saddr 10.99.0.1 ${udp}` }],
    ['link', 'raw', { fw1: 'iifname "eth0" drop' }],
  ])('cut --mode %s --transport %s sends valid rulesets to %j', (mode, transport, want) => {
    const sent = nftSent(['--mode', mode, '--transport', transport, 'cut', 'fw1']);
    expect([...sent.keys()].sort()).toEqual(Object.keys(want).sort());
    for (const [box, match] of Object.entries(want)) {
      const ruleset = sent.get(box) ?? '';
      expect(ruleset).toContain(match);
      expect(ruleset).toContain('hook input');
      // Only an unplugged box's own sends fail: the other cuts drop on input, silently.
      if (mode === 'link') {
        expect(ruleset).toContain('hook output');
        expect(ruleset).toContain('table arp');
      } else expect(ruleset).not.toContain('hook output');
      expect(nftRejects(ruleset)).toBe('');
    }
  });

  it('cut with --fw3 cuts fw3 off from the cut box too', () => {
    const sent = nftSent(['--mode', 'oneway', '--fw3', 'cut', 'fw2']);
    expect([...sent.keys()].sort()).toEqual(['fw1', 'fw3']);
    for (const ruleset of sent.values()) expect(ruleset).toContain(`ip saddr 10.99.0.2 ${raw}`);
  });

  it('heals every firewall by deleting what any cut created, cut or not', () => {
    const sent = nftSent(['--fw3', 'heal']);
    expect([...sent.keys()]).toEqual(['fw1', 'fw2', 'fw3']);
    for (const ruleset of sent.values()) {
      expect(ruleset).toMatch(/delete table inet vipd_cut/);
      expect(ruleset).toMatch(/delete table arp vipd_cut/);
      expect(nftRejects(ruleset)).toBe('');
    }
  });
});
