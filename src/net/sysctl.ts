/**
 * The per-interface kernel settings vipd changes (net.ipv4.conf.<ifname>.* and
 * net.ipv6.conf.<ifname>.*): promote_secondaries on the interfaces it puts VIPs on, as
 * keepalived's `promote_secondaries` option (without it, deleting the primary address of a
 * subnet deletes every secondary of that subnet with it: a VIP block outside the interface's
 * own prefix, the first VIP the primary of the block, the rest its secondaries); and the ARP
 * and IPv6 settings of the virtual MAC's macvlan and its parent (net/vmac.ts).
 *
 * Written to /proc/sys directly, not through `sysctl`: no process is spawned, and the path keeps
 * a VLAN's dotted name (eth0.100) as it is, where the dotted sysctl key would need it rewritten.
 * Every failure is a SysctlError naming the key, the path and what the operator can do.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export class SysctlError extends Error {
  /** The errno name of the failed read or write (ENOENT: no such setting, or interface). */
  readonly code: string | undefined;

  constructor(message: string, code?: string) {
    super(message);
    this.name = 'SysctlError';
    this.code = code;
  }
}

/** net.<family>.conf.<ifname>.<name>; `ifname` may be `all` or `default`. */
export interface InterfaceSetting {
  family: 'ipv4' | 'ipv6';
  ifname: string;
  name: string;
}

const keyOf = (s: InterfaceSetting): string => `net.${s.family}.conf.${s.ifname}.${s.name}`;
const pathOf = (s: InterfaceSetting, procSys: string): string =>
  join(procSys, 'net', s.family, 'conf', s.ifname, s.name);

const errnoOf = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

/** Why `path` could not be read or written, in words an operator can act on. */
function why(err: unknown, s: InterfaceSetting, path: string, value?: string): string {
  const code = errnoOf(err);
  if (code === 'ENOENT') {
    return `${path} does not exist: ${s.ifname} has no ${s.family === 'ipv4' ? 'IPv4' : 'IPv6'} settings (is the interface there?)`;
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    const setIt = value === undefined ? '' : `; set ${keyOf(s)}=${value} on the host`;
    return `${path} is not writable here (${code}: not root, or a container with a read-only /proc/sys)${setIt}`;
  }
  return `${path}: ${(err as Error).message}`;
}

/** The setting's current value (trimmed text). `procSys` is for tests. */
export async function readInterfaceSetting(
  s: InterfaceSetting,
  procSys = '/proc/sys',
): Promise<string> {
  const path = pathOf(s, procSys);
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new SysctlError(`could not read ${keyOf(s)}: ${why(err, s, path)}`, errnoOf(err));
  }
}

/**
 * Sets the setting to `value` unless `keep(was)` says the current value already does (by
 * default: it is `value`), and then writes nothing; returns the value it had before.
 */
export async function setInterfaceSetting(
  s: InterfaceSetting,
  value: string,
  options: { keep?: (was: string) => boolean; procSys?: string } = {},
): Promise<string> {
  const path = pathOf(s, options.procSys ?? '/proc/sys');
  const keep = options.keep ?? ((was: string) => was === value);
  try {
    const was = (await readFile(path, 'utf8')).trim();
    if (!keep(was)) await writeFile(path, `${value}\n`);
    return was;
  } catch (err) {
    throw new SysctlError(
      `could not set ${keyOf(s)}=${value}: ${why(err, s, path, value)}`,
      errnoOf(err),
    );
  }
}

/**
 * Sets promote_secondaries to 1 on `ifname`; returns the value it had before ('1' when it was
 * already set, and then nothing is written). `procSys` is for tests.
 */
export function setPromoteSecondaries(ifname: string, procSys = '/proc/sys'): Promise<string> {
  return setInterfaceSetting({ family: 'ipv4', ifname, name: 'promote_secondaries' }, '1', {
    procSys,
  });
}
