/**
 * What a reload changes (router/reload-delta.ts), decided before anything is touched: each
 * instance kept, updated in place, replaced, added or removed, and what needs a restart.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, type VipdConfig } from '../../src/config/config.js';
import { reloadDelta } from '../../src/router/reload-delta.js';

const instance = (name: string, vrid: number, extra: Record<string, unknown> = {}) => ({
  name,
  interface: 'eth0',
  vrid,
  vips: [`10.0.0.${vrid}/24`],
  ...extra,
});
const config = (instances: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
  parseConfig({ node: { name: 'fw1' }, instances, ...extra });

function delta(before: VipdConfig, after: VipdConfig) {
  const outcome = reloadDelta(before, after);
  if (!outcome.ok) throw new Error(outcome.reason);
  return outcome.delta;
}

describe('reloadDelta', () => {
  const before = config([instance('A', 1), instance('B', 2), instance('C', 3), instance('D', 4)]);

  it('sorts every instance into kept, updated in place, replaced, added and removed', () => {
    const after = config([
      instance('A', 1),
      instance('B', 2, { priority: 200, hooks: { up: '/bin/true' } }),
      instance('C', 3, { vips: ['10.0.0.33/24'] }),
      instance('E', 5),
    ]);
    const d = delta(before, after);
    expect(d.report).toEqual({
      kept: ['A'],
      updated: ['B (priority, hooks)'],
      replaced: ['C (vips)'],
      added: ['E'],
      removed: ['D'],
      needsRestart: [],
    });
    expect(d.inPlace.map((i) => i.name)).toEqual(['B']);
    expect(d.replace.map((i) => i.name)).toEqual(['C']);
    expect(d.add.map((i) => i.name)).toEqual(['E']);
    expect(d.remove).toEqual(['D']);
  });

  it('HMAC keys change in place (a key rollover does not fail the master over)', () => {
    const keys = (...ids: number[]) => ({
      keys: ids.map((id) => ({ id, secret: `secret number ${id} of the pair` })),
      sendKeyId: ids[0],
    });
    const a = config([instance('A', 1, { hmac: keys(1) })]);
    const b = config([instance('A', 1, { hmac: keys(1, 2) })]);
    expect(delta(a, b).report.updated).toEqual(['A (hmac)']);
  });

  it('an interface change replaces the instance; control, metrics and node need a restart', () => {
    const after = config(
      [
        instance('A', 1, { interface: 'eth9' }),
        instance('B', 2),
        instance('C', 3),
        instance('D', 4),
      ],
      { node: { name: 'fw9' }, control: { socket: '/run/vipd/other.sock' } },
    );
    const d = delta(before, after);
    expect(d.report.replaced).toEqual(['A (interface)']);
    expect(d.report.needsRestart).toEqual(['control', 'node']);
  });

  it("CARP's timing and password change in place; a change of protocol replaces the instance", () => {
    const carp = (advskew: number, password = 's3cr3t') => ({
      protocol: 'carp',
      carp: { password, advskew },
    });
    const d = delta(
      config([instance('A', 1, carp(0)), instance('B', 2)]),
      config([instance('A', 1, carp(50, 'other')), instance('B', 2, carp(0))]),
    );
    expect(d.report.updated).toEqual(['A (carp)']);
    expect(d.report.replaced).toEqual(['B (protocol, carp)']);
  });

  it('refuses a change of the cluster section', () => {
    const cluster = (boxes: string[]) => ({
      cluster: {
        name: 'web',
        boxes,
        totalNodes: 2,
        vridBase: 100,
        clusterMac: '01:00:5e:00:01:0a',
        interface: 'eth0',
        vips: ['10.0.0.200/24'],
      },
    });
    const a = config([instance('A', 1)], cluster(['fw1', 'fw2']));
    const b = config([instance('A', 1)], cluster(['fw1', 'fw3']));
    expect(reloadDelta(a, b)).toEqual({
      ok: false,
      reason: 'the cluster section changed: restart vipd to apply it',
    });
  });
});
