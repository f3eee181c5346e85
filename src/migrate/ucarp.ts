/**
 * `vipd ucarp [ucarp's flags]`: vipd run with ucarp's command line, so a ucarp pair can be
 * replaced one box at a time, keeping its up/down scripts.
 *
 * Contract:
 * - `ucarpToConfig(argv, opts)` is pure (the password file is read through `opts.readPassFile`):
 *   ucarp 1.5's options, parsed as its getopt_long does (`-i eth0`, `-ieth0`, `--interface=eth0`,
 *   `--interface eth0`, unique prefixes such as `--inter`, grouped flags such as `-Pz`), become a
 *   one-instance vipd config document, with one note per thing that maps only approximately or
 *   not at all. By default the instance speaks CARP (`protocol: "carp"`, the same vhid,
 *   password, address, advbase, advskew and dead ratio), so it runs beside a ucarp box;
 *   `--vipd-vrrp` maps to a VRRPv2 instance instead (priority 255 - advskew), for pairs that
 *   switch together. A command line ucarp itself would refuse (no interface, vhid, address,
 *   source address or password, a password over 19 bytes), or that vipd cannot honour (-B,
 *   several -a, -b 0, a CARP group other than 224.0.0.18), throws a UsageError naming the flag.
 * - `prepareUcarpRun(argv)` is the command's start: it maps, validates with `parseConfig`, logs
 *   the mapping and its notes (JSON lines, like the daemon's), and writes the config to a private
 *   temporary file for `vipd run`'s own start path; the caller removes it with `cleanup()`.
 *
 * What stays different (also in UCARP_HELP): vipd manages the VIP itself (the scripts run in
 * addition), and releases on SIGTERM with an advbase 255/advskew 255 advert (ucarp sends
 * nothing). Like ucarp, vipd ignores the scripts' exit status in this mode
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
import { command, commandHelp } from '../help.js';
import { CARP_GROUP, CARP_MAX_PASSWORD } from '../carp/packet.js';

/** `vipd ucarp --help`: the text lives in help.ts, with every other command's. */
export const UCARP_HELP = commandHelp(command('ucarp'));

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
  // VRRP instead of CARP, for a pair that switches together (what vipd ucarp did before CARP).
  { short: '', long: 'vipd-vrrp', value: false },
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

/** Reading the parsed command line: values by long name, checked, with the notes gathered. */
class UcarpArgs {
  readonly notes: string[] = [];
  constructor(
    private readonly given: Map<string, string[]>,
    private readonly cwd: string,
  ) {}

  has(long: string): boolean {
    return this.given.has(long);
  }

  count(long: string): number {
    return this.given.get(long)?.length ?? 0;
  }

  /** getopt: the last of a repeated option wins. */
  last(long: string): string | undefined {
    return this.given.get(long)?.at(-1);
  }

  flag(long: string): string {
    return flag(OPTIONS.find((o) => o.long === long) as OptionSpec);
  }

  integer(long: string, min: number, max: number, dflt: number, why = ''): number {
    const v = this.last(long);
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw usage(`${this.flag(long)} must be an integer from ${min} to ${max}${why}, got "${v}"`);
    return Number(v);
  }

  address(long: string): string {
    const v = this.last(long) as string;
    if (!isIpv4(v)) throw usage(`${this.flag(long)} must be an IPv4 address, got "${v}"`);
    return v;
  }

  script(long: string): string | null {
    const v = this.last(long);
    if (v === undefined) return null;
    if (v === '') throw usage(`${this.flag(long)} needs a script path`);
    if (isAbsolute(v)) return v;
    const path = resolve(this.cwd, v);
    this.notes.push(`${this.flag(long)} ${v}: vipd needs absolute paths; using ${path}`);
    return path;
  }
}

/** The instance keys that depend on the protocol, and what a graceful stop sends. */
interface Wire {
  keys: Record<string, unknown>;
  release: string;
}

/** -b and -k as given (ucarp's ranges), -b in whole seconds: `why` says why not below 1. */
function timing(a: UcarpArgs, why: string): { advbase: number; advskew: number } {
  return {
    advbase: a.integer(
      'advbase',
      1,
      255,
      1,
      ` (${why}; ucarp's sub-second -b 0 -k N is not supported)`,
    ),
    advskew: a.integer('advskew', 0, 255, 0),
  };
}

