/**
 * When a link's VRRP socket is to be trusted: a pure reducer over its I/O outcomes, so the policy
 * is tested without sockets and the shell (daemon/link.ts) only carries out what it says.
 *
 * Contract:
 * - A send or receive error reopens the socket at once without a fault: one lost advert is
 *   within what the peers' master-down interval tolerates (and a stale error left pending by a
 *   link flap must never fail a takeover).
 * - A second error before the socket proved itself again (a datagram sent or received), or a
 *   reopen that fails, holds the link's routers in FAULT (`socket` cause, so a master releases
 *   and its peer takes over) and retries after a backoff doubling from 100 ms to 5 s.
 * - A reopen that succeeds clears the fault; the error count only resets once the socket has
 *   carried a datagram, so a socket that keeps failing backs off further each round.
 * - The kernel's "try again" (EAGAIN, ENOBUFS on a send) loses one datagram and changes nothing.
 */

export interface LinkHealth {
  /** Errors since the socket last carried a datagram. */
  failures: number;
  /** Whether the link's routers are held in FAULT for the socket. */
  faulted: boolean;
}

export type LinkHealthEvent =
  | { type: 'error'; op: 'open' | 'send' | 'recv'; code: string | undefined }
  | { type: 'reopened' }
  | { type: 'carried' };

export type LinkHealthAction =
  /** Close the socket (if open) and open it again after `delayMs`. */
  { type: 'reopen'; delayMs: number } | { type: 'fault' } | { type: 'clear' };

export const HEALTHY: LinkHealth = { failures: 0, faulted: false };

const TRANSIENT = new Set(['EAGAIN', 'EWOULDBLOCK', 'ENOBUFS']);
const FIRST_BACKOFF_MS = 100;
export const MAX_BACKOFF_MS = 5_000;

export function backoffMs(failures: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, failures - 2));
}

export function linkHealthStep(
  h: LinkHealth,
  event: LinkHealthEvent,
): { health: LinkHealth; actions: LinkHealthAction[] } {
  switch (event.type) {
    case 'error': {
      if (event.op === 'send' && event.code !== undefined && TRANSIENT.has(event.code)) {
        return { health: h, actions: [] };
      }
      const failures = h.failures + 1;
      if (failures === 1 && event.op !== 'open') {
        return { health: { ...h, failures }, actions: [{ type: 'reopen', delayMs: 0 }] };
      }
      return {
        health: { failures, faulted: true },
        actions: [
          ...(h.faulted ? [] : [{ type: 'fault' } as const]),
          { type: 'reopen', delayMs: backoffMs(failures) },
        ],
      };
    }
    case 'reopened':
      return h.faulted
        ? { health: { ...h, faulted: false }, actions: [{ type: 'clear' }] }
        : { health: h, actions: [] };
    case 'carried':
      return { health: h.failures === 0 ? h : { ...h, failures: 0 }, actions: [] };
  }
}
