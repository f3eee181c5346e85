/**
 * Running Debian's ucarp 1.5.2 as a real CARP peer inside a lab host, and the ucarp-style
 * up/down scripts both ucarp and vipd run: they add or remove the VIP (as /32) and append one
 * line per call to a record file the whole lab shares, so a test reads which box ran which
 * script when.
 *
 * ucarp runs in the foreground (no -B) with syslog off (-f none): it then prints every log line,
 * warnings (state switches, "Bad digest", "Spawning") unbuffered on stderr, the rest on stdout
 * (line-buffered through stdbuf, so the log file keeps the order). Its state is the last
 * "Switching to state" line. ucarp adds no address itself: the VIP is wherever the scripts put
 * it, and a killed ucarp leaves it behind, as a crashed box would until it reboots.
 *
 * `vipdCarpConfig` is the same box's settings as a vipd CARP instance (the config file a box
 * replacing ucarp by vipd would have), with the same scripts as its hooks.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabProcess } from '../lab/lab.js';
import { writeScript } from './script.js';

export const CARP_VIP = '10.99.0.100';
export const CARP_VHID = 10;
export const CARP_PASSWORD = 's3cr3t';

/** ucarp's command line, without the interface, source address and scripts (per box). */
export interface UcarpOptions {
  advskew: number;
  /** -P: a backup hearing a worse master takes over at once. Default false, as ucarp's. */
  preempt?: boolean;
  /** Default CARP_PASSWORD. */
  password?: string;
  /** Default CARP_VHID. */
  vhid?: number;
  /** Default CARP_VIP. */
  vip?: string;
  /** Whole seconds; default 1. */
  advbase?: number;
  /** Default 3, ucarp's. */
  deadRatio?: number;
  /** -n: no down script when starting as backup. Default true. */
  neutral?: boolean;
  /** -z: the down script at exit (SIGTERM) if master. Default true. */
  shutdown?: boolean;
  /** -x, the scripts' third argument; default the host's name. */
  xparam?: string;
  /** -s, the box's own address; default the host's lab address. */
  source?: string;
}

/** One script call as the record file has it. */
export interface ScriptCall {
  script: 'up' | 'down';
  host: string;
  /** Epoch ms. */
  at: number;
  /** The arguments it was called with: `<interface> <vip> <xparam>`. */
  args: string;
}

/**
 * The record file of a lab's script calls and the scripts writing to it, one pair per host (the
 * host's name is written into them: ucarp's arguments do not say which box ran them).
 */
export class ScriptRecord {
  readonly file: string;

  constructor(private readonly lab: Lab) {
    this.file = join(lab.logDir, 'scripts.record');
  }

  /** `host`'s up and down scripts: record the call, then add or remove `$2`/32 on `$1`. */
  scripts(host: string): { up: string; down: string } {
    const write = (script: 'up' | 'down', ip: 'add' | 'del'): string =>
      writeScript(
        this.lab.logDir,
        `${host}-${script}.sh`,
        `echo "${script} ${host} $(date +%s%3N) $*" >> ${this.file}\nip addr ${ip} "$2"/32 dev "$1"`,
      );
    return { up: write('up', 'add'), down: write('down', 'del') };
  }

  /** Forgets the calls so far (a new test). */
  reset(): void {
    rmSync(this.file, { force: true });
  }

  /** Every call so far, in the order they were written. */
  calls(): ScriptCall[] {
    if (!existsSync(this.file)) return [];
    return readFileSync(this.file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [script, host, at, ...args] = line.split(' ');
        return {
          script: script === 'up' ? 'up' : 'down',
          host: host ?? '?',
          at: Number(at),
          args: args.join(' '),
        };
      });
  }

  /** The calls from `from` (an index, e.g. a previous `calls().length`) on, as "up fw1" etc. */
  since(from: number): string[] {
    return this.calls()
      .slice(from)
      .map((c) => `${c.script} ${c.host}`);
  }
}

export type UcarpState = 'INIT' | 'BACKUP' | 'MASTER';

const STATE_LINE = /Switching to state: (INIT|BACKUP|MASTER)/;

/** A ucarp process on a lab host. */
export class Ucarp {
  constructor(
    readonly host: string,
    readonly proc: LabProcess,
  ) {}

