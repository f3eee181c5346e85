// The log format choice (VIPD_LOG_FORMAT, else the terminal) and the human line format, driven
// through real pino loggers so the lines are the ones the daemon writes.

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { chooseLogFormat, createLoggerWith, formatHumanLine } from '../../src/log.js';

const TIME = Date.UTC(2024, 4, 17, 9, 3, 7, 42); // 09:03:07.042

// Human lines show local time: pin the zone and the clock so the text does not depend on either.
let zone: string | undefined;
beforeAll(() => {
  zone = process.env.TZ;
  process.env.TZ = 'UTC';
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(TIME);
});
afterAll(() => {
  vi.useRealTimers();
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

describe('chooseLogFormat', () => {
  it('follows VIPD_LOG_FORMAT, else the terminal', () => {
    expect(chooseLogFormat({}, false)).toEqual({ format: 'json' });
    expect(chooseLogFormat({}, true)).toEqual({ format: 'human' });
    expect(chooseLogFormat({ VIPD_LOG_FORMAT: '' }, true)).toEqual({ format: 'human' });
    expect(chooseLogFormat({ VIPD_LOG_FORMAT: 'human' }, false)).toEqual({ format: 'human' });
    expect(chooseLogFormat({ VIPD_LOG_FORMAT: 'json' }, true)).toEqual({ format: 'json' });
    expect(chooseLogFormat({ VIPD_LOG_FORMAT: 'pretty' }, true)).toEqual({
      format: 'json',
      unknown: 'pretty',
    });
  });
});

function capture(format: 'json' | 'human'): {
  lines: string[];
  log: ReturnType<typeof createLoggerWith>;
} {
  const lines: string[] = [];
  return { lines, log: createLoggerWith('info', 'fw1', format, (text) => lines.push(text)) };
}

describe('human lines', () => {
  it('formats a transition: time, level, [node instance], message, then the fields', () => {
    const { lines, log } = capture('human');
    const router = log.child({ instance: 'VI_1', vrid: 51 });
    router.info(
      {
        event: 'transition',
        from: 'backup',
        to: 'master',
        reason: 'master-down',
        priority: 150,
        peer: undefined,
        masterForMs: undefined,
      },
      'VI_1: backup -> master (master-down)',
    );
    expect(lines).toEqual([
      '09:03:07.042 INFO  [fw1 VI_1] VI_1: backup -> master (master-down) vrid=51 ' +
        'event=transition from=backup to=master reason=master-down priority=150\n',
    ]);
  });

  it('formats an error: the message on the line, the stack indented below', () => {
    const { lines, log } = capture('human');
    const err = new Error('ip: RTNETLINK answers: Operation not permitted');
    err.stack = [
      `Error: ${err.message}`,
      'at addVip (vip.ts:40:11)',
      'at run (executor.ts:12:3)',
    ].join('\n    ');
    log.error({ event: 'plan-failed', err, step: 'vip add' }, 'VI_1: plan failed');
    expect(lines.join('')).toBe(
      '09:03:07.042 ERROR [fw1] VI_1: plan failed event=plan-failed ' +
        'err="ip: RTNETLINK answers: Operation not permitted" step="vip add"\n' +
        '    Error: ip: RTNETLINK answers: Operation not permitted\n' +
        '        at addVip (vip.ts:40:11)\n' +
        '        at run (executor.ts:12:3)\n',
    );
  });

  it('quotes what a bare value would make ambiguous, and writes objects as JSON', () => {
    const line = formatHumanLine(
      JSON.stringify({
        level: 40,
        time: TIME,
        node: 'fw2',
        msg: 'm',
        err: 'conntrackd: timed out',
        empty: '',
        eq: 'a=b',
        ok: true,
        vips: ['10.0.0.1/24'],
      }),
    );
    expect(line).toBe(
      '09:03:07.042 WARN  [fw2] m err="conntrackd: timed out" empty="" eq="a=b" ok=true ' +
        'vips=["10.0.0.1/24"]\n',
    );
  });

  it('passes through a line that is not JSON', () => {
    expect(formatHumanLine('not json')).toBe('not json\n');
  });
});

describe('JSON lines', () => {
  it('stay one JSON object per line with an ISO time and the node', () => {
    const { lines, log } = capture('json');
    log.child({ instance: 'VI_1' }).info({ event: 'started' }, 'vipd running');
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(record).toMatchObject({
      level: 30,
      node: 'fw1',
      instance: 'VI_1',
      event: 'started',
      msg: 'vipd running',
    });
    expect(record.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });
});
