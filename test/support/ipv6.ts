/**
 * IPv6 in the namespace lab: a host's IPv6 addresses (with their DAD state), who holds an IPv6
 * VIP, a client's neighbour entry, and the wait for duplicate address detection, which keeps a
 * fresh interface's link-local address tentative (unusable as a source) for about a second.
 */
import type { Lab } from '../lab/lab.js';
import { until } from './until.js';

export interface Address6 {
  address: string;
  prefix: number;
  tentative: boolean;
}

export async function addresses6(lab: Lab, host: string, dev = 'eth0'): Promise<Address6[]> {
  const out = await lab.exec(host, 'ip', ['-j', '-6', 'addr', 'show', 'dev', dev]);
  const parsed = JSON.parse(out) as {
    addr_info?: { local?: string; prefixlen?: number; tentative?: boolean }[];
  }[];
  return (parsed[0]?.addr_info ?? []).map((a) => ({
    address: a.local ?? '',
    prefix: a.prefixlen ?? 0,
    tentative: a.tentative === true,
  }));
}

/** Which of `hosts` carry `address` on `dev` now. */
export async function holders6(
  lab: Lab,
  address: string,
  hosts: readonly string[],
  dev = 'eth0',
): Promise<string[]> {
  const on: string[] = [];
  for (const host of hosts) {
    const list = await addresses6(lab, host, dev).catch(() => []);
    if (list.some((a) => a.address === address)) on.push(host);
  }
  return on;
}

/** Until every listed host's `dev` has a link-local address that is no longer tentative. */
export async function linkLocalReady(
  lab: Lab,
  hosts: readonly string[],
  dev = 'eth0',
): Promise<void> {
  await until(
    `link-local addresses out of DAD on ${hosts.join(', ')}`,
    async () => {
      const ready = await Promise.all(
        hosts.map(async (h) =>
          (await addresses6(lab, h, dev)).some(
            (a) => a.address.startsWith('fe80:') && !a.tentative,
          ),
        ),
      );
      return { done: ready.every(Boolean), value: ready };
    },
    10_000,
  );
}

/** The host's own link-local address on `dev`. */
export async function linkLocalOf(lab: Lab, host: string, dev = 'eth0'): Promise<string> {
  const ll = (await addresses6(lab, host, dev)).find((a) => a.address.startsWith('fe80:'));
  if (ll === undefined) throw new Error(`${host} has no link-local address on ${dev}`);
  return ll.address;
}

/** The MAC `host` has for `address` in its neighbour table (any state but FAILED), if any. */
export async function neighbour6(
  lab: Lab,
  host: string,
  address: string,
  dev = 'eth0',
): Promise<string | undefined> {
  const out = await lab.exec(host, 'ip', ['-j', '-6', 'neigh', 'show', address, 'dev', dev]);
  const entries = JSON.parse(out) as { lladdr?: string; state?: string[] }[];
  const entry = entries.find((e) => e.lladdr !== undefined && !(e.state ?? []).includes('FAILED'));
  return entry?.lladdr;
}

/** The MAC of a host's interface. */
export async function macOf(lab: Lab, host: string, dev = 'eth0'): Promise<string> {
  const out = await lab.exec(host, 'ip', ['-j', 'link', 'show', 'dev', dev]);
  const mac = (JSON.parse(out) as { address?: string }[])[0]?.address;
  if (mac === undefined) throw new Error(`${host} ${dev} has no MAC`);
  return mac;
}
