/**
 * Replays every case under test/conformance/cases through RouterCore and compares its effects
 * with the case's golden `expected.jsonl`. `UPDATE_GOLDEN=1 npm test` rewrites the goldens: read
 * the diff before committing it, since a golden is only as right as the review it got.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatOutputs, readCase, replay } from './replay.js';

const CASES = join(dirname(fileURLToPath(import.meta.url)), 'cases');
const update = process.env.UPDATE_GOLDEN === '1';

describe('RouterCore conformance cases', () => {
  const names = readdirSync(CASES).sort();
  it('has cases', () => {
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const dir = join(CASES, name);
      const { config, inputs } = readCase(dir);
      const actual = formatOutputs(replay(config, inputs));
      const golden = join(dir, 'expected.jsonl');
      if (update) writeFileSync(golden, actual);
      expect(existsSync(golden), `${golden} missing: UPDATE_GOLDEN=1 writes it`).toBe(true);
      expect(actual.split('\n')).toEqual(readFileSync(golden, 'utf8').split('\n'));
    });
  }
});
