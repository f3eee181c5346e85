/**
 * Adds and removes virtual addresses on an interface. Each call reads what the kernel has,
 * computes the difference (pure, `vipChanges`) and applies it in ONE `ip -batch` run, so 1,000
 * VIPs cost one process, and re-running a call is a no-op (nothing duplicated, nothing fails
 * because it was already done).
 */
import { execa } from 'execa';
import type { Vip } from '../config/config.js';
import { readInterface, type InterfaceAddress } from '../net/interface.js';

export class VipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VipError';
  }
}

export interface VipChange {
  op: 'add' | 'del';
  vip: Vip;
}

/** The `ip` commands that take `present` to the wanted state for `vips`. */
export function vipChanges(
  vips: readonly Vip[],
  present: readonly InterfaceAddress[],
  want: 'present' | 'absent',
): VipChange[] {
  const have = new Set(present.map((a) => `${a.address}/${a.prefix}`));
  const haveAddress = new Map(present.map((a) => [a.address, a.prefix]));
  const changes: VipChange[] = [];
  for (const vip of vips) {
    const exact = have.has(`${vip.address}/${vip.prefix}`);
    if (want === 'present' && !exact) {
      const stalePrefix = haveAddress.get(vip.address);
      // Same address with another prefix (config changed since a crash): replace it.
      if (stalePrefix !== undefined)
        changes.push({ op: 'del', vip: { address: vip.address, prefix: stalePrefix } });
      changes.push({ op: 'add', vip });
    }
    if (want === 'absent') {
      const prefix = haveAddress.get(vip.address);
      if (prefix !== undefined) changes.push({ op: 'del', vip: { address: vip.address, prefix } });
    }
  }
  return changes;
}

export async function setVips(
  ifname: string,
  vips: readonly Vip[],
  want: 'present' | 'absent',
): Promise<VipChange[]> {
  const info = await readInterface(ifname);
  const changes = vipChanges(vips, info.addresses, want);
  if (changes.length === 0) return changes;
  const script =
    changes.map((c) => `addr ${c.op} ${c.vip.address}/${c.vip.prefix} dev ${ifname}`).join('\n') +
    '\n';
  const result = await execa('ip', ['-batch', '-'], { input: script, reject: false });
  if (result.exitCode !== 0) {
    throw new VipError(`ip -batch on ${ifname} failed: ${result.stderr.trim()}`);
  }
  return changes;
}
