/**
 * How the backends run their commands (iptables-restore, nft, ip, sysctl): through an injected
 * `Run`, so the same backend drives this box (`runLocal`) or a network namespace of the test lab.
 * `runOrThrow` turns a failure into an error naming the command and the kernel's/tool's complaint.
 */
import { loadExeca } from '../runtime/execa.js';

export interface CommandResult {
  /** -1 when the command could not be started at all (not installed). */
  exitCode: number;
  stdout: string;
  stderr: string;
}

export type Run = (cmd: string, args: readonly string[], input?: string) => Promise<CommandResult>;

export class CommandError extends Error {
  override name = 'CommandError';
}

export const runLocal: Run = async (cmd, args, input) => {
  const execa = await loadExeca();
  const r = await execa(cmd, args, { input, reject: false });
  // A command that never started (not installed) has no exit code; its reason is in the message.
  if (r.exitCode === undefined) return { exitCode: -1, stdout: '', stderr: r.message ?? '' };
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
};

/** Runs and returns stdout; throws CommandError with `what`, the command line and its stderr. */
export async function runOrThrow(
  run: Run,
  what: string,
  cmd: string,
  args: readonly string[],
  input?: string,
): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.exitCode !== 0) {
    const detail = r.stderr.trim() || r.stdout.trim() || 'no output';
    const fed = input === undefined ? '' : ` fed:\n${input}`;
    throw new CommandError(
      `${what}: \`${[cmd, ...args].join(' ')}\` failed (exit ${r.exitCode}): ${detail}${fed}`,
    );
  }
  return r.stdout;
}
