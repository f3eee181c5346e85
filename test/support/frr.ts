/**
 * FRR 8.4's vrrpd as a real peer inside a lab host: zebra and vrrpd started in the host's
 * namespace in the foreground (so the lab holds their PIDs and its teardown kills them), as
 * user frr, in a private directory with their own zserv socket and vty sockets and no TCP vty;
 * the macvlan FRR's documentation (doc/user/vrrp.rst) asks the system to provide, carrying the
 * VIPs; and `show vrrp json` read back, a graceful withdrawal (`no vrrp N`) and a crash
 * (SIGKILL of vrrpd).
 *
 * FRR does not add the VIPs itself: they must already be on the macvlan, which FRR keeps in
 * protodown while backup (so the VIPs stay configured but unusable) and lifts when master.
 */
import { virtualMac } from '../../src/vrrp/vmac-address.js';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressFamily } from '../../src/net/address.js';
import { LabError, type Lab, type LabProcess } from '../lab/lab.js';
import { until } from './until.js';

const FRR_DIR = '/usr/lib/frr';

export interface FrrOptions {
  vrid: number;
  version: 2 | 3;
  priority: number;
  /** Advertisement interval in ms (a multiple of 10; of 1000 for VRRPv2). */
  intervalMs: number;
  /**
   * The VIPs, all of `family`, in the order FRR advertises them. A prefix (`/24`, `/64`) is the
   * one the address gets on the macvlan; without one it is a host address there.
   */
  vips: string[];
  family: 4 | 6;
  /** The interface VRRP runs on (the macvlan's parent); default eth0. */
  iface?: string;
}

/** One address family of one FRR virtual router, from `show vrrp json`. */
export interface FrrRouterStatus {
  vrid: number;
  version: number;
  /** The interface VRRP is configured on (eth0). */
  interface: string;
  family: 4 | 6;
  /** The macvlan FRR found by its virtual MAC ('' when none). */
  macvlan: string;
  vmac: string;
  /** The advert source address. */
  primaryAddress: string;
  /** 'Initialize', 'Backup' or 'Master'. */
  status: string;
  effectivePriority: number;
  skewTimeMs: number;
  masterDownIntervalMs: number;
  /** Adverts FRR sent, and those it received and accepted (invalid ones are not counted). */
  adverTx: number;
  adverRx: number;
  transitions: number;
  addresses: string[];
}

interface ShowVrrpFamily {
  interface: string;
  vmac: string;
  primaryAddress: string;
  status: string;
  effectivePriority: number;
  skewTime: number;
  masterDownInterval: number;
  stats: { adverTx: number; adverRx: number; transitions: number };
  addresses: string[];
}

interface ShowVrrpRouter {
  vrid: number;
  version: number;
  interface: string;
  v4: ShowVrrpFamily;
  v6: ShowVrrpFamily;
}

/** vrrpd debug lines (`debug vrrp protocol` and `packets`) that mean it refused an advert. */
export const FRR_PACKET_ERRORS = /Datagram invalid|Datagram has \d+ addresses, but/;

/** The macvlan name this module gives FRR's interface (FRR itself finds it by its MAC). */
export function macvlanName(family: 4 | 6, vrid: number): string {
  return `vrrp${family}-${vrid}`;
}

/** vrrpd.conf for one virtual router on `iface`, with the debugging that logs every refusal. */
export function vrrpdConfig(host: string, o: FrrOptions): string {
  const iface = o.iface ?? 'eth0';
  const n = o.vrid;
  const keyword = o.family === 4 ? 'ip' : 'ipv6';
  return [
    `hostname ${host}`,
    'debug vrrp protocol',
    'debug vrrp packets',
    '!',
    `interface ${iface}`,
    ` vrrp ${n} version ${o.version}`,
    ` vrrp ${n} priority ${o.priority}`,
    ` vrrp ${n} advertisement-interval ${o.intervalMs}`,
    // The first address activates the router: everything else is set by then.
    ...o.vips.map((v) => ` vrrp ${n} ${keyword} ${bareAddress(v)}`),
    '!',
    '',
  ].join('\n');
}

function bareAddress(cidr: string): string {
  return cidr.split('/')[0] ?? cidr;
}

function checkOptions(o: FrrOptions): void {
  if (!Number.isInteger(o.vrid) || o.vrid < 1 || o.vrid > 255)
    throw new LabError(`frr: VRID must be 1..255, got ${o.vrid}`);
  if (o.vips.length === 0) throw new LabError('frr: at least one VIP is needed');
  for (const v of o.vips) {
    if (addressFamily(bareAddress(v)) !== o.family)
      throw new LabError(`frr: VIP ${v} is not an IPv${o.family} address (family ${o.family})`);
  }
  if (o.family === 6 && o.version === 2)
    throw new LabError('frr: VRRPv2 carries no IPv6 (RFC 3768); use version 3');
}

