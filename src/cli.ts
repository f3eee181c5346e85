#!/usr/bin/env node
/**
 * The `vipd` command line. `run` starts the daemon in the foreground (systemd-style: logs on
 * stdout, SIGTERM/SIGINT for a graceful stop with a priority-0 advert); `check` validates a
 * config and prints it normalised. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
 */
import { parseArgs } from 'node:util';
import { toFileShape } from './config/config.js';
import { ConfigError } from './config/formats.js';
import { hostChecks, loadConfigFile, refuseOnErrors } from './config/host-checks.js';
import { interfaceAddresses } from './net/interface.js';
import { monotonicClock } from './ports/clock.js';
import { Daemon } from './daemon/daemon.js';
import { claimNamespace } from './daemon/single-instance.js';
import { createNotifier, startWatchdog } from './daemon/notify.js';
import { createLogger } from './log.js';
import { reloader } from './daemon/reload.js';
import { clusterOwner } from './cluster/owner-cli.js';
import { controlCommand } from './control/client.js';
import { MetricsServer } from './control/metrics.js';
import { ControlServer } from './control/server.js';
import { armTestFaults } from './daemon/test-hooks.js';
import { importKeepalived } from './migrate/keepalived.js';
import { prepareUcarpRun } from './migrate/ucarp.js';
import { UsageError } from './usage.js';

const USAGE = `usage:
  vipd run --config FILE      run the daemon in the foreground
  vipd check --config FILE    validate FILE, print it normalised (exit 0) or the errors (exit 2);
                              scripts and VIPs are checked on this box too, warnings on stderr
  vipd status [--json] [--socket PATH | --config FILE]
                              the running daemon's instances: state, priorities, master,
                              last transition, faults, counters (--json: as the daemon sends it)
  vipd demote INSTANCE [--for SECONDS] [--socket PATH | --config FILE]
                              maintenance: INSTANCE resigns (its backup takes over at once) and
                              stays out of the election for SECONDS, or until promoted
  vipd promote INSTANCE [--socket PATH | --config FILE]
                              end a demotion: INSTANCE rejoins the election
  vipd reload [--socket PATH | --config FILE]
                              the running daemon re-reads its config file (as SIGHUP does)
                              and says what changed, or why the new config was refused
  vipd cluster owner CLIENT-IP... [--sport P] [--dport P] [--down BOX,...] [--live] [--json]
                    [--instance NAME] --config FILE
                              which node number (the kernel's hash) and which box answer
                              each client; --down: with those boxes gone; --live: whether
                              this box's kernel answers it now
  vipd import keepalived FILE [--node NAME]
                              convert a keepalived.conf: vipd config JSON on stdout, one
                              line per thing not converted on stderr (FILE:LINE: why)
  vipd ucarp -i IF -s SRCIP -v VHID -a VIP -p PASS [-P] [-b S] [-k SKEW] [-u UP] [-d DOWN] ...
                              run vipd with ucarp's command line and scripts, speaking
                              CARP beside ucarp boxes; vipd ucarp --help for details`;

function configPath(args: string[]): string {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
  if (values.config === undefined) throw new UsageError('--config FILE is required');
  return values.config;
}

async function run(path: string): Promise<number> {
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
  try {
    armTestFaults(process.env, log);
    // Held until the process exits: the kernel frees it then, even after a SIGKILL.
    await claimNamespace();
    if (config.control.socket !== null) {
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
  metrics?.attach(daemon);
  log.info({ event: 'started', instances: config.instances.map((i) => i.name) }, 'vipd running');
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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run':
        return await run(configPath(rest));
      case 'cluster':
        if (rest[0] !== 'owner') throw new UsageError('cluster needs a subcommand: owner');
        process.stdout.write(`${await clusterOwner(rest.slice(1))}\n`);
        return 0;
      case 'status':
      case 'demote':
      case 'promote':
      case 'reload': {
        const out = await controlCommand(command, rest);
        process.stdout.write(out.stdout);
        process.stderr.write(out.stderr);
        return out.code;
      }
      case 'check': {
        const path = configPath(rest);
        const config = loadConfigFile(path);
        refuseOnErrors(path, await hostChecks(config, interfaceAddresses), (w) =>
          process.stderr.write(`warning: ${w.key}: ${w.reason}\n`),
        );
        process.stdout.write(`${JSON.stringify(toFileShape(config), null, 2)}\n`);
        return 0;
      }
      case 'import':
        if (rest[0] !== 'keepalived') throw new UsageError('import needs a source: keepalived');
        process.stdout.write(
          importKeepalived(rest.slice(1), (line) => process.stderr.write(`${line}\n`)),
        );
        return 0;
      case 'ucarp': {
        const prepared = await prepareUcarpRun(rest);
        if ('help' in prepared) {
          process.stdout.write(`${prepared.help}\n`);
          return 0;
        }
        try {
          return await run(prepared.configPath);
        } finally {
          prepared.cleanup();
        }
      }
      default:
        throw new UsageError(
          command === undefined ? 'a command is required' : `unknown command "${command}"`,
        );
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    if (
      err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`vipd: ${(err as Error).message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`vipd: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
