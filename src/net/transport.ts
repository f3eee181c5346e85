/**
 * The contract between the daemon and whatever carries VRRP messages. A transport moves VRRP
 * messages (the bytes after the IP header) to and from one interface; it knows nothing of VRIDs
 * or state. Received packets come with what the transport could observe of the IP layer: a
 * transport that cannot see the TTL says so with `ttl: undefined`, and the decoder then cannot
 * apply the RFC's off-link check (see transport-udp.ts).
 */

export interface InboundPacket {
  src: string;
  /** Destination address, or undefined when the transport cannot tell (the caller supplies the expected one). */
  dst: string | undefined;
  ttl: number | undefined;
  payload: Buffer;
}

export type PacketHandler = (packet: InboundPacket) => void;

export interface Transport {
  /** Address adverts leave from (the interface's primary address). */
  readonly localAddress: string;
  /** Resolves when the kernel accepted the datagram; rejects with the socket error otherwise. */
  send(dst: string, payload: Buffer): Promise<void>;
  close(): void;
}

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportError';
  }
}
