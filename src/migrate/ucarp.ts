/**
 * `vipd ucarp [ucarp's flags]`: vipd run with ucarp's command line, so a box can swap ucarp for
 * vipd and keep its up/down scripts.
 *
 * Contract:
 * - `ucarpToConfig(argv, opts)` is pure (the password file is read through `opts.readPassFile`):
 *   ucarp 1.5's options, parsed as its getopt_long does (`-i eth0`, `-ieth0`, `--interface=eth0`,
 *   `--interface eth0`, unique prefixes such as `--inter`, grouped flags such as `-Pz`), become a
 *   one-instance vipd config document, with one note per thing that maps only approximately or
 *   not at all. A command line ucarp itself would refuse (no interface, vhid, address, source
 *   address or password), or that vipd cannot honour (-B, several -a), throws a UsageError
 *   naming the flag.
 * - `prepareUcarpRun(argv)` is the command's start: it maps, validates with `parseConfig`, logs
 *   the mapping and its notes (JSON lines, like the daemon's), and writes the config to a private
 *   temporary file for `vipd run`'s own start path; the caller removes it with `cleanup()`.
 *
 * What stays different (also in UCARP_HELP): CARP is not VRRP, so ucarp and vipd do not hear
 * each other and every box of a pair must switch together; vipd manages the VIP itself (the
 * scripts run in addition). Like ucarp, vipd ignores the scripts' exit status in this mode
 * (`hooks.onFailure: "ignore"`: a failure is logged, the transition stands).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseConfig } from '../config/config.js';
import { instanceFileShape } from '../config/instance.js';
import { createLogger } from '../log.js';
import { isIpv4 } from '../net/address.js';
import { primaryAddress, readInterface } from '../net/interface.js';
import { UsageError } from '../usage.js';

export const UCARP_HELP = `usage: vipd ucarp -i IF -s SRCIP -v VHID -a VIP (-p PASS | -o FILE) [-P] [-b ADVBASE]
                  [-k ADVSKEW] [-u UPSCRIPT] [-d DOWNSCRIPT] [-x XPARAM] [-z] [-n] [-D]
                  [--vipd-socket PATH] [--vipd-metrics ADDR:PORT]

Runs vipd with ucarp's command line: one virtual router on IF with VRID = VHID and the VIP
VIP/32, VRRPv2 adverts every ADVBASE s (default 1), priority 255 - ADVSKEW (clamped to 1..254:
the lower skew wins, as in CARP), preemption with -P, and the up/down scripts called as ucarp
calls them: UPSCRIPT IF VIP [XPARAM] on becoming master, DOWNSCRIPT IF VIP [XPARAM] on leaving it
(and on entering backup at start-up). The password (1 to 8 bytes) becomes VRRPv2's plain-text
password. vipd's own --vipd-socket (for vipd status/demote) and --vipd-metrics are off unless
given: ucarp runs one process per VIP, and those would share one default socket and port.

Not ucarp on the wire: CARP (ucarp) and VRRP (vipd) share IP protocol 112 and 224.0.0.18 but not
the packet format or the HMAC, so a ucarp box and a vipd box do not hear each other and both
become master. Switch every box of a pair to vipd together.

Differences to know:
  - vipd adds and removes the VIP itself (ip addr replace/del of VIP/32); the scripts run in
    addition. A script that adds the VIP with another prefix (ip addr add VIP/24) adds a second
    entry, which it removes again in its down script; one that adds VIP/32
    (or the bare address) fails with "Address already assigned" and must tolerate it.
  - like ucarp, a script's exit status does not matter: a failure is logged and the transition
    stands (the down script also runs at start-up, when there is no VIP to delete).
  - scripts are killed after 10 s; ucarp waits for them forever.
  - on SIGTERM/SIGINT vipd always releases (priority-0 advert, down script, VIP removed), as
    ucarp does with -z; -n (no down script at start-up) is not supported.
  - -r (dead ratio), -m, -M, -S and -f have no VRRP equivalent and are ignored with a warning;
    -B is refused: run vipd in the foreground under systemd.`;

interface OptionSpec {
  short: string;
  long: string;
  value: boolean;
}

/** ucarp 1.5.2's options (ucarp_p.h); ucarp's help says --mcast, getopt_long takes it as a prefix. */
const OPTIONS: readonly OptionSpec[] = [
  { short: 'i', long: 'interface', value: true },
  { short: 's', long: 'srcip', value: true },
  { short: 'm', long: 'mcastip', value: true },
  { short: 'v', long: 'vhid', value: true },
  { short: 'p', long: 'pass', value: true },
  { short: 'o', long: 'passfile', value: true },
  { short: 'P', long: 'preempt', value: false },
  { short: 'n', long: 'neutral', value: false },
  { short: 'a', long: 'addr', value: true },
  { short: 'h', long: 'help', value: false },
  { short: 'b', long: 'advbase', value: true },
  { short: 'k', long: 'advskew', value: true },
  { short: 'u', long: 'upscript', value: true },
  { short: 'd', long: 'downscript', value: true },
  { short: 'r', long: 'deadratio', value: true },
  { short: 'D', long: 'debug', value: false },
  { short: 'z', long: 'shutdown', value: false },
  { short: 'B', long: 'daemonize', value: false },
  { short: 'S', long: 'ignoreifstate', value: false },
  { short: 'M', long: 'nomcast', value: false },
  { short: 'f', long: 'facility', value: true },
  { short: 'x', long: 'xparam', value: true },
  // vipd's own, long only: ucarp had neither, and one vipd ucarp per VIP would fight over the
  // default socket and port, so both are off unless asked for.
  { short: '', long: 'vipd-socket', value: true },
  { short: '', long: 'vipd-metrics', value: true },
];

