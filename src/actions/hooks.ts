/**
 * User hook scripts, ucarp-compatible: `<script> <interface> <vip> [extra]`, with the state,
 * instance, VRID and VIPs also in the environment. Each runs in its own process group so that on
 * timeout or abort the whole group (the script and anything it started) is killed, not just the
 * shell (keepalived #2289, #1364: hung scripts never killed). A non-zero exit is a failure.
 */
import { spawn } from 'node:child_process';

export class HookError extends Error {
  constructor(
    message: string,
    /** Killed at its timeout (as opposed to failing or being aborted). */
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'HookError';
  }
}

export function runHook(
  script: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(script, args, {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-500);
    });
    const stop = (why: string, timedOut = false): void => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is already gone
        }
      }
      reject(new HookError(`${script} killed: ${why}`, timedOut));
    };
    const onAbort = (): void => stop((signal.reason as Error | undefined)?.message ?? 'aborted');
    const timer = setTimeout(() => stop(`still running after ${timeoutMs} ms`, true), timeoutMs);
    const settle = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      settle();
      reject(new HookError(`${script} could not run: ${err.message}`));
    });
    child.on('exit', (code, sig) => {
      settle();
      if (code === 0) resolve();
      else {
        const detail = stderr.trim() === '' ? '' : `: ${stderr.trim()}`;
        reject(new HookError(`${script} exited ${code ?? `on ${String(sig)}`}${detail}`));
      }
    });
  });
}
