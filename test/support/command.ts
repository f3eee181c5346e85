/**
 * A command the lab's builders (Debian root, guest kernel, Docker engine) need to succeed: its
 * stdout, or a CommandError naming the command with the tail of what it printed, which is the
 * cause an operator of the lab can act on. Runs without blocking the worker (builds take minutes).
 */
import { execa } from 'execa';

export class CommandError extends Error {
  override name = 'CommandError';
}

export async function mustRun(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const r = await execa(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    reject: false,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.exitCode !== 0) {
    const out = `${r.stderr}\n${r.stdout}`.trim().split('\n').slice(-20).join('\n');
    const how =
      r.exitCode === undefined
        ? (r.message?.split('\n')[0] ?? 'did not run')
        : `exit ${r.exitCode}`;
    throw new CommandError(`\`${cmd} ${args.join(' ')}\` failed (${how}):\n${out}`);
  }
  return r.stdout;
}
