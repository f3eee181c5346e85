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
 */
import { constants } from 'node:os';
import { mkdtemp, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { ProcFiles } from '../../src/cluster/clusterip-proc.js';

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

interface Cluster {
  total: number;
  owned: Set<number>;
}

export class ClusterIpStandIn implements ProcFiles {
  /** Every write accepted by the "kernel", in order, as [vip, data]. */
  readonly writes: [string, string][] = [];
  private readonly clusters = new Map<string, Cluster>();
  private race: number[] | undefined;

  private constructor(readonly dir: string) {}

  static async create(): Promise<ClusterIpStandIn> {
    return new ClusterIpStandIn(await mkdtemp(join(tmpdir(), 'ipt_CLUSTERIP-')));
  }

  /** A CLUSTERIP rule for `vip` was inserted: the file appears, owning `localNode` only. */
  async addVip(vip: string, total: number, localNode: number): Promise<void> {
    this.clusters.set(vip, { total, owned: new Set([localNode]) });
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
