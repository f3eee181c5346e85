/**
 * The daemon's logger: pino. Every module logs through a child of this logger so each line carries
 * the node name (and the instance where there is one).
 *
 * Two formats. JSON, one object per line on stdout, is the default: it is what journald, log
 * shippers and `jq` read. Human lines, `HH:MM:SS.mmm LEVEL [node instance] message key=value ...`
 * in local time, with an error's stack indented below, are for a person at a terminal. The choice:
 * VIPD_LOG_FORMAT=human or =json decides; unset, stdout being a TTY means human. (Not a config key
 * because it is about where stdout goes, which the environment knows and the config does not.)
 *
 * The human format is a small in-process pino destination rather than pino-pretty: pino-pretty is
 * not installed (not a dependency), and forty lines cost less than a dependency tree. Being
 * synchronous and in-process, it loses no line when the process exits right after a fatal
 * start-up error. It re-parses each JSON line, which a person's reading speed makes free.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export type LogFormat = 'json' | 'human';

/** The format VIPD_LOG_FORMAT asks for, or the terminal implies; `unknown` is a value to report. */
export function chooseLogFormat(
  env: NodeJS.ProcessEnv,
  isTTY: boolean,
): { format: LogFormat; unknown?: string } {
  const wanted = env.VIPD_LOG_FORMAT;
  if (wanted === 'human' || wanted === 'json') return { format: wanted };
  if (wanted === undefined || wanted === '') return { format: isTTY ? 'human' : 'json' };
  return { format: 'json', unknown: wanted };
}

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Shown by themselves, in the line's prefix, or not at all. */
const PREFIX_KEYS = new Set(['level', 'time', 'node', 'instance', 'msg', 'pid', 'hostname']);

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Bare when it cannot be misread (no spaces, quotes or '='), else quoted as JSON. */
function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

/** One JSON line as pino writes it -> one human line (plus an error's stack), newline-ended. */
export function formatHumanLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const t = new Date(record.time as number | string);
  const hms = [t.getHours(), t.getMinutes(), t.getSeconds()].map((n) => pad(n)).join(':');
  const time = `${hms}.${pad(t.getMilliseconds(), 3)}`;
  const level = (LEVELS[record.level as number] ?? String(record.level)).padEnd(5);
  const where = [record.node, record.instance].filter((s) => s !== undefined).join(' ');
  const parts = [`${time} ${level} [${where}]`];
  if (record.msg !== undefined) parts.push(String(record.msg));
  let stack: string | undefined;
  for (const [key, v] of Object.entries(record)) {
    if (PREFIX_KEYS.has(key)) continue;
    // pino's err serializer makes an Error {type, message, stack}: the message stays on the line
    // where grep finds it, the stack goes below it.
    if (key === 'err' && typeof v === 'object' && v !== null && 'message' in v) {
      parts.push(`err=${value(v.message)}`);
      if ('stack' in v && typeof v.stack === 'string') stack = v.stack;
      continue;
    }
    parts.push(`${key}=${value(v)}`);
  }
  const below = stack === undefined ? '' : stack.replace(/^/gm, '    ') + '\n';
  return `${parts.join(' ')}\n${below}`;
}

/** A pino destination that writes human lines through `write` (process.stdout by default). */
export function humanDestination(
  write: (text: string) => void = (text) => void process.stdout.write(text),
): DestinationStream {
  return { write: (line: string) => write(formatHumanLine(line)) };
}

/** createLogger with the format, and the output (stdout by default), chosen by the caller. */
export function createLoggerWith(
  level: string,
  node: string,
  format: LogFormat,
  write?: (text: string) => void,
): Logger {
  if (format === 'human') return pino({ level, base: { node } }, humanDestination(write));
  const options = { level, base: { node }, timestamp: pino.stdTimeFunctions.isoTime };
  return write === undefined ? pino(options) : pino(options, { write });
}

export function createLogger(level: string, node: string): Logger {
  const { format, unknown } = chooseLogFormat(process.env, process.stdout.isTTY === true);
  const log = createLoggerWith(level, node, format);
  if (unknown !== undefined) {
    log.warn(
      { event: 'log-format-unknown', value: unknown },
      `VIPD_LOG_FORMAT=${unknown} is neither "json" nor "human": logging JSON`,
    );
  }
  return log;
}
