/**
 * VRRP on the wire: IP protocol 112 through a raw socket of the project's addon
 * (native/raw_socket.cc, through src/native.ts), bound to one interface. This is what keepalived
 * and routers speak, and the only transport on which the RFC's TTL = 255 check (proof that a
 * packet came from the local link) is possible.
 *
 * vipd builds the IP header itself (IP_HDRINCL) so that TTL 255, TOS 0xc0 (internetwork
 * control, as keepalived sends) and the source address are exactly what the RFC and the peer
 * expect, whichever address the kernel would have picked. Received packets arrive with their IP
 * header, in batches: the addon reads everything queued at each readiness (bounded), so adverts
 * that queued while the event loop was busy are all handled before the next timers run. Our own
 * multicast copies are suppressed (IP_MULTICAST_LOOP 0) and dropped by source as a second line
 * of defence.
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
import { decodeIpv4, encodeIpv4, IPPROTO_VRRP } from './ipv4.js';
import { VRRP_GROUP } from '../vrrp/packet.js';
import {
  TransportError,
  type PacketHandler,
  type Transport,
  type TransportErrorHandler,
} from './transport.js';

const IPTOS_PREC_INTERNETCONTROL = 0xc0;

export interface RawTransportOptions {
  ifname: string;
  localAddress: string;
  onPacket: PacketHandler;
  /** Called for packets the IP layer already refuses (truncated, fragments, bad header). */
  onIpReject: (reason: string, src: string) => void;
  /** Every error the socket reports on its own (op 'recv'); the socket stays open. */
  onError: TransportErrorHandler;
}

/** The kernel's words for a failed call, without the addon's "sendto failed on eth0: " prefix. */
function reason(err: unknown): string {
  const e = err as NativeCallError;
  return e.strerror ?? e.message;
}

export class RawTransport implements Transport {
  readonly localAddress: string;
  private readonly ifname: string;
  private readonly socket: NativeSocket;
  private nextId = 1;

  constructor(opts: RawTransportOptions) {
    this.localAddress = opts.localAddress;
    this.ifname = opts.ifname;
    const onBatch = (batch: RawDatagram[]): void => {
      for (const datagram of batch) this.receive(datagram.data, opts);
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
          family: 4,
          protocol: IPPROTO_VRRP,
          ifname: opts.ifname,
          local: opts.localAddress,
          group: VRRP_GROUP,
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

  private receive(buffer: Buffer, opts: RawTransportOptions): void {
    const ip = decodeIpv4(buffer);
    if (!ip.ok) {
      opts.onIpReject(ip.reason, 'unknown');
      return;
    }
    if (ip.header.src === this.localAddress || ip.header.protocol !== IPPROTO_VRRP) return;
    opts.onPacket({
      src: ip.header.src,
      dst: ip.header.dst,
      ttl: ip.header.ttl,
      payload: ip.payload,
    });
  }

  send(dst: string, payload: Buffer): Promise<void> {
    const packet = encodeIpv4(
      {
        tos: IPTOS_PREC_INTERNETCONTROL,
        id: this.nextId,
        dontFragment: false,
        ttl: 255,
        protocol: IPPROTO_VRRP,
        src: this.localAddress,
        dst,
      },
      payload,
    );
    this.nextId = (this.nextId % 0xffff) + 1;
    try {
      this.socket.send(packet, dst);
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

  /** Idempotent; a send after it rejects (EBADF). */
  close(): void {
    this.socket.close();
  }
}
