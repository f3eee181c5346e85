/**
 * The project's N-API addon, build/Release/vipd_native.node (native/addon.cc; `npm ci` builds
 * it), for the system calls Node cannot make: AF_PACKET sends (src/net/packet-socket.ts),
 * sd_notify's AF_UNIX datagrams (src/daemon/notify.ts), raw IP sockets for VRRP
 * (src/net/transport-raw.ts), NETLINK_ROUTE sockets (src/net/netlink.ts) and timerfd timers
 * (src/ports/clock.ts). N-API only, so one
 * build serves every Node version from 20 on. `loadNative()` loads it on first use and
 * caches it, so code that needs none of it (`vipd check`, the pure modules' tests) runs where it
 * was never built; a failed load throws a NativeLoadError (path, cause, how to build it) and is
 * tried again on the next call. Failed system calls inside the addon throw Errors carrying
 * `errno`, `syscall` and `strerror` (NativeCallError); `errnoCode` names the errno.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { getSystemErrorName } from 'node:util';
import { packageRoot } from './runtime/package.js';

/**
 * One datagram read from a raw IP socket. IPv4 reads the whole packet; an IPv6 raw socket gets
 * no IP header, so the addon hands over what the header would have said (`src`, `dst`,
 * `hopLimit`), present for family 6 only.
 */
export interface RawDatagram {
  /** IPv4: the whole packet, IP header first. IPv6: the VRRP message only. A copy, ours to keep. */
  data: Buffer;
  /** The interface it arrived on (IP_PKTINFO / IPV6_PKTINFO). */
  ifindex: number;
  /** IPv6: the sender's address, 16 bytes (recvmsg's address). */
  src?: Buffer;
  /** IPv6: the address it was sent to, 16 bytes (IPV6_PKTINFO; :: if the kernel gave none). */
  dst?: Buffer;
  /** IPv6: the hop limit it arrived with (IPV6_HOPLIMIT; 0 if the kernel gave none). */
  hopLimit?: number;
  /** The kernel's receive time (SO_TIMESTAMPNS) on the monotonic clock, ms; 0 if it gave none. */
  receivedAt: number;
}

/**
 * Family 4: vipd writes each IPv4 header itself (IP_HDRINCL). Family 6: the kernel writes the
 * header, set up as keepalived's adverts carry it: hop limit 255, traffic class 0xc0, source
 * `local` pinned per send (IPV6_PKTINFO; a send fails with EINVAL while `local` is tentative,
 * i.e. in duplicate address detection, or not on the interface, rather than leave from another
 * address); no IPV6_CHECKSUM, so datagrams with a bad VRRP checksum reach vipd, which counts
 * them.
 */
export interface RawSocketOptions {
  family: 4 | 6;
  /** IP protocol number (112: VRRP and CARP). */
  protocol: number;
  /** Bound to this interface (SO_BINDTODEVICE); multicast leaves through it. */
  ifname: string;
  /**
   * IPv4: the interface address the group is joined on and multicast sent from
   * (IP_MULTICAST_IF). IPv6: the interface's link-local address every datagram is sent from
   * (text without a zone: the interface is the scope).
   */
  local: string;
  /** Multicast group joined on the interface (224.0.0.18 or ff02::12), or omitted for none. */
  group?: string;
}

/**
 * A NETLINK_ROUTE socket (native/netlink_socket.cc) is bound with the kernel choosing its port
 * id, reports overruns (NETLINK_NO_ENOBUFS off) and asks for NETLINK_EXT_ACK and NETLINK_CAP_ACK
 * where the kernel has them: an NLMSG_ERROR reply then echoes only the request's nlmsghdr (not
 * its payload) and may carry attributes after it (flag NLM_F_ACK_TLVS, NLMSGERR_ATTR_MSG text).
 * Datagrams a process rather than the kernel sent to it are dropped.
 */
export interface NetlinkSocketOptions {
  /** NETLINK_ROUTE multicast groups (RTMGRP_* bits: 1 link, 0x10 IPv4 address); 0 for requests only. */
  groups: number;
  /** SO_RCVBUFFORCE bytes (SO_RCVBUF, capped by net.core.rmem_max, when not permitted); 0: the default. */
  rcvbuf: number;
}

