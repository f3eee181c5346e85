/**
 * Reload from the config file (SIGHUP, `vipd reload`): the file is read and validated first, with
 * the same host checks as a start (scripts that can run, no VIP that is the box's own address);
 * a config that fails is refused with every problem and the running one keeps going untouched.
 * Reloads never overlap: one that arrives while another runs waits for it.
 */
import { hostChecks, loadConfigFile, refuseOnErrors } from '../config/host-checks.js';
import { interfaceAddresses } from '../net/interface.js';
import { ConfigError } from '../config/formats.js';
import type { Logger } from '../log.js';
import type { Daemon } from './daemon.js';
import type { ReloadOutcome } from '../router/status.js';

export function reloader(daemon: Daemon, path: string, log: Logger): () => Promise<ReloadOutcome> {
  let running: Promise<unknown> = Promise.resolve();
  const once = async (): Promise<ReloadOutcome> => {
    try {
      const config = loadConfigFile(path);
      refuseOnErrors(path, await hostChecks(config, interfaceAddresses), (w) =>
        log.warn({ event: 'config-warning', key: w.key }, `${w.key}: ${w.reason}`),
      );
      return { ok: true, report: await daemon.reload(config) };
    } catch (err) {
      const error =
        err instanceof ConfigError
          ? `config refused, still running the old one: ${err.message}`
          : `reload failed: ${(err as Error).message}`;
      log.error({ event: 'reload-refused', err: error }, error);
      return { ok: false, error };
    }
  };
  return () => {
    const next = running.then(once, once);
    running = next;
    return next;
  };
}
