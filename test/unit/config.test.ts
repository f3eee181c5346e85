import { describe, expect, it } from 'vitest';
import { parseConfig, toFileShape } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/formats.js';

const base = { name: 'VI_1', interface: 'eth0', vrid: 51, vips: ['10.99.0.100/24'] };

function issues(doc: unknown): string[] {
  try {
    parseConfig(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => `${i.key}: ${i.reason}`);
    throw err;
  }
  return [];
}

describe('config', () => {
  it('fills defaults and normalises intervals and VIPs', () => {
    const c = parseConfig({ instances: [{ ...base, advertInterval: 0.35 }] });
    expect(c.instances[0]).toMatchObject({
      priority: 100,
      version: 3,
      advertIntervalCs: 35,
      preempt: true,
      transport: 'raw',
      checksum: 'rfc5798',
      reassertOnLower: true,
      auth: undefined,
      vips: [{ address: '10.99.0.100', prefix: 24 }],
    });
  });

  it('v2 carries the PASS password and refuses fractional intervals', () => {
    const c = parseConfig({
      instances: [{ ...base, version: 2, advertInterval: 2, authPassword: 's3cr3t' }],
    });
    expect(c.instances[0]?.auth).toEqual({ type: 1, password: 's3cr3t' });
    expect(c.instances[0]?.advertIntervalCs).toBe(200);
    expect(issues({ instances: [{ ...base, version: 2, advertInterval: 0.5 }] })).toEqual([
      'instances[0].advertInterval: VRRPv2 carries whole seconds from 1 to 255, got 0.5',
    ]);
  });

  it('reports every problem with its key path, not only the first', () => {
    const got = issues({
      x: 1,
      instances: [
        { ...base, vrid: 300, bogus: true, vips: ['10.0.0.1'] },
        { ...base, name: 'VI_2', priority: 0, transport: 'tcp', unicastPeers: ['10.0.0.300'] },
      ],
    });
    expect(got).toEqual(
      expect.arrayContaining([
        'x: unknown key',
        'instances[0].vrid: must be an integer from 1 to 255, got 300',
        'instances[0].bogus: unknown key',
        expect.stringMatching(/^instances\[0\]\.vips: must be a list of CIDR/),
        'instances[1].priority: must be an integer from 1 to 255, got 0',
        expect.stringMatching(/^instances\[1\]\.transport: must be one of the possible values/),
        expect.stringMatching(/^instances\[1\]\.unicastPeers: .*10\.0\.0\.300/),
      ]),
    );
  });

  it('refuses duplicate names, VRIDs per interface, duplicate VIPs and v3 passwords', () => {
    expect(issues({ instances: [base, { ...base, vips: ['10.99.0.101/24'] }] })).toEqual([
      'instances[1].name: "VI_1" is already used by instances[0]',
      'instances[1].vrid: VRID 51 on eth0 is already used by instances[0]',
    ]);
    expect(issues({ instances: [{ ...base, vips: ['10.0.0.1/24', '10.0.0.1/24'] }] })).toEqual([
      'instances[0].vips: 10.0.0.1 is listed twice',
    ]);
    expect(issues({ instances: [{ ...base, authPassword: 'x' }] })).toEqual([
      'instances[0].authPassword: only VRRPv2 has authentication; remove it or set version 2',
    ]);
    expect(issues({ instances: [{ ...base, advertInterval: 41 }] })).toEqual([
      'instances[0].advertInterval: VRRPv3 allows at most 40.95 s, got 41',
    ]);
  });

  it('refuses documents that are not objects and missing required keys', () => {
    expect(issues([])).toEqual(['(config): must be a JSON object']);
    expect(issues({ instances: [] })).toEqual(['instances: at least one instance is required']);
    expect(issues({ instances: [{ name: 'a' }] })).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^instances\[0\]\.interface: /),
        expect.stringMatching(/^instances\[0\]\.vrid: /),
      ]),
    );
  });

  it('prints back in the file shape with the password masked', () => {
    const c = parseConfig({ instances: [{ ...base, version: 2, authPassword: 'pw' }] });
    const shape = toFileShape(c) as { instances: Record<string, unknown>[] };
    expect(shape.instances[0]).toMatchObject({
      advertInterval: 1,
      authPassword: '********',
      vips: ['10.99.0.100/24'],
    });
    expect(
      parseConfig({
        ...(shape as object),
        instances: [{ ...shape.instances[0], authPassword: 'pw' }],
      }),
    ).toEqual(c);
  });

  it('VIPs beyond an advert go in excludedVips: moved with the instance, not advertised', () => {
    const many = Array.from({ length: 300 }, (_, n) => `10.100.${n >> 8}.${n & 255}/32`);
    expect(issues({ instances: [{ ...base, vips: many }] })).toEqual([
      'instances[0].vips: at most 255 addresses fit in an advert, got 300; list the rest in excludedVips',
    ]);
    const c = parseConfig({ instances: [{ ...base, excludedVips: many }] }).instances[0];
    expect(c?.vips.length).toBe(301);
    expect(c?.advertisedCount).toBe(1);
    expect(issues({ instances: [{ ...base, excludedVips: ['10.99.0.100/24'] }] })).toEqual([
      'instances[0].vips: 10.99.0.100 is listed twice',
    ]);
  });
});
