/**
 * The project's N-API addon, build/Release/vipd_native.node (native/addon.cc; `npm ci` builds
 * it), for the system calls Node cannot make: AF_PACKET sends (src/net/packet-socket.ts) and
 * sd_notify's AF_UNIX datagrams (src/daemon/notify.ts). `loadNative()` loads it on first use and
 * caches it, so code that needs none of it (`vipd check`, the pure modules' tests) runs where it
 * was never built; a failed load throws a NativeLoadError (path, cause, how to build it) and is
 * tried again on the next call. Failed system calls inside the addon throw Errors carrying
 * `errno`, `syscall` and `strerror` (NativeCallError); `errnoCode` names the errno.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

/** One datagram read from a raw IP socket. */
export interface RawDatagram {
  /** IPv4: the whole packet, IP header first (what a raw IPv4 socket reads). */
  data: Buffer;
  /** The interface it arrived on (IP_PKTINFO). */
  ifindex: number;
}

export interface RawSocketOptions {
  /** 4 now; 6 slots in next (IPv6 raw sockets deliver no header: src and hop limit come apart). */
  family: 4;
  /** IP protocol number (112: VRRP and CARP). */
  protocol: number;
  /** Bound to this interface (SO_BINDTODEVICE); multicast leaves through it. */
  ifname: string;
  /** The interface address the group is joined on and multicast sent from (IP_MULTICAST_IF). */
  local: string;
  /** Multicast group joined on `local` (224.0.0.18), or omitted for none. */
  group?: string;
}

export interface NetlinkSocketOptions {
  /** NETLINK_ROUTE multicast groups (RTMGRP_* bits); 0 for a request-only socket. */
  groups: number;
  /** SO_RCVBUFFORCE bytes (SO_RCVBUF when not permitted). */
  rcvbuf: number;
}

/**
 * A socket the addon owns and watches on Node's event loop (uv_poll). On readiness it reads
 * everything queued (bounded per turn) and calls `onBatch` once with the lot; a failed read, a
 * pending socket error or a poll error calls `onError` once with a NativeCallError (errno,
 * syscall) and the socket keeps being watched: the owner decides whether to close and reopen.
 * Calls after close() throw EBADF. Never keeps the process alive on its own (uv_unref).
 */
export interface NativeSocket {
  readonly fd: number;
  /**
   * Raw: one IPv4 packet with its header (IP_HDRINCL) to `dst`. Netlink: one or more messages to
   * the kernel (no `dst`). Synchronous; throws a NativeCallError (EAGAIN, ENOBUFS included).
   */
  send(packet: Buffer, dst?: string): void;
  close(): void;
}

export type FaultOp = 'open' | 'send' | 'recv';

export interface NativeAddon {
  /** native/packet_socket.cc */
  open(ifname: string): number;
  send(fd: number, frames: readonly Buffer[]): number;
  close(fd: number): void;
  /** native/notify.cc: one datagram to `path` ('@' first = abstract socket). */
  notify(path: string, message: string): void;
  /** native/raw_socket.cc: IP protocol `protocol` on one interface, IP_HDRINCL for sends. */
  rawSocket(
    options: RawSocketOptions,
    onBatch: (batch: RawDatagram[]) => void,
    onError: (err: NativeCallError) => void,
  ): NativeSocket;
  /** native/netlink_socket.cc: NETLINK_ROUTE; a batch is the raw bytes of each datagram read. */
  netlinkSocket(
    options: NetlinkSocketOptions,
    onBatch: (batch: Buffer[]) => void,
    onError: (err: NativeCallError) => void,
  ): NativeSocket;
  /**
   * Test hook (native/fault.cc): the next `count` operations `op` on sockets of `kind` (for
   * 'recv', the read on the next readiness) fail with `errno`, as the kernel's own failure
   * would. The daemon exposes it only when started with VIPD_TEST_HOOKS=1.
   */
  injectFault(kind: 'raw' | 'netlink', op: FaultOp, errno: number, count: number): void;
}

/** What the addon adds to the Errors it throws for a failed system call. */
export interface NativeCallError extends Error {
  errno?: number;
  syscall?: string;
  strerror?: string;
}

export class NativeLoadError extends Error {
  constructor(
    readonly path: string,
    options: ErrorOptions & { cause: unknown },
  ) {
    super(
      `the vipd_native addon did not load from ${path} (\`npm ci\` builds it, with a C++ ` +
        `compiler, make and python3): ${(options.cause as Error).message}`,
      options,
    );
    this.name = 'NativeLoadError';
  }
}

/** The errno name (`EPERM`, `ENOENT`...) of an error the addon threw, when it carries one. */
export function errnoCode(err: unknown): string | undefined {
  const errno = (err as NativeCallError).errno;
  return typeof errno === 'number' ? getSystemErrorName(-errno) : undefined;
}

/** The nearest directory above this file with a package.json, from src/ or dist/src/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no package.json above the vipd sources');
    dir = parent;
  }
  return dir;
}

let addon: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (addon !== undefined) return addon;
  let path = 'build/Release/vipd_native.node';
  try {
    path = join(packageRoot(), path);
    addon = createRequire(import.meta.url)(path) as NativeAddon;
    return addon;
  } catch (err) {
    throw new NativeLoadError(path, { cause: err });
  }
}
