/**
 * Shared figures and output of the benchmarks: summary statistics of a set of runs, markdown
 * tables padded the way prettier pads them (so a table pastes into docs/benchmarks.md
 * unchanged), and the report every benchmark writes to bench-results/<name>.json and
 * bench/all.ts gathers into bench-results/summary.json. No measuring here: see bench/lab.ts for
 * that.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

export const RESULTS_DIR = 'bench-results';

export interface Stats {
  min: number;
  median: number;
  max: number;
}

/** Summary figures of a benchmark's runs (the upper median for an even count). */
export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return {
    min: s[0] ?? NaN,
    median: s[Math.floor(s.length / 2)] ?? NaN,
    max: s[s.length - 1] ?? NaN,
  };
}

/** The `p`-th percentile (0..100) of `xs`, nearest rank; NaN when empty. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

/** "min / median / max", rounded to `digits` decimals. */
export function triple(s: Stats, digits = 0): string {
  return [s.min, s.median, s.max].map((x) => x.toFixed(digits)).join(' / ');
}

/** A signed figure: "+12", "−3" (minus sign, not hyphen, as in docs/benchmarks.md). */
export function signed(x: number, digits = 0): string {
  const s = Math.abs(x).toFixed(digits);
  return Number(s) === 0 ? s : `${x < 0 ? '−' : '+'}${s}`;
}

/** A markdown table with every column padded to its widest cell, as prettier writes it. */
export function markdownTable(head: string[], rows: (string | number)[][]): string[] {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, c) => Math.max(3, ...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]): string =>
    `| ${widths.map((w, c) => (r[c] ?? '').padEnd(w)).join(' | ')} |`;
  return [
    line(head),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ];
}

/** What one benchmark hands on: its table(s) as printed, the notes under them, and raw results. */
export interface Report {
  name: string;
  title: string;
  command: string;
  /** ISO time the benchmark finished. */
  date: string;
  /** 1/5/15-minute load averages at the start and end: the machine may be shared. */
  load: { start: number[]; end: number[] };
  /** % of all CPU time over the benchmark stolen by the hypervisor (/proc/stat), if a VM. */
  stealPercent: number;
  table: string[];
  notes: string[];
  results: unknown;
}

/**
 * The aggregate "cpu" line of /proc/stat, in ticks: user, nice, system, idle, iowait, irq,
 * softirq, steal.
 */
export function machineCpu(): number[] {
  return (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(Number);
}

/** [steal, total] in ticks. */
function cpuTicks(): [number, number] {
  const fields = machineCpu();
  return [fields[7] ?? 0, fields.reduce((a, b) => a + b, 0)];
}

const startLoad = loadavg();
const startCpu = cpuTicks();

export function printReport(r: Report): void {
  console.log(`\n${r.title}\n`);
  console.log(r.table.join('\n'));
  if (r.notes.length > 0) console.log(`\n${r.notes.join('\n')}`);
  const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  console.log(
    `(${r.date}; load average ${load(r.load.start)} at the start, ${load(r.load.end)} at the end; ${r.stealPercent.toFixed(1)} % of CPU time stolen by the hypervisor)`,
  );
}

/** Prints the report and writes it to bench-results/<name>.json. */
export function writeReport(r: Omit<Report, 'date' | 'load' | 'stealPercent'>): Report {
  const [steal, total] = cpuTicks();
  const report: Report = {
    ...r,
    date: new Date().toISOString(),
    load: { start: startLoad, end: loadavg() },
    stealPercent: (100 * (steal - startCpu[0])) / Math.max(1, total - startCpu[1]),
  };
  printReport(report);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${r.name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

export function readReport(name: string): Report {
  return JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8')) as Report;
}

/** A positive integer from the environment, or the default; anything else is an error. */
export function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}=${String(raw)} is not a count`);
  return n;
}

/** Runs a benchmark's main and exits non-zero with its message on failure. */
export function runBench(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
    process.exit(1);
  });
}
