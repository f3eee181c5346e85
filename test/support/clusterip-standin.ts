/**
 * A stand-in for the kernel's /proc/net/ipt_CLUSTERIP/<VIP> files (gone since Linux 6.3), for
 * testing ClusterIpProc on kernels without CLUSTERIP. It is a `ProcFiles` with the kernel's exact
 * write semantics (ipt_CLUSTERIP.c clusterip_proc_write): more than 10 bytes -> EIO; first byte
 * neither '+' nor '-' -> EIO; the rest parsed like kstrtoul (optional '+', decimal digits, one
 * optional trailing newline, else EINVAL) and truncated to u16 as the kernel's node parameter
 * is; "+N" with N 0, > total or already set -> ENOMEM; "-N" with N 0, > total or not set -> ENOENT.
 * Errors look like Node's (code, errno, syscall). The state lives in real files in a temp
 * directory, rewritten in the kernel's read format ("1,3\n", empty when no node), so reading goes
 * through the real file system. `addVip`/`removeVip` play the rule being inserted/deleted.
 *
 * `iptables` is the other half: a `Run` answering iptables-legacy (-C/-I/-D), iptables-legacy-save
 * and iptables-legacy-restore --noflush (-D lines) over rules kept as iptables-save prints them,
 * with the kernel's CLUSTERIP bookkeeping (ipt_CLUSTERIP.c clusterip_tg_check/destroy): ONE config
 * per VIP, made by the first rule (--new required) and shared by every later rule for the VIP,
 * whose own parameters are then ignored, except a different --clustermac, refused (EINVAL); the
 * config, and its file, go with the last rule. `seedRule` plays a rule left by an earlier run.
 */
import { constants } from 'node:os';
import { mkdtemp, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ProcFiles } from '../../src/cluster/clusterip-proc.js';
import type { CommandResult, Run } from '../../src/cluster/command.js';

const PROC_WRITELEN = 10;

type Errno = 'EIO' | 'EINVAL' | 'ENOMEM' | 'ENOENT';

