/**
 * Adds and removes virtual addresses on an interface, each call ONE `ip -batch` run whatever the
 * number of VIPs (1,000 VIPs cost one process), and each call idempotent: adding uses
 * `addr replace`, which succeeds whether or not the address is there, so the hot path of a
 * failover spawns one process and reads nothing first; removing reads what the kernel has and
 * deletes only our VIPs that are present (whatever prefix a crashed run left them with).
 */
import { execa } from 'execa';
import type { Vip } from '../config/instance.js';
import { readInterface, type InterfaceAddress } from '../net/interface.js';

export class VipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VipError';
  }
}

/**
 * Our VIPs that are on the interface, with the prefix they actually have there: every entry of
 * the address (a ucarp-style script may have added VIP/24 next to vipd's VIP/32).
 */
export function vipsPresent(vips: readonly Vip[], present: readonly InterfaceAddress[]): Vip[] {
  const ours = new Set(vips.map((v) => v.address));
  return present
    .filter((a) => ours.has(a.address))
    .map((a) => ({ address: a.address, prefix: a.prefix }));
}

async function batch(
  ifname: string,
  op: 'replace' | 'del',
  vips: readonly Vip[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const script =
    vips.map((v) => `addr ${op} ${v.address}/${v.prefix} dev ${ifname}`).join('\n') + '\n';
  const result = await execa('ip', ['-batch', '-'], {
    input: script,
    reject: false,
    cancelSignal: signal,
  });
  if (result.exitCode !== 0) {
    const why = result.isCanceled ? 'killed at its timeout' : result.stderr.trim();
    throw new VipError(`ip -batch (${op}) on ${ifname} failed: ${why}`);
  }
}

export async function addVips(
  ifname: string,
  vips: readonly Vip[],
  signal?: AbortSignal,
): Promise<void> {
  if (vips.length > 0) await batch(ifname, 'replace', vips, signal);
}

/** Removes our VIPs from the interface; returns the ones that were there. */
export async function removeVips(
  ifname: string,
  vips: readonly Vip[],
  signal?: AbortSignal,
): Promise<Vip[]> {
  const there = vipsPresent(vips, (await readInterface(ifname)).addresses);
  if (there.length > 0) await batch(ifname, 'del', there, signal);
  return there;
}
