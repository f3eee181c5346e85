// The parts of the untyped `raw-socket` package vipd uses (see node_modules/raw-socket/index.js).
declare module 'raw-socket' {
  import { EventEmitter } from 'node:events';

  export interface SocketOptions {
    protocol?: number;
    addressFamily?: number;
    bufferSize?: number;
  }

  /** The native socket under Socket: recv reads one datagram or throws (EAGAIN when empty). */
  export interface SocketWrap {
    recv(buffer: Buffer, callback: (buffer: Buffer, bytes: number, source: string) => void): void;
  }

  export class Socket extends EventEmitter {
    /** Internal: the native socket and the receive buffer index.js reuses for every datagram. */
    readonly wrap: SocketWrap;
    readonly buffer: Buffer;
    send(
      buffer: Buffer,
      offset: number,
      length: number,
      address: string,
      afterCallback: (error: Error | null, bytes: number) => void,
    ): this;
    setOption(level: number, option: number, value: number): void;
    setOption(level: number, option: number, value: Buffer, length: number): void;
    close(): this;
    on(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'close', listener: () => void): this;
  }

  export function createSocket(options?: SocketOptions): Socket;

  export const AddressFamily: { IPv4: number; IPv6: number };
  export const SocketLevel: { SOL_SOCKET: number; IPPROTO_IP: number; IPPROTO_IPV6: number };
  export const SocketOption: {
    SO_BINDTODEVICE: number;
    SO_RCVBUF: number;
    IP_HDRINCL: number;
    IP_TOS: number;
    IP_TTL: number;
  };
}
