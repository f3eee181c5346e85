/**
 * The control socket: how `vipd status`, `vipd demote` and `vipd promote` talk to a running
 * daemon. A Unix stream socket speaking newline-delimited JSON: one request object per line,
 * one reply object per line, in order, as many as the client likes on one connection.
 *
 *   {"cmd":"status"}                                   -> {"ok":true,"status":{...DaemonStatus}}
 *   {"cmd":"demote","instance":"VI_1","forSeconds":60} -> {"ok":true,"message":"..."}
 *   {"cmd":"promote","instance":"VI_1"}                -> {"ok":true,"changed":true,"message":..}
 *   {"cmd":"reload"}                                   -> {"ok":true,"report":{...ReloadReport}}
 *   anything wrong                                     -> {"ok":false,"error":"..."}
 *
 * A malformed line (bad JSON, unknown command or key, bad value) gets an error reply and the
 * connection stays usable; only a line over MAX_LINE bytes closes it (after the reply). Unknown
 * keys are refused rather than ignored: a typo in `forSeconds` must not demote a box for ever.
 *
 * Bounded: a client that sends and never reads must not grow the daemon (300,000 unread status
 * replies once took it to 685 MB). Each connection reads one chunk, answers its lines one by one
 * and reads on only when they are answered and its unread replies are under MAX_UNREAD_BYTES
 * (write() returning false pauses it until 'drain'); so the daemon holds at most one chunk, one
 * partial line of up to MAX_LINE bytes and MAX_UNREAD_BYTES plus one reply per client, and at most
 * MAX_CLIENTS clients: one more is sent an error line and closed.
 *
 * Who may connect: root only. Node cannot read SO_PEERCRED, so the file mode is the access
 * control, and it must hold from the first moment the socket accepts connections (a connection
 * made while the mode is still loose stays open after a chmod). Neither umask nor chmod-after-
 * listen gives that: umask is process-wide (it would also apply to files the libuv thread pool
 * creates meanwhile, and cannot be set from worker threads) and chmod-after-listen leaves a
 * window. So the socket is bound inside a fresh private directory (mkdtemp: mode 0700, root's)
 * next to the configured path, chmod-ed to 0600 there where nobody else can reach it, and then
 * hard-linked to the configured path. link() also fails if the path exists, so two daemons
 * racing for one path cannot both win: the loser gets the "another vipd is running" error.
 *
 * Start-up also refuses a path where a live server answers (another vipd on this box: two
 * daemons would fight over the same VIPs), removes a socket file whose server is gone
 * (ECONNREFUSED: a crashed or SIGKILLed vipd), refuses to touch anything at the path that is not
 * a socket, and explains a missing or read-only directory. `close` removes the socket file, but
 * only if it is still ours.
 *
 * `reload` re-reads the daemon's own config file (the one it was started with), through the same
 * serialising reloader as SIGHUP, so a socket reload and a signal never overlap.
 */
import { lstat, chmod, link, mkdtemp, rm, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.js';
import {
  type DaemonStatus,
  type ReloadOutcome,
  type ReloadReport,
  UnknownInstanceError,
} from '../router/status.js';

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'demote'; instance: string; forSeconds?: number }
  | { cmd: 'promote'; instance: string }
  | { cmd: 'reload' };

export type ControlReply =
  | { ok: true; status: DaemonStatus }
  | { ok: true; message: string; changed?: boolean }
  | { ok: true; report: ReloadReport }
  | { ok: false; error: string };

/** What the socket controls: the Daemon, or a stand-in in tests. */
export interface ControlTarget {
  status(): DaemonStatus;
  demote(name: string, forMs: number | undefined): void;
  promote(name: string): boolean;
}

/** Reloads the daemon's config file (daemon/reload.ts), one reload at a time. */
export type Reload = () => Promise<ReloadOutcome>;

/** The control socket cannot be set up; the message says what to do about it. */
export class ControlSocketError extends Error {
  override name = 'ControlSocketError';
}

/** A request that cannot be carried out as sent: its reply's error. */
class RequestError extends Error {
  override name = 'RequestError';
}

/** Longer requests are not ours to read: the biggest real one is under 200 bytes. */
export const MAX_LINE = 64 * 1024;
/** Replies a client may leave unread before the server stops reading its requests. */
export const MAX_UNREAD_BYTES = 16 * 1024;
/** Connections at once: the CLI uses one per command; more means a script that never hangs up. */
export const MAX_CLIENTS = 16;
/** setTimeout fires at once beyond 2^31 ms (24.8 days); a week is a long maintenance window. */
export const MAX_DEMOTE_SECONDS = 7 * 24 * 3600;
/** Linux sun_path is 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;
/** The private directory beside the path: `<dir>/.vipdXXXXXX/s`. */
const TMP_PREFIX = '.vipd';
const TMP_SUFFIX_BYTES = `/${TMP_PREFIX}XXXXXX/s`.length;

