import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../src/ports/clock.js';
import { TroubleCounter } from '../../src/ports/counters.js';

function setup(): {
  counter: TroubleCounter;
  lines: Record<string, unknown>[];
  clock: { t: number };
} {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const clock = { t: 0 };
  const fake: Clock = { now: () => clock.t, schedule: () => () => undefined };
  return { counter: new TroubleCounter(pino(sink), fake, 'packet-rejected', 10_000), lines, clock };
}

describe('TroubleCounter', () => {
  it('counts every packet but logs a reason at most once per window, with the number suppressed', async () => {
    const { counter, lines, clock } = setup();
    for (let i = 0; i < 1000; i += 1) {
      clock.t = i;
      counter.record('bad-checksum', 'detail', '10.99.0.9');
    }
    counter.record('bad-ttl', 'ttl 1', '10.99.0.9');
    clock.t = 10_500;
    counter.record('bad-checksum', 'detail', '10.99.0.9');
    await new Promise((r) => setImmediate(r));
    expect(counter.snapshot()).toEqual({ 'bad-checksum': 1001, 'bad-ttl': 1 });
    expect(lines.map((l) => [l.reason, l.total, l.suppressed])).toEqual([
      ['bad-checksum', 1, 0],
      ['bad-ttl', 1, 0],
      ['bad-checksum', 1001, 999],
    ]);
  });
});
