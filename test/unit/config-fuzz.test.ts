/**
 * Hostile configs (issue 7): random values dropped into every key of a valid config (wrong
 * types, out-of-range numbers, odd strings, nested junk) and random documents are either accepted
 * or refused with a ConfigError whose every issue names a key and an operator-readable reason,
 * never any other exception; a huge file is refused before it is parsed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { loadConfigFile } from '../../src/config/host-checks.js';
import { ConfigError } from '../../src/config/formats.js';
import { removeTempDirs, tempDir } from '../support/temp-dir.js';

afterAll(removeTempDirs);

const valid = {
  node: { name: 'fw1' },
  instances: [
    {
      name: 'VI_1',
      interface: 'eth0',
      vrid: 51,
      priority: 150,
      vips: ['10.99.0.100/24'],
      hooks: { up: '/etc/vipd/up.sh' },
      track: { interfaces: [{ name: 'eth1' }], scripts: [{ script: '/bin/true' }] },
      quorum: { witnesses: ['10.99.0.254'] },
      hmac: { keys: [{ id: 1, secret: 'sixteen bytes at least' }] },
    },
  ],
  syncGroups: [],
  cluster: {
    boxes: ['fw1', 'fw2'],
    totalNodes: 4,
    vridBase: 100,
    clusterMac: '01:00:5e:00:01:0a',
    interface: 'eth0',
    vips: ['10.99.0.10/24'],
  },
};

/** Every path to a value in `doc` (object keys and array indexes). */
function paths(doc: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof doc !== 'object' || doc === null) return [prefix];
  const entries = Array.isArray(doc) ? doc.map((v, i) => [i, v] as const) : Object.entries(doc);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

function setAt(doc: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  const copy = (Array.isArray(doc) ? [...doc] : { ...(doc as object) }) as Record<
    string | number,
    unknown
  >;
  copy[head as string] = setAt(copy[head as string], rest, value);
  return copy;
}

function outcome(doc: unknown): 'ok' | 'refused' {
  try {
    parseConfig(doc);
    return 'ok';
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.issues.length).toBeGreaterThan(0);
    for (const i of err.issues) {
      expect(typeof i.key === 'string' && i.key.length > 0, JSON.stringify(i)).toBe(true);
      expect(typeof i.reason === 'string' && i.reason.length > 0, JSON.stringify(i)).toBe(true);
      // Worded for an operator: no library jargon, no stack.
      expect(i.reason, JSON.stringify(i)).not.toMatch(/Invalid input|ZodError|\n\s+at /);
    }
    return 'refused';
  }
}

const all = paths(valid).filter((p) => p.length > 0);
const junk = fc.oneof(
  fc.anything(),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.double(),
  fc.constantFrom(
    '',
    ' ',
    '10.99.0.300/24',
    '10.99.0.1/33',
    'eth0 ',
    '../../etc',
    '\u0000',
    '__proto__',
  ),
  fc.constantFrom(0, 256, -1, 1e300, Number.NaN, null, true, [], {}),
);

describe('hostile configs', () => {
  it('random values in every key: accepted or refused with key and reason, nothing else', () => {
    const seen = { ok: 0, refused: 0 };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...all), junk), { minLength: 1, maxLength: 4 }),
        (edits) => {
          const doc = edits.reduce<unknown>((d, [path, value]) => setAt(d, path, value), valid);
          seen[outcome(doc)] += 1;
        },
      ),
      { numRuns: 3000 },
    );
    console.log(`[measure] config fuzz: ${seen.ok} accepted, ${seen.refused} refused`);
    expect(seen.refused).toBeGreaterThan(1000);
  });

  it('random documents: refused with key and reason, never a stack trace', () => {
    fc.assert(
      fc.property(fc.anything(), (doc) => {
        outcome(doc);
      }),
      { numRuns: 2000 },
    );
  });

  it('a huge file is refused before it is parsed', () => {
    const file = join(tempDir('vipd-huge-'), 'vipd.json');
    writeFileSync(file, `{"instances": [${'{},'.repeat(2_000_000)}{}]}`);
    expect(() => loadConfigFile(file)).toThrow(/too large/);
  });
});
