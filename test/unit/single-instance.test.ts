/**
 * The one-vipd-per-network-namespace lock, in process and without root: each test uses its own
 * abstract name, so a vipd running on this machine (which holds @vipd) does not interfere.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  ANSWER_TIMEOUT_MS,
  AlreadyRunningError,
  claimNamespace,
} from '../../src/daemon/single-instance.js';

let names = 0;
const lockName = (): string => `\0vipd-test-${process.pid}-${++names}`;

describe('one vipd per network namespace', () => {
  it('a second claim fails, naming the holder by pid; once released the name is free again', async () => {
    const name = lockName();
    const first = await claimNamespace(name);
    const error = await claimNamespace(name).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AlreadyRunningError);
    expect((error as AlreadyRunningError).pid).toBe(process.pid);
    expect((error as Error).message).toBe(
      `another vipd is running in this network namespace (pid ${process.pid}); two in one namespace remove each other's VIPs: stop it first`,
    );
    await first.release();
    await first.release();
    const again = await claimNamespace(name);
    await again.release();
  });

  it('a holder that does not answer: refused after ANSWER_TIMEOUT_MS, saying how to find it', async () => {
    const name = lockName();
    const squatter = createServer(() => undefined);
    squatter.listen(name);
    await once(squatter, 'listening');
    try {
      const t0 = performance.now();
      const error = await claimNamespace(name).catch((err: unknown) => err);
      const waited = performance.now() - t0;
      expect(error).toBeInstanceOf(AlreadyRunningError);
      expect((error as AlreadyRunningError).pid).toBeUndefined();
      expect((error as Error).message).toBe(
        `another vipd is running in this network namespace (it did not say its pid within ${ANSWER_TIMEOUT_MS} ms: \`ss -xlp | grep @${name.slice(1)}\` names the process); two in one namespace remove each other's VIPs: stop it first`,
      );
      expect(waited).toBeGreaterThanOrEqual(ANSWER_TIMEOUT_MS - 50);
      expect(waited).toBeLessThan(ANSWER_TIMEOUT_MS + 2_000);
    } finally {
      squatter.close();
    }
  });
});
