// sd_notify through the addon, checked against a real AF_UNIX datagram socket, as systemd's: Node
// cannot bind one, so a python3 child does (python3 is there wherever the addon was built:
// node-gyp needs it). It prints each datagram as a JSON string on its own line.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createNotifier,
  NotifyError,
  startWatchdog,
  type Notifier,
} from '../../src/daemon/notify.js';

const RECEIVER = `
import json, socket, sys
address = sys.argv[1]
if address.startswith('@'):
    address = '\\0' + address[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(address)
print('listening', flush=True)
while True:
    print(json.dumps(s.recv(4096).decode()), flush=True)
`;

interface Receiver {
  /** The next datagram, in order; rejects after `ms` without one. */
  next(ms?: number): Promise<string>;
}

const children: ChildProcessWithoutNullStreams[] = [];
const dirs: string[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function receiver(address: string): Promise<Receiver> {
  const child = spawn('python3', ['-c', RECEIVER, address]);
  children.push(child);
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const take = waiting.shift();
    if (take === undefined) queue.push(line);
    else take(line);
  });
  // Generous: nothing here measures latency, and with the unit files running in parallel on a
  // busy 2-core machine python3 alone has taken over 2 s to start.
  const next = (ms = 15_000): Promise<string> => {
    const queued = queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(take), 1);
        reject(new Error(`no datagram within ${ms} ms${stderr === '' ? '' : `: ${stderr}`}`));
      }, ms);
      const take = (line: string): void => {
        clearTimeout(timer);
        resolve(line);
      };
      waiting.push(take);
    });
  };
  expect(await next()).toBe('listening');
  return { next: async (ms) => JSON.parse(await next(ms)) as string };
}

function socketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vipd-notify-'));
  dirs.push(dir);
  return join(dir, 'notify');
}

function collectErrors(): { errors: NotifyError[]; onError: (err: NotifyError) => void } {
  const errors: NotifyError[] = [];
  return { errors, onError: (err) => errors.push(err) };
}

describe('createNotifier', () => {
  it('sends READY, STATUS, WATCHDOG and STOPPING to a socket path', async () => {
    const path = socketPath();
    const rx = await receiver(path);
    const { errors, onError } = collectErrors();
    const notifier = createNotifier(
      { NOTIFY_SOCKET: path, WATCHDOG_USEC: '10000000', WATCHDOG_PID: String(process.pid) },
      onError,
    );
    expect(notifier.watchdogIntervalMs()).toBe(10_000);

    notifier.ready('running VI_1, VI_2');
    expect(await rx.next()).toBe('READY=1\nSTATUS=running VI_1, VI_2');
    notifier.status('master on eth0\nsecond line');
    // A newline would start another assignment: it becomes a space.
    expect(await rx.next()).toBe('STATUS=master on eth0 second line');
    notifier.watchdog();
    expect(await rx.next()).toBe('WATCHDOG=1');
    notifier.stopping();
    expect(await rx.next()).toBe('STOPPING=1');
    expect(errors).toEqual([]);
  });

  it('sends to an abstract socket ("@" = leading NUL)', async () => {
    const name = `@vipd-notify-test-${process.pid}-${Date.now()}`;
    const rx = await receiver(name);
    const { errors, onError } = collectErrors();
    const notifier = createNotifier({ NOTIFY_SOCKET: name }, onError);
    notifier.ready();
    expect(await rx.next()).toBe('READY=1');
    notifier.stopping('SIGTERM: stopping gracefully');
    expect(await rx.next()).toBe('STOPPING=1\nSTATUS=SIGTERM: stopping gracefully');
    expect(errors).toEqual([]);
  });

  it('does not ping a watchdog that watches another process (WATCHDOG_PID)', async () => {
    const path = socketPath();
    const rx = await receiver(path);
    const notifier = createNotifier({
      NOTIFY_SOCKET: path,
      WATCHDOG_USEC: '10000000',
      WATCHDOG_PID: String(process.pid + 1),
    });
    expect(notifier.watchdogIntervalMs()).toBeUndefined();
    expect(startWatchdog(notifier)).toBeUndefined();
    notifier.watchdog();
    notifier.ready();
    // Datagrams on a Unix socket arrive in order: READY first means no WATCHDOG was sent.
    expect(await rx.next()).toBe('READY=1');
  });

  it('takes WATCHDOG_USEC without WATCHDOG_PID as ours; no or a bad WATCHDOG_USEC as none', () => {
    expect(
      createNotifier({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '3000000' }).watchdogIntervalMs(),
    ).toBe(3000);
    expect(createNotifier({ NOTIFY_SOCKET: '/x' }).watchdogIntervalMs()).toBeUndefined();
    for (const usec of ['0', '', 'soon', '-5']) {
      expect(
        createNotifier({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: usec }).watchdogIntervalMs(),
      ).toBeUndefined();
    }
  });

  it('is a no-op without NOTIFY_SOCKET', () => {
    const { errors, onError } = collectErrors();
    const notifier = createNotifier(
      { WATCHDOG_USEC: '10000000', WATCHDOG_PID: String(process.pid) },
      onError,
    );
    notifier.ready('x');
    notifier.status('x');
    notifier.watchdog();
    notifier.stopping();
    expect(notifier.watchdogIntervalMs()).toBeUndefined();
    expect(startWatchdog(notifier)).toBeUndefined();
    expect(errors).toEqual([]);
  });

  it('hands failures to onError instead of throwing', () => {
    const { errors, onError } = collectErrors();
    const gone = createNotifier({ NOTIFY_SOCKET: join(socketPath(), 'nothing-here') }, onError);
    expect(() => gone.ready()).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(NotifyError);
    expect(errors[0]?.message).toMatch(/READY=1.*sendto failed .*No such file or directory/);

    const vsock = createNotifier({ NOTIFY_SOCKET: 'vsock:2:1234' }, onError);
    expect(() => vsock.status('x')).not.toThrow();
    expect(errors[1]?.message).toMatch(/only paths and @abstract/);

    // Longer than sockaddr_un's 108 bytes: refused before any socket is made.
    const long = createNotifier({ NOTIFY_SOCKET: `/${'x'.repeat(120)}` }, onError);
    long.watchdog(); // no watchdog configured: nothing sent, nothing to fail
    long.ready();
    expect(errors[2]?.message).toMatch(/File name too long/);
    expect(errors).toHaveLength(3);
  });
});

describe('startWatchdog', () => {
  it('pings every half interval from an unref’d timer', () => {
    vi.useFakeTimers();
    try {
      const watchdog = vi.fn();
      const notifier: Notifier = {
        ...createNotifier({}),
        watchdog,
        watchdogIntervalMs: () => 10_000,
      };
      const timer = startWatchdog(notifier);
      expect(timer?.hasRef()).toBe(false);
      vi.advanceTimersByTime(4999);
      expect(watchdog).toHaveBeenCalledTimes(0);
      vi.advanceTimersByTime(1);
      expect(watchdog).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(10_000);
      expect(watchdog).toHaveBeenCalledTimes(3);
      clearInterval(timer);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reaches the socket', async () => {
    const path = socketPath();
    const rx = await receiver(path);
    // 100 ms of watchdog: a ping every 50 ms.
    const timer = startWatchdog(createNotifier({ NOTIFY_SOCKET: path, WATCHDOG_USEC: '100000' }));
    try {
      expect(await rx.next()).toBe('WATCHDOG=1');
      expect(await rx.next()).toBe('WATCHDOG=1');
    } finally {
      clearInterval(timer);
    }
  });
});
