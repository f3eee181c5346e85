/**
 * One vipd per network namespace.
 *
 * Contract: `claimNamespace()` binds the Linux abstract Unix socket NAMESPACE_LOCK and resolves
 * with a lock whose `release()` unbinds it; while held, each connection to it is answered with
 * `vipd pid <N>` and closed. If another process holds the name, it rejects with
 * AlreadyRunningError naming that process's pid as it answers (within ANSWER_TIMEOUT_MS). Any
 * other failure is a SingleInstanceError. `vipd run` claims it before anything else it does.
 *
 * Why: two vipds in one namespace remove each other's VIPs (start-up clears the "stale" VIPs of
 * its instances), whatever their control socket paths; the control socket only catches two
 * daemons that share a path. An abstract socket's name is scoped to the network namespace,
 * exactly where the fight would be, and the kernel drops it with the last descriptor, so a
 * SIGKILLed vipd leaves no stale lock (a pid file would need stale-pid guessing). Node opens
 * sockets close-on-exec, so hooks still running after vipd died do not hold it.
 *
 * Limit: abstract names have no permissions, so any process in the namespace can take the name
 * first and keep vipd from starting; the error then gives the pid it claims, or says it gave
 * none, and how to find it (ss).
 */
import { once } from 'node:events';
import { createConnection, createServer, type Server } from 'node:net';

/** The lock's name: a leading NUL makes it abstract (no file; `@vipd` in ss). */
export const NAMESPACE_LOCK = '\0vipd';
/** How long a holder has to say its pid; vipd answers at once, so this is only a stuck one. */
export const ANSWER_TIMEOUT_MS = 1_000;
const GREETING = 'vipd pid ';

/** How `ss -xlp` shows an abstract name. */
function shown(name: string): string {
  return `@${name.slice(1)}`;
}

/** The namespace lock cannot be taken for a reason other than another holder. */
export class SingleInstanceError extends Error {
  override name = 'SingleInstanceError';
}

/** Another process holds the namespace lock: most likely another vipd. */
export class AlreadyRunningError extends SingleInstanceError {
  override name = 'AlreadyRunningError';
  constructor(
    /** The holder's pid as it says, or undefined if it did not say. */
    readonly pid: number | undefined,
    lock: string,
  ) {
    super(
      pid === undefined
        ? `another vipd is running in this network namespace (it did not say its pid within ${ANSWER_TIMEOUT_MS} ms: \`ss -xlp | grep ${shown(lock)}\` names the process); two in one namespace remove each other's VIPs: stop it first`
        : `another vipd is running in this network namespace (pid ${pid}); two in one namespace remove each other's VIPs: stop it first`,
    );
  }
}

export interface NamespaceLock {
  /** Frees the name for the next vipd; safe to call twice. */
  release(): Promise<void>;
}

/** The pid the holder of `name` says, 'unknown' if it says nothing usable, 'gone' if nobody holds it. */
function askHolder(name: string): Promise<number | 'unknown' | 'gone'> {
  return new Promise((resolve) => {
    const sock = createConnection(name);
    let text = '';
    const done = (answer: number | 'unknown' | 'gone'): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done('unknown'), ANSWER_TIMEOUT_MS);
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      text += chunk;
      // Whoever holds the name may not be a vipd: read a line at most.
      if (text.includes('\n') || text.length > 64) sock.end();
    });
    sock.on('end', () => {
      const m = new RegExp(`^${GREETING}(\\d+)\\n`).exec(text);
      done(m?.[1] === undefined ? 'unknown' : Number(m[1]));
    });
    sock.on('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? 'gone' : 'unknown'),
    );
  });
}

/** Claims the namespace lock `name` (tests pass their own abstract name). */
export async function claimNamespace(name = NAMESPACE_LOCK): Promise<NamespaceLock> {
  // Twice at most: a holder that exits between our bind and our question frees the name.
  for (let attempt = 1; ; attempt++) {
    const server: Server = createServer((sock) => {
      sock.on('error', () => undefined);
      // Closed once written: anyone in the namespace may connect, none may hold a descriptor.
      sock.end(`${GREETING}${process.pid}\n`, () => sock.destroy());
    });
    try {
      server.listen(name);
      await once(server, 'listening');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        throw new SingleInstanceError(
          `cannot claim ${shown(name)}, the one-vipd-per-network-namespace lock: ${(err as Error).message}`,
        );
      }
      const holder = await askHolder(name);
      if (holder === 'gone' && attempt < 2) continue;
      throw new AlreadyRunningError(typeof holder === 'number' ? holder : undefined, name);
    }
    // The lock must not keep a process alive that has nothing else to do.
    server.unref();
    server.on('error', () => undefined);
    let released: Promise<void> | undefined;
    return {
      release: () => (released ??= new Promise((resolve) => server.close(() => resolve()))),
    };
  }
}
