/**
 * The command line's documentation, written once: every command with its synopsis, a one-line
 * summary, its options and the details. `vipd --help` (the command list), `vipd COMMAND --help`
 * (one command), the usage printed after a usage error, and the man page vipd(8) are all
 * rendered from COMMANDS, so they cannot drift apart.
 *
 * Pure data and string formatting, no side effects on import: a man page generator (or a test)
 * can import it without starting anything.
 */

export interface OptionHelp {
  /** The long name without dashes: `config` for --config. */
  readonly long: string;
  /** The one-letter alias, if any: `c` for -c. */
  readonly short?: string;
  /** The value's placeholder (FILE, SECONDS); absent for a flag that takes no value. */
  readonly value?: string;
  readonly text: string;
}

export interface CommandHelp {
  /** The words after `vipd`: `run`, `cluster owner`. */
  readonly name: string;
  /** What follows the name, one unit per entry (a unit is never broken across lines). */
  readonly synopsis: readonly string[];
  /** One line for the command list. */
  readonly summary: string;
  readonly options: readonly OptionHelp[];
  /**
   * Paragraphs: runs of lines that start in the first column are joined and filled to the
   * width; an indented line (a list item, an example) is kept as written.
   */
  readonly details: string;
}

export const PROGRAM = {
  name: 'vipd',
  summary: 'VRRP and CARP failover daemon for Linux firewall and gateway clusters',
} as const;

/** Options every command takes, and the top level's own. */
export const HELP_OPTION: OptionHelp = {
  long: 'help',
  short: 'h',
  text: 'print this help, exit 0',
};
export const VERSION_OPTION: OptionHelp = {
  long: 'version',
  short: 'V',
  text: 'print the version of vipd and of Node.js, exit 0',
};

export const EXIT_STATUS: readonly { code: number; text: string }[] = [
  { code: 0, text: 'done' },
  { code: 1, text: 'a runtime failure (the daemon could not start, or could not be reached)' },
  { code: 2, text: 'bad usage or an invalid config' },
];

const CONFIG = (text: string): OptionHelp => ({ long: 'config', short: 'c', value: 'FILE', text });

/** status, demote, promote and reload find the daemon the same way. */
const CONTROL_OPTIONS: readonly OptionHelp[] = [
  { long: 'socket', short: 's', value: 'PATH', text: "the daemon's control socket" },
  CONFIG(
    "find the socket in FILE's control.socket; without --socket and --config: the control.socket of /etc/vipd/vipd.json if it exists, else /run/vipd/vipd.sock",
  ),
];
const CONTROL_SYNOPSIS = '[--socket PATH | --config FILE]';
const CONTROL_EXIT =
  'Exit 0 done, 1 the daemon refused or could not be reached (the reason on stderr), 2 bad usage.';