/** CARP as ucarp speaks it: the same numbers, so a ucarp peer and this box elect one master. */
function carpWire(a: UcarpArgs, vhid: number, password: string): Wire {
  const { advbase, advskew: skew } = timing(a, "vipd's CARP advertises in whole seconds");
  const deadRatio = a.integer('deadratio', 1, 255, 3);
  const mcast = a.last('mcastip');
  if (mcast !== undefined && mcast !== CARP_GROUP) {
    throw usage(
      `-m/--mcastip ${mcast} is not supported: vipd joins and sends to ${CARP_GROUP} only, and a ucarp box drops adverts sent to any group but its own; use --vipd-vrrp and switch every box of the pair together`,
    );
  }
  // 255 is left out of vipd's range: advbase 255 with advskew 255 is a stopping box's last
  // advert, which every backup takes as "master gone".
  const advskew = Math.min(skew, 254);
  if (advskew !== skew) {
    a.notes.push(
      `-k 255: vipd advertises with advskew 254 (255 is kept for the advert of a stopping box): it ties with a -k 254 box, and CARP breaks the tie by source address`,
    );
  }
  if (a.has('nomcast')) {
    a.notes.push(
      `-M/--nomcast: ucarp sent its adverts to the Ethernet broadcast address (IP destination ${CARP_GROUP}); vipd hears such adverts but sends its own to the multicast group, which a ucarp -M box hears only if its interface passes that group (ucarp -M joins none)`,
    );
  }
  return {
    keys: { vrid: vhid, protocol: 'carp', carp: { password, advbase, advskew, deadRatio } },
    release: 'advert with advbase 255/advskew 255',
  };
}

/** `--vipd-vrrp`: VRRPv2 ranked like CARP; ucarp does not hear it. */
function vrrpWire(a: UcarpArgs, vhid: number, password: string): Wire {
  const { advbase, advskew } = timing(a, 'VRRPv2 adverts carry whole seconds');
  // CARP elects the box that advertises most often: every advbase + advskew/256 s, so among
  // boxes with the same advbase the lowest advskew is master. VRRP elects the highest priority.
  // 255 - advskew keeps that order. It is clamped to 1..254 because 255 means "address owner"
  // in VRRP (master at once, never yields) and 0 means "resigning", neither of which CARP's
  // skew expresses; so skews 0 and 1 (and 254 and 255) tie, and ties go to the higher address.
  const priority = Math.min(Math.max(255 - advskew, 1), 254);
  a.notes.push(
    `-b ${advbase} -k ${advskew}: CARP advertises every ${advbase} + ${advskew}/256 s and the most frequent advertiser is master; vipd uses VRRP timing: adverts every ${advbase} s, priority ${priority} (255 - advskew) ranks the boxes the same way. Every box must use the same -b: VRRPv2 drops adverts with another interval`,
  );
  if (priority !== 255 - advskew) {
    a.notes.push(
      `-k ${advskew}: priority clamped to ${priority} (VRRP reserves 255 for the address owner and 0 for resigning): it ties with -k ${advskew <= 1 ? 1 - advskew : 509 - advskew}, broken by the higher primary address`,
    );
  }
  const bytes = Buffer.byteLength(password);
  const authPassword = bytes <= 8 ? password : undefined;
  a.notes.push(
    authPassword === undefined
      ? `password: ${bytes} bytes, and VRRPv2's password field holds 8: vipd sends none rather than part of the secret in clear text (boxes converted from the same command line still agree)`
      : 'password: VRRPv2 sends it in clear text (ucarp sent only an HMAC of it): it keeps misconfigured peers apart, it protects nothing',
  );
  a.notes.push(
    `--vipd-vrrp: VRRP is not CARP: ucarp boxes will not hear this one (vhid ${vhid} is VRID ${vhid} here); switch every box of the pair to vipd together`,
  );
  if (a.has('deadratio'))
    a.notes.push(
      `-r/--deadratio ${a.last('deadratio')}: not supported with --vipd-vrrp: a backup takes over after VRRP's 3 x ${advbase} s + skew without adverts`,
    );
  const mcast = a.last('mcastip');
  if (mcast !== undefined && mcast !== CARP_GROUP)
    a.notes.push(
      `-m/--mcastip ${mcast}: not supported: vipd sends to ${CARP_GROUP} (a vipd config can use unicastPeers instead)`,
    );
  if (a.has('nomcast'))
    a.notes.push(`-M/--nomcast: not supported: vipd sends to ${CARP_GROUP}, never broadcast`);
  return {
    keys: {
      vrid: vhid,
      priority,
      version: 2,
      advertInterval: advbase,
      ...(authPassword === undefined ? {} : { authPassword }),
    },
    release: 'priority-0 advert',
  };
}

