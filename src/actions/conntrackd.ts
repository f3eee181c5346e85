/**
 * conntrackd, flipped between primary and backup the way its primary-backup.sh does, through its
 * own command line (`conntrackd -C CONFIG -x`), which finds the control socket in CONFIG.
 *
 * conntrackd 1.4.7 exits 0 even when the daemon refuses a command (a flush while a commit is
 * still running is "ignored" in its log only), so a commit is confirmed from the daemon's log:
 * the step waits until the log, read from where it ended before the commit, reports the commit
 * done. Without a log file the commit cannot be confirmed and the step says so.
 *
 * conntrackd is one daemon per box, shared by every instance that flips it: `conntrackdFor`
 * hands all of them one object per config file, which runs their commands one at a time (two
 * instances starting it at once would race for its lock file; a flush during another's commit
 * would be refused).
 */
import { open, readFile, stat } from 'node:fs/promises';
import { loadExeca } from '../runtime/execa.js';
import type { ConntrackdConfig } from '../config/instance.js';
import type { ConntrackdCommand } from './plan.js';

export class ConntrackdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConntrackdError';
  }
}

const FLAG: Record<Exclude<ConntrackdCommand, 'ensure-running'>, string> = {
  commit: '-c',
  'flush-caches': '-f',
  'resync-kernel': '-R',
  'bulk-send': '-B',
  'schedule-flush': '-t',
  'request-resync': '-n',
};

/** The `LogFile` of a conntrackd config: a path, the default for `on`, or undefined for off/absent. */
export function logFileOf(configText: string): string | undefined {
  const m = /^\s*LogFile\s+(\S+)/m.exec(configText);
  if (m?.[1] === undefined || m[1] === 'off') return undefined;
  return m[1] === 'on' ? '/var/log/conntrackd.log' : m[1];
}

/** Whether the text conntrackd appended to its log says a commit finished. */
export function commitFinished(logTail: string): boolean {
  return /commit has taken|[Cc]ommitted \d+ new entr/.test(logTail);
}

async function size(path: string): Promise<number> {
  return stat(path).then(
    (s) => s.size,
    () => 0,
  );
}

async function readFrom(path: string, offset: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { size: end } = await handle.stat();
    const buf = Buffer.alloc(Math.max(0, end - offset));
    await handle.read(buf, 0, buf.length, offset);
    return buf.toString('utf8');
  } finally {
    await handle.close();
  }
}

export class Conntrackd {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly cfg: ConntrackdConfig) {}

  private async exec(args: string[], signal: AbortSignal): Promise<void> {
    const execa = await loadExeca();
    const r = await execa(this.cfg.binary, ['-C', this.cfg.config, ...args], {
      reject: false,
      cancelSignal: signal,
    });
    if (r.exitCode !== 0) {
      const why = r.isCanceled
        ? 'killed at its timeout'
        : r.exitCode === undefined && r.signal === undefined
          ? // It never started (not installed, not executable): there is no exit code to show.
            `could not run ${this.cfg.binary} (${String(r.code)}): install conntrackd or point conntrackd.binary at it`
          : `exit ${String(r.exitCode)}: ${(r.stderr || r.stdout || r.message || '').trim()}`;
      throw new ConntrackdError(`conntrackd ${args.join(' ')} ${why}`);
    }
  }

  run(command: ConntrackdCommand, signal: AbortSignal): Promise<void> {
    const next = this.queue.then(() => {
      if (command === 'ensure-running') return this.ensureRunning(signal);
      if (command === 'commit') return this.commit(signal);
      return this.exec([FLAG[command]], signal);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** `-s` answers only if the daemon is up; otherwise start it (`-d` daemonises). */
  private async ensureRunning(signal: AbortSignal): Promise<void> {
    const execa = await loadExeca();
    const probe = await execa(this.cfg.binary, ['-C', this.cfg.config, '-s'], {
      reject: false,
      cancelSignal: signal,
    });
    if (probe.exitCode === 0) return;
    await this.exec(['-d'], signal);
  }

  private async commit(signal: AbortSignal): Promise<void> {
    const log = logFileOf(await readFile(this.cfg.config, 'utf8'));
    if (log === undefined) {
      throw new ConntrackdError(
        `cannot confirm a commit: ${this.cfg.config} has no LogFile (set "LogFile on" or a path)`,
      );
    }
    const before = await size(log);
    await this.exec([FLAG.commit], signal);
    while (!signal.aborted) {
      if (commitFinished(await readFrom(log, before).catch(() => ''))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new ConntrackdError(`conntrackd did not report the commit finished in ${log}`);
  }
}

const shared = new Map<string, Conntrackd>();

/** The one Conntrackd of this process for a config file (see the header). */
export function conntrackdFor(cfg: ConntrackdConfig): Conntrackd {
  const key = `${cfg.binary}\0${cfg.config}`;
  let c = shared.get(key);
  if (c === undefined) {
    c = new Conntrackd(cfg);
    shared.set(key, c);
  }
  return c;
}