export const COMMANDS = [
  {
    name: 'run',
    synopsis: ['--config FILE'],
    summary: 'run the daemon in the foreground',
    options: [CONFIG('the config file (JSON; vipd check validates it)')],
    details: `Runs the daemon in the foreground, as systemd runs it (Type=notify): JSON log lines on
stdout, a graceful stop on SIGTERM or SIGINT (a master hands over at once with a releasing
advert), SIGHUP re-reads the config file as vipd reload does.

Before it touches the network it claims this network namespace (one vipd per namespace), the
control socket and the metrics port; any of them taken is a start-up error (exit 1). The control
socket's directory (/run/vipd by default) is created, mode 0700, when it is missing; an existing
one is left as it is.`,
  },
  {
    name: 'check',
    synopsis: ['--config FILE'],
    summary: 'validate a config file and print it normalised',
    options: [CONFIG('the config file to check')],
    details: `Prints the config with every default written out (exit 0), or the errors, one per line
(exit 2). What the file says is also checked against this box (hook scripts, interfaces,
VIPs): errors fail the check, warnings go to stderr.`,
  },
  {
    name: 'status',
    synopsis: ['[--json]', CONTROL_SYNOPSIS],
    summary: "the running daemon's instances",
    options: [
      { long: 'json', text: 'the status as the daemon sends it (JSON)' },
      ...CONTROL_OPTIONS,
    ],
    details: `One line per instance: state, priorities, master, last transition, faults and
counters. ${CONTROL_EXIT}`,
  },
  {
    name: 'demote',
    synopsis: ['INSTANCE', '[--for SECONDS]', CONTROL_SYNOPSIS],
    summary: 'maintenance: an instance resigns and stays out of the election',
    options: [
      {
        long: 'for',
        value: 'SECONDS',
        text: 'rejoin the election after SECONDS (at most 604800, 7 days); default: when promoted',
      },
      ...CONTROL_OPTIONS,
    ],
    details: `INSTANCE resigns (its backup takes over at once) and stays out of the election for
SECONDS, or until vipd promote. ${CONTROL_EXIT}`,
  },
  {
    name: 'promote',
    synopsis: ['INSTANCE', CONTROL_SYNOPSIS],
    summary: 'end a demotion: the instance rejoins the election',
    options: CONTROL_OPTIONS,
    details: CONTROL_EXIT,
  },
  {
    name: 'reload',
    synopsis: [CONTROL_SYNOPSIS],
    summary: 'the running daemon re-reads its config file',
    options: CONTROL_OPTIONS,
    details: `As SIGHUP does: the daemon re-reads the file it was started with (--config here only
says where the socket is) and this prints what changed, or why the new config was refused (the
running one stays then). ${CONTROL_EXIT}`,
  },
  {
    name: 'cluster owner',
    synopsis: [
      'CLIENT-IP...',
      '[--sport P]',
      '[--dport P]',
      '[--down BOX,...]',
      '[--live]',
      '[--json]',
      '[--instance NAME]',
      '--config FILE',
    ],
    summary: 'which node number and which box answer a client',
    options: [
      CONFIG('the config with the cluster section (or an instance with loadSharing)'),
      {
        long: 'instance',
        value: 'NAME',
        text: "use instance NAME's loadSharing instead of the cluster section",
      },
      { long: 'sport', value: 'P', text: "the client's source port, for hash modes that use it" },
      { long: 'dport', value: 'P', text: 'the destination port, for hash modes that use it' },
      {
        long: 'down',
        value: 'BOX,...',
        text: 'with these boxes gone: the box the election converges to',
      },
      { long: 'live', text: "also whether this box's kernel answers the client now" },
      { long: 'json', text: 'one JSON object per client' },
    ],
    details: `The node number is the kernel's own hash, with the backend this box would use; the box
comes from the cluster's preference order. Clients are IPv4 or IPv6 addresses, the family of the
VIPs. Only --live reads the kernel's rules.`,
  },
  {
    name: 'import keepalived',
    synopsis: ['FILE', '[--node NAME]'],
    summary: 'convert a keepalived.conf to a vipd config',
    options: [
      {
        long: 'node',
        value: 'NAME',
        text: "node.name of the result (default: keepalived's router_id)",
      },
    ],
    details: `The vipd config (JSON) goes to stdout, one line per thing not converted (or not
exactly) to stderr as FILE:LINE: why. Includes are not followed. Exit 2 when the result is not a
valid vipd config.`,
  },
  {
    name: 'ucarp',
    synopsis: [
      '-i IF',
      '-s SRCIP',
      '-v VHID',
      '-a VIP',
      '(-p PASS | -o FILE)',
      '[-P]',
      '[-b ADVBASE]',
      '[-k ADVSKEW]',
      '[-r DEADRATIO]',
      '[-u UPSCRIPT]',
      '[-d DOWNSCRIPT]',
      '[-x XPARAM]',
      '[-z]',
      '[-n]',
      '[-D]',
      '[--vipd-socket PATH]',
      '[--vipd-metrics ADDR:PORT]',
      '[--vipd-vrrp]',
    ],
    summary: "run vipd with ucarp's command line, speaking CARP beside ucarp boxes",
    // ucarp's options are parsed as ucarp's getopt_long does (migrate/ucarp.ts), and explained
    // in the text below rather than one by one.
    options: [],
    details: `Runs vipd with ucarp's command line, speaking CARP as ucarp does: one virtual host on IF with
vhid VHID and the address VIP/32, adverts every ADVBASE + ADVSKEW/256 s (the most frequent
advertiser is master), HMAC-SHA1 of PASS (1 to 19 bytes), a backup taking over after
DEADRATIO x ADVBASE + ADVSKEW/256 s without adverts, preemption with -P, and the up/down
scripts called as ucarp calls them: UPSCRIPT IF VIP [XPARAM] on becoming master, DOWNSCRIPT IF
VIP [XPARAM] on leaving it (and on entering backup at start-up). A ucarp box and a vipd ucarp
box with the same -v, -p and -a hear each other and elect one master, so a pair can move one
box at a time. vipd's own --vipd-socket (for vipd status/demote) and --vipd-metrics are off
unless given: ucarp runs one process per VIP, and those would share one default socket and port.

Rolling migration of a ucarp pair (one box at a time, never ucarp and vipd on one box):
  1. On the backup: stop ucarp, start vipd ucarp with the same command line plus
     --vipd-socket PATH (e.g. as a systemd unit like config/vipd.service).
  2. Check it: \`vipd status --socket PATH\` says BACKUP, and its log has no
     "ucarp-mapping-note" you did not expect and no rejected packets (carp-auth means another
     password, vhid or address); the master stays master.
  3. On the master: stop ucarp. ucarp sends nothing when it stops, so the vipd box takes over
     after DEADRATIO x ADVBASE + ADVSKEW/256 s (3 s and a bit by default). Without -z ucarp
     runs no down script and leaves the VIP on the box: start vipd ucarp at once (its start
     runs the down script and removes VIP/32) or run the down script by hand. Stopping ucarp
     while its box is backup costs no takeover at all.
  4. Start vipd ucarp there with its command line; with -P and the lower -k it takes the VIP
     back, otherwise it stays backup.
From then on a graceful stop (SIGTERM) of a vipd master sends an advert with advbase 255 and
advskew 255: a backup (vipd or ucarp) takes over on reading it, not after its dead interval.

Differences to know:
  - vipd adds and removes the VIP itself (ip addr replace/del of VIP/32); the scripts run in
    addition. A script that adds the VIP with another prefix (ip addr add VIP/24) adds a second
    entry, which it removes again in its down script; one that adds VIP/32
    (or the bare address) fails with "Address already assigned" and must tolerate it.
  - like ucarp, a script's exit status does not matter: a failure is logged and the transition
    stands (the down script also runs at start-up, when there is no VIP to delete).
  - scripts are killed after 10 s; ucarp waits for them forever.
  - on SIGTERM/SIGINT vipd always releases (advbase 255/advskew 255 advert, down script, VIP
    removed), as ucarp does with -z (which sends no advert); -n (no down script at start-up)
    is not supported.
  - vipd sends from IF's primary address, not from -s; CARP breaks a tie of equal advbase and
    advskew by source address, so give the boxes different -k.
  - -k 255 becomes 254 (255 with advbase 255 is the advert of a stopping box); -b must be 1 to
    255 (ucarp's sub-second -b 0 -k N is not supported).
  - -m other than 224.0.0.18 is refused: vipd joins 224.0.0.18 only, and a ucarp box drops
    adverts sent to another group. -M (ucarp sends to Ethernet broadcast, IP still to
    224.0.0.18): vipd hears those and sends multicast itself.
  - -S and -f have no vipd equivalent and are ignored with a warning; -B is refused: run vipd
    in the foreground under systemd.

--vipd-vrrp: VRRPv2 instead of CARP (VRID = VHID, priority 255 - ADVSKEW clamped to 1..254,
adverts every ADVBASE s, a password of 1 to 8 bytes sent as VRRPv2's clear-text password, none
if longer; -r, -m and -M ignored with a warning). ucarp does not hear VRRP: switch every box of
the pair together.`,
  },
  {
    name: 'help',
    synopsis: ['[COMMAND]'],
    summary: "print vipd's usage, or COMMAND's (as vipd COMMAND --help does)",
    options: [],
    details: '',
  },
  {
    name: 'version',
    synopsis: [],
    summary: 'print the version of vipd and of Node.js (as vipd --version does)',
    options: [],
    details: '',
  },
] as const satisfies readonly CommandHelp[];