const flag = (o: OptionSpec): string => (o.short === '' ? '' : `-${o.short}/`) + `--${o.long}`;

function usage(message: string): UsageError {
  return new UsageError(`ucarp: ${message} (vipd ucarp --help)`);
}

/** Exact long name first, then a unique prefix: getopt_long's rule. */
function longOption(name: string): OptionSpec {
  const exact = OPTIONS.find((o) => o.long === name);
  if (exact !== undefined) return exact;
  const matches = OPTIONS.filter((o) => o.long.startsWith(name));
  if (matches.length === 1 && matches[0] !== undefined && name !== '') return matches[0];
  if (matches.length > 1 && name !== '')
    throw usage(`--${name} is ambiguous: ${matches.map((o) => `--${o.long}`).join(', ')}`);
  throw usage(`unknown option --${name}`);
}

/** One option on the command line; `at` is the argv index holding its value (or the flag). */
interface Occurrence {
  option: OptionSpec;
  value: string;
  at: number;
}

/** ucarp's options in command-line order ('' as the value of a flag). */
function scanUcarpArgs(argv: readonly string[]): Occurrence[] {
  const found: Occurrence[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    // The value is the rest of this argument, or else the whole next one.
    const take = (option: OptionSpec, inline: string | undefined): void => {
      const at = inline === undefined ? ++i : i;
      const value = inline ?? argv[at];
      if (value === undefined) throw usage(`${flag(option)} needs a value`);
      found.push({ option, value, at });
    };
    if (arg === '--') {
      if (i + 1 < argv.length) throw usage(`unexpected argument "${argv[i + 1]}"`);
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const option = longOption(arg.slice(2, eq === -1 ? undefined : eq));
      const inline = eq === -1 ? undefined : arg.slice(eq + 1);
      if (option.value) take(option, inline);
      else if (inline !== undefined) throw usage(`${flag(option)} takes no value`);
      else found.push({ option, value: '', at: i });
    } else if (arg.startsWith('-') && arg.length > 1) {
      // A group of flags (-Pz); an option with a value ends the group (-ieth0, -Pi eth0).
      for (let j = 1; j < arg.length; j++) {
        const option = OPTIONS.find((o) => o.short !== '' && o.short === arg[j]);
        if (option === undefined) throw usage(`unknown option -${arg[j]}`);
        if (!option.value) {
          found.push({ option, value: '', at: i });
          continue;
        }
        take(option, j + 1 < arg.length ? arg.slice(j + 1) : undefined);
        break;
      }
    } else throw usage(`unexpected argument "${arg}": ucarp takes options only`);
  }
  return found;
}

