/**
 * A tracked file, as keepalived's track_file: an integer in a file (e.g. written by a health
 * checker or an operator), read every `interval`. A missing, unreadable or non-integer file reads
 * as 0, like keepalived, and says why once per change of reason.
 */
import { readFile } from 'node:fs/promises';
import type { FileCheckConfig } from '../config/track.js';
import type { Clock } from '../ports/clock.js';

export type { FileCheckConfig };

export async function readTrackedValue(path: string): Promise<{ value: number; why?: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { value: 0, why: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  const t = text.trim();
  return /^[+-]?\d{1,9}$/.test(t)
    ? { value: Number(t) }
    : { value: 0, why: `not an integer: ${JSON.stringify(t.slice(0, 20))}` };
}

export class FileCheck {
  private value: number | undefined;
  private why: string | undefined;
  private cancel: (() => void) | undefined;
  private closed = false;
  /** Resolves once the file has been read the first time. */
  readonly settled: Promise<void>;

  constructor(
    readonly cfg: FileCheckConfig,
    private readonly clock: Clock,
    private readonly onChange: (value: number, why: string | undefined) => void,
  ) {
    this.settled = this.poll();
  }

  get current(): number {
    return this.value ?? 0;
  }

  private async poll(): Promise<void> {
    const { value, why } = await readTrackedValue(this.cfg.path);
    if (this.closed) return;
    if (value !== this.value || why !== this.why) {
      this.value = value;
      this.why = why;
      this.onChange(value, why);
    }
    this.cancel = this.clock.schedule(
      this.clock.now() + this.cfg.intervalMs,
      () => void this.poll(),
    );
  }

  close(): void {
    this.closed = true;
    this.cancel?.();
  }
}
