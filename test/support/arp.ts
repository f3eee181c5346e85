/**
 * ARP and neighbour discovery as the lab's hosts see it: a host's MAC, a host's neighbour entry
 * for an address (IPv4 or IPv6) and the wait for it to point at a MAC, and the tcpdump filter
 * for the gratuitous ARP a box sends to claim an address.
 */
import type { Lab } from '../lab/lab.js';
import { until } from './until.js';

export async function macOf(lab: Lab, host: string, dev = 'eth0'): Promise<string> {
  const out = await lab.exec(host, 'ip', ['-j', 'link', 'show', 'dev', dev]);
  const address = (JSON.parse(out) as { address?: string }[])[0]?.address;
  if (address === undefined) throw new Error(`no MAC for ${host}'s ${dev} in: ${out}`);
  return address;
}

/** The link-layer address `host`'s neighbour table has for `ip` now, if any. */
export async function neighbourOf(
  lab: Lab,
  host: string,
  ip: string,
  dev = 'eth0',
): Promise<string | undefined> {
  const out = await lab.exec(host, 'ip', ['-j', 'neigh', 'show', ip, 'dev', dev]);
  return (JSON.parse(out) as { lladdr?: string }[])[0]?.lladdr;
}

/** Waits until `host`'s neighbour entry for `ip` is `mac`; fails with the last entry seen. */
export async function neighbourBecomes(
  lab: Lab,
  host: string,
  ip: string,
  mac: string,
  timeoutMs = 5_000,
): Promise<void> {
  await until(
    `${host} reaches ${ip} at ${mac}`,
    async () => {
      const got = await neighbourOf(lab, host, ip);
      return { done: got === mac, value: got };
    },
    timeoutMs,
  );
}

/**
 * Gratuitous ARP from `mac` announcing `ip`: an ARP request (opcode 1) whose sender and target
 * protocol addresses are both `ip` (bytes 14 and 24 of the ARP header).
 */
export function gratuitousArpFilter(mac: string, ip: string): string {
  const hex = `0x${ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')}`;
  return `arp and ether src ${mac} and arp[6:2] = 1 and arp[14:4] = ${hex} and arp[24:4] = ${hex}`;
}
