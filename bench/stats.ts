/** Summary figures of a benchmark's runs (the upper median for an even count). */
export function stats(xs: number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return {
    min: s[0] ?? NaN,
    median: s[Math.floor(s.length / 2)] ?? NaN,
    max: s[s.length - 1] ?? NaN,
  };
}