const COMMANDS: Readonly<Record<ControlRequest['cmd'], readonly string[]>> = {
  status: [],
  demote: ['instance', 'forSeconds'],
  promote: ['instance'],
  reload: [],
};

function isCommand(cmd: unknown): cmd is ControlRequest['cmd'] {
  return typeof cmd === 'string' && Object.hasOwn(COMMANDS, cmd);
}

/** What is wrong with a demotion length, or undefined; shared with the CLI's --for check. */
export function forSecondsProblem(v: unknown, shown = JSON.stringify(v)): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_DEMOTE_SECONDS) return;
  return `must be a number of seconds above 0 and at most ${MAX_DEMOTE_SECONDS} (a week), got ${shown}; leave it out to demote until promoted`;
}

/** One request line -> a checked request, or a RequestError saying what to send instead. */
export function parseRequest(line: string): ControlRequest {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (err) {
    throw new RequestError(
      `not JSON (${(err as Error).message}): send one JSON object per line, e.g. {"cmd":"status"}`,
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new RequestError('a request is a JSON object with "cmd", e.g. {"cmd":"status"}');
  }
  const { cmd, ...args } = doc as Record<string, unknown>;
  if (!isCommand(cmd)) {
    throw new RequestError(
      `unknown command ${JSON.stringify(cmd)}; commands: ${Object.keys(COMMANDS).join(', ')}`,
    );
  }
  const allowed = COMMANDS[cmd];
  const unknown = Object.keys(args).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new RequestError(
      `${cmd}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; ${allowed.length === 0 ? 'it takes none' : `keys: ${allowed.join(', ')}`}`,
    );
  }
  if (cmd === 'status' || cmd === 'reload') return { cmd };
  const { instance } = args;
  if (typeof instance !== 'string' || instance === '') {
    throw new RequestError(`${cmd}: "instance" (an instance name) is required`);
  }
  if (cmd === 'promote') return { cmd, instance };
  if (args.forSeconds === undefined) return { cmd, instance };
  const problem = forSecondsProblem(args.forSeconds);
  if (problem !== undefined) throw new RequestError(`demote: "forSeconds" ${problem}`);
  return { cmd, instance, forSeconds: args.forSeconds as number };
}

function stateOf(target: ControlTarget, name: string): string {
  const inst = target.status().instances.find((i) => i.name === name);
  if (inst === undefined) return '?';
  const others = inst.faults.filter((f) => !f.startsWith('demoted:'));
  return others.length === 0 ? inst.state : `${inst.state}, still held by ${others.join('; ')}`;
}

/** Carries out a checked request. Errors the operator can fix become RequestErrors. */
async function execute(
  target: ControlTarget,
  reload: Reload | undefined,
  req: ControlRequest,
): Promise<ControlReply> {
  try {
    switch (req.cmd) {
      case 'status':
        return { ok: true, status: target.status() };
      case 'reload': {
        if (reload === undefined) throw new RequestError('this daemon cannot reload');
        const outcome = await reload();
        return outcome.ok ? { ok: true, report: outcome.report } : outcome;
      }
      case 'demote': {
        const before = stateOf(target, req.instance);
        target.demote(
          req.instance,
          req.forSeconds === undefined ? undefined : req.forSeconds * 1000,
        );
        const how = req.forSeconds === undefined ? 'until promoted' : `for ${req.forSeconds} s`;
        return {
          ok: true,
          message: `${req.instance} demoted ${how} (was ${before}, now ${stateOf(target, req.instance)}); \`vipd promote ${req.instance}\` ends it`,
        };
      }
      case 'promote': {
        const changed = target.promote(req.instance);
        const now = stateOf(target, req.instance);
        return {
          ok: true,
          changed,
          message: changed
            ? `${req.instance} promoted: back in the election (now ${now})`
            : `${req.instance} was not demoted: nothing changed (${now})`,
        };
      }
    }
  } catch (err) {
    if (err instanceof UnknownInstanceError) throw new RequestError(err.message);
    throw err;
  }
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Whether a server accepts connections on `path` (ECONNREFUSED: nobody; a stale file). */
function probe(path: string): Promise<'live' | 'stale' | 'gone'> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve('live');
    });
    sock.once('error', (err) => {
      const code = errnoCode(err);
      if (code === 'ECONNREFUSED') resolve('stale');
      else if (code === 'ENOENT') resolve('gone');
      // A full backlog: somebody is there, just busy.
      else if (code === 'EAGAIN') resolve('live');
      else reject(err);
    });
  });
}

