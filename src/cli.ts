#!/usr/bin/env node
/**
 * The `vipd` command line. `run` starts the daemon in the foreground (systemd-style: logs on
 * stdout, SIGTERM/SIGINT for a graceful stop with a priority-0 advert); `check` validates a
 * config and prints it normalised. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or config.
 *
 * The commands, their usage and help text are help.ts's COMMANDS; this file only dispatches.
 * `-h`/`--help` anywhere in a command's arguments prints that command's help (stdout, exit 0)
 * before anything is parsed or read; a usage error prints the message, then the usage of the
 * command concerned (the top level's for an unknown command), on stderr, exit 2.
 */
import { dirname } from 'node:path';
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
import { prepareUcarpRun, wantsUcarpHelp } from './migrate/ucarp.js';
import { ensureRuntimeDir } from './daemon/runtime-dir.js';
import {
  asksForHelp,
  command,
  commandHelp,
  commandsUnder,
  commandUsage,
  COMMANDS,
  listUsage,
  topLevelHelp,
  topLevelUsage,
  type Command,
  type CommandName,
  versionText,
} from './help.js';
import { packageVersion } from './runtime/package.js';
import { UsageError } from './usage.js';

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
  metrics?.attach(daemon);
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

function print(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}

const isHelp = (arg: string | undefined): boolean => arg === '-h' || arg === '--help';

/** `vipd help [COMMAND]`, `vipd --help [COMMAND]`. */
function help(words: string[]): number {
  if (words.length === 0) return print(topLevelHelp());
  const name = words.join(' ');
  const named = COMMANDS.find((c) => c.name === name);
  if (named !== undefined) return print(commandHelp(named));
  const group = words.length === 1 ? commandsUnder(name) : [];
  if (group.length > 0) return print(listUsage(group));
  throw new UsageError(`no command "${name}"`);
}

function version(args: string[]): number {
  if (args.length > 0) throw new UsageError(`version takes no arguments, got ${args.join(' ')}`);
  return print(versionText(packageVersion(), process.version));
}

type Handler = (args: string[]) => Promise<number>;

async function controlHandler(
  command: 'status' | 'demote' | 'promote' | 'reload',
  args: string[],
): Promise<number> {
  const out = await controlCommand(command, args);
  process.stdout.write(out.stdout);
  process.stderr.write(out.stderr);
  return out.code;
}

/** One per command of COMMANDS: the compiler checks none is missing. */
const HANDLERS: Record<CommandName, Handler> = {
  run: (args) => run(configPath(args)),
  check: async (args) => {
    const path = configPath(args);
    const config = loadConfigFile(path);
    refuseOnErrors(path, await hostChecks(config, interfaceAddresses), (w) =>
      process.stderr.write(`warning: ${w.key}: ${w.reason}\n`),
    );
    return print(JSON.stringify(toFileShape(config), null, 2));
  },
  status: (args) => controlHandler('status', args),
  demote: (args) => controlHandler('demote', args),
  promote: (args) => controlHandler('promote', args),
  reload: (args) => controlHandler('reload', args),
  'cluster owner': async (args) => print(await clusterOwner(args)),
  'import keepalived': async (args) => {
    process.stdout.write(importKeepalived(args, (line) => process.stderr.write(`${line}\n`)));
    return 0;
  },
  ucarp: async (args) => {
    const prepared = await prepareUcarpRun(args);
    if ('help' in prepared) return print(prepared.help);
    try {
      return await run(prepared.configPath);
    } finally {
      prepared.cleanup();
    }
  },
  help: async (args) => help(args),
  version: async (args) => version(args),
};

/**
 * The command `argv` names (one or two words) and its arguments, or the exit code once a group's
 * usage is printed (`vipd cluster --help`). `setUsage` narrows what a usage error prints.
 */
function lookup(
  argv: string[],
  setUsage: (usage: string) => void,
): { command: Command; args: string[] } | number {
  const [first, ...after] = argv;
  if (first === undefined) throw new UsageError('a command is required');
  const group = commandsUnder(first);
  if (group.length === 0) {
    throw new UsageError(
      first.startsWith('-') ? `unknown option ${first}` : `unknown command "${first}"`,
    );
  }
  const single = group.find((c) => c.name === first);
  if (single !== undefined) return { command: single, args: after };
  setUsage(listUsage(group));
  const [sub, ...args] = after;
  const chosen = group.find((c) => c.name === `${first} ${sub}`);
  if (chosen !== undefined) return { command: chosen, args };
  if (isHelp(sub)) return print(listUsage(group));
  const subs = group.map((c) => c.name.slice(first.length + 1)).join(', ');
  throw new UsageError(
    sub === undefined
      ? `${first} needs a subcommand: ${subs}`
      : `unknown command "${first} ${sub}" (${first} has: ${subs})`,
  );
}

async function main(argv: string[]): Promise<number> {
  // What follows a usage error: narrowed to the command concerned as the line is read.
  let usage = topLevelUsage();
  try {
    const [first, ...after] = argv;
    if (isHelp(first)) {
      usage = commandUsage(command('help'));
      return help(after);
    }
    if (first === '-V' || first === '--version') {
      usage = commandUsage(command('version'));
      return version(after);
    }
    const found = lookup(argv, (u) => (usage = u));
    if (typeof found === 'number') return found;
    const { command: cmd, args } = found;
    usage = commandUsage(cmd);
    // ucarp's options are ucarp's (getopt_long, grouped flags): its own parser finds -h.
    const wantsHelp = cmd.name === 'ucarp' ? wantsUcarpHelp(args) : asksForHelp(cmd, args);
    if (wantsHelp) return print(commandHelp(cmd));
    return await HANDLERS[cmd.name](args);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    if (
      err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`vipd: ${(err as Error).message}\n${usage}\n`);
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
