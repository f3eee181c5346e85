/**
 * VRRP on the wire: IP protocol 112 through a raw socket of the project's addon
 * (native/raw_socket.cc, through src/native.ts), bound to one interface. This is what keepalived
 * and routers speak, and the only transport on which the RFC's TTL = 255 check (proof that a
 * packet came from the local link) is possible.
 *
 * IPv4: vipd builds the IP header itself (IP_HDRINCL) so that TTL 255, TOS 0xc0 (internetwork
 * control, as keepalived sends) and the source address are exactly what the RFC and the peer
 * expect, whichever address the kernel would have picked; received packets arrive with their IP
 * header. IPv6 has no such option: the addon sets the socket up so the kernel's header says the
 * same (hop limit 255, traffic class 0xc0, source pinned to the link-local `localAddress` on
 * every send), and hands over the source, destination and hop limit of each datagram read,
 * whose bytes are the VRRP message alone. Either way datagrams come in batches: the addon reads
 * everything queued at each readiness (bounded), so adverts that queued while the event loop was
 * busy are all handled before the next timers run. Our own multicast copies are suppressed
 * (IP_MULTICAST_LOOP 0) and dropped by source as a second line of defence.
 *
 * Errors: a failed send rejects its promise with a TransportError (op 'send'); whatever the
 * socket reports on its own (a failed read, an error left pending on it by a link flap, a poll
 * error) goes to `onError` (op 'recv') and the socket stays open: the owner decides.
 */
import {
  errnoCode,
  loadNative,
  type NativeCallError,
  type NativeSocket,
  type RawDatagram,
} from '../native.js';
import { addressFamily, bytesToIpv6, canonicalAddress } from './address.js';
import { decodeIpv4, encodeIpv4, IPPROTO_VRRP } from './ipv4.js';
import { VRRP_GROUP, VRRP_GROUP_V6 } from '../vrrp/packet.js';
import {
  TransportError,
  type InboundPacket,
  type PacketHandler,
  type Transport,
  type TransportErrorHandler,
} from './transport.js';

const IPTOS_PREC_INTERNETCONTROL = 0xc0;

export interface RawTransportOptions {
  /** 4: vipd writes the IPv4 header; 6: the kernel writes the IPv6 one (src/native.ts). */
  family: 4 | 6;
  ifname: string;
  /** IPv4: the interface's primary address. IPv6: its link-local address, without a zone. */
  localAddress: string;
  onPacket: PacketHandler;
  /** Called for packets the IP layer already refuses (IPv4: truncated, fragments, bad header). */
  onIpReject: (reason: string, src: string) => void;
  /** Every error the socket reports on its own (op 'recv'); the socket stays open. */
  onError: TransportErrorHandler;
  /**
   * false: send only (a virtual MAC's macvlan): the VRRP group is not joined there, so nothing
   * arrives that the link's own socket already receives. Default true.
   */
  listen?: boolean;
}

/** The kernel's words for a failed call, without the addon's "sendto failed on eth0: " prefix. */
function reason(err: unknown): string {
  const e = err as NativeCallError;
  return e.strerror ?? e.message;
}

export class RawTransport implements Transport {
  readonly localAddress: string;
  private readonly family: 4 | 6;
  private readonly ifname: string;
  private readonly socket: NativeSocket;
  /** The IPv4 frame last built around each advert payload (the router reuses its payloads). */
  private readonly frames = new WeakMap<Buffer, { dst: string; frame: Buffer }>();