function directoryProblem(dir: string, err: unknown): ControlSocketError {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new ControlSocketError(
      `control socket directory ${dir} does not exist: create it (root's, mode 0700; systemd: RuntimeDirectory=vipd) or set control.socket to another path (null: no control socket)`,
    );
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new ControlSocketError(
      `cannot create the control socket in ${dir} (${code}): vipd needs write access to that directory, or set control.socket to another path`,
    );
  }
  return new ControlSocketError(
    `cannot create the control socket in ${dir}: ${(err as Error).message}`,
  );
}

function runningError(path: string): ControlSocketError {
  return new ControlSocketError(
    `another vipd is running: ${path} accepts connections; stop it first (two daemons on one box fight over the same VIPs), or give this one another control.socket`,
  );
}

/** Makes `path` free: refuses a live server or a non-socket, removes a dead server's socket. */
async function clearStale(path: string, log: Logger): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw directoryProblem(dirname(path), err);
  }
  if (!isSocket) {
    throw new ControlSocketError(
      `${path} exists and is not a socket: vipd will not remove it; delete it or set control.socket to another path`,
    );
  }
  let found: 'live' | 'stale' | 'gone';
  try {
    found = await probe(path);
  } catch (err) {
    throw new ControlSocketError(
      `cannot tell whether a vipd listens on ${path}: ${(err as Error).message}`,
    );
  }
  if (found === 'live') throw runningError(path);
  if (found === 'gone') return;
  await unlink(path).catch((err: unknown) => {
    if (errnoCode(err) !== 'ENOENT') throw directoryProblem(dirname(path), err);
  });
  log.warn(
    { event: 'control-stale-socket', socket: path },
    `removed the stale control socket ${path} (its vipd is gone: crashed or killed)`,
  );
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(path, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Bytes the server holds for one client: replies not yet read, requests not yet answered. */
export interface ClientBacklog {
  unreadReplyBytes: number;
  pendingRequestBytes: number;
}

/** Resolves when `sock` can take more writes, or is gone. */
function drained(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sock.off('drain', done);
      sock.off('close', done);
      resolve();
    };
    sock.on('drain', done);
    sock.on('close', done);
  });
}

/**
 * One connection: replies in request order (a reload takes a while, a status after it waits),
 * reading paused while a chunk is being answered or the client is behind on its replies.
 */
class Session {
  /** Text received and not yet split into lines; `pos` is where the unexamined part starts. */
  private rest = '';
  private pos = 0;
  /** The start of a line whose newline has not arrived. */
  private partial = '';
  private partialBytes = 0;
  private busy = false;
  private ended = false;
  private refusal: string | undefined;

  constructor(
    private readonly sock: Socket,
    private readonly answer: (line: string) => Promise<ControlReply>,
  ) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.rest = this.rest.slice(this.pos) + chunk;
      this.pos = 0;
      void this.pump();
    });
    // A last request without its newline (the client half-closed) is still a request.
    sock.on('end', () => {
      this.ended = true;
      this.rest = `${this.rest.slice(this.pos)}\n`;
      this.pos = 0;
      void this.pump();
    });
  }

  backlog(): ClientBacklog {
    return {
      unreadReplyBytes: this.sock.writableLength,
      pendingRequestBytes:
        this.sock.readableLength + this.partialBytes + Buffer.byteLength(this.rest.slice(this.pos)),
    };
  }

  /** The next complete line, or undefined (the rest kept as a partial line, or refused). */
  private nextLine(): string | undefined {
    const nl = this.rest.indexOf('\n', this.pos);
    const piece = this.rest.slice(this.pos, nl < 0 ? undefined : nl);
    // Counted per piece, never over the whole partial line: a client trickling a byte at a time
    // must not cost a rescan of everything it sent so far.
    const bytes = this.partialBytes + Buffer.byteLength(piece);
    if (bytes > MAX_LINE) {
      this.refusal = `request line longer than ${MAX_LINE} bytes: closing the connection`;
      return undefined;
    }
    if (nl < 0) {
      this.partial += piece;
      this.partialBytes = bytes;
      this.rest = '';
      this.pos = 0;
      return undefined;
    }
    const line = this.partial + piece;
    this.partial = '';
    this.partialBytes = 0;
    this.pos = nl + 1;
    return line;
  }

  private async pump(): Promise<void> {
    if (this.busy || this.refusal !== undefined) return;
    this.busy = true;
    this.sock.pause();
    for (let line = this.nextLine(); line !== undefined; line = this.nextLine()) {
      if (line.trim() === '') continue;
      const reply = await this.answer(line);
      if (this.sock.destroyed) return;
      if (!this.sock.write(`${JSON.stringify(reply)}\n`)) await drained(this.sock);
      if (this.sock.destroyed) return;
    }
    this.busy = false;
    if (this.refusal !== undefined) {
      // Nothing more is read: the reply, then the connection goes.
      const error = this.refusal;
      this.sock.end(`${JSON.stringify({ ok: false, error })}\n`, () => this.sock.destroy());
    } else if (this.ended) this.sock.end();
    else this.sock.resume();
  }
}

