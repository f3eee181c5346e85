/**
 * Polling for tests whose effect has no event to wait on (kernel tables, other processes'
 * views): `until` retries a check until it yields a value or the time is up, then fails with
 * what was expected and the last value seen, so a failure explains itself.
 */
export async function until<T>(
  what: string,
  check: () => Promise<{ done: boolean; value: T }>,
  timeoutMs: number,
  stepMs = 50,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { done, value } = await check();
    if (done) return value;
    if (performance.now() > deadline) {
      throw new Error(
        `${what}: not reached within ${timeoutMs} ms; last: ${JSON.stringify(value)}`,
      );
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