  /** The states it switched to, in order (its "Switching to state" lines). */
  states(): UcarpState[] {
    return this.proc.lines.flatMap(
      (l) => (STATE_LINE.exec(l)?.[1] as UcarpState | undefined) ?? [],
    );
  }

  /** Its state now: the last it switched to. */
  state(): UcarpState {
    return this.states().at(-1) ?? 'INIT';
  }

  /** Resolves once it switches to `state` after line `from` (default: any time). */
  async waitForState(state: UcarpState, timeoutMs: number, from = 0): Promise<void> {
    await this.proc.waitForLine(new RegExp(`Switching to state: ${state}`), timeoutMs, from);
  }

  /** The adverts it dropped for their HMAC ("Bad digest"), so far. */
  badDigests(): number {
    return this.proc.lines.filter((l) => l.includes('Bad digest')).length;
  }

  /** SIGTERM: with -z a master runs its down script, then ucarp exits without a word on the wire. */
  async stop(): Promise<void> {
    await this.proc.stop();
  }

  /**
   * A crash: stopped at once (SIGSTOP), so nothing runs between the signal and its death, then
   * killed. What its scripts put in place stays.
   */
  async crash(): Promise<void> {
    if (!this.proc.running) return;
    this.proc.kill('SIGSTOP');
    this.proc.kill('SIGKILL');
    await this.proc.exited;
  }
}

/** ucarp's command line for `host` (for ucarp, or for `vipd ucarp`, which takes the same). */
export function ucarpArgs(lab: Lab, host: string, record: ScriptRecord, o: UcarpOptions): string[] {
  const { up, down } = record.scripts(host);
  return [
    ...['-i', 'eth0', '-s', o.source ?? lab.host(host).address, '-v', String(o.vhid ?? CARP_VHID)],
    ...['-p', o.password ?? CARP_PASSWORD, '-a', o.vip ?? CARP_VIP],
    ...['-b', String(o.advbase ?? 1), '-k', String(o.advskew), '-r', String(o.deadRatio ?? 3)],
    ...(o.preempt === true ? ['-P'] : []),
    ...(o.shutdown === false ? [] : ['-z']),
    ...(o.neutral === false ? [] : ['-n']),
    ...['-u', up, '-d', down, '-x', o.xparam ?? host],
  ];
}

let starts = 0;

/** Starts ucarp on `host` (its eth0, its own address as the source). */
export function startUcarp(lab: Lab, host: string, record: ScriptRecord, o: UcarpOptions): Ucarp {
  starts += 1;
  const proc = lab.spawn(host, `ucarp-${host}-${starts}`, 'stdbuf', [
    '-oL',
    'ucarp',
    ...ucarpArgs(lab, host, record, o),
    '-f',
    'none',
  ]);
  return new Ucarp(host, proc);
}

/** ucarp's log lines that mean it dropped a packet it read as CARP (a wrong password too). */
export const UCARP_PACKET_ERRORS = /Bad (TTL|version|IP checksum|digest)/;

/**
 * A vipd config for `host` with one CARP instance set as ucarp's options would (vhid, password,
 * VIP/32, advbase, advskew, dead ratio, -P), running `host`'s scripts as its up/down hooks with
 * ucarp's arguments and, like ucarp, not caring whether they fail.
 */
export function vipdCarpConfig(host: string, record: ScriptRecord, o: UcarpOptions): unknown {
  const { up, down } = record.scripts(host);
  return {
    node: { name: host },
    log: { level: process.env.VIPD_TEST_LOG_LEVEL ?? 'info' },
    instances: [
      {
        name: 'VI_1',
        interface: 'eth0',
        protocol: 'carp',
        vrid: o.vhid ?? CARP_VHID,
        vips: [`${o.vip ?? CARP_VIP}/32`],
        preempt: o.preempt === true,
        carp: {
          password: o.password ?? CARP_PASSWORD,
          advbase: o.advbase ?? 1,
          advskew: o.advskew,
          deadRatio: o.deadRatio ?? 3,
        },
        hooks: { up, down, extra: o.xparam ?? host, perVip: true, onFailure: 'ignore' },
      },
    ],
  };
}
