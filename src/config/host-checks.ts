/**
 * The config on this box, where the pure core (config.ts) cannot look: reading its file, and what
 * it means here: hook and track scripts that can be run, and VIPs that are not the box's own
 * addresses. `vipd check` prints the warnings and refuses on errors; `vipd run` logs the warnings
 * and does not start on errors.
 *
 * - A script that does not exist is a warning (it may be deployed after the config); one that
 *   exists but cannot be run (a directory, no execute bit) is an error.
 * - A VIP already on its interface: an error when it is the interface's primary address and no
 *   other primary address is left once the VIPs are set aside (the box's own address: a backup
 *   would remove it); otherwise a warning, since a crashed run leaves its VIPs behind and that
 *   must not stop the next start. An interface that does not exist (yet) is a warning.
 *
 * The interface addresses come through `readAddresses` (net/interface.ts in the CLI), so this
 * module stays clear of netlink.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { addressFamily } from '../net/address.js';
import { parseConfigText, type VipdConfig } from './config.js';
import { ConfigError, keyPath, type ConfigIssue } from './formats.js';
import { virtualLinkLocal, type Vip } from './instance.js';
import { isLinkLocal } from '../net/address.js';

/** A real config is a few KiB; a huge one is a mistake (or an attack) to refuse unread. */
const MAX_CONFIG_BYTES = 1 << 20;

export function loadConfigFile(path: string): VipdConfig {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError(path, [
        {
          key: '(file)',
          reason: `too large: ${size} bytes (at most ${MAX_CONFIG_BYTES}); is this the right file?`,
        },
      ]);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(path, [
      { key: '(file)', reason: `cannot read: ${(err as Error).message}` },
    ]);
  }
  return parseConfigText(text, path);
}

export interface HostReport {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

export interface PresentAddress {
  address: string;
  prefix: number;
  secondary: boolean;
}

/** The addresses on an interface (both families); undefined when there is no such interface. */
export type ReadAddresses = (ifname: string) => Promise<readonly PresentAddress[] | undefined>;

/** undefined when `path` can be run; otherwise whether it may still appear, and why not. */
function scriptProblem(path: string): { warning: boolean; reason: string } | undefined {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return code === 'ENOENT' || code === 'ENOTDIR'
      ? { warning: true, reason: `${path} does not exist (yet): it fails until it is installed` }
      : { warning: false, reason: `${path} cannot be read: ${code}` };
  }
  if (stat.isDirectory()) return { warning: false, reason: `${path} is a directory, not a script` };
  if (!stat.isFile()) return { warning: false, reason: `${path} is not a regular file` };
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return { warning: false, reason: `${path} is not executable (chmod +x ${path})` };
  }
  return undefined;
}

/** Hook and track scripts: present (or a warning) and executable (or an error). Synchronous. */
function scriptChecks(config: VipdConfig): HostReport {
  const report: HostReport = { errors: [], warnings: [] };
  config.instances.forEach((inst, i) => {
    const scripts: [PropertyKey[], string | null][] = [
      [['instances', i, 'hooks', 'up'], inst.hooks.up],
      [['instances', i, 'hooks', 'down'], inst.hooks.down],
      ...inst.track.scripts.map((sc, j): [PropertyKey[], string] => [
        ['instances', i, 'track', 'scripts', j, 'script'],
        sc.script,
      ]),
    ];
    for (const [path, script] of scripts) {
      const problem = script === null ? undefined : scriptProblem(script);
      if (problem !== undefined) {
        (problem.warning ? report.warnings : report.errors).push({
          key: keyPath(path),
          reason: problem.reason,
        });
      }
    }
  });
  return report;
}

interface Router {
  key: PropertyKey[];
  interface: string;
  vips: Vip[];
  advertisedCount: number;
}

/** VIPs against the addresses their interfaces already have. */
async function addressChecks(
  config: VipdConfig,
  readAddresses: ReadAddresses,
): Promise<HostReport> {
  const report: HostReport = { errors: [], warnings: [] };
  const routers: Router[] = config.instances.map((inst, i) => ({ key: ['instances', i], ...inst }));
  if (config.cluster !== null) {
    const c = config.cluster;
    routers.push({
      key: ['cluster'],
      interface: c.election.interface,
      vips: c.vips,
      advertisedCount: c.vips.length,
    });
  }
  const present = new Map<string, readonly PresentAddress[] | undefined>();
  for (const r of routers) {
    if (!present.has(r.interface)) present.set(r.interface, await readAddresses(r.interface));
  }
  for (const r of routers) {
    const addresses = present.get(r.interface);
    if (addresses === undefined) {
      report.warnings.push({
        key: keyPath([...r.key, 'interface']),
        reason: `${r.interface} does not exist on this box (yet)`,
      });
      continue;
    }
    const vipsHere = new Set(
      routers
        .filter((o) => o.interface === r.interface)
        .flatMap((o) => o.vips.map((v) => v.address)),
    );
    // Of the VIP's family: an IPv6 address is no IPv4 VIP's fallback, nor the reverse.
    const ownPrimary = (family: 4 | 6 | undefined): boolean =>
      addresses.some(
        (a) => !a.secondary && !vipsHere.has(a.address) && addressFamily(a.address) === family,
      );
    r.vips.forEach((vip, n) => {
      const found = addresses.find((a) => a.address === vip.address);
      if (found === undefined) return;
      const key = keyPath([...r.key, n < r.advertisedCount ? 'vips' : 'excludedVips']);
      if (!found.secondary && !ownPrimary(addressFamily(vip.address))) {
        report.errors.push({
          key,
          reason: `${vip.address} is ${r.interface}'s own address (its primary, and no other is left): a backup removes its VIPs, and would take the box's address with it; give the VIP an address of its own`,
        });
      } else {
        report.warnings.push({
          key,
          reason: `${vip.address} is already on ${r.interface}: left by an earlier run, or an address of the box itself, which must not be a VIP`,
        });
      }
    });
  }
  return report;
}

/** Every check on this box: scripts, then addresses. */
export async function hostChecks(
  config: VipdConfig,
  readAddresses: ReadAddresses,
): Promise<HostReport> {
  const scripts = scriptChecks(config);
  const addresses = await addressChecks(config, readAddresses);
  return {
    errors: [...scripts.errors, ...addresses.errors],
    warnings: [...scripts.warnings, ...addresses.warnings, ...linkLocalWarnings(config)],
  };
}

/**
 * RFC 5798 section 5.2.9 lists the virtual link-local address first in an IPv6 advert. Not an
 * error: a peer (keepalived) without it would drop adverts that carried it, so both must change
 * together.
 */
function linkLocalWarnings(config: VipdConfig): ConfigIssue[] {
  return config.instances.flatMap((inst, i) => {
    if (inst.family !== 6 || inst.vips.some((v) => isLinkLocal(v.address))) return [];
    const ll = virtualLinkLocal(inst.vrid);
    return [
      {
        key: keyPath(['instances', i, 'vips']),
        reason: `no link-local address: RFC 5798 section 5.2.9 puts the virtual router's link-local address first in IPv6 adverts (e.g. ${ll.address}/${ll.prefix}, the virtual MAC's); add it first on every peer at once, since keepalived drops adverts whose address count differs from its own`,
      },
    ];
  });
}

/** Errors refuse the config (every one listed); warnings go to `warn`. */
export function refuseOnErrors(
  path: string,
  report: HostReport,
  warn: (w: ConfigIssue) => void,
): void {
  report.warnings.forEach(warn);
  if (report.errors.length > 0) throw new ConfigError(path, report.errors);
}