/**
 * A socket the addon owns and watches on Node's event loop (uv_poll; native/watched_socket.cc).
 * On readiness it reads everything queued (up to 256 datagrams a turn, the rest on the next) and
 * calls `onBatch` once with the lot. Errors call `onError` once each with a NativeCallError, and
 * the socket keeps being watched: the owner decides whether to close and reopen. Its `syscall`:
 * - 'recvmsg': a read failed (EMSGSIZE: a netlink datagram over 64 KiB was lost);
 * - 'SO_ERROR': an error the kernel left pending on the socket (ENOBUFS: a netlink overrun, some
 *   messages lost; ENETDOWN after a link flap). One found just before a send is cleared so that
 *   it cannot fail that send, and reported on the loop's next turn;
 * - 'poll': the poll failed without a pending error (watched again 100 ms later).
 * Callbacks run as I/O callbacks do (promise jobs and nextTicks after each); one may close the
 * socket; an exception it throws is the process's uncaught exception. An open socket is not
 * garbage-collected; close() is idempotent, and send() after it throws EBADF (`fd` reads -1).
 * Never keeps the process alive on its own (uv_unref).
 */
export interface NativeSocket {
  readonly fd: number;
  /**
   * Raw IPv4: one IPv4 packet with its header (IP_HDRINCL) to `dst`. Raw IPv6: one VRRP message
   * (the kernel adds the header) to the IPv6 `dst` (no zone; a link-local or multicast `dst` is
   * scoped to the socket's interface). Netlink: one or more messages to the kernel (`dst`
   * ignored). Synchronous, non-blocking; throws a NativeCallError (syscall 'sendto', 'sendmsg'
   * for raw IPv6, which carries IPV6_PKTINFO; EAGAIN and ENOBUFS included), or a TypeError for
   * bad arguments.
   */
  send(packet: Buffer, dst?: string): void;
  /**
   * Reads now what is queued, as a readiness event would: `onBatch` (and `onError`) are called
   * before it returns. A deadline that fires runs this first, so it is never decided ahead of an
   * advert that has already arrived.
   */
  drain(): void;
  close(): void;
}

/**
 * A one-shot timer on CLOCK_MONOTONIC (a timerfd with TFD_TIMER_ABSTIME, native/timer.cc),
 * watched on Node's event loop: it expires at the nanosecond asked, where a setTimeout rounds to
 * the loop's millisecond. Times are milliseconds as a float on the scale of
 * `Number(process.hrtime.bigint()) / 1e6` (libuv's hrtime is CLOCK_MONOTONIC too).
 */
export interface NativeTimer {
  /**
   * `onFire` once when the clock reaches `atMs`; replaces the pending deadline; a time already
   * past fires on the loop's next turn. Keeps the process alive while armed, as setTimeout does.
   * Throws EBADF after close(). Setting a timerfd clears an expiry the loop has seen but not yet
   * delivered: the replaced deadline never fires.
   */
  arm(atMs: number): void;
  /** Idempotent; safe from inside `onFire`. */
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
  /** native/raw_socket.cc: IP protocol `protocol` on one interface (IPv4 IP_HDRINCL, or IPv6). */
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
   * native/timer.cc: `onFire` is called as an I/O callback is (promise jobs and nextTicks after
   * it); an exception it throws is the process's uncaught exception.
   */
  timer(onFire: () => void): NativeTimer;
  /**
   * Test hook (native/fault.cc): the next `count` operations `op` on sockets of `kind` fail with
   * `errno`, as the kernel's own failure would. Process-wide (any socket of the kind); a new call
   * replaces what is pending, count 0 cancels. 'open': rawSocket/netlinkSocket throw; 'send':
   * send throws (nothing sent); 'recv': at a readiness event the datagrams queued are read and
   * dropped and onError gets `errno` (syscall 'recvmsg'). The daemon arms it only when started
   * with VIPD_TEST_FAULTS (src/daemon/test-hooks.ts).
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