let starts = 0;

async function frrIds(lab: Lab, host: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([
    lab.exec(host, 'id', ['-u', 'frr']),
    lab.exec(host, 'id', ['-g', 'frr']),
  ]);
  return { uid: Number(uid), gid: Number(gid) };
}

/** A running zebra + vrrpd pair in a lab host, with the macvlan it drives. */
export class Frr {
  private constructor(
    readonly lab: Lab,
    readonly host: string,
    readonly options: FrrOptions,
    /** FRR's config, pid files and sockets (owned by frr). */
    readonly dir: string,
    readonly zebra: LabProcess,
    readonly vrrpd: LabProcess,
  ) {}

  /**
   * Prepares the host (macvlan with the virtual MAC and the VIPs, arp_ignore), starts zebra,
   * then vrrpd once zebra listens, and resolves when vrrpd reports the router on its macvlan.
   */
  static async start(lab: Lab, host: string, o: FrrOptions): Promise<Frr> {
    checkOptions(o);
    await prepareHost(lab, host, o);
    starts += 1;
    const dir = mkdtempSync(join(tmpdir(), `vipd-frr-${host}-`));
    const { uid, gid } = await frrIds(lab, host);
    writeFileSync(join(dir, 'zebra.conf'), `hostname ${host}\n`);
    writeFileSync(join(dir, 'vrrpd.conf'), vrrpdConfig(host, o));
    for (const f of ['', 'zebra.conf', 'vrrpd.conf']) chownSync(join(dir, f), uid, gid);
    // -u root is refused (root is not in group frrvty); -P 0: no TCP vty; -z: a zserv socket
    // of its own, so another FRR on the machine is never reached.
    const common = (name: string): string[] => [
      '-f',
      join(dir, `${name}.conf`),
      '-i',
      join(dir, `${name}.pid`),
      '-z',
      join(dir, 'zserv.api'),
      '--vty_socket',
      dir,
      '-A',
      '127.0.0.1',
      '-P',
      '0',
      '-u',
      'frr',
      '-g',
      'frr',
      '--log',
      'stdout',
      '--log-level',
      'debug',
    ];
    const tag = `${host}-${starts}`;
    const zebra = lab.spawn(host, `frr-zebra-${tag}`, join(FRR_DIR, 'zebra'), common('zebra'));
    let vrrpd: LabProcess | undefined;
    try {
      // Logged once its zserv socket listens (zebra opens it before running its loop).
      await zebra.waitForLine(/zebra \S+ starting/, 15_000);
      vrrpd = lab.spawn(host, `frr-vrrpd-${tag}`, join(FRR_DIR, 'vrrpd'), common('vrrpd'));
      const frr = new Frr(lab, host, o, dir, zebra, vrrpd);
      await until(
        `FRR vrrpd on ${host}: VRID ${o.vrid} IPv${o.family} attached to ${macvlanName(o.family, o.vrid)}`,
        async () => {
          if (!frr.vrrpd.running)
            throw new LabError(`frr: vrrpd exited:\n${frr.vrrpd.lines.join('\n')}`);
          const s = await frr.status().catch(() => undefined);
          return { done: s !== undefined && s.status !== 'Initialize', value: s };
        },
        15_000,
        200,
      );
      return frr;
    } catch (err) {
      await vrrpd?.stop();
      await zebra.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** vtysh against this FRR's vrrpd only; throws with vtysh's output when it fails. */
  vtysh(commands: string[]): Promise<string> {
    return this.lab.exec(this.host, 'vtysh', [
      '--vty_socket',
      this.dir,
      '-d',
      'vrrpd',
      ...commands.flatMap((c) => ['-c', c]),
    ]);
  }

  /** Every virtual router vrrpd knows, per address family, as `show vrrp json` shows them. */
  async show(): Promise<FrrRouterStatus[]> {
    const out = await this.vtysh(['show vrrp json']);
    return (JSON.parse(out) as ShowVrrpRouter[]).flatMap((r) =>
      ([4, 6] as const).map((family) => {
        const f = family === 4 ? r.v4 : r.v6;
        return {
          vrid: r.vrid,
          version: r.version,
          interface: r.interface,
          family,
          macvlan: f.interface,
          vmac: f.vmac,
          primaryAddress: f.primaryAddress,
          status: f.status,
          effectivePriority: f.effectivePriority,
          skewTimeMs: f.skewTime,
          masterDownIntervalMs: f.masterDownInterval,
          adverTx: f.stats.adverTx,
          adverRx: f.stats.adverRx,
          transitions: f.stats.transitions,
          addresses: f.addresses,
        };
      }),
    );
  }

  /** This FRR's own router (its VRID and family), or undefined once withdrawn. */
  async status(): Promise<FrrRouterStatus | undefined> {
    const iface = this.options.iface ?? 'eth0';
    return (await this.show()).find(
      (s) =>
        s.vrid === this.options.vrid && s.family === this.options.family && s.interface === iface,
    );
  }

  /** Waits until vrrpd reports `state` ('Master', 'Backup') for its router. */
  async waitForStatus(state: string, timeoutMs: number): Promise<FrrRouterStatus> {
    const s = await until(
      `FRR on ${this.host} ${state}`,
      async () => {
        const now = await this.status();
        return { done: now?.status === state, value: now };
      },
      timeoutMs,
      100,
    );
    if (s === undefined) throw new LabError(`frr: no router ${this.options.vrid}`);
    return s;
  }

  /**
   * Whether the VIPs are usable on this box: the macvlan is up and out of protodown (what FRR
   * changes on a transition). After a crash it stays as it was: usable if FRR was master.
   */
  async holdsVips(): Promise<boolean> {
    const name = macvlanName(this.options.family, this.options.vrid);
    const out = await this.lab.exec(this.host, 'ip', ['-j', '-d', 'link', 'show', 'dev', name]);
    const link = (JSON.parse(out) as { flags: string[]; proto_down?: boolean }[])[0];
    return link !== undefined && link.flags.includes('UP') && link.proto_down !== true;
  }

  /** vrrpd's log lines that mean it refused an advert (see FRR_PACKET_ERRORS). */
  rejections(): string[] {
    return this.vrrpd.lines.filter((l) => FRR_PACKET_ERRORS.test(l));
  }

  /**
   * Graceful withdrawal: `no vrrp N` on the interface. A master sends a priority-0 advert so a
   * backup takes over after its skew time, not its master-down interval (RFC 5798 6.4.3).
   */
  async withdraw(): Promise<void> {
    await this.vtysh([
      'configure terminal',
      `interface ${this.options.iface ?? 'eth0'}`,
      `no vrrp ${this.options.vrid}`,
    ]);
  }

  /** A crash: SIGKILL to vrrpd, which leaves its macvlan as it was (up, with the VIPs). */
  async kill(): Promise<void> {
    this.vrrpd.kill('SIGKILL');
    await this.vrrpd.exited;
  }

  /** Stops vrrpd then zebra (by their PIDs), deletes the macvlan and FRR's directory. */
  async stop(): Promise<void> {
    await this.vrrpd.stop();
    await this.zebra.stop();
    await this.lab
      .exec(this.host, 'ip', [
        'link',
        'del',
        'dev',
        macvlanName(this.options.family, this.options.vrid),
      ])
      .catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * What FRR expects of the system (doc/user/vrrp.rst, "System Configuration"): a bridge-mode
 * macvlan on the interface with the virtual MAC, carrying the VIPs (not the parent), up; for
 * IPv6 a random link-local on it (the EUI-64 one would equal another box's). And ARP kept to
 * the virtual MAC: arp_ignore=1, or the box answers ARP for the VIP from eth0's MAC as well;
 * arp_announce=2, or its replies to a client, routed out of eth0 from the VIP, make eth0 ask for
 * the client's MAC from the VIP, and the client then takes eth0's MAC for the VIP.
 */
async function prepareHost(lab: Lab, host: string, o: FrrOptions): Promise<void> {
  const iface = o.iface ?? 'eth0';
  const name = macvlanName(o.family, o.vrid);
  const ip = (args: string[]): Promise<string> => lab.exec(host, 'ip', args);
  await ip(['link', 'del', 'dev', name]).catch(() => undefined);
  await ip(['link', 'add', name, 'link', iface, 'type', 'macvlan', 'mode', 'bridge']);
  await ip(['link', 'set', 'dev', name, 'address', virtualMac(o.family, o.vrid)]);
  // `addrgenmode random` in `ip link add` is refused on this kernel; set on the link it works.
  if (o.family === 6) await ip(['link', 'set', 'dev', name, 'addrgenmode', 'random']);
  for (const v of o.vips) {
    const cidr = v.includes('/') ? v : `${v}/${o.family === 4 ? 32 : 128}`;
    // nodad: a VIP moves between boxes by protodown and is never to be held back as tentative.
    await ip(['addr', 'add', cidr, 'dev', name, ...(o.family === 6 ? ['nodad'] : [])]);
  }
  await ip(['link', 'set', 'dev', name, 'up']);
  if (o.family === 6) await lab.dadDone(host, name);
  await lab.exec(host, 'sysctl', [
    '-qw',
    'net.ipv4.conf.all.arp_ignore=1',
    `net.ipv4.conf.${iface}.arp_ignore=1`,
    'net.ipv4.conf.all.arp_announce=2',
    `net.ipv4.conf.${iface}.arp_announce=2`,
  ]);
}