function errnoError(code: Errno, syscall: string, path?: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(
    `${code}: ${syscall}${path === undefined ? '' : ` '${path}'`}`,
  );
  err.code = code;
  err.errno = -constants.errno[code];
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

/** kstrtoul(s, 10): the number, or undefined where the kernel returns -EINVAL. */
function kstrtoul(s: string): number | undefined {
  const m = /^\+?(\d+)\n?$/.exec(s);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** What the kernel hashes with for a VIP: the parameters of the rule that made its config. */
export interface ClusterParams {
  hashmode: string;
  /** As iptables-save prints it: upper case. */
  clusterMac: string;
  total: number;
  hashInit: number;
}

interface Cluster {
  total: number;
  owned: Set<number>;
  /** Undefined when made by `addVip` rather than by a rule. */
  params?: ClusterParams;
  /** Rules sharing this config. */
  entries: number;
}

/** Built-in chains iptables-save declares for each table. */
const BUILTIN: Record<string, string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
};

/** A rule's `-x value` / `--x value` pairs (flags such as --new map to ''). */
function options(words: readonly string[]): Map<string, string> {
  const opts = new Map<string, string>();
  words.forEach((w, i) => {
    const next = words[i + 1];
    if (w.startsWith('-')) opts.set(w, next === undefined || next.startsWith('-') ? '' : next);
  });
  return opts;
}

/** `iptables-legacy -X CHAIN spec...` arguments as iptables-save prints the rule. */
function savedForm(chain: string, spec: readonly string[]): string {
  const o = options(spec);
  if (o.get('-j') !== 'CLUSTERIP') throw new Error('stand-in: only CLUSTERIP rules');
  const dst = o.get('-d') ?? '';
  const rule = [`-A ${chain} -d ${dst.includes('/') ? dst : `${dst}/32`}`];
  if (o.has('-i')) rule.push(`-i ${o.get('-i')}`);
  rule.push('-j CLUSTERIP');
  if (o.has('--new')) {
    rule.push(
      `--new --hashmode ${o.get('--hashmode')} --clustermac ${o.get('--clustermac')?.toUpperCase()}`,
      `--total-nodes ${o.get('--total-nodes')} --local-node ${o.get('--local-node')}`,
      `--hash-init ${o.get('--hash-init') ?? '0'}`,
    );
  }
  return rule.join(' ');
}

const ok = (stdout = ''): CommandResult => ({ exitCode: 0, stdout, stderr: '' });
const failed = (stderr: string): CommandResult => ({ exitCode: 1, stdout: '', stderr });
const EINVAL = "iptables: Invalid argument. Run `dmesg' for more information.";

export class ClusterIpStandIn implements ProcFiles {
  /** Every write accepted by the "kernel", in order, as [vip, data]. */
  readonly writes: [string, string][] = [];
  private readonly clusters = new Map<string, Cluster>();
  private race: number[] | undefined;
  /** Rules per table, in iptables-save's `-A` form. */
  private readonly tables = new Map<string, string[]>([['filter', []]]);

  private constructor(readonly dir: string) {}

  static async create(): Promise<ClusterIpStandIn> {
    return new ClusterIpStandIn(await mkdtemp(join(tmpdir(), 'ipt_CLUSTERIP-')));
  }

  /** A CLUSTERIP rule for `vip` was inserted: the file appears, owning `localNode` only. */
  async addVip(vip: string, total: number, localNode: number): Promise<void> {
    this.clusters.set(vip, { total, owned: new Set([localNode]), entries: 1 });
    await this.flush(vip);
  }

  /** The last rule for `vip` was deleted: the file disappears. */
  async removeVip(vip: string): Promise<void> {
    this.clusters.delete(vip);
    await unlink(join(this.dir, vip));
  }

  /** Another writer racing us: just before the next write lands, the set becomes `owned`. */
  raceNextWrite(owned: number[]): void {
    this.race = owned;
  }

  /** Sets the owned nodes directly, as another process writing the file would. */
  async force(vip: string, owned: number[]): Promise<void> {
    this.cluster(vip).owned = new Set(owned);
    await this.flush(vip);
  }

  /** The parameters the kernel hashes `vip` with; undefined when it has no config. */
  params(vip: string): ClusterParams | undefined {
    return this.clusters.get(vip)?.params;
  }

  /** The rules of `table` as iptables-save prints them. */
  rules(table = 'filter'): string[] {
    return [...(this.tables.get(table) ?? [])];
  }

  /** A rule an earlier run or the operator left (`-A CHAIN ...` as iptables-save prints it). */
  async seedRule(table: string, line: string): Promise<void> {
    const error = await this.check(line);
    if (error !== undefined) throw new Error(`stand-in: ${error}: ${line}`);
    this.tables.set(table, [...this.rules(table), line]);
  }

  /** iptables-legacy, iptables-legacy-save and iptables-legacy-restore over these rules. */
  readonly iptables: Run = async (cmd, args, input) => {
    if (cmd === 'iptables-legacy-save' && args.length === 0) return ok(this.save());
    if (cmd === 'iptables-legacy-restore' && args.join(' ') === '--noflush') {
      return this.restore(input ?? '');
    }
    const [op, chain, ...spec] = args;
    if (cmd !== 'iptables-legacy' || chain === undefined) {
      throw new Error(`stand-in: unexpected command ${cmd} ${args.join(' ')}`);
    }
    const line = savedForm(chain, spec);
    const filter = this.rules('filter');
    if (op === '-C') return filter.includes(line) ? ok() : failed('iptables: Bad rule');
    if (op === '-D') {
      if (!filter.includes(line)) return failed('iptables: Bad rule');
      await this.commit('filter', [line]);
      return ok();
    }
    if (op !== '-I') throw new Error(`stand-in: unexpected iptables-legacy ${op}`);
    const error = await this.check(line);
    if (error !== undefined) return failed(error);
    this.tables.set('filter', [line, ...filter]);
    return ok();
  };

  private save(): string {
    const out: string[] = [];
    for (const [table, rules] of this.tables) {
      const chains = BUILTIN[table] ?? [];
      out.push(`*${table}`, ...chains.map((c) => `:${c} ACCEPT [0:0]`), ...rules, 'COMMIT');
    }
    return `${out.join('\n')}\n`;
  }

  /** Each `*table ... COMMIT` block is one transaction; only -D lines, as vipd feeds. */
  private async restore(input: string): Promise<CommandResult> {
    let table: string | undefined;
    let deletes: string[] = [];
    for (const [i, line] of input.split('\n').entries()) {
      if (line.startsWith('*')) [table, deletes] = [line.slice(1), []];
      else if (line.startsWith('-D ') && table !== undefined) {
        const rule = line.replace(/^-D /, '-A ');
        const left = this.rules(table).filter((r) => r === rule).length;
        if (deletes.filter((d) => d === rule).length >= left) {
          return failed(`iptables-restore: line ${i + 1} failed`);
        }
        deletes.push(rule);
      } else if (line === 'COMMIT' && table !== undefined) {
        await this.commit(table, deletes);
        table = undefined;
      } else if (line !== '') throw new Error(`stand-in: unexpected restore line ${line}`);
    }
    return ok();
  }

  /** The kernel's checkentry for a rule about to be added: an error text, or undefined. */
  private async check(line: string): Promise<string | undefined> {
    const o = options(line.split(' '));
    if (o.get('-j') !== 'CLUSTERIP') return undefined;
    const vip = (o.get('-d') ?? '').replace(/\/32$/, '');
    const existing = this.clusters.get(vip);
    const mac = o.get('--clustermac') ?? '';
    if (existing !== undefined) {
      if (existing.params !== undefined && existing.params.clusterMac !== mac) return EINVAL;
      existing.entries++;
      return undefined;
    }
    if (!o.has('--new')) return EINVAL;
    const total = Number(o.get('--total-nodes'));
    await this.addVip(vip, total, Number(o.get('--local-node')));
    const hashInit = Number(o.get('--hash-init'));
    this.cluster(vip).params = {
      hashmode: o.get('--hashmode') ?? '',
      clusterMac: mac,
      total,
      hashInit,
    };
    return undefined;
  }

  /** Deletes one instance of each of `deletes` from `table`, then the kernel's destroy. */
  private async commit(table: string, deletes: readonly string[]): Promise<void> {
    const rules = this.rules(table);
    for (const d of deletes) rules.splice(rules.indexOf(d), 1);
    this.tables.set(table, rules);
    for (const d of deletes) {
      const o = options(d.split(' '));
      if (o.get('-j') !== 'CLUSTERIP') continue;
      const vip = (o.get('-d') ?? '').replace(/\/32$/, '');
      const c = this.cluster(vip);
      if (--c.entries === 0) await this.removeVip(vip);
    }
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  readFile(path: string): Promise<string> {
    return readFile(path, 'utf8');
  }

  async writeFile(path: string, data: string): Promise<void> {
    // Opening the real file gives the real ENOENT (syscall open) for a VIP without a rule.
    await (await open(path, 'r+')).close();
    const vip = basename(path);
    const c = this.cluster(vip);
    if (this.race !== undefined) c.owned = new Set(this.race);
    this.race = undefined;
    try {
      this.apply(c, data);
      this.writes.push([vip, data]);
    } finally {
      await this.flush(vip);
    }
  }

  private apply(c: Cluster, data: string): void {
    if (Buffer.byteLength(data) > PROC_WRITELEN) throw errnoError('EIO', 'write');
    const op = data[0];
    if (op !== '+' && op !== '-') throw errnoError('EIO', 'write');
    const parsed = kstrtoul(data.slice(1));
    if (parsed === undefined) throw errnoError('EINVAL', 'write');
    const node = parsed & 0xffff;
    const valid = node !== 0 && node <= c.total;
    if (op === '+') {
      if (!valid || c.owned.has(node)) throw errnoError('ENOMEM', 'write');
      c.owned.add(node);
    } else {
      if (!valid || !c.owned.has(node)) throw errnoError('ENOENT', 'write');
      c.owned.delete(node);
    }
  }

  private cluster(vip: string): Cluster {
    const c = this.clusters.get(vip);
    if (c === undefined) throw new Error(`stand-in: no CLUSTERIP config for ${vip}`);
    return c;
  }

  private async flush(vip: string): Promise<void> {
    const nodes = [...this.cluster(vip).owned].sort((a, b) => a - b);
    await writeFile(join(this.dir, vip), nodes.length === 0 ? '' : `${nodes.join(',')}\n`);
  }
}
