/**
 * `vipd run`: the daemon in the foreground until SIGTERM/SIGINT (a graceful stop), SIGHUP
 * reloading the config. Claims the namespace, the control socket and the metrics port before
 * touching the network; tells systemd (Type=notify) when it is ready and when it stops. Resolves
 * with the exit code: 0 after a graceful stop, 1 if it could not start or stop cleanly.
 *
 * A module of its own so that the CLI loads the daemon only to run it: `vipd --help`, `status`
 * and the other commands start without it.
 */
import { dirname } from 'node:path';
import { hostChecks, loadConfigFile, refuseOnErrors } from '../config/host-checks.js';
import { interfaceAddresses } from '../net/interface.js';
import { monotonicClock } from '../ports/clock.js';
import { Daemon } from './daemon.js';
import { claimNamespace } from './single-instance.js';
import { createNotifier, startWatchdog } from './notify.js';
import { createLogger } from '../log.js';
import { reloader } from './reload.js';
import { MetricsServer } from '../control/metrics-server.js';
import { ControlServer } from '../control/server.js';
import { armTestFaults } from './test-hooks.js';
import { ensureRuntimeDir } from './runtime-dir.js';
import { packageVersion } from '../runtime/package.js';

export async function runDaemon(path: string): Promise<number> {
  const config = loadConfigFile(path);
  const log = createLogger(config.log.level, config.node.name);
  refuseOnErrors(path, await hostChecks(config, interfaceAddresses), (w) =>
    log.warn({ event: 'config-warning', key: w.key }, `${w.key}: ${w.reason}`),
  );
  // systemd (Type=notify): READY=1 once started, WATCHDOG=1 from a timer, STOPPING=1 on a stop.
  // The variables are read once and then removed, so hook scripts and other children do not
  // talk to systemd as if they were vipd (NotifyAccess=main would reject them anyway).
  const notifier = createNotifier(process.env, (err) =>
    log.warn({ event: 'notify-failed', err: err.message }, err.message),
  );
  for (const name of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) delete process.env[name];
  // The namespace lock, the control socket and the metrics port are claimed before the daemon
  // touches the network: a second vipd in this network namespace (whatever its socket path) must
  // stop here, not after its start-up plan has removed the running one's VIPs.
  let control: ControlServer | undefined;
  let metrics: MetricsServer | undefined;
  let daemon: Daemon;
  let version: string;
  try {
    version = packageVersion();
    armTestFaults(process.env, log);
    // Held until the process exits: the kernel frees it then, even after a SIGKILL.
    await claimNamespace();
    if (config.control.socket !== null) {
      const dir = dirname(config.control.socket);
      if (await ensureRuntimeDir(dir)) {
        log.info({ event: 'runtime-dir-created', dir }, `created ${dir} (mode 0700)`);
      }
      control = await ControlServer.listen(config.control.socket, log);
    }
    if (config.metrics.listen !== null) {
      metrics = await MetricsServer.listen(config.metrics.listen, log);
    }
    daemon = await Daemon.start(config, monotonicClock, log);
  } catch (err) {
    await Promise.allSettled([control?.close(), metrics?.close()]);
    log.fatal(
      { event: 'start-failed', err: (err as Error).message },
      `vipd could not start: ${(err as Error).message}`,
    );
    notifier.status(`could not start: ${(err as Error).message}`);
    return 1;
  }
  // One reloader for SIGHUP and the control socket: reloads never overlap.
  const reload = reloader(daemon, path, log);
  control?.serve(daemon, reload);
  // prom-client loads only now, after the routers' first adverts (issue 17). A failure to load
  // it costs the metrics (scrapes answer 500 with the reason), not the failover.
  await metrics
    ?.attach(daemon)
    .catch((err: unknown) =>
      log.error(
        { event: 'metrics-failed', err: (err as Error).message },
        `metrics unavailable: ${(err as Error).message}`,
      ),
    );
  log.info(
    { event: 'started', version, instances: config.instances.map((i) => i.name) },
    'vipd running',
  );
  notifier.ready(`running ${config.instances.map((i) => i.name).join(', ')}`);
  startWatchdog(notifier);
  let stopping = false;
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ event: 'signal', signal }, `${signal}: stopping gracefully`);
      notifier.stopping(`${signal}: stopping gracefully`);
      // The control socket goes last: while it exists, a vipd started meanwhile refuses to start,
      // so it cannot take over the VIPs this one is still releasing.
      void metrics?.close();
      const stopped = daemon.stop().finally(() => control?.close());
      stopped.then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ event: 'stop-failed', err: String(err) }, 'graceful stop failed');
          resolve(1);
        },
      );
    };
    // `on`, not `once`: execa's child cleanup (signal-exit) re-raises a signal nobody else is
    // listening to, which would kill us halfway through the graceful stop.
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      log.info({ event: 'signal', signal: 'SIGHUP' }, 'SIGHUP: reloading the config');
      void reload();
    });
  });
}
