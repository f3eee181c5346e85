/**
 * The daemon's logger: pino, one JSON object per line on stdout. Every module logs through a
 * child of this logger so each line carries the node name (and the instance where there is one).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, node: string): Logger {
  return pino({ level, base: { node }, timestamp: pino.stdTimeFunctions.isoTime });
}