/** Every option given, by long name, with its values in order. */
function parseUcarpArgs(argv: readonly string[]): Map<string, string[]> {
  const given = new Map<string, string[]>();
  for (const { option, value } of scanUcarpArgs(argv))
    given.set(option.long, [...(given.get(option.long) ?? []), value]);
  return given;
}

export interface UcarpOptions {
  /** node.name (vipd's log label); default 'vipd'. */
  nodeName?: string;
  /** Relative script paths are resolved against this, as ucarp's exec would; default process.cwd(). */
  cwd?: string;
  /** Reads -o/--passfile; without it -o is refused. */
  readPassFile?: (path: string) => string;
}

export interface UcarpMapping {
  config: unknown;
  notes: string[];
  /** -s: ucarp's source address (vipd sends from the interface's primary address). */
  srcip: string;
}

/** True when the command line asks for help (-h/--help), whatever else it says. */
export function wantsUcarpHelp(argv: readonly string[]): boolean {
  return parseUcarpArgs(argv).has('help');
}

export function ucarpToConfig(argv: readonly string[], opts: UcarpOptions = {}): UcarpMapping {
  const given = parseUcarpArgs(argv);
  const spec = (long: string): OptionSpec => OPTIONS.find((o) => o.long === long) as OptionSpec;
  // getopt: the last of a repeated option wins.
  const last = (long: string): string | undefined => given.get(long)?.at(-1);
  const has = (long: string): boolean => given.has(long);
  const notes: string[] = [];

  if (has('daemonize')) {
    throw usage(
      '-B/--daemonize is not supported: vipd runs in the foreground; run it under systemd (like config/vipd.service) or another supervisor',
    );
  }
  if ((given.get('addr')?.length ?? 0) > 1) {
    throw usage(
      `-a/--addr given ${given.get('addr')?.length} times: ucarp manages one address (the last -a); run one vipd ucarp per address, or write a vipd config listing them all`,
    );
  }
  if (has('pass') && has('passfile')) throw usage('give -p/--pass or -o/--passfile, not both');

  const required: [string, string][] = [
    ['interface', 'the interface ucarp bound to, e.g. -i eth0'],
    ['srcip', "this box's own address on that interface, e.g. -s 10.0.0.2"],
    ['vhid', 'the virtual host id, 1..255; it becomes the VRID'],
    ['addr', 'the virtual address, e.g. -a 10.0.0.100'],
  ];
  const missing = required
    .filter(([long]) => !has(long))
    .map(([long, what]) => `${flag(spec(long))} is required (${what})`);
  if (!has('pass') && !has('passfile'))
    missing.push(
      '-p/--pass or -o/--passfile is required (ucarp refuses to run without a password)',
    );
  if (missing.length > 0) throw usage(missing.join('; '));

  const integer = (long: string, min: number, max: number, dflt: number, why = ''): number => {
    const v = last(long);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw usage(`${flag(spec(long))} must be an integer from ${min} to ${max}${why}, got "${v}"`);
    return Number(v);
  };
  const address = (long: string): string => {
    const v = last(long) as string;
    if (!isIpv4(v)) throw usage(`${flag(spec(long))} must be an IPv4 address, got "${v}"`);
    return v;
  };
  const script = (long: string): string | null => {
    const v = last(long);
    if (v === undefined) return null;
    if (v === '') throw usage(`${flag(spec(long))} needs a script path`);
    if (isAbsolute(v)) return v;
    const path = resolve(opts.cwd ?? process.cwd(), v);
    notes.push(`${flag(spec(long))} ${v}: vipd needs absolute paths; using ${path}`);
    return path;
  };

  const iface = last('interface') as string;
  if (iface === '') throw usage('-i/--interface needs an interface name');
  const srcip = address('srcip');
  const vaddr = address('addr');
  const vhid = integer('vhid', 1, 255, 0);
  const advbase = integer(
    'advbase',
    1,
    255,
    1,
    " (VRRPv2 adverts carry whole seconds; ucarp's sub-second -b 0 -k N has no VRRPv2 equivalent)",
  );
  const advskew = integer('advskew', 0, 255, 0);

  // CARP elects the box that advertises most often: every advbase + advskew/256 s, so among
  // boxes with the same advbase the lowest advskew is master. VRRP elects the highest priority.
  // 255 - advskew keeps that order. It is clamped to 1..254 because 255 means "address owner"
  // in VRRP (master at once, never yields) and 0 means "resigning", neither of which CARP's
  // skew expresses; so skews 0 and 1 (and 254 and 255) tie, and ties go to the higher address.
  const priority = Math.min(Math.max(255 - advskew, 1), 254);
  notes.push(
    `-b ${advbase} -k ${advskew}: CARP advertises every ${advbase} + ${advskew}/256 s and the most frequent advertiser is master; vipd uses VRRP timing: adverts every ${advbase} s, priority ${priority} (255 - advskew) ranks the boxes the same way. Every box must use the same -b: VRRPv2 drops adverts with another interval`,
  );
  if (priority !== 255 - advskew) {
    notes.push(
      `-k ${advskew}: priority clamped to ${priority} (VRRP reserves 255 for the address owner and 0 for resigning): it ties with -k ${advskew <= 1 ? 1 - advskew : 509 - advskew}, broken by the higher primary address`,
    );
  }

  let password: string;
  if (has('passfile')) {
    const file = last('passfile') as string;
    if (opts.readPassFile === undefined) throw usage('-o/--passfile cannot be read here');
    let text: string;
    try {
      text = opts.readPassFile(file);
    } catch (err) {
      throw usage(`-o/--passfile ${file}: cannot read it: ${(err as Error).message}`);
    }
    // ucarp reads the first line and drops its newline.
    password = text.split('\n')[0] ?? '';
  } else password = last('pass') as string;
  if (password === '') throw usage('the password is empty (ucarp refuses to run without one)');
  const bytes = Buffer.byteLength(password);
  const authPassword = bytes <= 8 ? password : undefined;
  notes.push(
    authPassword === undefined
      ? `password: ${bytes} bytes, and VRRPv2's password field holds 8: vipd sends none rather than part of the secret in clear text (boxes converted from the same command line still agree)`
      : 'password: VRRPv2 sends it in clear text (ucarp sent only an HMAC of it): it keeps misconfigured peers apart, it protects nothing',
  );
  notes.push(
    `CARP is not VRRP: ucarp boxes will not hear this one (vhid ${vhid} is VRID ${vhid} here); switch every box of the pair to vipd together`,
  );

  const up = script('upscript');
  const down = script('downscript');
  if (up !== null || down !== null) {
    notes.push(
      'scripts: vipd adds and removes the VIP itself and runs the scripts in addition; as with ucarp, their exit status is logged but does not fail a transition',
    );
  }
  notes.push(
    has('shutdown')
      ? '-z/--shutdown: vipd runs the down script when it stops as master, as ucarp does'
      : 'no -z/--shutdown: ucarp would leave the VIP up when it exits; vipd always releases on SIGTERM/SIGINT (priority-0 advert, down script, VIP removed)',
  );
  if (has('neutral'))
    notes.push(
      '-n/--neutral: not supported: vipd runs the down script when it enters backup at start-up (it makes sure the box holds no VIP)',
    );
  if (has('deadratio'))
    notes.push(
      `-r/--deadratio ${last('deadratio')}: not supported: a backup takes over after VRRP's 3 x ${advbase} s + skew without adverts`,
    );
  const mcast = last('mcastip');
  if (mcast !== undefined && mcast !== '224.0.0.18')
    notes.push(
      `-m/--mcastip ${mcast}: not supported: vipd sends to 224.0.0.18 (a vipd config can use unicastPeers instead)`,
    );
  if (has('nomcast'))
    notes.push('-M/--nomcast: not supported: vipd sends to 224.0.0.18, never broadcast');
  if (has('ignoreifstate')) notes.push('-S/--ignoreifstate: no vipd equivalent; ignored');
  if (has('facility'))
    notes.push(
      `-f/--facility ${last('facility')}: vipd logs JSON lines to stdout (journald), not to syslog; ignored`,
    );

  const socket = last('vipd-socket') ?? null;
  const metrics = last('vipd-metrics') ?? null;
  if (socket !== null && !isAbsolute(socket))
    throw usage(`--vipd-socket must be an absolute path, got "${socket}"`);
  const [host = '', port = ''] = metrics?.split(':') ?? [];
  if (metrics !== null && (!isIpv4(host) || !/^\d{1,5}$/.test(port) || Number(port) > 65535))
    throw usage(`--vipd-metrics must be ADDRESS:PORT (e.g. 127.0.0.1:9660), got "${metrics}"`);
  const off = [
    ...(socket === null ? ['no control socket (--vipd-socket PATH, for vipd status)'] : []),
    ...(metrics === null ? ['no metrics (--vipd-metrics ADDR:PORT)'] : []),
  ];
  if (off.length > 0)
    notes.push(
      `${off.join(', ')}: off unless asked for, as several vipd ucarp on one box would share one default socket and port`,
    );

  const config = {
    node: { name: opts.nodeName ?? 'vipd' },
    log: { level: has('debug') ? 'debug' : 'info' },
    control: { socket },
    metrics: { listen: metrics },
    instances: [
      {
        name: `ucarp-vhid-${vhid}`,
        interface: iface,
        vrid: vhid,
        priority,
        version: 2,
        advertInterval: advbase,
        preempt: has('preempt'),
        ...(authPassword === undefined ? {} : { authPassword }),
        vips: [`${vaddr}/32`],
        // ucarp never looks at its scripts' exit status; Debian's example down script fails
        // at start-up (the address is not there yet) and must not put the box in FAULT.
        hooks: { up, down, extra: last('xparam') ?? null, perVip: true, onFailure: 'ignore' },
      },
    ],
  };
  return { config, notes, srcip };
}

