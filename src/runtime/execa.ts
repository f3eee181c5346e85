/**
 * execa, imported on first use. Only conntrackd, firewall marks (nft), the load-sharing backends
 * and ping witnesses run commands through it; its ~130 modules cost every other daemon RSS for
 * nothing. A feature that will need it on a transition calls `loadExeca()` when it is set up, so
 * the import is done at start, not on the takeover path.
 */
import type { execa as Execa } from 'execa';

export type { Execa };

/** vipd's own dependency is missing or broken: the installation, not the config, is at fault. */
export class DependencyError extends Error {
  override name = 'DependencyError';
}

let loading: Promise<typeof Execa> | undefined;

/** The one import of execa, shared by every caller; a failed import is retried by the next. */
export function loadExeca(): Promise<typeof Execa> {
  loading ??= import('execa').then(
    (m) => m.execa,
    (err: unknown) => {
      loading = undefined;
      throw new DependencyError(
        `cannot load execa, which vipd runs commands with (reinstall vipd): ${(err as Error).message}`,
      );
    },
  );
  return loading;
}
