/**
 * The client side of the control socket (server.ts) and the commands built on it:
 *
 *   vipd status [--json] [--socket PATH | --config FILE]
 *   vipd demote INSTANCE [--for SECONDS] [--socket PATH | --config FILE]
 *   vipd promote INSTANCE [--socket PATH | --config FILE]
 *   vipd reload [--socket PATH | --config FILE]
 *
 * `reload` makes the daemon re-read its own config file (the one it was started with); --config
 * here only says where to find the socket.
 * The socket: --socket, else the control.socket of --config FILE (default /etc/vipd/vipd.json,
 * if it exists), else /run/vipd/vipd.sock. Exit codes: 0 done, 1 the daemon refused or could not
 * be reached (the reason on stderr), 2 bad usage (thrown as UsageError/ConfigError for the CLI).
 */
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/host-checks.js';
import { UsageError } from '../usage.js';
import { forSecondsProblem, type ControlReply, type ControlRequest } from './server.js';
import { formatStatus } from './status-table.js';
import { type DaemonStatus, type ReloadReport, reloadSummary } from '../router/status.js';

export const DEFAULT_CONFIG = '/etc/vipd/vipd.json';
/** The config's own default for control.socket (config.ts), for a box without a config file. */
export const DEFAULT_SOCKET = '/run/vipd/vipd.sock';
const TIMEOUT_MS = 5_000;
/** A reload may stop and start routers, whose plans run hooks (10 s each by default). */
const RELOAD_TIMEOUT_MS = 120_000;

export type ControlCommand = 'status' | 'demote' | 'promote' | 'reload';

/** The daemon could not be reached or did not answer properly: exit 1. */
export class ControlClientError extends Error {
  override name = 'ControlClientError';
}

function connectProblem(path: string, err: NodeJS.ErrnoException): ControlClientError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new ControlClientError(`no vipd listening on ${path}: is it running?`);
    case 'EACCES':
    case 'EPERM':
      return new ControlClientError(
        `permission denied on ${path}: the control socket is root's only (mode 0600); run this as root`,
      );
    case 'ENOTSOCK':
      return new ControlClientError(`${path} is not a socket: is --socket / control.socket right?`);
    default:
      return new ControlClientError(`cannot reach vipd on ${path}: ${err.message}`);
  }
}

function isReply(v: unknown): v is ControlReply {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return r.ok === true
    ? typeof r.message === 'string' || typeof r.status === 'object' || typeof r.report === 'object'
    : r.ok === false && typeof r.error === 'string';
}

/** One request, one reply, over a fresh connection. */
export function sendRequest(
  path: string,
  req: ControlRequest,
  timeoutMs = TIMEOUT_MS,
): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    let buffer = '';
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            new ControlClientError(
              `vipd on ${path} did not answer within ${timeoutMs / 1000} s (stuck event loop?)`,
            ),
          ),
        ),
      timeoutMs,
    );
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(`${JSON.stringify(req)}\n`));
    sock.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      const line = buffer.slice(0, nl);
      settle(() => {
        let reply: unknown;
        try {
          reply = JSON.parse(line);
        } catch {
          reply = undefined;
        }
        if (isReply(reply)) resolve(reply);
        else reject(new ControlClientError(`${path} answered something that is not a vipd reply`));
      });
    });
    sock.on('error', (err) => settle(() => reject(connectProblem(path, err))));
    sock.on('close', () =>
      settle(() =>
        reject(new ControlClientError(`vipd on ${path} closed the connection without answering`)),
      ),
    );
  });
}

/** --socket, else the config's control.socket, else the default. */
export function socketPath(values: { socket?: string; config?: string }): string {
  if (values.socket !== undefined) return values.socket;
  const file = values.config ?? DEFAULT_CONFIG;
  // No config at the default place: a box set up by hand, with the default socket.
  if (values.config === undefined && !existsSync(file)) return DEFAULT_SOCKET;
  const socket = loadConfigFile(file).control.socket;
  if (socket === null) {
    throw new UsageError(`${file} turns the control socket off (control.socket: null)`);
  }
  return socket;
}

export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

const COMMON = {
  socket: { type: 'string', short: 's' },
  config: { type: 'string', short: 'c' },
} as const;

function oneInstance(command: string, positionals: string[]): string {
  const [instance, ...extra] = positionals;
  if (instance === undefined) throw new UsageError(`${command} needs an INSTANCE name`);
  if (extra.length > 0)
    throw new UsageError(`${command} takes one INSTANCE, got ${positionals.join(' ')}`);
  return instance;
}

/** The request a command line asks for, and whether to print raw JSON. */
function parseCommand(
  command: ControlCommand,
  args: string[],
): { req: ControlRequest; json: boolean; path: string } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: command === 'demote' || command === 'promote',
    options: { ...COMMON, json: { type: 'boolean' }, for: { type: 'string' } },
  });
  if (command !== 'status' && values.json === true) {
    throw new UsageError('--json is an option of status');
  }
  if (command !== 'demote' && values.for !== undefined) {
    throw new UsageError('--for is an option of demote');
  }
  const path = socketPath(values);
  const json = values.json === true;
  if (command === 'status' || command === 'reload') return { req: { cmd: command }, json, path };
  const instance = oneInstance(command, positionals);
  if (command === 'promote') return { req: { cmd: 'promote', instance }, json, path };
  if (values.for === undefined) return { req: { cmd: 'demote', instance }, json, path };
  const forSeconds = Number(values.for);
  const problem = forSecondsProblem(forSeconds, values.for);
  if (problem !== undefined) throw new UsageError(`--for ${problem}`);
  return { req: { cmd: 'demote', instance, forSeconds }, json, path };
}

/** One line per kind of change that happened, e.g. `  updated: VI_1 (priority)`. */
function formatReload(report: ReloadReport): string {
  const lines = reloadSummary(report).map((line) => `  ${line}\n`);
  return `reloaded the daemon's config file\n${lines.join('')}`;
}

function render(reply: ControlReply, json: boolean, now: Date): string {
  if ('status' in reply) {
    const status: DaemonStatus = reply.status;
    return json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status, now);
  }
  if ('report' in reply) return formatReload(reply.report);
  return 'message' in reply ? `${reply.message}\n` : '';
}

/**
 * Runs `vipd status|demote|promote|reload ARGS`. Usage and config mistakes are thrown (exit 2 in
 * the CLI); everything about the daemon is an exit code with its reason.
 */
export async function controlCommand(
  command: ControlCommand,
  args: string[],
): Promise<CommandOutput> {
  const { req, json, path } = parseCommand(command, args);
  let reply: ControlReply;
  try {
    reply = await sendRequest(path, req, req.cmd === 'reload' ? RELOAD_TIMEOUT_MS : TIMEOUT_MS);
  } catch (err) {
    if (err instanceof ControlClientError)
      return { code: 1, stdout: '', stderr: `vipd: ${err.message}\n` };
    throw err;
  }
  if (!reply.ok) return { code: 1, stdout: '', stderr: `vipd: ${reply.error}\n` };
  return { code: 0, stdout: render(reply, json, new Date()), stderr: '' };
}
