/**
 * Announces our VIPs so neighbours re-point their caches at this box's MAC: a gratuitous ARP
 * (an RFC 5227 announcement, net/arp.ts) for each IPv4 VIP, an unsolicited Neighbor Advertisement
 * (RFC 4861 7.2.6, net/nd.ts) for each IPv6 VIP. The name stays Garp, for its larger half.
 *
 * One Garp per interface, its packet socket opened once and reused for every transition and
 * refresh. A round is one frame per VIP address (no prefix), both families in one send batch; an
 * abort stops between rounds and resolves with what was sent. A bad MAC or VIP throws before any
 * frame leaves. The adverts' Router flag says whether the interface forwards IPv6, read once at
 * open (/proc/sys/net/ipv6/conf/<if>/forwarding), as the kernel's own unsolicited adverts and
 * keepalived's do: a host that sees it drop stops using this box as a default router.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { addressFamily } from '../net/address.js';
import { gratuitousArp, parseMac } from '../net/arp.js';
import { unsolicitedNeighborAdvert } from '../net/nd.js';
import { PacketSocket, PacketSocketError } from '../net/packet-socket.js';

export interface GarpOptions {
  /** Rounds, at least 1. */
  count: number;
  /** Pause between rounds. */
  intervalMs: number;
}

export interface GarpResult {
  frames: number;
  ms: number;
}

/** A transmit queue that takes nothing for this long is stuck (carrier lost), not just busy. */
const STALL_MS = 1_000;

/**
 * Whether `ifname` forwards IPv6. A file that cannot be read (IPv6 off on the interface, which
 * then has no IPv6 VIP to announce either) reads as no.
 */
function forwardsIpv6(ifname: string, procSys: string): boolean {
  try {
    return (
      readFileSync(join(procSys, 'net/ipv6/conf', ifname, 'forwarding'), 'utf8').trim() !== '0'
    );
  } catch {
    return false;
  }
}

export class Garp {
  private constructor(
    private readonly socket: PacketSocket,
    private readonly mac: string,
    /** The Router flag of the Neighbor Advertisements. */
    readonly router: boolean,
  ) {}

  /** `procSys` is for tests. */
  static open(ifname: string, mac: string, procSys = '/proc/sys'): Garp {
    parseMac(mac);
    const socket = PacketSocket.open(ifname);
    return new Garp(socket, mac, forwardsIpv6(ifname, procSys));
  }

  async announce(
    vips: readonly string[],
    opts: GarpOptions,
    signal?: AbortSignal,
  ): Promise<GarpResult> {
    if (!Number.isInteger(opts.count) || opts.count < 1) {
      throw new RangeError(`gratuitous ARP count must be an integer >= 1, not ${opts.count}`);
    }
    if (!Number.isFinite(opts.intervalMs) || opts.intervalMs < 0) {
      throw new RangeError(`gratuitous ARP interval must be >= 0 ms, not ${opts.intervalMs}`);
    }
    const started = performance.now();
    const frames = vips.map((vip) =>
      addressFamily(vip) === 6
        ? unsolicitedNeighborAdvert(this.mac, vip, { router: this.router })
        : gratuitousArp(this.mac, vip, 'request'),
    );
    let sent = 0;
    for (let round = 0; round < opts.count && frames.length > 0; round++) {
      if (round > 0) await sleep(opts.intervalMs, undefined, { signal }).catch(() => undefined);
      if (signal?.aborted === true) break;
      await this.sendRound(frames);
      sent += frames.length;
    }
    return { frames: sent, ms: performance.now() - started };
  }

  close(): void {
    this.socket.close();
  }

  /** Sends every frame, waiting out a full transmit queue (a real NIC with a thousand VIPs). */
  private async sendRound(frames: readonly Buffer[]): Promise<void> {
    let rest = frames;
    let progressAt = performance.now();
    for (;;) {
      const n = this.socket.send(rest);
      if (n === rest.length) return;
      if (n > 0) {
        rest = rest.slice(n);
        progressAt = performance.now();
      } else if (performance.now() - progressAt > STALL_MS) {
        throw new PacketSocketError(
          `cannot send frames on ${this.socket.ifname}: its transmit queue took nothing for ` +
            `${STALL_MS} ms (${frames.length - rest.length} of ${frames.length} sent; link down?)`,
          this.socket.ifname,
          'EAGAIN',
        );
      }
      await sleep(1);
    }
  }
}
