/**
 * Changes which node numbers a CLUSTERIP VIP answers, through the kernel's file
 * /proc/net/ipt_CLUSTERIP/<VIP> (kernels before 6.3; one directory per network namespace, seen
 * from the namespace of THIS process). Reading gives "1,3\n" (nothing when no node is owned);
 * each write sets ("+N") or clears ("-N") one bit. The set cannot be swapped atomically, so
 * `setOwned` adds every missing node before it removes any: for a moment a node is answered by
 * two boxes, never by none. Writes only what differs, so re-setting the same set writes nothing.
 *
 * The kernel's errors are terse and misleading (ENOMEM means "refused", not out of memory); they
 * are turned into messages naming the VIP, the node and the likely cause. File I/O goes through
 * `ProcFiles` so tests can use a stand-in with the kernel's exact semantics.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_NODES } from '../config/load-sharing.js';

export interface ProcFiles {
  readFile(path: string): Promise<string>;
  writeFile(path: string, data: string): Promise<void>;
}

export const procFiles: ProcFiles = {
  readFile: (path) => readFile(path, 'utf8'),
  // r+ (no O_CREAT/O_TRUNC): a VIP without a rule must fail as ENOENT, not create a file.
  writeFile: (path, data) => writeFile(path, data, { flag: 'r+' }),
};

export class ClusterIpProcError extends Error {
  override name = 'ClusterIpProcError';

  constructor(
    message: string,
    /** The kernel's errno code, when the kernel refused. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * Node numbers the kernel can answer: 1..--total-nodes, which iptables caps at CLUSTERIP_MAX_NODES
 * (16, ipt_CLUSTERIP.h). Checked before writing: the kernel answers anything above the rule's
 * total with a misleading ENOMEM, and truncates a number above 65535 into another node.
 */
const MAX_NODE_NUMBER = MAX_NODES.clusterip;

/** The owned nodes in the file's text ("1,3\n", or nothing when none). */
export function parseOwnedNodes(text: string): number[] {
  const trimmed = text.trim();
  return trimmed === '' ? [] : trimmed.split(',').map(Number);
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * What a failed write of `data` ("+N"/"-N") means, for an operator. `ownedAfter` is the set read
 * back after the failure (undefined if that failed too): it tells a lost race from a bad number.
 */
export function describeWriteError(
  vip: string,
  path: string,
  data: string,
  err: unknown,
  ownedAfter: readonly number[] | undefined,
): string {
  const code = errnoCode(err);
  if (code === 'ENOENT' && (err as NodeJS.ErrnoException).syscall === 'open') {
    return noRule(vip, path);
  }
  const node = Number(data.slice(1));
  const taking = data.startsWith('+');
  // The kernel's only refusal of a well-formed write: ENOMEM to take, ENOENT to release.
  if (code === (taking ? 'ENOMEM' : 'ENOENT')) {
    if (node === 0) {
      return `node 0 of CLUSTERIP VIP ${vip} does not exist: node numbers start at 1 (kernel: ${code})`;
    }
    // setOwned releases only nodes it has just read as owned, so a refused release is a race.
    if (!taking || ownedAfter?.includes(node) === true) {
      return `node ${node} of CLUSTERIP VIP ${vip} was ${taking ? 'taken' : 'released'} meanwhile: another process writes ${path} at the same time as vipd (kernel: ${code})`;
    }
    return `cannot take node ${node} of CLUSTERIP VIP ${vip}: it is above the rule's --total-nodes; totalNodes must be the same in the config and in the rule (kernel: ENOMEM, which here means refused, not out of memory)`;
  }
  if (code === 'EIO' || code === 'EINVAL') {
    return `the kernel refused ${JSON.stringify(data)} written to ${path} as malformed (kernel: ${code}); it takes "+N" or "-N", at most 10 bytes: this kernel's CLUSTERIP differs from the one vipd knows`;
  }
  const reason = err instanceof Error ? err.message : String(err);
  return `writing ${JSON.stringify(data)} to ${path} for CLUSTERIP VIP ${vip} failed: ${reason}`;
}

function noRule(vip: string, path: string): string {
  return `no CLUSTERIP rule for ${vip} in this network namespace (${path} does not exist): install the load-sharing rules first`;
}

export class ClusterIpProc {
  constructor(
    readonly dir = '/proc/net/ipt_CLUSTERIP',
    private readonly files: ProcFiles = procFiles,
  ) {}

  private path(vip: string): string {
    return join(this.dir, vip);
  }

  async read(vip: string): Promise<number[]> {
    const path = this.path(vip);
    try {
      return parseOwnedNodes(await this.files.readFile(path));
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') throw new ClusterIpProcError(noRule(vip, path), code);
      throw new ClusterIpProcError(
        `reading ${path} failed: ${err instanceof Error ? err.message : String(err)}`,
        code,
      );
    }
  }

  async setOwned(vip: string, owned: readonly number[]): Promise<void> {
    const bad = owned.filter((n) => !Number.isInteger(n) || n < 1 || n > MAX_NODE_NUMBER);
    if (bad.length > 0) {
      throw new ClusterIpProcError(
        `CLUSTERIP VIP ${vip}: ${bad.join(', ')} is not a node number (whole numbers 1..${MAX_NODE_NUMBER}, the kernel's CLUSTERIP_MAX_NODES)`,
      );
    }
    const have = await this.read(vip);
    const want = [...new Set(owned)].sort((a, b) => a - b);
    for (const n of want.filter((n) => !have.includes(n))) await this.write(vip, `+${n}`);
    for (const n of have.filter((n) => !want.includes(n))) await this.write(vip, `-${n}`);
  }

  private async write(vip: string, data: string): Promise<void> {
    const path = this.path(vip);
    try {
      await this.files.writeFile(path, data);
    } catch (err) {
      const after = await this.read(vip).catch(() => undefined);
      throw new ClusterIpProcError(describeWriteError(vip, path, data, err, after), errnoCode(err));
    }
  }
}
