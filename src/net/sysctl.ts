/**
 * The per-interface kernel setting vipd changes on the interfaces it puts VIPs on:
 * net.ipv4.conf.<ifname>.promote_secondaries, as keepalived's `promote_secondaries` option.
 * Without it, deleting the primary address of a subnet deletes every secondary of that subnet
 * with it (a VIP block outside the interface's own prefix: the first VIP is the primary of the
 * block, the rest its secondaries); with it, a secondary becomes the primary and the rest stay.
 *
 * Written to /proc/sys directly, not through `sysctl`: no process is spawned, and the path keeps
 * a VLAN's dotted name (eth0.100) as it is, where the dotted sysctl key would need it rewritten.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export class SysctlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SysctlError';
  }
}

/**
 * Sets promote_secondaries to 1 on `ifname`; returns the value it had before ('1' when it was
 * already set, and then nothing is written). `procSys` is for tests.
 */
export async function setPromoteSecondaries(
  ifname: string,
  procSys = '/proc/sys',
): Promise<string> {
  const key = `net.ipv4.conf.${ifname}.promote_secondaries`;
  const path = join(procSys, 'net/ipv4/conf', ifname, 'promote_secondaries');
  try {
    const was = (await readFile(path, 'utf8')).trim();
    if (was !== '1') await writeFile(path, '1\n');
    return was;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `${path} does not exist: ${ifname} has no IPv4 settings (is the interface there?)`
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? `${path} is not writable here (${code}: not root, or a container with a read-only /proc/sys); set ${key}=1 on the host`
          : `${path}: ${(err as Error).message}`;
    throw new SysctlError(`could not set ${key}=1: ${why}`);
  }
}
