/**
 * VRRP messages carried in UDP (node:dgram), for hosts where raw sockets are not allowed
 * (containers without CAP_NET_RAW, some clouds). Multicast to 224.0.0.18 on a configurable port,
 * or unicast peers.
 *
 * What this transport cannot do, and why it is not a drop-in for the raw one:
 * - It is not VRRP on the wire: keepalived and routers will not hear it.
 * - It cannot see the received TTL, so the RFC's "TTL must be 255" proof that a packet came from
 *   the local link is unavailable (`ttl: undefined`). As a partial substitute the daemon only
 *   accepts senders on the interface's own subnet or in its unicast peer list; any host that can
 *   reach the port can still forge adverts. Authentication (an HMAC with a replay counter) is
 *   added by later work before this transport should be trusted on a shared segment.
 * - node:dgram cannot report the destination address of a datagram, so the caller supplies the
 *   one it expects (its peers' choice of multicast or unicast) for the RFC 5798 pseudo-header.
 */
import { createSocket, type Socket } from 'node:dgram';
import { VRRP_GROUP } from '../vrrp/packet.js';
import {
  TransportError,
  type PacketHandler,
  type Transport,
  type TransportErrorHandler,
} from './transport.js';

export interface UdpTransportOptions {
  ifname: string;
  localAddress: string;
  port: number;
  onPacket: PacketHandler;
  /** Every error the socket reports on its own (its 'error' event: op 'recv'); it stays open. */
  onError: TransportErrorHandler;
}

function codeOf(err: Error): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

export class UdpTransport implements Transport {
  readonly localAddress: string;
  private constructor(
    private readonly socket: Socket,
    private readonly port: number,
    localAddress: string,
  ) {
    this.localAddress = localAddress;
  }

  static async open(opts: UdpTransportOptions): Promise<UdpTransport> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const where = `udp transport on ${opts.ifname} port ${opts.port}`;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error): void =>
        reject(new TransportError(`${where}: ${err.message}`, 'open', codeOf(err), { cause: err }));
      socket.once('error', failed);
      socket.bind(opts.port, () => {
        socket.off('error', failed);
        resolve();
      });
    });
    try {
      socket.addMembership(VRRP_GROUP, opts.localAddress);
      socket.setMulticastInterface(opts.localAddress);
      socket.setMulticastTTL(255);
      socket.setMulticastLoopback(false);
    } catch (err) {
      socket.close();
      throw new TransportError(
        `${where}: ${(err as Error).message}`,
        'open',
        codeOf(err as Error),
        {
          cause: err,
        },
      );
    }
    socket.on('message', (payload, rinfo) => {
      if (rinfo.address === opts.localAddress) return;
      opts.onPacket({ src: rinfo.address, dst: undefined, ttl: undefined, payload });
    });
    socket.on('error', (err) =>
      opts.onError(
        new TransportError(`${where}: ${err.message}`, 'recv', codeOf(err), { cause: err }),
      ),
    );
    return new UdpTransport(socket, opts.port, opts.localAddress);
  }

  send(dst: string, payload: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.send(payload, this.port, dst, (err) => {
        if (err) {
          reject(
            new TransportError(`send to ${dst}:${this.port}: ${err.message}`, 'send', codeOf(err), {
              cause: err,
            }),
          );
        } else resolve();
      });
    });
  }

  close(): void {
    this.socket.close();
  }
}
