/**
 * VRRP on the wire: IP protocol 112 through a raw socket (npm `raw-socket`), bound to one
 * interface. This is what keepalived and routers speak, and the only transport on which the
 * RFC's TTL = 255 check (proof that a packet came from the local link) is possible.
 *
 * vipd builds the IP header itself (IP_HDRINCL) so that TTL 255, TOS 0xc0 (internetwork
 * control, as keepalived sends) and the source address are exactly what the RFC and the peer
 * expect, whichever address the kernel would have picked. Received packets arrive with their IP
 * header; our own multicast copies are suppressed (IP_MULTICAST_LOOP 0) and dropped by source
 * as a second line of defence.
 */
import { createSocket, SocketLevel, SocketOption, type Socket } from 'raw-socket';
import { ipv4ToUint32 } from './address.js';
import { decodeIpv4, encodeIpv4, IPPROTO_VRRP } from './ipv4.js';
import { VRRP_GROUP } from '../vrrp/packet.js';
import { TransportError, type PacketHandler, type Transport } from './transport.js';

// Linux <netinet/in.h> values raw-socket does not export.
const IP_MULTICAST_IF = 32;
const IP_MULTICAST_LOOP = 34;
const IP_ADD_MEMBERSHIP = 35;
const IPTOS_PREC_INTERNETCONTROL = 0xc0;
/** Datagrams read per readiness event at most: 2 per router for 128 routers. */
const DRAIN_MAX = 256;

function ipBytes(address: string): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(ipv4ToUint32(address));
  return b;
}

export interface RawTransportOptions {
  ifname: string;
  localAddress: string;
  onPacket: PacketHandler;
  /** Called for packets the IP layer already refuses (truncated, fragments, bad header). */
  onIpReject: (reason: string, src: string) => void;
}

export class RawTransport implements Transport {
  readonly localAddress: string;
  private readonly socket: Socket;
  private nextId = 1;

  constructor(opts: RawTransportOptions) {
    this.localAddress = opts.localAddress;
    try {
      this.socket = createSocket({ protocol: IPPROTO_VRRP, bufferSize: 65535 });
      this.socket.setOption(SocketLevel.IPPROTO_IP, SocketOption.IP_HDRINCL, 1);
      const dev = Buffer.from(`${opts.ifname}\0`);
      this.socket.setOption(SocketLevel.SOL_SOCKET, SocketOption.SO_BINDTODEVICE, dev, dev.length);
      const local = ipBytes(opts.localAddress);
      this.socket.setOption(SocketLevel.IPPROTO_IP, IP_MULTICAST_IF, local, 4);
      this.socket.setOption(SocketLevel.IPPROTO_IP, IP_MULTICAST_LOOP, 0);
      const mreq = Buffer.concat([ipBytes(VRRP_GROUP), local]);
      this.socket.setOption(SocketLevel.IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq, mreq.length);
    } catch (err) {
      throw new TransportError(
        `raw VRRP socket on ${opts.ifname}: ${(err as Error).message} ` +
          '(needs CAP_NET_RAW; use transport "udp" where raw sockets are not allowed)',
      );
    }
    const receive = (buffer: Buffer): void => {
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
    };
    this.socket.on('message', (buffer: Buffer) => {
      receive(buffer);
      this.drain(receive);
    });
    // raw-socket closes the socket after an error; the daemon learns of it on the next send.
    this.socket.on('error', () => undefined);
  }

  /**
   * raw-socket reads one datagram per readiness event, and Node runs expired timers before it
   * polls again: after the loop was held, the adverts of many routers queued in the socket
   * would be read one per turn, most routers' master-down timers firing first. So whatever is
   * queued is read now (bounded, so a flood cannot hold the loop).
   */
  private drain(receive: (buffer: Buffer) => void): void {
    for (let i = 0; i < DRAIN_MAX; i++) {
      try {
        this.socket.wrap.recv(this.socket.buffer, (buffer, bytes) =>
          receive(buffer.subarray(0, bytes)),
        );
      } catch {
        return; // EAGAIN: nothing left (any other error shows on the next send)
      }
    }
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
    return new Promise((resolve, reject) => {
      this.socket.send(packet, 0, packet.length, dst, (error) => {
        if (error) reject(new TransportError(`send to ${dst}: ${error.message}`));
        else resolve();
      });
    });
  }

  close(): void {
    this.socket.close();
  }
}
