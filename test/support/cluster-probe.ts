/**
 * Who answers which client in a load-sharing lab: a responder on every box answering TCP and
 * UDP on VIP:PORT with its box's name, and a client probe that, from every source address at
 * once, opens one TCP connection (the name it reads, or null) and sends one UDP datagram (every
 * name answering within the window: a second answerer shows as a second datagram). IPv4 or
 * IPv6: the VIP's family picks the sockets'.
 */
import { runLocal } from '../../src/cluster/command.js';
import { isIpv6 } from '../../src/net/address.js';
import type { Lab, LabProcess } from '../lab/lab.js';

export const CLUSTER_MAC = '01:00:5e:00:01:0a';
/** The IPv6 lab VIP and its cluster MAC (the VIP's solicited-node MAC). */
export const VIP6 = '2001:db8::10';
export const CLUSTER_MAC6 = '33:33:ff:00:00:10';
export const PROBE_PORT = 7000;

/** Source addresses 10.99.0.100.. on the client, one per simulated client. */
export function clientSources(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `10.99.0.${100 + i}`);
}

/**
 * IPv6 source addresses fd00:1::100, fd00:2::100, ..., as clients behind a router: each in a /32
 * of its own, since xt_cluster hashes only the first 32 bits of an IPv6 source (clients of one
 * LAN would all land on one node). `routeIpv6` makes them reachable.
 */
export function clientSources6(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `fd00:${(i + 1).toString(16)}::100`);
}

/**
 * The client gets an address on VIP6's /64 to reach it; the boxes reach every source on-link.
 * Idempotent, and to be run again for a box whose link went down (that flushes its routes).
 */
export async function routeIpv6(lab: Lab, client: string, boxes: readonly string[]): Promise<void> {
  await lab.exec(client, 'ip', ['addr', 'replace', '2001:db8::99/64', 'dev', 'eth0', 'nodad']);
  for (const box of boxes) {
    await lab.exec(box, 'ip', ['-6', 'route', 'replace', 'default', 'dev', 'eth0']);
  }
}

const RESPONDER = `
const net = require('node:net');
const dgram = require('node:dgram');
const [name, vip, port] = process.argv.slice(1);
// A client that gives up (its window ends) resets the connection: not a reason to die.
const tcp = net.createServer((s) => { s.on('error', () => {}); s.end(name + '\\n'); });
const udp = dgram.createSocket(vip.includes(':') ? 'udp6' : 'udp4');
udp.on('message', (_m, from) => udp.send(name, from.port, from.address));
let ready = 0;
const up = () => { if (++ready === 2) console.log('listening'); };
tcp.listen(Number(port), vip, up);
udp.bind(Number(port), vip, up);
`;

const CLIENT = `
const net = require('node:net');
const dgram = require('node:dgram');
const [vip, port, windowMs, sources] = process.argv.slice(1);
const tcp = (src) => new Promise((resolve) => {
  const s = net.connect({ host: vip, port: Number(port), localAddress: src });
  let got = '';
  s.setTimeout(Number(windowMs), () => { s.destroy(); resolve(null); });
  s.on('data', (d) => { got += d; });
  s.on('end', () => resolve(got.trim()));
  s.on('error', () => resolve(null));
});
const udp = (src) => new Promise((resolve) => {
  const u = dgram.createSocket(vip.includes(':') ? 'udp6' : 'udp4');
  const got = [];
  u.on('message', (m) => got.push(String(m)));
  u.bind(0, src, () => u.send('who', Number(port), vip));
  setTimeout(() => { u.close(); resolve(got); }, Number(windowMs));
});
Promise.all(JSON.parse(sources).map(async (src) => {
  const [t, u] = await Promise.all([tcp(src), udp(src)]);
  return [src, { tcp: t, udp: u }];
})).then((r) => console.log(JSON.stringify(Object.fromEntries(r))));
`;

export interface Answers {
  tcp: string | null;
  udp: string[];
}

/**
 * Adds addresses to a host's eth0 in one `ip -batch`: IPv4 as /24, IPv6 as /64 without duplicate
 * address detection (usable at once; in a cluster every box holds the same VIP, which DAD
 * would refuse).
 */
export async function addSources(lab: Lab, client: string, sources: string[]): Promise<void> {
  const cidr = (s: string): string => (isIpv6(s) ? `${s}/64 nodad` : `${s}/24`);
  const batch = sources.map((s) => `addr add ${cidr(s)} dev eth0`).join('\n') + '\n';
  const r = await runLocal('ip', ['-n', lab.host(client).ns, '-batch', '-'], batch);
  if (r.exitCode !== 0) throw new Error(`adding the client's sources: ${r.stderr}`);
}

/**
 * Starts the responder on a box (the VIP must be on it) and waits until it listens. Its sockets
 * outlive the VIP: one still running answers again once the VIP is back.
 */
export async function startResponder(lab: Lab, box: string, vip: string): Promise<LabProcess> {
  const responder = lab.spawn(box, `responder-${box}`, process.execPath, [
    '-e',
    RESPONDER,
    box,
    vip,
    String(PROBE_PORT),
  ]);
  await responder.waitForLine(/^listening$/, 10_000);
  return responder;
}

/** One probe from every source at once; answers by source. */
export async function probe(
  lab: Lab,
  client: string,
  vip: string,
  sources: string[],
  windowMs = 1000,
): Promise<Map<string, Answers>> {
  const out = await lab.exec(client, process.execPath, [
    '-e',
    CLIENT,
    vip,
    String(PROBE_PORT),
    String(windowMs),
    JSON.stringify(sources),
  ]);
  return new Map(Object.entries(JSON.parse(out) as Record<string, Answers>));
}

/**
 * The sources not answered exactly once (one UDP answer, a TCP answer, and with `sameBox` the
 * same box for both), as [source, answers]; [] when every source was.
 */
export function notExactlyOnce(
  answers: Map<string, Answers>,
  sources: string[],
  sameBox: boolean,
): [string, Answers | undefined][] {
  return sources.flatMap((src): [string, Answers | undefined][] => {
    const a = answers.get(src);
    const ok =
      a !== undefined && a.udp.length === 1 && a.tcp !== null && (!sameBox || a.tcp === a.udp[0]);
    return ok ? [] : [[src, a]];
  });
}