export type Command = (typeof COMMANDS)[number];
export type CommandName = Command['name'];

const WIDTH = 100;

/** `-c, --config FILE`, `--live`. */
export function optionFlags(o: OptionHelp): string {
  const long = `--${o.long}${o.value === undefined ? '' : ` ${o.value}`}`;
  return o.short === undefined ? long : `-${o.short}, ${long}`;
}

/** Units filled into lines of at most WIDTH columns after `head`, continuation lines indented. */
function fill(units: readonly string[], head: string, indent: number): string {
  const lines: string[] = [];
  let line = head;
  let first = true;
  for (const unit of units) {
    if (!first && line.length + 1 + unit.length > WIDTH) {
      lines.push(line);
      line = `${' '.repeat(indent)}${unit}`;
    } else {
      line = first && (line === '' || line.endsWith(' ')) ? `${line}${unit}` : `${line} ${unit}`;
    }
    first = false;
  }
  lines.push(line);
  return lines.join('\n');
}

/** Two columns, the right one filled beside the left (below it when the left is too wide). */
function table(rows: readonly (readonly [string, string])[]): string {
  const column = 2 + Math.min(28, Math.max(...rows.map(([l]) => l.length))) + 2;
  return rows
    .map(([l, r]) => {
      const left = `  ${l}`;
      const words = r.split(' ');
      if (left.length + 2 <= column) return fill(words, left.padEnd(column), column);
      return `${left}\n${fill(words, ' '.repeat(column), column)}`;
    })
    .join('\n');
}