/** -p, or the first line of -o's file (ucarp reads it so), within ucarp's own limits. */
function readPassword(a: UcarpArgs, readPassFile: UcarpOptions['readPassFile']): string {
  let password: string;
  if (a.has('passfile')) {
    const file = a.last('passfile') as string;
    if (readPassFile === undefined) throw usage('-o/--passfile cannot be read here');
    let text: string;
    try {
      text = readPassFile(file);
    } catch (err) {
      throw usage(`-o/--passfile ${file}: cannot read it: ${(err as Error).message}`);
    }
    password = text.split('\n')[0] ?? '';
  } else password = a.last('pass') as string;
  if (password === '') throw usage('the password is empty (ucarp refuses to run without one)');
  const bytes = Buffer.byteLength(password);
  if (bytes > CARP_MAX_PASSWORD) {
    throw usage(
      `the password is ${bytes} bytes; ucarp takes at most ${CARP_MAX_PASSWORD} (it says "Password too long" and exits), so no ucarp box runs with it`,
    );
  }
  return password;
}

export function ucarpToConfig(argv: readonly string[], opts: UcarpOptions = {}): UcarpMapping {
  const a = new UcarpArgs(parseUcarpArgs(argv), opts.cwd ?? process.cwd());
  const notes = a.notes;

  if (a.has('daemonize')) {
    throw usage(
      '-B/--daemonize is not supported: vipd runs in the foreground; run it under systemd (like config/vipd.service) or another supervisor',
    );
  }
  if (a.count('addr') > 1) {
    throw usage(
      `-a/--addr given ${a.count('addr')} times: ucarp manages one address (the last -a); run one vipd ucarp per address, or write a vipd config listing them all`,
    );
  }
  if (a.has('pass') && a.has('passfile')) throw usage('give -p/--pass or -o/--passfile, not both');

  const required: [string, string][] = [
    ['interface', 'the interface ucarp bound to, e.g. -i eth0'],
    ['srcip', "this box's own address on that interface, e.g. -s 10.0.0.2"],
    ['vhid', 'the virtual host id, 1..255'],
    ['addr', 'the virtual address, e.g. -a 10.0.0.100'],
  ];
  const missing = required
    .filter(([long]) => !a.has(long))
    .map(([long, what]) => `${a.flag(long)} is required (${what})`);
  if (!a.has('pass') && !a.has('passfile'))
    missing.push(
      '-p/--pass or -o/--passfile is required (ucarp refuses to run without a password)',
    );
  if (missing.length > 0) throw usage(missing.join('; '));

  const iface = a.last('interface') as string;
  if (iface === '') throw usage('-i/--interface needs an interface name');
  const srcip = a.address('srcip');
  const vaddr = a.address('addr');
  const vhid = a.integer('vhid', 1, 255, 0);
  const password = readPassword(a, opts.readPassFile);
  const wire = a.has('vipd-vrrp') ? vrrpWire(a, vhid, password) : carpWire(a, vhid, password);

  const up = a.script('upscript');
  const down = a.script('downscript');
  if (up !== null || down !== null) {
    notes.push(
      'scripts: vipd adds and removes the VIP itself and runs the scripts in addition; as with ucarp, their exit status is logged but does not fail a transition',
    );
  }
  notes.push(
    a.has('shutdown')
      ? `-z/--shutdown: vipd runs the down script when it stops as master, as ucarp does (and sends an ${wire.release} first, which ucarp does not)`
      : `no -z/--shutdown: ucarp would leave the VIP up when it exits; vipd always releases on SIGTERM/SIGINT (${wire.release}, down script, VIP removed)`,
  );
  if (a.has('neutral'))
    notes.push(
      '-n/--neutral: not supported: vipd runs the down script when it enters backup at start-up (it makes sure the box holds no VIP)',
    );
  if (a.has('ignoreifstate')) notes.push('-S/--ignoreifstate: no vipd equivalent; ignored');
  if (a.has('facility'))
    notes.push(
      `-f/--facility ${a.last('facility')}: vipd logs JSON lines to stdout (journald), not to syslog; ignored`,
    );

  const socket = a.last('vipd-socket') ?? null;
  const metrics = a.last('vipd-metrics') ?? null;
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
    log: { level: a.has('debug') ? 'debug' : 'info' },
    control: { socket },
    metrics: { listen: metrics },
    instances: [
      {
        name: `ucarp-vhid-${vhid}`,
        interface: iface,
        ...wire.keys,
        preempt: a.has('preempt'),
        vips: [`${vaddr}/32`],
        // ucarp never looks at its scripts' exit status; Debian's example down script fails
        // at start-up (the address is not there yet) and must not put the box in FAULT.
        hooks: { up, down, extra: a.last('xparam') ?? null, perVip: true, onFailure: 'ignore' },
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
