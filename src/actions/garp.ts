/**
 * Gratuitous ARP, so neighbours re-point their caches for our VIPs at this box's MAC. One Garp per
 * interface, its packet socket opened once and reused for every transition and refresh. A round
 * is one RFC 5227 announcement per VIP address (no prefix), all in one send batch; an abort stops
 * between rounds and resolves with what was sent. A bad MAC or VIP throws before any frame leaves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { gratuitousArp, parseMac } from '../net/arp.js';
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

export class Garp {
  private constructor(
    private readonly socket: PacketSocket,
    private readonly mac: string,
  ) {}

  static open(ifname: string, mac: string): Garp {
    parseMac(mac);
    return new Garp(PacketSocket.open(ifname), mac);
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
    const frames = vips.map((vip) => gratuitousArp(this.mac, vip, 'request'));
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
