/**
 * The quorum rule (router/quorum.ts) on probe rounds, and the witness target syntax: a majority
 * of witnesses for a takeover, a majority of boxes once there are three or more, and a master
 * steps down only when it reaches nothing at all.
 */
import { describe, expect, it } from 'vitest';
import {
  masterIsolated,
  parseTarget,
  takeoverVerdict,
  type Probe,
  type QuorumConfig,
} from '../../src/router/quorum.js';

const cfg = (witnesses: number, peers: number): QuorumConfig => ({
  witnesses: Array.from({ length: witnesses }, (_, i) => `192.0.2.${i + 1}`),
  peers: Array.from({ length: peers }, (_, i) => `198.51.100.${i + 1}`),
  timeoutMs: 300,
  intervalMs: 1000,
});
const probes = (targets: string[], up: number): Probe[] =>
  targets.map((target, i) => ({ target, up: i < up }));

describe('quorum', () => {
  it('takeover needs a majority of the witnesses', () => {
    const q = cfg(3, 1);
    const verdict = (up: number): boolean =>
      takeoverVerdict(q, probes(q.witnesses, up), probes(q.peers, 0)).ok;
    expect([0, 1, 2, 3].map(verdict)).toEqual([false, false, true, true]);
    expect(takeoverVerdict(q, probes(q.witnesses, 1), []).why).toBe('witnesses 1/3 (need 2)');
  });

  it('with three or more boxes, this box and the peers it reaches must be a majority', () => {
    const q = cfg(1, 2); // three boxes
    const verdict = (peersUp: number): boolean =>
      takeoverVerdict(q, probes(q.witnesses, 1), probes(q.peers, peersUp)).ok;
    expect([0, 1, 2].map(verdict)).toEqual([false, true, true]);
    const four = cfg(1, 3); // four boxes: 2 of 4 is not a majority
    expect(takeoverVerdict(four, probes(four.witnesses, 1), probes(four.peers, 1)).ok).toBe(false);
    expect(takeoverVerdict(four, probes(four.witnesses, 1), probes(four.peers, 2)).ok).toBe(true);
  });

  it('two boxes: the single peer is not counted (it is the one that went quiet)', () => {
    const q = cfg(1, 1);
    expect(takeoverVerdict(q, probes(q.witnesses, 1), probes(q.peers, 0)).ok).toBe(true);
  });

  it('a master is isolated only when no witness and no peer answers, and only with peers known', () => {
    const q = cfg(2, 1);
    expect(masterIsolated(q, probes(q.witnesses, 0), probes(q.peers, 0))).toBe(true);
    expect(masterIsolated(q, probes(q.witnesses, 0), probes(q.peers, 1))).toBe(false);
    expect(masterIsolated(q, probes(q.witnesses, 1), probes(q.peers, 0))).toBe(false);
    const noPeers = cfg(2, 0);
    expect(masterIsolated(noPeers, probes(noPeers.witnesses, 0), [])).toBe(false);
  });

  it('witness targets: an address is pinged, address:port is a TCP connect; nothing else', () => {
    expect(parseTarget('192.0.2.1')).toEqual({ address: '192.0.2.1' });
    expect(parseTarget('192.0.2.1:443')).toEqual({ address: '192.0.2.1', port: 443 });
    for (const bad of ['192.0.2.1:0', '192.0.2.1:70000', '192.0.2', 'gw.example', '192.0.2.300']) {
      expect(parseTarget(bad), bad).toBeUndefined();
    }
  });
});
