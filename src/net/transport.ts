/**
 * The contract between the daemon and whatever carries VRRP messages. A transport moves VRRP
 * messages (the bytes after the IP header) to and from one interface; it knows nothing of VRIDs
 * or state. Received packets come with what the transport could observe of the IP layer: a
 * transport that cannot see the TTL says so with `ttl: undefined`, and the decoder then cannot
 * apply the RFC's off-link check (see transport-udp.ts).
 *
 * No error is swallowed: a failed send rejects its promise, and whatever the socket reports on
 * its own goes to the owner's `onError` (a TransportError with the errno's name), which decides
 * what a deaf or mute socket means (the daemon: FAULT, release, reopen).
 */

export interface InboundPacket {
  src: string;
  /** Destination address, or undefined when the transport cannot tell (the caller supplies the expected one). */
  dst: string | undefined;
  ttl: number | undefined;
  payload: Buffer;
  /** When the kernel received it, on the monotonic clock (ms), where the transport can tell. */
  receivedAt?: number;
}

export type PacketHandler = (packet: InboundPacket) => void;

export interface Transport {
  /** Address adverts leave from (IPv4: the interface's primary address; IPv6: its link-local). */
  readonly localAddress: string;
  /**
   * Resolves when the kernel accepted the datagram; rejects with a TransportError (op 'send',
   * the errno's name as `code`) otherwise.
   */
  send(dst: string, payload: Buffer): Promise<void>;
  /**
   * Hands to `onPacket`, before it returns, what the socket already holds. Absent where the
   * transport cannot (udp: Node's dgram reads only on its own turn of the loop).
   */
  readQueued?(): void;
  close(): void;
}

/**
 * Where a transport failed: opening its socket, a send (that send's promise rejects), or
 * anything the socket reported on its own (a failed read, an error left pending on it, a failed
 * poll), which reaches the owner through the transport's `onError`.
 */
export type TransportOp = 'open' | 'send' | 'recv';

/** The owner's hook for the errors a socket reports on its own; the socket stays open. */
export type TransportErrorHandler = (err: TransportError) => void;

export class TransportError extends Error {
  constructor(
    message: string,
    readonly op: TransportOp,
    /** The errno's name (`ENETDOWN`, `EPERM`...) when the kernel said, else undefined. */
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'TransportError';
  }
}