const optionRows = (options: readonly OptionHelp[]): [string, string][] =>
  options.map((o) => [optionFlags(o), o.text]);

/** `usage: vipd NAME SYNOPSIS` (`lead` replaces `usage: `), wrapped under the first argument. */
function usageLine(c: CommandHelp, lead = 'usage: '): string {
  const head = `${lead}${PROGRAM.name} ${c.name}`;
  return fill(c.synopsis, head, head.length + 1);
}

/** What follows a usage error: the synopsis and the options, no details. */
export function commandUsage(c: CommandHelp): string {
  return `${usageLine(c)}\n\noptions:\n${table(optionRows([...c.options, HELP_OPTION]))}`;
}

/** A piece of `details`: filled text, a line kept as written, or a paragraph break. */
export type DetailBlock =
  | { readonly kind: 'text'; readonly words: readonly string[] }
  | { readonly kind: 'verbatim'; readonly line: string }
  | { readonly kind: 'break' };

/**
 * `details` as its pieces: each run of unindented lines one text block, an indented line
 * verbatim, an empty line a break. The terminal and the man page render these their own way.
 */
export function detailBlocks(details: string): DetailBlock[] {
  const out: DetailBlock[] = [];
  let words: string[] = [];
  const flush = (): void => {
    if (words.length > 0) out.push({ kind: 'text', words });
    words = [];
  };
  for (const line of details.split('\n')) {
    if (line === '' || line.startsWith(' ')) {
      flush();
      out.push(line === '' ? { kind: 'break' } : { kind: 'verbatim', line });
    } else {
      words.push(...line.split(' ').filter((w) => w !== ''));
    }
  }
  flush();
  return out;
}

/** Details as printed: each run of unindented lines filled to WIDTH, indented lines kept. */
function reflow(details: string): string {
  return detailBlocks(details)
    .map((b) => (b.kind === 'text' ? fill(b.words, '', 0) : b.kind === 'verbatim' ? b.line : ''))
    .join('\n');
}

/** `vipd COMMAND --help`: the summary, the usage and the details. */
export function commandHelp(c: CommandHelp): string {
  const details = c.details === '' ? '' : `\n\n${reflow(c.details)}`;
  return `${PROGRAM.name} ${c.name}: ${c.summary}\n\n${commandUsage(c)}${details}`;
}

/** The command called `name`. */
export function command(name: CommandName): Command {
  const found = COMMANDS.find((c) => c.name === name);
  if (found === undefined) throw new Error(`help.ts has no command ${name}`);
  return found;
}

/** The commands a first word starts: one, or the group (`cluster`: `cluster owner`). */
export function commandsUnder(word: string): Command[] {
  return COMMANDS.filter((c) => c.name === word || c.name.startsWith(`${word} `));
}

/** The usage of a group of commands (all of them for the top level). */
export function listUsage(commands: readonly CommandHelp[]): string {
  return commands.map((c, i) => usageLine(c, i === 0 ? 'usage: ' : '       ')).join('\n');
}

/** `vipd --help`: what vipd is, its commands with their summaries, the global options. */
export function topLevelHelp(): string {
  const commands = table(COMMANDS.map((c): [string, string] => [c.name, c.summary]));
  const options = table(optionRows([HELP_OPTION, VERSION_OPTION]));
  const exits = table(EXIT_STATUS.map((e): [string, string] => [String(e.code), e.text]));
  return `${PROGRAM.name}: ${PROGRAM.summary}

usage: ${PROGRAM.name} COMMAND [ARGS...]
       ${PROGRAM.name} COMMAND --help

commands:
${commands}

options:
${options}

exit status:
${exits}`;
}

/** `vipd --version`: vipd's version (package.json's), then the Node.js running it. */
export function versionText(vipd: string, node: string): string {
  return `${PROGRAM.name} ${vipd}\nNode.js ${node}`;
}

/** The top level's usage after an error: the synopsis of every command. */
export function topLevelUsage(): string {
  return listUsage(COMMANDS);
}

/**
 * Whether `args` ask for help: -h or --help before a `--`, not as the value of an option that
 * takes one (`--config --help` names a file).
 */
export function asksForHelp(c: CommandHelp, args: readonly string[]): boolean {
  const takesValue = (arg: string): boolean =>
    c.options.some(
      (o) => o.value !== undefined && (arg === `--${o.long}` || arg === `-${o.short ?? '-'}`),
    );
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
    if (takesValue(arg)) i++;
  }
  return false;
}
