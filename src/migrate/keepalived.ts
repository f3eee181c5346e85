/**
 * `vipd import keepalived FILE [--node NAME]`: a keepalived.conf (keepalived 2.2's syntax and
 * defaults) turned into a vipd config document.
 *
 * Contract:
 * - `parseKeepalived(text)` reads keepalived's block syntax into statements (keyword, arguments,
 *   `{ }` block) as keepalived's own reader does: `#` and `!` start a comment anywhere outside
 *   double quotes (`\#`, `\!` are literal), a trailing `\` continues the line, `"..."` is one
 *   argument, `{` and `}` are tokens wherever they stand, and a `{` at the start of the next line
 *   still opens the block of the statement above it. Unbalanced braces become notes; blocks
 *   nested deeper than MAX_BLOCK_DEPTH throw a KeepalivedInputError (FILE:LINE: why).
 * - `convertKeepalived(text, opts)` is pure: it returns the vipd config document and one note
 *   per thing it did not (or not exactly) convert, each with the keepalived line number and why.
 *   Nothing is dropped silently: every keyword is converted, or named in a note. The document is
 *   not validated here; `importKeepalived` runs `parseConfig` on it.
 * - `importKeepalived(args, warn)` is the command: notes go to `warn` as `FILE:LINE: text`, the
 *   JSON is returned for stdout, and a document `parseConfig` refuses throws its ConfigError (the
 *   CLI prints it, exit 2). Notes alone never fail the import. A file over MAX_INPUT_BYTES is
 *   refused before it is read whole. Includes are not followed (a note says so), so they cannot
 *   loop; nothing recurses but the block reader, and that no deeper than MAX_BLOCK_DEPTH.
 *
 * keepalived's defaults are written out where vipd's differ (VRRP version 2, not 3), and its
 * start-up rules are applied where they change what runs (a MASTER without a priority is the
 * address owner, 255; state MASTER and priority 255 clear nopreempt).
 *
 * Address families as keepalived 2.2.7 decides them (vrrp_parser.c, vrrp_data.c): an instance's
 * family is set by the first of its VIPs, unicast peers, source or destination addresses and
 * native_ipv6, in the order written; VIPs and peers of the other family are dropped (keepalived
 * ignores them), excluded addresses of the other family are noted (keepalived moves them, a vipd
 * instance is one family), and an IPv6 instance runs VRRPv3. use_vmac keeps keepalived's
 * macvlan name (vrrp.VRID, with its fallbacks), so the interface keeps the name scripts know.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseConfig } from '../config/config.js';
import { ConfigError, isInterfaceName } from '../config/formats.js';
import { virtualLinkLocal } from '../config/instance.js';
import { virtualMac } from '../vrrp/vmac-address.js';
import {
  addressFamily,
  canonicalAddress,
  isLinkLocal,
  type AddressFamily,
} from '../net/address.js';
import { UsageError } from '../usage.js';

export interface KeepalivedNote {
  line: number;
  text: string;
}

export interface KeepalivedOptions {
  /** node.name; otherwise global_defs router_id, otherwise vipd's default. */
  node?: string;
  /** The input's name in a KeepalivedInputError. */
  file?: string;
}

/** One keepalived statement: a keyword, its arguments and, if it opens one, its block. */
export interface Statement {
  keyword: string;
  args: string[];
  line: number;
  block?: Statement[];
}

/**
 * How deep blocks may nest. keepalived's reader (lib/parser.c) has no explicit limit: it recurses
 * (process_stream) only along its own keyword tree, whose deepest path is 4 blocks
 * (virtual_server > real_server > HTTP_GET > url), and skips the blocks of keywords it does not
 * know by counting braces. So no config keepalived runs nests deeper than 4; 64 leaves room for
 * odd but harmless files and is far below the thousands of levels that exhaust the stack.
 */
export const MAX_BLOCK_DEPTH = 64;
/**
 * A keepalived.conf for a firewall pair is a few KiB; as for vipd's own config, 1 MiB is the wrong
 * file (or /dev/zero), refused before it is read whole. Reading 1 MiB of the worst kind (a note
 * for every byte) takes a few seconds.
 */
export const MAX_INPUT_BYTES = 1024 * 1024;

/** Input the importer will not read at all (too deeply nested, too big): FILE:LINE: why. */
export class KeepalivedInputError extends ConfigError {
  constructor(
    file: string,
    readonly line: number,
    reason: string,
  ) {
    super(file, [{ key: `line ${line}`, reason }]);
    this.name = 'KeepalivedInputError';
    this.message = `${file}:${line}: ${reason}`;
  }
}

type Token =
  { kind: 'word'; text: string; line: number } | { kind: 'open' | 'close' | 'eol'; line: number };

/** What is left of one physical line once comments are cut, and whether `\` continues it. */
function decomment(raw: string): { text: string; continues: boolean; openQuote: boolean } {
  let quote = false;
  let text = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c === '"') quote = !quote;
    else if (c === '\\') {
      const next = raw[i + 1];
      if (next === undefined) return { text, continues: true, openQuote: quote };
      // keepalived unescapes \# and \! outside quotes only; other escapes stay as written.
      text += !quote && (next === '#' || next === '!') ? next : c + next;
      i++;
      continue;
    } else if (!quote && (c === '#' || c === '!')) break;
    text += c;
  }
  return { text, continues: false, openQuote: quote };
}