export class ControlServer {
  private target: ControlTarget | undefined;
  private reload: Reload | undefined;
  private readonly sessions = new Map<Socket, Session>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    readonly path: string,
    /** The socket file's identity, so close() never removes a successor's socket. */
    private readonly inode: { dev: number; ino: number },
    private readonly log: Logger,
  ) {}

  /**
   * Binds the socket (mode 0600) at `path`. Requests are answered with "still starting" until
   * `serve` hands over the daemon, so the socket can be claimed before the daemon touches the
   * network: a second vipd on this box must stop before it removes the first one's VIPs.
   */
  static async listen(path: string, log: Logger): Promise<ControlServer> {
    const dir = dirname(path);
    if (
      Buffer.byteLength(path) > MAX_SOCKET_PATH ||
      Buffer.byteLength(dir) + TMP_SUFFIX_BYTES > MAX_SOCKET_PATH
    ) {
      throw new ControlSocketError(
        `control socket path ${path} is too long: Unix sockets allow ${MAX_SOCKET_PATH} bytes, and vipd first binds in a private directory beside it (${dir}/${TMP_PREFIX}XXXXXX/s); choose a shorter control.socket`,
      );
    }
    await clearStale(path, log);
    let tmpDir: string;
    try {
      tmpDir = await mkdtemp(join(dir, TMP_PREFIX));
    } catch (err) {
      throw directoryProblem(dir, err);
    }
    // Both directions at MAX_UNREAD_BYTES: write() says "stop" at that many unread reply bytes.
    const server = createServer({ allowHalfOpen: true, highWaterMark: MAX_UNREAD_BYTES });
    try {
      const tmp = join(tmpDir, 's');
      await listenOn(server, tmp);
      await chmod(tmp, 0o600);
      const st = await lstat(tmp);
      const control = new ControlServer(server, path, { dev: st.dev, ino: st.ino }, log);
      // Before the link: the first client may connect the moment the path exists.
      server.on('connection', (sock) => control.accept(sock));
      try {
        await link(tmp, path);
      } catch (err) {
        // Someone bound the path since clearStale: a vipd started at the same moment.
        throw errnoCode(err) === 'EEXIST' ? runningError(path) : directoryProblem(dir, err);
      }
      log.info({ event: 'control-listening', socket: path }, `control socket ${path}`);
      return control;
    } catch (err) {
      server.close();
      throw err;
    } finally {
      // The hard link keeps the socket; the private name and directory are no longer needed.
      await rm(tmpDir, { recursive: true, force: true });
    }
  }

  /** Starts answering requests about `target`; `reload` enables the reload command. */
  serve(target: ControlTarget, reload?: Reload): void {
    this.target = target;
    this.reload = reload;
  }

  private accept(sock: Socket): void {
    // A client that hangs up before its reply is its own business, not the daemon's.
    sock.on('error', () => undefined);
    if (this.sessions.size >= MAX_CLIENTS) {
      const error = `too many control connections (${MAX_CLIENTS} open): close idle ones (a script that never hangs up?) and retry`;
      sock.end(`${JSON.stringify({ ok: false, error })}\n`, () => sock.destroy());
      return;
    }
    this.sessions.set(sock, new Session(sock, (line) => this.reply(line)));
    sock.on('close', () => this.sessions.delete(sock));
  }

  /** What the server holds for each open connection (the bounds above, as measured). */
  backlog(): ClientBacklog[] {
    return [...this.sessions.values()].map((s) => s.backlog());
  }

  private async reply(line: string): Promise<ControlReply> {
    try {
      const req = parseRequest(line);
      if (this.target === undefined) {
        return { ok: false, error: 'vipd is still starting: try again in a moment' };
      }
      if (req.cmd !== 'status') {
        // Operator actions belong in the log: who changed what, when.
        const what = 'instance' in req ? `${req.cmd} ${req.instance}` : req.cmd;
        this.log.info({ event: 'control', ...req }, `control: ${what}`);
      }
      return await execute(this.target, this.reload, req);
    } catch (err) {
      if (err instanceof RequestError) return { ok: false, error: err.message };
      this.log.error(
        { event: 'control-failed', err: (err as Error).message, request: line.slice(0, 200) },
        `control request failed: ${(err as Error).message}`,
      );
      return { ok: false, error: `internal error: ${(err as Error).message}` };
    }
  }

  /** Stops listening, drops open connections and removes the socket file. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const sock of this.sessions.keys()) sock.destroy();
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      try {
        const st = await lstat(this.path);
        if (st.dev === this.inode.dev && st.ino === this.inode.ino) await unlink(this.path);
      } catch {
        // already gone: nothing to remove
      }
    })();
    return this.closing;
  }
}