  constructor(opts: RawTransportOptions) {
    // Compared with the RFC 5952 text of each datagram's source (a malformed one is the addon's
    // to refuse, with the open error below).
    this.localAddress =
      addressFamily(opts.localAddress) === 6
        ? canonicalAddress(opts.localAddress)
        : opts.localAddress;
    this.family = opts.family;
    this.ifname = opts.ifname;
    const onBatch = (batch: RawDatagram[]): void => {
      for (const datagram of batch) this.receive(datagram, opts);
    };
    const onError = (err: NativeCallError): void => {
      opts.onError(
        new TransportError(
          `raw VRRP socket on ${opts.ifname}: ${err.message}`,
          'recv',
          errnoCode(err),
          {
            cause: err,
          },
        ),
      );
    };
    try {
      this.socket = loadNative().rawSocket(
        {
          family: opts.family,
          protocol: IPPROTO_VRRP,
          ifname: opts.ifname,
          local: this.localAddress,
          ...(opts.listen === false
            ? {}
            : { group: opts.family === 6 ? VRRP_GROUP_V6 : VRRP_GROUP }),
        },
        onBatch,
        onError,
      );
    } catch (err) {
      throw new TransportError(
        `raw VRRP socket on ${opts.ifname}: ${(err as Error).message} ` +
          '(needs CAP_NET_RAW; use transport "udp" where raw sockets are not allowed)',
        'open',
        errnoCode(err),
        { cause: err },
      );
    }
  }

  private receive(datagram: RawDatagram, opts: RawTransportOptions): void {
    const packet = this.family === 6 ? inboundIpv6(datagram) : inboundIpv4(datagram);
    if (packet === undefined) return;
    if ('reject' in packet) {
      opts.onIpReject(packet.reject, 'unknown');
      return;
    }
    if (packet.src !== this.localAddress) opts.onPacket(packet);
  }

  send(dst: string, payload: Buffer): Promise<void> {
    try {
      this.socket.send(this.family === 6 ? payload : this.ipv4Packet(dst, payload), dst);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(
        new TransportError(
          `send to ${dst} on ${this.ifname}: ${reason(err)}`,
          'send',
          errnoCode(err),
          {
            cause: err,
          },
        ),
      );
    }
  }

  readQueued(): void {
    this.socket.drain();
  }

  private ipv4Packet(dst: string, payload: Buffer): Buffer {
    const built = this.frames.get(payload);
    if (built?.dst === dst) return built.frame;
    const frame = encodeIpv4(
      {
        tos: IPTOS_PREC_INTERNETCONTROL,
        // With IP_HDRINCL Linux fills in an ID of 0 (ip_select_ident, per destination) and
        // always writes the header checksum, so the same frame can be sent every interval.
        id: 0,
        dontFragment: false,
        ttl: 255,
        protocol: IPPROTO_VRRP,
        src: this.localAddress,
        dst,
      },
      payload,
    );
    this.frames.set(payload, { dst, frame });
    return frame;
  }

  /** Idempotent; a send after it rejects (EBADF). */
  close(): void {
    this.socket.close();
  }
}

/** A packet to hand on, one the IP layer refuses, or undefined for one that is not ours. */
type Inbound = InboundPacket | { reject: string } | undefined;

function inboundIpv4(datagram: RawDatagram): Inbound {
  const ip = decodeIpv4(datagram.data);
  if (!ip.ok) return { reject: ip.reason };
  if (ip.header.protocol !== IPPROTO_VRRP) return undefined;
  const { src, dst, ttl } = ip.header;
  return { src, dst, ttl, payload: ip.payload, ...receivedAt(datagram) };
}

/** The kernel's receive time, when the addon had it. */
function receivedAt(datagram: RawDatagram): { receivedAt?: number } {
  return datagram.receivedAt > 0 ? { receivedAt: datagram.receivedAt } : {};
}

/** What an IPv6 raw socket hands over in place of the header it does not deliver. */
function inboundIpv6(datagram: RawDatagram): Inbound {
  const { src, dst, hopLimit, data } = datagram;
  if (src === undefined || dst === undefined || hopLimit === undefined) {
    return { reject: 'no-ipv6-packet-info' };
  }
  return {
    src: bytesToIpv6(src),
    dst: bytesToIpv6(dst),
    ttl: hopLimit,
    payload: data,
    ...receivedAt(datagram),
  };
}
