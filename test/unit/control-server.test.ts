/**
 * The control socket's bounds, in process and without root (a socket in a temp dir, a stand-in
 * daemon): a client that sends requests and never reads its replies, over-long request lines,
 * and more clients than MAX_CLIENTS. What is measured is what the server holds for a client
 * (ControlServer.backlog: unread reply bytes, unanswered request bytes) and how many requests it
 * answered, not the process's RSS, which the test process's own buffers would blur.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/control/client.js';
import {
  ControlServer,
  MAX_CLIENTS,
  MAX_LINE,
  MAX_UNREAD_BYTES,
  type ControlTarget,
} from '../../src/control/server.js';
import type { DaemonStatus } from '../../src/router/status.js';
import { until } from '../support/until.js';

const quiet = pino({ level: 'silent' });
const STATUS = '{"cmd":"status"}\n';
// About the size of a real daemon's status with one instance: the reply that piles up.
const status: DaemonStatus = {
  node: 'n'.repeat(1000),
  instances: [],
  foreignVrids: 0,
  links: [],
  monitor: { overruns: 0, resyncs: 0, errors: 0, malformed: 0 },
};
const REPLY_BYTES = JSON.stringify({ ok: true, status }).length + 1;
/** What one read hands the server at most (libuv reads 64 KiB at a time). */
const READ_BYTES = 64 * 1024;

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    sock.once('connect', () => resolve(sock));
    sock.once('error', reject);
  });
}

/** Every reply line the server sends until it closes the connection, parsed. */
function repliesUntilClosed(sock: Socket): Promise<unknown[]> {
  return new Promise((resolve) => {
    let text = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => (text += chunk));
    // The server may close with our bytes unread: ECONNRESET after its last reply.
    sock.on('error', () => undefined);
    sock.on('close', () =>
      resolve(
        text
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as unknown),
      ),
    );
  });
}

describe('control socket bounds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-ctl-bounds-'));
  const path = join(dir, 'vipd.sock');
  let answered = 0;
  const target: ControlTarget = {
    status: () => {
      answered++;
      return status;
    },
    demote: () => undefined,
    promote: () => false,
  };
  let server: ControlServer;
  const clients: Socket[] = [];
  beforeEach(async () => {
    answered = 0;
    server = await ControlServer.listen(path, quiet);
    server.serve(target);
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.destroy());
    await server.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a client sending 50,000 requests without reading: the server holds 16 KiB of replies for it (plus one), serves others, and answers all once it reads', async () => {
    const N = 50_000;
    const flood = await connect(path);
    clients.push(flood);
    flood.pause();
    flood.write(STATUS.repeat(N));
    let maxUnread = 0;
    let maxPending = 0;
    const sample = setInterval(() => {
      for (const b of server.backlog()) {
        maxUnread = Math.max(maxUnread, b.unreadReplyBytes);
        maxPending = Math.max(maxPending, b.pendingRequestBytes);
      }
    }, 5);
    try {
      // The server stops answering once the kernel's socket buffers and its own are full.
      let last = -1;
      await until(
        'the server to stop answering the client that does not read',
        async () => {
          const done = answered === last;
          last = answered;
          return { done, value: answered };
        },
        10_000,
        300,
      );
      const stalledAt = answered;
      // Another client is answered meanwhile.
      expect(await sendRequest(path, { cmd: 'status' })).toEqual({ ok: true, status });
      const unread = server.backlog().map((b) => b.unreadReplyBytes);
      console.log(
        `[measure] ${N} requests, none read: ${stalledAt} answered before the server stopped reading, ${maxUnread} reply bytes held at most (bound ${MAX_UNREAD_BYTES} + one reply of ${REPLY_BYTES}), ${maxPending} request bytes; unbounded it would hold ${((N * REPLY_BYTES) / 2 ** 20).toFixed(0)} MiB`,
      );
      expect(maxUnread).toBeLessThanOrEqual(MAX_UNREAD_BYTES + REPLY_BYTES);
      expect(Math.max(...unread)).toBeLessThanOrEqual(MAX_UNREAD_BYTES + REPLY_BYTES);
      // A partial line, one read being answered and one read in Node's buffer, at most.
      expect(maxPending).toBeLessThanOrEqual(MAX_LINE + 2 * READ_BYTES + MAX_UNREAD_BYTES);
      expect(stalledAt).toBeLessThan(N / 10);

      // Reading resumes the server: every request is answered, in order, and nothing is held.
      let replies = 0;
      let text = '';
      flood.setEncoding('utf8');
      await new Promise<void>((resolve) => {
        flood.on('data', (chunk: string) => {
          text += chunk;
          const lines = text.split('\n');
          text = lines.pop() ?? '';
          replies += lines.length;
          if (replies === N) resolve();
        });
        flood.resume();
      });
      expect(text).toBe('');
      expect(answered).toBe(N + 1);
      expect(server.backlog()).toEqual([{ unreadReplyBytes: 0, pendingRequestBytes: 0 }]);
    } finally {
      clearInterval(sample);
    }
  });

  it('refuses a line over MAX_LINE bytes, newline or not, after answering the lines before it', async () => {
    const long = `{"cmd":"status","x":"${'x'.repeat(MAX_LINE)}"}`;
    const refused = {
      ok: false,
      error: `request line longer than ${MAX_LINE} bytes: closing the connection`,
    };
    for (const tail of ['\n', '']) {
      const sock = await connect(path);
      clients.push(sock);
      const replies = repliesUntilClosed(sock);
      // Not half-closed: the server closes the connection by itself.
      sock.write(`${STATUS}${long}${tail}${STATUS}`);
      expect(await replies).toEqual([{ ok: true, status }, refused]);
    }
    // A line of exactly MAX_LINE bytes is still a request.
    const exact = STATUS.slice(0, -1).padEnd(MAX_LINE, ' ');
    const sock = await connect(path);
    clients.push(sock);
    const replies = repliesUntilClosed(sock);
    sock.end(`${exact}\n`);
    expect(await replies).toEqual([{ ok: true, status }]);
    expect(server.backlog()).toEqual([]);
  });

  it(`serves ${MAX_CLIENTS} clients at once; one more gets an error line and is closed`, async () => {
    for (let i = 0; i < MAX_CLIENTS; i++) clients.push(await connect(path));
    await until(
      'the server to hold every client',
      async () => ({ done: server.backlog().length === MAX_CLIENTS, value: server.backlog() }),
      5_000,
    );
    expect(await sendRequest(path, { cmd: 'status' })).toEqual({
      ok: false,
      error: `too many control connections (${MAX_CLIENTS} open): close idle ones (a script that never hangs up?) and retry`,
    });
    clients.pop()?.destroy();
    await until(
      'the server to let go of the closed client',
      async () => ({ done: server.backlog().length < MAX_CLIENTS, value: server.backlog().length }),
      5_000,
    );
    expect(await sendRequest(path, { cmd: 'status' })).toEqual({ ok: true, status });
  });
});