function tokenize(text: string, notes: KeepalivedNote[]): Token[] {
  const tokens: Token[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const { text: body, continues, openQuote } = decomment(raw);
    if (openQuote)
      notes.push({ line, text: 'unterminated quote: the rest of the line is one value' });
    let i = 0;
    while (i < body.length) {
      const c = body[i] as string;
      if (/\s/.test(c)) i++;
      else if (c === '{' || c === '}') {
        tokens.push({ kind: c === '{' ? 'open' : 'close', line });
        i++;
      } else if (c === '"') {
        const end = body.indexOf('"', i + 1);
        const stop = end === -1 ? body.length : end;
        tokens.push({ kind: 'word', text: body.slice(i + 1, stop), line });
        i = stop + 1;
      } else {
        let j = i;
        while (j < body.length && !/[\s"{}]/.test(body[j] as string)) j++;
        tokens.push({ kind: 'word', text: body.slice(i, j), line });
        i = j;
      }
    }
    if (!continues) tokens.push({ kind: 'eol', line });
  });
  return tokens;
}

/**
 * keepalived's block structure: statements, each with the block that follows it, if any.
 * `file` names the input in a KeepalivedInputError.
 */
export function parseKeepalived(
  text: string,
  file = 'keepalived.conf',
): {
  statements: Statement[];
  notes: KeepalivedNote[];
} {
  const notes: KeepalivedNote[] = [];
  const tokens = tokenize(text, notes);
  let pos = 0;
  const skipEols = (): void => {
    while (tokens[pos]?.kind === 'eol') pos++;
  };
  const nested = (open: Token, depth: number): Statement[] => {
    if (depth > MAX_BLOCK_DEPTH) {
      throw new KeepalivedInputError(
        file,
        open.line,
        `blocks nested more than ${MAX_BLOCK_DEPTH} deep (keepalived's deepest is 4): is a "}" missing above?`,
      );
    }
    return block(open.line, depth);
  };
  const block = (openLine: number | undefined, depth: number): Statement[] => {
    const statements: Statement[] = [];
    for (;;) {
      const t = tokens[pos];
      if (t === undefined) {
        if (openLine !== undefined)
          notes.push({ line: openLine, text: 'this block has no closing "}"' });
        return statements;
      }
      pos++;
      if (t.kind === 'close') {
        if (openLine !== undefined) return statements;
        notes.push({ line: t.line, text: 'extra "}" ignored' });
        continue;
      }
      if (t.kind === 'open') {
        nested(t, depth + 1);
        notes.push({ line: t.line, text: 'a block with no keyword before it: ignored' });
        continue;
      }
      if (t.kind !== 'word') continue;
      const statement: Statement = { keyword: t.text, args: [], line: t.line };
      for (let next = tokens[pos]; next?.kind === 'word'; next = tokens[++pos])
        statement.args.push(next.text);
      // The opening brace may stand on the statement's line or start the next one.
      const mark = pos;
      skipEols();
      if (tokens[pos]?.kind === 'open') {
        statement.block = nested(tokens[pos++] as Token, depth + 1);
      } else pos = mark;
      statements.push(statement);
    }
  };
  return { statements: block(undefined, 0), notes };
}

/* ---------------------------------------------------------------------------------------------
 * Conversion
 * ------------------------------------------------------------------------------------------- */

const NOT_CONVERTED = 'no vipd equivalent; not converted';
const NO_MAIL = 'vipd sends no mail; alert on its JSON log lines ("event":"transition") instead';
const NO_IPVLAN = 'vipd has no ipvlan mode (vmac makes a macvlan with the virtual MAC)';
const NO_SRC = "vipd sends from the interface's primary address";
const NO_STRICT = 'vipd has no strict mode';
const NO_SCRIPT_USER = 'vipd runs hooks and tracked scripts as the user vipd runs as';
const NO_LOWER_PRIO_GARP = 'vipd answers a lower-priority advert with an advert and one ARP round';
const NO_REFRESH_REPEAT = 'vipd sends one gratuitous ARP per VIP per refresh round';
const TRACK_KINDS = 'vipd tracks interfaces, scripts and files: not converted';
const NO_LVS = 'LVS virtual servers are not vipd\'s job (vipd only marks packets: "marks")';
const NO_STATIC = 'static addresses, routes and rules belong in the system network config';
const HOOK_ROUTES = 'vipd moves addresses only; add routes and rules from an up hook (hooks.up)';

/** keepalived 2.2.7 defaults (global_data.c, vrrp.h, vrrp_track.h) a conversion needs. */
const KEEPALIVED_DEFAULT = {
  version: 2,
  vmacPrefix: 'vrrp',
  garpDelay: 5,
  garpRepeat: 5,
  scriptInterval: 1,
  fileWeight: 1,
} as const;

/** Keywords with nothing to convert to, and the reason the operator reads. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  global_tracking: 'track in each instance (vipd has no group-wide tracking)',
  sync_group_tracking_weight: 'track in each instance (vipd has no group-wide tracking)',
  track_process: TRACK_KINDS,
  vrrp_track_process: TRACK_KINDS,
  track_bfd: TRACK_KINDS,
  bfd_instance: TRACK_KINDS,
  virtual_server: NO_LVS,
  virtual_server_group: NO_LVS,
  static_ipaddress: NO_STATIC,
  static_routes: NO_STATIC,
  static_rules: NO_STATIC,
  virtual_routes: HOOK_ROUTES,
  virtual_rules: HOOK_ROUTES,
  use_ipvlan: NO_IPVLAN,
  vmac_addr_prefix: 'names the macvlans of use_vmac_addr, which vipd does not make',
  mcast_src_ip: NO_SRC,
  unicast_src_ip: NO_SRC,
  mcast_dst_ip: 'vipd sends to 224.0.0.18 (IPv6: ff02::12), or to unicastPeers',
  strict_mode: NO_STRICT,
  vrrp_strict: NO_STRICT,
  smtp_alert: NO_MAIL,
  smtp_alert_vrrp: NO_MAIL,
  notification_email: NO_MAIL,
  notification_email_from: NO_MAIL,
  smtp_server: NO_MAIL,
  smtp_connect_timeout: NO_MAIL,
  smtp_helo_name: NO_MAIL,
  script_user: NO_SCRIPT_USER,
  enable_script_security: NO_SCRIPT_USER,
  user: NO_SCRIPT_USER,
  debug: 'use log.level ("debug") instead',
  garp_master_refresh_repeat: NO_REFRESH_REPEAT,
  vrrp_garp_master_refresh_repeat: NO_REFRESH_REPEAT,
  garp_lower_prio_delay: NO_LOWER_PRIO_GARP,
  garp_lower_prio_repeat: NO_LOWER_PRIO_GARP,
  vrrp_garp_lower_prio_delay: NO_LOWER_PRIO_GARP,
  vrrp_garp_lower_prio_repeat: NO_LOWER_PRIO_GARP,
};

/** keepalived's notify scripts: called with keepalived's arguments, which vipd's hooks are not. */
const NOTIFY: Readonly<Record<string, string>> = {
  notify_master: 'hooks.up',
  notify_backup: 'hooks.down',
  notify_fault: 'hooks.down',
  notify_stop: 'hooks.down',
  notify_deleted: 'hooks.down',
  notify: 'hooks.up and hooks.down',
  notify_master_rx_lower_pri: 'hooks.up',
};

/** Top-level blocks that instances refer to by name. */
const DEFINITIONS = new Set(['vrrp_script', 'track_file', 'vrrp_track_file']);

/** A script command line as keepalived splits it: words, with '...' and "..." quoting. */
function splitCommand(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

/** Options of a virtual_ipaddress line that take a value (vrrp_ipaddress.c). */
const VIP_OPTIONS_WITH_VALUE = new Set([
  'dev',
  'label',
  'scope',
  'brd',
  'broadcast',
  'peer',
  'preferred_lft',
  'track_group',
]);

function notifyNote(s: Statement): string {
  const script = s.args.join(' ');
  return (
    `${s.keyword} "${script}" not converted: vipd hooks take ucarp's arguments ` +
    `(<interface> <vip> [extra], once per VIP) with VIPD_STATE, VIPD_INSTANCE, VIPD_VRID, ` +
    `VIPD_INTERFACE and VIPD_VIPS in the environment, not keepalived's ` +
    `(INSTANCE name state priority); adapt the script and set ${NOTIFY[s.keyword] ?? 'hooks'}`
  );
}

interface Garp {
  delay?: number;
  repeat?: number;
  refresh?: number;
  interval?: number;
  line?: number;
}

/** A vrrp_script block, in vipd's `track.scripts` shape minus the per-instance weight. */
interface ScriptDef {
  line: number;
  command: string[];
  interval: number;
  timeout?: number;
  rise: number;
  fall: number;
  weight: Weight;
}

/** A track_file block. */
interface FileDef {
  line: number;
  path?: string;
  weight: Weight;
}

/** keepalived's `weight N [reverse]`. */
interface Weight {
  value: number;
  reverse: boolean;
}

/** vipd's `track` section of one instance. */
interface Track {
  interfaces: { name: string; weight: number }[];
  scripts: Record<string, unknown>[];
  files: { path: string; weight: number }[];
}

interface Globals {
  routerId?: string;
  version?: { value: 2 | 3; line: number };
  /** vrrp_strict: keepalived then refuses what the RFCs do not allow. */
  strict: boolean;
  vmacPrefix: string;
  defaultInterface?: string;
  garp: Garp;
  scripts: Map<string, ScriptDef>;
  files: Map<string, FileDef>;
}

interface VipEntry {
  cidr: string;
  family: AddressFamily;
  dev?: string;
  line: number;
}

/** use_vmac [NAME] [MAC]: the name when keepalived keeps it. */
interface Vmac {
  line: number;
  name?: string;
  mac?: string;
}

interface Draft {
  name: string;
  line: number;
  interface?: string;
  vrid?: number;
  priority?: number;
  version?: { value: 2 | 3; line: number };
  /** The family keepalived settled on, and the line that settled it. */
  family?: { value: AddressFamily; line: number };
  /** strict_mode, when written: overrides vrrp_strict. */
  strict?: boolean;
  vmac?: Vmac;
  vmacXmitBase?: number;
  advertInterval?: { value: number; line: number };
  state?: { value: string; line: number };
  /** preempt / nopreempt: the last one written wins, as in keepalived. */
  preempt?: { value: boolean; line: number };
  preemptDelay?: { value: number; line: number };
  accept?: boolean;
  /** dont_track_primary: keepalived ignores the interface's state. */
  trackInterface?: boolean;
  vips: VipEntry[];
  excluded: VipEntry[];
  unicastPeers: string[];
  authType?: { value: string; line: number };
  authPass?: { value: string; line: number };
  garp: Garp;
  track: Track;
}

class Converter {
  readonly notes: KeepalivedNote[] = [];
  /** macvlan names taken: every instance's own (read first), then keepalived's defaults. */
  readonly vmacNames = new Set<string>();

  note(line: number, text: string): void {
    this.notes.push({ line, text });
  }

  /** A statement with nothing to convert to: one note saying why. */
  unsupported(s: Statement): void {
    if (NOTIFY[s.keyword] !== undefined) this.note(s.line, notifyNote(s));
    else if (s.keyword === 'include')
      this.note(
        s.line,
        `include ${s.args.join(' ')}: not followed; convert the included file too and merge its instances`,
      );
    else if (/^[$@~]/.test(s.keyword))
      this.note(
        s.line,
        `${s.keyword}: keepalived parameters, conditional lines and sequences are not expanded; expand them (keepalived -t -d prints the result) and convert again`,
      );
    else this.note(s.line, `${s.keyword}: ${UNSUPPORTED[s.keyword] ?? NOT_CONVERTED}`);
  }

  /** The statement's only argument, or undefined (noted) when it has none. */
  value(s: Statement): string | undefined {
    const v = s.args[0];
    if (v === undefined) this.note(s.line, `${s.keyword} has no value: ignored`);
    else if (v.includes('$'))
      this.note(s.line, `${s.keyword} ${v}: keepalived parameter not expanded; check the value`);
    else if (s.args.length > 1)
      this.note(s.line, `${s.keyword}: extra words ignored: ${s.args.slice(1).join(' ')}`);
    return v;
  }

  /** A decimal number from min to max (keepalived's own ranges), or undefined (noted). */
  number(s: Statement, min: number, max: number, integer: boolean): number | undefined {
    const v = this.value(s);
    if (v === undefined) return undefined;
    const n = (integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(v) ? Number(v) : NaN;
    if (!(n >= min && n <= max)) {
      const what = integer ? 'an integer' : 'a number';
      this.note(s.line, `${s.keyword} must be ${what} from ${min} to ${max}, got "${v}": ignored`);
      return undefined;
    }
    return n;
  }

  version(s: Statement): 2 | 3 | undefined {
    const n = this.number(s, 2, 3, true);
    return n === 2 || n === 3 ? n : undefined;
  }

  /** GARP keywords shared by global_defs (vrrp_ prefix) and instances. */
  garp(s: Statement, keyword: string, garp: Garp): boolean {
    const limits: Record<string, [keyof Garp, number, boolean]> = {
      garp_master_delay: ['delay', 1000, true],
      garp_master_repeat: ['repeat', 1000, true],
      garp_master_refresh: ['refresh', 86400, true],
      garp_interval: ['interval', 60, false],
    };
    const limit = limits[keyword];
    if (limit === undefined) return false;
    const [key, max, integer] = limit;
    const n = this.number(s, 0, max, integer);
    if (n !== undefined) {
      garp[key] = n;
      garp.line ??= s.line;
    }
    return true;
  }

  /** global_defs, and the vrrp_script and track_file blocks instances refer to by name. */
  globals(statements: Statement[]): Globals {
    const g: Globals = {
      garp: {},
      strict: false,
      vmacPrefix: KEEPALIVED_DEFAULT.vmacPrefix,
      scripts: new Map(),
      files: new Map(),
    };
    for (const s of statements) {
      if (DEFINITIONS.has(s.keyword)) {
        const name = s.args[0];
        if (name === undefined) this.note(s.line, `${s.keyword} without a name: ignored`);
        else if (s.keyword === 'vrrp_script') g.scripts.set(name, this.scriptDef(s));
        else g.files.set(name, this.fileDef(s));
      }
      if (s.keyword !== 'global_defs') continue;
      for (const d of s.block ?? []) {
        if (d.keyword.startsWith('vrrp_garp_') && this.garp(d, d.keyword.slice(5), g.garp))
          continue;
        switch (d.keyword) {
          case 'router_id':
            g.routerId = this.value(d);
            break;
          case 'vrrp_version': {
            const value = this.version(d);
            if (value !== undefined) g.version = { value, line: d.line };
            break;
          }
          case 'vmac_prefix':
            g.vmacPrefix = this.value(d) ?? g.vmacPrefix;
            break;
          case 'vrrp_strict':
            g.strict = true;
            this.unsupported(d);
            break;
          case 'default_interface':
            g.defaultInterface = this.value(d);
            break;
          case 'vrrp_mcast_group4':
            if (this.value(d) !== '224.0.0.18')
              this.note(d.line, `${d.keyword}: vipd sends to 224.0.0.18 (or to unicastPeers)`);
            break;
          case 'vrrp_mcast_group6': {
            const group = this.value(d) ?? '';
            if (addressFamily(group) !== 6 || canonicalAddress(group) !== 'ff02::12')
              this.note(d.line, `${d.keyword}: vipd sends IPv6 adverts to ff02::12`);
            break;
          }
          default:
            this.unsupported(d);
        }
      }
    }
    return g;
  }

  /** `weight N [reverse]` after a name or as a keyword's value; undefined (noted) if malformed. */
  weight(line: number, words: string[], what: string, dflt: number): Weight | undefined {
    const [keyword, value, direction, ...extra] = words;
    if (keyword === undefined) return { value: dflt, reverse: false };
    const n = Number(value);
    const valid =
      keyword === 'weight' &&
      /^-?\d+$/.test(value ?? '') &&
      Math.abs(n) <= 254 &&
      (direction === undefined || direction === 'reverse' || direction === 'noreverse') &&
      extra.length === 0;
    if (!valid) {
      this.note(
        line,
        `${what}: expected "weight -253..253 [reverse]", got "${words.join(' ')}": not converted`,
      );
      return undefined;
    }
    // keepalived still reads the old +-254 as +-253.
    return { value: Math.max(-253, Math.min(253, n)), reverse: direction === 'reverse' };
  }

  /** A weight vipd can run: it has no reverse weights. */
  plainWeight(line: number, w: Weight | undefined, what: string): number | undefined {
    if (w === undefined) return undefined;
    if (w.reverse) {
      this.note(line, `${what}: reverse weights have no vipd equivalent: not converted`);
      return undefined;
    }
    return w.value;
  }

  scriptDef(s: Statement): ScriptDef {
    const def: ScriptDef = {
      line: s.line,
      command: [],
      interval: KEEPALIVED_DEFAULT.scriptInterval,
      rise: 1,
      fall: 1,
      weight: { value: 0, reverse: false },
    };
    for (const k of s.block ?? []) {
      switch (k.keyword) {
        case 'script':
          // keepalived 2.2.7 runs the first word only, split again: `script "/bin/chk a b"`.
          def.command = splitCommand(k.args[0] ?? '');
          if (k.args.length > 1)
            this.note(
              k.line,
              `script: keepalived runs only "${k.args[0]}" (the rest, ${k.args.slice(1).join(' ')}, needs quotes around the whole command line); converted the same way`,
            );
          break;
        case 'interval':
          def.interval = this.clamped(k, 1, 3600) ?? def.interval;
          break;
        case 'timeout':
          def.timeout = this.clamped(k, 1, 3600) ?? def.timeout;
          break;
        case 'rise':
        case 'fall':
          def[k.keyword] = this.clamped(k, 1, 100) ?? def[k.keyword];
          break;
        case 'weight':
          def.weight = this.weight(k.line, [k.keyword, ...k.args], k.keyword, 0) ?? def.weight;
          break;
        case 'init_fail':
          this.note(
            k.line,
            'init_fail: vipd always starts a tracked script as failed until it succeeds',
          );
          break;
        default:
          this.unsupported(k);
      }
    }
    return def;
  }

  fileDef(s: Statement): FileDef {
    const def: FileDef = {
      line: s.line,
      weight: { value: KEEPALIVED_DEFAULT.fileWeight, reverse: false },
    };
    for (const k of s.block ?? []) {
      if (k.keyword === 'file') def.path = this.value(k);
      else if (k.keyword === 'weight')
        def.weight = this.weight(k.line, [k.keyword, ...k.args], k.keyword, 1) ?? def.weight;
      else if (k.keyword === 'init_file')
        this.note(
          k.line,
          'init_file: vipd does not create the file; a missing file reads as 0, as in keepalived',
        );
      else this.unsupported(k);
    }
    return def;
  }

  /** An integer keepalived accepts beyond vipd's range: kept, clamped with a note. */
  clamped(s: Statement, min: number, max: number): number | undefined {
    const n = this.number(s, min, Number.MAX_SAFE_INTEGER, true);
    if (n === undefined || n <= max) return n;
    this.note(s.line, `${s.keyword} ${n}: vipd allows at most ${max}; using ${max}`);
    return max;
  }

  /** track_interface, track_script and track_file blocks of an instance. */
  track(s: Statement, d: Draft, g: Globals): void {
    for (const e of s.block ?? []) {
      const what = `${s.keyword} ${e.keyword}`;
      if (s.keyword === 'track_interface') {
        const weight = this.plainWeight(e.line, this.weight(e.line, e.args, what, 0), what);
        if (weight !== undefined) d.track.interfaces.push({ name: e.keyword, weight });
        continue;
      }
      const def = s.keyword === 'track_script' ? g.scripts.get(e.keyword) : g.files.get(e.keyword);
      if (def === undefined) {
        const block = s.keyword === 'track_script' ? 'vrrp_script' : 'track_file';
        this.note(e.line, `${what}: no ${block} ${e.keyword} is defined: not converted`);
        continue;
      }
      // The instance's `weight N` overrides the definition's.
      const weight = this.plainWeight(
        e.line,
        e.args.length > 0 ? this.weight(e.line, e.args, what, 0) : def.weight,
        what,
      );
      if (weight === undefined) continue;
      if ('command' in def) this.trackScript(e, d, def, weight);
      else if (def.path === undefined)
        this.note(def.line, `track_file ${e.keyword} has no file: not converted`);
      else d.track.files.push({ path: def.path, weight });
    }
  }

  trackScript(e: Statement, d: Draft, def: ScriptDef, weight: number): void {
    const [script, ...args] = def.command;
    if (script === undefined) {
      this.note(def.line, `vrrp_script ${e.keyword} has no script: not converted`);
      return;
    }
    if (!script.startsWith('/')) {
      this.note(
        def.line,
        `vrrp_script ${e.keyword}: "${script}" is not an absolute path (keepalived searches PATH, vipd does not): not converted; write the full path`,
      );
      return;
    }
    d.track.scripts.push({
      name: e.keyword,
      script,
      ...(args.length === 0 ? {} : { args }),
      interval: def.interval,
      // keepalived's timeout defaults to the interval.
      timeout: def.timeout ?? def.interval,
      rise: def.rise,
      fall: def.fall,
      weight,
    });
  }

  /** vrrp_sync_group NAME { group { VI_1 VI_2 } }; empty when nothing of it can run. */
  syncGroup(s: Statement, known: Set<string>): { name: string; instances: string[] }[] {
    const name = s.args[0];
    if (name === undefined) {
      this.note(s.line, 'vrrp_sync_group without a name: not converted');
      return [];
    }
    const members: string[] = [];
    for (const k of s.block ?? []) {
      if (k.keyword.startsWith('track_')) {
        this.note(
          k.line,
          `${k.keyword} in sync group ${name}: vipd tracks per instance; add it to each member: not converted`,
        );
        continue;
      }
      if (k.keyword !== 'group') {
        this.unsupported(k);
        continue;
      }
      for (const m of k.block ?? []) {
        // keepalived ignores a member it has no instance for, with a warning.
        if (known.has(m.keyword)) members.push(m.keyword);
        else this.note(m.line, `sync group ${name}: no vrrp_instance ${m.keyword}: left out`);
      }
    }
    if (members.length >= 2) return [{ name, instances: members }];
    this.note(s.line, `vrrp_sync_group ${name}: fewer than two instances: not converted`);
    return [];
  }

  /** `a.b.c.d[/nn] [dev X] [label L] ...` (or IPv6) lines of a virtual_ipaddress block. */
  vipEntries(s: Statement): VipEntry[] {
    const entries: VipEntry[] = [];
    for (const e of s.block ?? []) {
      const [address = '', given, ...extra] = e.keyword.split('/');
      const family = addressFamily(address);
      // keepalived gives a bare address /32 or /128 (vrrp_ipaddress.c), not the interface's prefix.
      const prefix = given ?? (family === 6 ? '128' : '32');
      if (
        family === undefined ||
        !(family === 6 ? /^\d{1,3}$/ : /^\d{1,2}$/).test(prefix) ||
        Number(prefix) > (family === 6 ? 128 : 32) ||
        extra.length
      ) {
        this.note(e.line, `"${e.keyword}" is not an IPv4 or IPv6 address[/prefix]: not converted`);
        continue;
      }
      const text = family === 6 ? canonicalAddress(address) : address;
      const entry: VipEntry = { cidr: `${text}/${prefix}`, family, line: e.line };
      const ignored: string[] = [];
      let lifetime = false;
      for (let i = 0; i < e.args.length; i++) {
        const option = e.args[i] as string;
        const arg = VIP_OPTIONS_WITH_VALUE.has(option) ? e.args[++i] : undefined;
        if (option === 'dev' && arg !== undefined) entry.dev = arg;
        else ignored.push(arg === undefined ? option : `${option} ${arg}`);
        lifetime ||= option === 'preferred_lft';
      }
      const broadcast = ignored.find((o) => /^(brd|broadcast) /.test(o));
      if (family === 6 && broadcast !== undefined) {
        this.note(
          e.line,
          `${e.keyword} ${broadcast}: keepalived skips an IPv6 address given a broadcast address: not converted`,
        );
        continue;
      }
      if (family === 6 && prefix === '128' && !lifetime) {
        this.note(
          e.line,
          `${entry.cidr}: keepalived adds a /128 deprecated (preferred_lft 0), so the kernel never picks it as a source address; vipd adds it preferred (no lifetime setting)`,
        );
      }
      if (ignored.length > 0) {
        this.note(
          e.line,
          `${e.keyword}: ${ignored.join(', ')} ignored: vipd adds VIPs with the kernel's defaults (no label, scope or broadcast options)`,
        );
      }
      if (e.block !== undefined) this.note(e.line, `${e.keyword}: unexpected block ignored`);
      entries.push(entry);
    }
    return entries;
  }

  /**
   * Whether an address of `family` belongs to the instance: the first one written settles the
   * instance's family, as in keepalived.
   */
  ofFamily(d: Draft, family: AddressFamily, line: number): boolean {
    d.family ??= { value: family, line };
    return d.family.value === family;
  }

  /** Why an address of the other family is not the instance's, for a note. */
  otherFamily(d: Draft, family: AddressFamily): string {
    const settled = d.family === undefined ? '' : ` (settled at line ${d.family.line})`;
    return `an IPv${family} address in an IPv${family === 4 ? 6 : 4} instance${settled}`;
  }

  /** unicast_peer: IPv4 peers become unicastPeers; vipd has no IPv6 unicast. */
  unicastPeers(s: Statement, d: Draft): void {
    const ipv6: string[] = [];
    for (const e of s.block ?? []) {
      const family = addressFamily(e.keyword);
      if (family === undefined) {
        this.note(e.line, `unicast_peer "${e.keyword}" is not an IP address: not converted`);
        continue;
      }
      if (!this.ofFamily(d, family, e.line)) {
        this.note(
          e.line,
          `unicast_peer ${e.keyword}: ${this.otherFamily(d, family)}: keepalived skips it ("MUST be of the same family"): not converted`,
        );
        continue;
      }
      if (e.args.length > 0)
        this.note(
          e.line,
          `unicast_peer ${e.keyword}: ${e.args.join(' ')} ignored (${NOT_CONVERTED})`,
        );
      if (family === 6) ipv6.push(e.keyword);
      else d.unicastPeers.push(e.keyword);
    }
    if (ipv6.length > 0) {
      this.note(
        s.line,
        `unicast_peer ${ipv6.join(', ')}: vipd has no IPv6 unicast (an IPv6 instance advertises to ff02::12): not converted; remove unicast_peer on the keepalived peers too, since keepalived in unicast mode drops multicast adverts`,
      );
    }
  }

  /** mcast_src_ip, unicast_src_ip, mcast_dst_ip: not converted, but they settle the family. */
  sourceOrGroup(k: Statement, d: Draft): void {
    this.unsupported(k);
    const family = addressFamily(k.args[0] ?? '');
    if (family !== undefined) this.ofFamily(d, family, k.line);
  }

  /** native_ipv6: an IPv6 instance, and so VRRPv3, unless IPv4 addresses came first. */
  nativeIpv6(k: Statement, d: Draft): void {
    if (d.family?.value === 4) {
      this.note(
        k.line,
        `native_ipv6: the instance is already IPv4 (line ${d.family.line}): keepalived ignores it ("Cannot specify native_ipv6 with IPv4 addresses")`,
      );
      return;
    }
    this.ofFamily(d, 6, k.line);
    d.version = { value: 3, line: k.line };
  }

  /** `version`: keepalived keeps the first version set (native_ipv6 sets 3) and none but 3 for IPv6. */
  instanceVersion(k: Statement, d: Draft): void {
    const value = this.version(k);
    if (value === undefined) return;
    if (value === 2 && d.family?.value === 6) {
      this.note(
        k.line,
        'version 2 in an IPv6 instance: keepalived ignores it ("conflicts with configured or deduced version") and runs VRRPv3: version 3',
      );
    } else if (d.version !== undefined && d.version.value !== value) {
      this.note(
        k.line,
        `version ${value}: keepalived keeps version ${d.version.value} (line ${d.version.line}) and ignores this one`,
      );
    } else d.version = { value, line: k.line };
  }

  /** use_vmac [NAME] [MAC] (either order, as keepalived reads them: a MAC has a ':'). */
  useVmac(k: Statement, d: Draft): void {
    // A second use_vmac adds to the first, as keepalived's flags and name do.
    const vmac: Vmac = d.vmac ?? { line: k.line };
    const [first, second, ...extra] = k.args;
    if (extra.length > 0) this.note(k.line, `use_vmac: extra words ignored: ${extra.join(' ')}`);
    for (const word of [first, second]) {
      if (word === undefined) continue;
      if (word.includes(':')) vmac.mac ??= word;
      else if (vmac.name !== undefined)
        this.note(k.line, `use_vmac ${word}: a second name; keepalived ignores it`);
      else if (!isInterfaceName(word))
        this.note(k.line, `use_vmac ${word}: not an interface name; keepalived ignores it`);
      else if (this.vmacNames.has(word))
        this.note(
          k.line,
          `use_vmac ${word}: another instance already uses this name; keepalived ignores it and names the macvlan itself`,
        );
      else {
        vmac.name = word;
        this.vmacNames.add(word);
      }
    }
    d.vmac = vmac;
  }

  authentication(s: Statement, d: Draft): void {
    for (const a of s.block ?? []) {
      const v = this.value(a);
      if (v === undefined) continue;
      if (a.keyword === 'auth_type') d.authType = { value: v, line: a.line };
      else if (a.keyword === 'auth_pass') d.authPass = { value: v, line: a.line };
      else this.unsupported(a);
    }
  }

  instance(s: Statement, index: number, g: Globals): Draft {
    const name = s.args[0] ?? `instance_${index + 1}`;
    if (s.args[0] === undefined)
      this.note(s.line, `vrrp_instance without a name: converted as "${name}"`);
    const d: Draft = {
      name,
      line: s.line,
      vips: [],
      excluded: [],
      unicastPeers: [],
      garp: {},
      track: { interfaces: [], scripts: [], files: [] },
    };
    for (const k of s.block ?? []) {
      if (this.garp(k, k.keyword, d.garp)) continue;
      switch (k.keyword) {
        case 'interface':
          d.interface = this.value(k);
          break;
        case 'virtual_router_id':
          d.vrid = this.number(k, 1, 255, true);
          break;
        case 'priority':
          d.priority = this.number(k, 1, 255, true);
          break;
        case 'version':
          this.instanceVersion(k, d);
          break;
        case 'native_ipv6':
          this.nativeIpv6(k, d);
          break;
        case 'strict_mode':
          d.strict = !['off', 'false', 'no'].includes(k.args[0] ?? 'on');
          this.unsupported(k);
          break;
        case 'use_vmac':
          this.useVmac(k, d);
          break;
        case 'vmac_xmit_base':
          d.vmacXmitBase = k.line;
          break;
        case 'use_vmac_addr':
          this.note(
            k.line,
            'use_vmac_addr: gives macvlans to VIPs on another interface and to excluded addresses of the other family; vipd moves neither with this instance (see their notes): not converted',
          );
          break;
        case 'mcast_src_ip':
        case 'unicast_src_ip':
        case 'mcast_dst_ip':
          this.sourceOrGroup(k, d);
          break;
        case 'advert_int': {
          const value = this.number(k, 0.01, 255, false);
          if (value !== undefined) d.advertInterval = { value, line: k.line };
          break;
        }
        case 'state': {
          const value = this.value(k);
          if (value !== undefined) d.state = { value, line: k.line };
          break;
        }
        case 'nopreempt':
        case 'preempt':
          d.preempt = { value: k.keyword === 'preempt', line: k.line };
          break;
        case 'preempt_delay': {
          const value = this.number(k, 0, 1e9, false);
          if (value !== undefined && value > 3600)
            this.note(k.line, `preempt_delay ${value}: vipd waits at most 3600 s`);
          if (value !== undefined) d.preemptDelay = { value: Math.min(value, 3600), line: k.line };
          break;
        }
        case 'accept':
        case 'no_accept':
          d.accept = k.keyword === 'accept';
          break;
        case 'dont_track_primary':
          d.trackInterface = false;
          break;
        case 'virtual_ipaddress':
          for (const v of this.vipEntries(k)) {
            if (this.ofFamily(d, v.family, v.line)) d.vips.push(v);
            else
              this.note(
                v.line,
                `${v.cidr}: ${this.otherFamily(d, v.family)}: keepalived ignores it ("address family must match VRRP instance"): not converted; to move it, give it its own vrrp_instance, in keepalived too, and join both in a vrrp_sync_group`,
              );
          }
          break;
        case 'virtual_ipaddress_excluded':
          // keepalived takes excluded addresses of either family; finish() sorts them.
          for (const v of this.vipEntries(k)) d.excluded.push(v);
          break;
        case 'unicast_peer':
          this.unicastPeers(k, d);
          break;
        case 'authentication':
          this.authentication(k, d);
          break;
        case 'track_interface':
        case 'track_script':
        case 'track_file':
          this.track(k, d, g);
          break;
        default:
          this.unsupported(k);
      }
    }
    return d;
  }

  /** keepalived's GARP timing as vipd rounds; see the note on the mapping below. */
  garpKeys(d: Draft, g: Globals): Record<string, number> | undefined {
    const delay = d.garp.delay ?? g.garp.delay;
    const repeat = d.garp.repeat ?? g.garp.repeat;
    const refresh = d.garp.refresh ?? g.garp.refresh;
    const interval = d.garp.interval ?? g.garp.interval;
    const line = d.garp.line ?? g.garp.line ?? d.line;
    if ([delay, repeat, refresh, interval].every((v) => v === undefined)) return undefined;
    const keys: Record<string, number> = {};
    if (refresh !== undefined) keys.refresh = refresh;
    if (delay === undefined && repeat === undefined) {
      if (interval !== undefined) keys.interval = interval;
      return keys;
    }
    // keepalived sends `repeat` ARPs per VIP on becoming master and the same again `delay` s
    // later. vipd sends rounds of one ARP per VIP, `interval` apart: two rounds `delay` apart
    // keep the moments that matter (now, and once the switches have caught up).
    const d2 = delay ?? KEEPALIVED_DEFAULT.garpDelay;
    const r = repeat ?? KEEPALIVED_DEFAULT.garpRepeat;
    if (d2 > 0) {
      keys.count = 2;
      keys.interval = Math.min(d2, 60);
      if (interval !== undefined)
        this.note(
          line,
          `vrrp_garp_interval ${interval}: vipd spaces its two rounds by garp_master_delay instead; not converted`,
        );
      if (d2 > 60) this.note(line, `garp_master_delay ${d2} s: vipd waits at most 60 s`);
      if (r > 1)
        this.note(
          line,
          `garp_master_repeat ${r}: vipd sends one gratuitous ARP per VIP at each of its 2 rounds (now and ${keys.interval} s later), not ${r}`,
        );
    } else {
      keys.count = Math.min(Math.max(r, 1), 100);
      if (interval !== undefined) keys.interval = interval;
    }
    return keys;
  }

  finish(d: Draft, g: Globals): Record<string, unknown> {
    const family = d.family?.value ?? 4;
    const version = this.familyVersion(d, g, family);
    const iface = d.interface ?? g.defaultInterface;
    let priority = d.priority;
    let preempt = d.preempt?.value ?? true;
    const nopreemptLine = d.preempt?.line ?? d.line;
    let preemptDelay = d.preemptDelay?.value;
    if (d.state !== undefined) {
      const master = d.state.value === 'MASTER';
      if (master && priority === undefined) {
        priority = 255;
        this.note(
          d.state.line,
          'state MASTER without a priority: keepalived makes it the address owner, so priority 255',
        );
      }
      this.note(
        d.state.line,
        `state ${d.state.value}: vipd has no initial state; it starts as backup and the election decides (priority 255 becomes master at once)`,
      );
      if (master && !preempt) {
        preempt = true;
        this.note(
          nopreemptLine,
          'nopreempt with state MASTER: keepalived clears it, so vipd preempts',
        );
      }
      if (master && preemptDelay !== undefined) {
        this.note(
          d.preemptDelay?.line ?? d.state.line,
          'preempt_delay with state MASTER: keepalived clears it',
        );
        preemptDelay = undefined;
      }
    }
    if (priority === 255 && !preempt) {
      preempt = true;
      this.note(
        nopreemptLine,
        'nopreempt with priority 255: keepalived clears it, so vipd preempts',
      );
    }
    const advertInterval = this.interval(d, version);
    const vips = this.onInterface(d.vips, iface);
    const excluded = this.onInterface(this.excludedOfFamily(d, family, iface), iface);
    if (family === 6) this.linkLocal(d, vips);
    const vmac = this.vmacKey(d, g, family, iface);
    const authPassword = this.password(d, version);
    const garp = this.garpKeys(d, g);
    return {
      name: d.name,
      ...(iface === undefined ? {} : { interface: iface }),
      ...(d.vrid === undefined ? {} : { vrid: d.vrid }),
      priority: priority ?? 100,
      version,
      advertInterval,
      preempt,
      ...(preemptDelay === undefined ? {} : { preemptDelay }),
      ...(d.accept === undefined ? {} : { accept: d.accept }),
      ...(d.trackInterface === undefined ? {} : { trackInterface: d.trackInterface }),
      ...(d.unicastPeers.length === 0 ? {} : { unicastPeers: d.unicastPeers }),
      ...(authPassword === undefined ? {} : { authPassword }),
      vips,
      ...(excluded.length === 0 ? {} : { excludedVips: excluded }),
      ...(garp === undefined ? {} : { garp }),
      ...(Object.values(d.track).some((list) => list.length > 0) ? { track: d.track } : {}),
      ...(vmac === undefined ? {} : { vmac }),
    };
  }

  /** The version keepalived runs: its default, vrrp_version or version; VRRPv3 for IPv6. */
  familyVersion(d: Draft, g: Globals, family: AddressFamily): 2 | 3 {
    const version = d.version?.value ?? g.version?.value ?? KEEPALIVED_DEFAULT.version;
    if (family === 4 || version === 3) return version;
    if (d.version !== undefined) {
      // Only a `version 2` written before the instance became IPv6 is still set here.
      this.note(
        d.version.line,
        (d.strict ?? g.strict)
          ? 'version 2 in an IPv6 instance: keepalived in strict mode runs VRRPv3 ("cannot use IPv6 with VRRP version 2"): version 3'
          : `version 2 before the IPv6 address at line ${d.family?.line ?? d.line}: keepalived 2.2.7 then sends VRRPv2 over IPv6, which no RFC defines and vipd does not run: converted to version 3; set version 3 on the keepalived peers too, or they and vipd will not hear each other`,
      );
    } else if (g.version !== undefined) {
      this.note(
        d.line,
        `vrrp_version 2 (line ${g.version.line}) does not apply to IPv6 instances: keepalived runs them as VRRPv3: version 3`,
      );
    }
    return 3;
  }

  /** Excluded addresses of the instance's family: keepalived also moves the other family's. */
  excludedOfFamily(d: Draft, family: AddressFamily, iface: string | undefined): VipEntry[] {
    return d.excluded.filter((e) => {
      if (e.family === family) return true;
      this.note(
        e.line,
        `${e.cidr}: an excluded IPv${e.family} address of an IPv${family} instance: keepalived moves it with this instance, but a vipd instance is one address family: not converted; in vipd it takes an IPv${e.family} instance on ${iface ?? 'the same interface'}${e.family === 6 ? ' (version 3)' : ''} with it in vips, in a sync group with this one, and the keepalived peers must run that instance too`,
      );
      return false;
    });
  }

  /** An IPv6 list without a link-local address: the RFC wants one first, on every peer. */
  linkLocal(d: Draft, vips: string[]): void {
    if (d.vrid === undefined || vips.length === 0) return;
    if (vips.some((cidr) => isLinkLocal(cidr.split('/')[0] ?? ''))) return;
    const ll = virtualLinkLocal(d.vrid);
    const cidr = `${ll.address}/${ll.prefix}`;
    this.note(
      d.line,
      `no link-local VIP: RFC 5798 section 5.2.9 puts the virtual router's link-local address first in IPv6 adverts (${cidr}, the virtual MAC's EUI-64 address); vipd advertises the list as given, as keepalived does. To add it, add it first on every peer at once: a keepalived 2.2.7 peer drops adverts whose address count differs from its own list ("expected N VIPs but received N+1")`,
    );
  }

  /** use_vmac as vipd's vmac, under the name keepalived gives the macvlan. */
  vmacKey(
    d: Draft,
    g: Globals,
    family: AddressFamily,
    iface: string | undefined,
  ): string | true | undefined {
    const vmac = d.vmac;
    if (d.vmacXmitBase !== undefined) {
      this.note(
        d.vmacXmitBase,
        vmac === undefined
          ? 'vmac_xmit_base: does nothing without use_vmac'
          : `vmac_xmit_base: vipd sends the master's adverts from the macvlan, with the virtual MAC as source (keepalived sends them from ${iface ?? 'the interface'} with its own MAC): not converted; peers hear them either way`,
      );
    }
    if (vmac === undefined) return undefined;
    if (vmac.mac !== undefined) {
      const rfc = d.vrid === undefined ? 'the RFC 5798 virtual MAC' : virtualMac(family, d.vrid);
      this.note(
        vmac.line,
        `use_vmac ${vmac.mac}: vipd gives the macvlan ${rfc}, not this MAC: not converted; hosts learn the change from the master's gratuitous ARP or unsolicited NA`,
      );
    }
    if (d.vmacXmitBase === undefined && d.unicastPeers.length > 0) {
      this.note(
        vmac.line,
        `use_vmac with unicast_peer: keepalived sends the adverts from ${iface ?? 'the interface'} (it sets vmac_xmit_base itself); vipd sends them from the macvlan`,
      );
    }
    if (vmac.name !== undefined) return vmac.name;
    if (d.vrid === undefined) return true;
    const name = this.defaultVmacName(g.vmacPrefix, d.vrid, family);
    this.note(
      vmac.line,
      `use_vmac: vmac "${name}", the name keepalived gives this macvlan, rather than vipd's own vrrp${family}-${d.vrid} (vmac: true), so the scripts, firewall rules and monitoring that name it keep working and both kinds of box show the same interface; keepalived picks another name when ${name} already exists: "ip -d link" on the keepalived box shows the one it used`,
    );
    return name;
  }

  /** keepalived's create_vmac_name: PREFIX.VRID, then PREFIX6.VRID (IPv6 only), PREFIX1.VRID... */
  defaultVmacName(prefix: string, vrid: number, family: AddressFamily): string {
    const next = (n: number): number =>
      family === 4 ? n + 1 : n === 0 ? 6 : n === 6 ? 1 : n === 5 ? 7 : n + 1;
    for (let n = 0; ; n = next(n)) {
      const tail = `${n === 0 ? '' : n}.${vrid}`;
      // The prefix is cut to fit the kernel's 15 bytes, never the number (as keepalived does).
      const name = `${prefix.slice(0, Math.max(0, 15 - tail.length))}${tail}`;
      if (!this.vmacNames.has(name)) {
        this.vmacNames.add(name);
        return name;
      }
    }
  }

  /** advert_int as keepalived runs it: v2 whole seconds (rounded), v3 centiseconds. */
  interval(d: Draft, version: 2 | 3): number {
    const given = d.advertInterval;
    if (given === undefined) return 1;
    const step = version === 2 ? 1 : 0.01;
    const max = version === 2 ? 255 : 40.95;
    const value = Math.min(Math.max(Math.round(given.value / step) * step, step), max);
    const rounded = Number(value.toFixed(2));
    if (rounded !== given.value) {
      this.note(
        given.line,
        `advert_int ${given.value}: VRRPv${version} carries ${version === 2 ? 'whole seconds up to 255' : '0.01 s steps up to 40.95'}; keepalived and vipd use ${rounded}`,
      );
    }
    return rounded;
  }

  /** VIPs on another interface than the instance's cannot be moved by this instance. */
  onInterface(entries: VipEntry[], iface: string | undefined): string[] {
    return entries.flatMap((e) => {
      if (e.dev === undefined || e.dev === iface) return [e.cidr];
      this.note(
        e.line,
        `${e.cidr} dev ${e.dev}: vipd puts VIPs on the instance's interface (${iface ?? 'none given'}); not converted (make an instance on ${e.dev} for it)`,
      );
      return [];
    });
  }

  password(d: Draft, version: 2 | 3): string | undefined {
    const { authType, authPass } = d;
    if (authType === undefined && authPass === undefined) return undefined;
    const line = authType?.line ?? authPass?.line ?? d.line;
    if (version === 3) {
      this.note(line, 'authentication: VRRPv3 has none (keepalived ignores it too): not converted');
      return undefined;
    }
    if (authType?.value === 'AH') {
      this.note(
        line,
        'auth_type AH (IPsec AH, RFC 2338) has no vipd equivalent: not converted; peers must drop it too',
      );
      return undefined;
    }
    if (authType?.value !== 'PASS' || authPass === undefined) {
      this.note(
        line,
        'authentication needs auth_type PASS and an auth_pass (keepalived ignores it otherwise): not converted',
      );
      return undefined;
    }
    // keepalived keeps the first 8 bytes: the size of the v2 authentication field.
    let pass = '';
    for (const ch of authPass.value) {
      if (Buffer.byteLength(pass + ch) > 8) break;
      pass += ch;
    }
    if (pass !== authPass.value)
      this.note(authPass.line, `auth_pass longer than 8 bytes: truncated to 8, as keepalived does`);
    return pass;
  }
}

export function convertKeepalived(
  text: string,
  opts: KeepalivedOptions = {},
): { config: unknown; notes: KeepalivedNote[] } {
  const { statements, notes: syntax } = parseKeepalived(text, opts.file);
  const c = new Converter();
  // Not push(...syntax): a spread of a million notes (a file of "}") overflows the stack.
  for (const n of syntax) c.notes.push(n);
  const globals = c.globals(statements);
  const drafts: Draft[] = [];
  const groups: Statement[] = [];
  for (const s of statements) {
    if (s.keyword === 'vrrp_instance') drafts.push(c.instance(s, drafts.length, globals));
    else if (s.keyword === 'vrrp_sync_group') groups.push(s);
    else if (s.keyword !== 'global_defs' && !DEFINITIONS.has(s.keyword)) c.unsupported(s);
  }
  const instances = drafts.map((d) => c.finish(d, globals));
  const syncGroups = groups.flatMap((g) => c.syncGroup(g, new Set(drafts.map((d) => d.name))));
  const name = opts.node ?? globals.routerId;
  const config = {
    ...(name === undefined ? {} : { node: { name } }),
    instances,
    ...(syncGroups.length === 0 ? {} : { syncGroups }),
  };
  return { config, notes: [...c.notes].sort((a, b) => a.line - b.line) };
}

/** The file's text; read in pieces, so a huge file or a device never lands in memory whole. */
function readInput(file: string): string {
  const chunks: Buffer[] = [];
  let size = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const n = readSync(fd, chunk);
      if (n === 0) break;
      size += n;
      if (size > MAX_INPUT_BYTES) {
        throw new ConfigError(file, [
          {
            key: '(file)',
            reason: `larger than ${MAX_INPUT_BYTES} bytes, not read further: is it a keepalived.conf? Leave out what vipd does not convert (virtual_server blocks) and import the rest`,
          },
        ]);
      }
      chunks.push(chunk.subarray(0, n));
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(file, [
      { key: '(file)', reason: `cannot read: ${(err as Error).message}` },
    ]);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The `vipd import keepalived FILE [--node NAME]` command: returns the JSON for stdout. */
export function importKeepalived(args: string[], warn: (line: string) => void): string {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { node: { type: 'string' } },
  });
  const [file, ...more] = positionals;
  if (file === undefined || more.length > 0)
    throw new UsageError('import keepalived needs exactly one FILE (a keepalived.conf)');
  const { config, notes } = convertKeepalived(readInput(file), {
    file,
    ...(values.node === undefined ? {} : { node: values.node }),
  });
  for (const n of notes) warn(`${file}:${n.line}: ${n.text}`);
  parseConfig(config, `${file} converted to vipd`);
  return `${JSON.stringify(config, null, 2)}\n`;
}
