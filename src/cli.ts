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
 *
 * Each command's module is imported when that command runs: help, usage errors and the control
 * commands start without loading the daemon, the config schema or the migration tools.
 */
import { parseArgs } from 'node:util';
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

async function run(path: string): Promise<number> {
  // The big dependencies load as usual, compiled as they are used (prom-client, later, too);
  // vipd's own modules are compiled at load, so a takeover does not compile its code
  // (runtime/eager-compile.ts).
  await Promise.all([import('zod'), import('pino')]);
  const { importCompiled } = await import('./runtime/eager-compile.js');
  return (await importCompiled(() => import('./daemon/run.js'))).runDaemon(path);
}

async function controlHandler(
  command: 'status' | 'demote' | 'promote' | 'reload',
  args: string[],
): Promise<number> {
  const { controlCommand } = await import('./control/client.js');
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
    const [
      { toFileShape },
      { hostChecks, loadConfigFile, refuseOnErrors },
      { interfaceAddresses },
    ] = await Promise.all([
      import('./config/config.js'),
      import('./config/host-checks.js'),
      import('./net/interface.js'),
    ]);
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
  'cluster owner': async (args) => {
    const { clusterOwner } = await import('./cluster/owner-cli.js');
    return print(await clusterOwner(args));
  },
  'import keepalived': async (args) => {
    const { importKeepalived } = await import('./migrate/keepalived.js');
    process.stdout.write(importKeepalived(args, (line) => process.stderr.write(`${line}\n`)));
    return 0;
  },
  ucarp: async (args) => {
    const { prepareUcarpRun } = await import('./migrate/ucarp.js');
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
    const wantsHelp =
      cmd.name === 'ucarp'
        ? (await import('./migrate/ucarp.js')).wantsUcarpHelp(args)
        : asksForHelp(cmd, args);
    if (wantsHelp) return print(commandHelp(cmd));
    return await HANDLERS[cmd.name](args);
  } catch (err) {
    if (
      err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(`vipd: ${(err as Error).message}\n${usage}\n`);
      return 2;
    }
    // A config error comes from the schema's module, loaded by then: the same class.
    if (err instanceof (await import('./config/formats.js')).ConfigError) {
      process.stderr.write(`${err.message}\n`);
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