/** The command line with the password masked, for the log. */
function masked(argv: readonly string[]): string[] {
  const out = [...argv];
  for (const { option, value, at } of scanUcarpArgs(argv)) {
    const arg = out[at] as string;
    if (option.long === 'pass') out[at] = `${arg.slice(0, arg.length - value.length)}********`;
  }
  return out;
}

export type UcarpRun = { help: string } | { configPath: string; cleanup: () => void };

/** Maps, validates and logs the command line, and writes the config `vipd run` starts from. */
export async function prepareUcarpRun(argv: readonly string[]): Promise<UcarpRun> {
  if (wantsUcarpHelp(argv)) return { help: UCARP_HELP };
  const { config, notes, srcip } = ucarpToConfig(argv, {
    nodeName: hostname(),
    readPassFile: (path) => readFileSync(path, 'utf8'),
  });
  const parsed = parseConfig(config, 'vipd ucarp');
  const instance = parsed.instances[0];
  const log = createLogger(parsed.log.level, parsed.node.name);
  log.info(
    {
      event: 'ucarp-mapping',
      argv: masked(argv),
      instance: instance === undefined ? undefined : instanceFileShape(instance),
    },
    'ucarp command line mapped to a vipd instance',
  );
  for (const note of notes) log.warn({ event: 'ucarp-mapping-note', note }, note);
  if (instance !== undefined) {
    try {
      const info = await readInterface(instance.interface);
      const primary = primaryAddress(info, new Set(instance.vips.map((v) => v.address)), 4);
      if (primary.address !== srcip) {
        log.warn(
          { event: 'ucarp-srcip', srcip, primary: primary.address },
          `-s ${srcip} is not ${instance.interface}'s primary address: vipd sends its adverts from ${primary.address}`,
        );
      }
    } catch {
      // No such interface: the daemon's start reports it, with its own words.
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'vipd-ucarp-'));
  const configPath = join(dir, 'vipd.json');
  // It holds the password: the directory is 0700 (mkdtemp), the file 0600.
  writeFileSync(configPath, JSON.stringify(config, null, 2), { mode: 0o600 });
  return { configPath, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
