/**
 * The addon's watched sockets (raw IP, NETLINK_ROUTE), the AF_PACKET socket and RawTransport,
 * driven from a test inside a lab namespace, which the test process cannot enter itself:
 *   ip netns exec NS node --import tsx test/support/native-peer.ts
 * One JSON command per line on stdin, one JSON event per line on stdout (a pipe: synchronous on
 * Linux, so a line is out before the next statement runs). Every command is answered by
 * {ev:'ok', id, ...} or {ev:'thrown', id, errno, code, syscall, message}; sockets report
 * {ev:'batch', s, ...} and {ev:'error', s, errno, code, syscall, message} as they happen.
 * test/support/native-peer-client.ts is the test's side. Exits when stdin closes.
 */
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { PacketSocket } from '../../src/net/packet-socket.js';
import { bytesToIpv6 } from '../../src/net/address.js';
import { decodeIpv4, encodeIpv4 } from '../../src/net/ipv4.js';
import { TransportError } from '../../src/net/transport.js';
import { RawTransport } from '../../src/net/transport-raw.js';
import {
  errnoCode,
  loadNative,
  type NativeCallError,
  type NativeSocket,
  type RawDatagram,
} from '../../src/native.js';

export type PeerCommand = { id?: number } & (
  | { op: 'raw'; s: string; family?: 4 | 6; ifname: string; local: string; group?: string }
  | { op: 'netlink'; s: string; groups: number; rcvbuf: number }
  /**
   * Raw: `count` VRRP-protocol datagrams to `dst`, payload = `seq` (u32) from `first`; IPv4 from
   * `src` (vipd's header), IPv6 from the socket's `local` (the kernel's header).
   */
  | { op: 'send'; s: string; src?: string; dst: string; count: number; first?: number }
  /** Netlink: an RTM_GETLINK dump request, or RTM_DELLINK of `ifindex` with an ack. */
  | { op: 'dump'; s: string; seq: number }
  | { op: 'dellink'; s: string; seq: number; ifindex: number }
  | { op: 'close'; s: string }
  /** From now on the socket closes itself inside its next onBatch / onError. */
  | { op: 'closeInCallback'; s: string }
  | {
      op: 'inject';
      kind: 'raw' | 'netlink';
      fault: 'open' | 'send' | 'recv';
      errno: string;
      count: number;
    }
  /**
   * Holds the event loop (busy) until the file `until` exists or `maxMs` passed, then optionally
   * sends a dump on socket `s` before the loop runs again.
   */
  | { op: 'block'; until: string; maxMs: number; dumpOn?: string }
  | { op: 'transport'; s: string; family?: 4 | 6; ifname: string; local: string }
  | { op: 'tsend'; s: string; dst: string }
  | { op: 'packet'; s: string; ifname: string }
  | { op: 'psend'; s: string; frame: string }
  | { op: 'ping' }
);

const ERRNO: Readonly<Record<string, number>> = constants.errno;

function out(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function errorFields(err: unknown): Record<string, unknown> {
  const e = err as NativeCallError & { op?: string; code?: string };
  return {
    name: e.name,
    errno: e.errno,
    code: e instanceof TransportError ? e.code : errnoCode(err),
    op: e instanceof TransportError ? e.op : undefined,
    syscall: e.syscall,
    message: e.message,
  };
}

const sockets = new Map<string, NativeSocket>();
const families = new Map<string, 4 | 6>();
const transports = new Map<string, RawTransport>();
const packets = new Map<string, PacketSocket>();
const closeInCallback = new Set<string>();

function socketOf(s: string): NativeSocket {
  const socket = sockets.get(s);
  if (socket === undefined) throw new Error(`no socket ${s}`);
  return socket;
}

/** After a callback asked to close: the socket's state as seen from inside that callback. */
function maybeClose(s: string): void {
  if (!closeInCallback.delete(s)) return;
  const socket = socketOf(s);
  socket.close();
  let after: Record<string, unknown> = {};
  try {
    socket.send(Buffer.alloc(20), '127.0.0.1');
  } catch (err) {
    after = errorFields(err);
  }
  out({ ev: 'closed-in-callback', s, fd: socket.fd, sendAfter: after });
}

function onError(s: string): (err: NativeCallError) => void {
  return (err) => {
    out({ ev: 'error', s, ...errorFields(err) });
    maybeClose(s);
  };
}

/** IPv6: no header to decode, the addon's fields instead. */
function ipv6Item(d: RawDatagram): Record<string, unknown> {
  return {
    ifindex: d.ifindex,
    hopLimit: d.hopLimit,
    src: d.src === undefined ? undefined : bytesToIpv6(d.src),
    dst: d.dst === undefined ? undefined : bytesToIpv6(d.dst),
    len: d.data.length,
    seq: d.data.length >= 4 ? d.data.readUInt32BE(0) : -1,
  };
}

/** Monotonic ms, the scale of a datagram's `receivedAt`. */
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function rawBatch(s: string, family: 4 | 6): (batch: RawDatagram[]) => void {
  return (batch) => {
    // How long before this read the kernel received each one (receivedAt 0: it gave no time).
    const readAt = monotonicMs();
    const items = batch.map((d) => ({
      ...rawItem(d, family),
      ageMs: d.receivedAt === 0 ? null : readAt - d.receivedAt,
    }));
    out({ ev: 'batch', s, n: batch.length, items });
    maybeClose(s);
  };
}

function rawItem(d: RawDatagram, family: 4 | 6): Record<string, unknown> {
  if (family === 6) return ipv6Item(d);
  const ip = decodeIpv4(d.data);
  if (!ip.ok) return { ifindex: d.ifindex, reject: ip.reason };
  return {
    ifindex: d.ifindex,
    ttl: ip.header.ttl,
    tos: ip.header.tos,
    protocol: ip.header.protocol,
    src: ip.header.src,
    dst: ip.header.dst,
    seq: ip.payload.length >= 4 ? ip.payload.readUInt32BE(0) : -1,
  };
}

interface NetlinkMessage {
  type: number;
  seq: number;
  /** NLMSG_ERROR: the errno (negative) the kernel answered with; 0 is an ack. */
  error?: number;
  /** RTM_NEWLINK / RTM_DELLINK: the link's name. */
  ifname?: string;
  len: number;
}

function parseNetlink(datagram: Buffer): NetlinkMessage[] {
  const messages: NetlinkMessage[] = [];
  let at = 0;
  while (at + 16 <= datagram.length) {
    const len = datagram.readUInt32LE(at);
    if (len < 16 || at + len > datagram.length) break;
    const message: NetlinkMessage = {
      type: datagram.readUInt16LE(at + 4),
      seq: datagram.readUInt32LE(at + 8),
      len,
    };
    if (message.type === 2) message.error = datagram.readInt32LE(at + 16);
    if (message.type === 16 || message.type === 17) {
      for (let a = at + 32; a + 4 <= at + len;) {
        const alen = datagram.readUInt16LE(a);
        if (alen < 4) break;
        if (datagram.readUInt16LE(a + 2) === 3) {
          message.ifname = datagram.toString('utf8', a + 4, a + alen).replace(/\0+$/, '');
        }
        a += (alen + 3) & ~3;
      }
    }
    messages.push(message);
    at += (len + 3) & ~3;
  }
  return messages;
}

function netlinkBatch(s: string): (batch: Buffer[]) => void {
  return (batch) => {
    out({ ev: 'batch', s, n: batch.length, messages: batch.flatMap(parseNetlink) });
    maybeClose(s);
  };
}

/** nlmsghdr + ifinfomsg, little-endian as the kernel reads them. */
function linkRequest(type: number, flags: number, seq: number, ifindex: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(32, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  b.writeInt32LE(ifindex, 20);
  return b;
}
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLM_F_DUMP = 0x300;

function run(cmd: PeerCommand): Record<string, unknown> {
  const native = loadNative();
  switch (cmd.op) {
    case 'raw': {
      const { s, ifname, local, group } = cmd;
      const family = cmd.family ?? 4;
      const options = { family, protocol: 112, ifname, local, group };
      const socket = native.rawSocket(options, rawBatch(s, family), onError(s));
      sockets.set(s, socket);
      families.set(s, family);
      return { fd: socket.fd };
    }
    case 'netlink': {
      const { s, groups, rcvbuf } = cmd;
      const socket = native.netlinkSocket({ groups, rcvbuf }, netlinkBatch(s), onError(s));
      sockets.set(s, socket);
      return { fd: socket.fd };
    }
    case 'send': {
      const socket = socketOf(cmd.s);
      const errors: (string | undefined)[] = [];
      let sent = 0;
      for (let i = 0; i < cmd.count; i++) {
        const payload = Buffer.alloc(8);
        payload.writeUInt32BE((cmd.first ?? 0) + i);
        const header = { tos: 0xc0, id: i + 1, dontFragment: false, ttl: 255, protocol: 112 };
        const packet =
          families.get(cmd.s) === 6
            ? payload
            : encodeIpv4({ ...header, src: cmd.src ?? '', dst: cmd.dst }, payload);
        try {
          socket.send(packet, cmd.dst);
          sent += 1;
        } catch (err) {
          errors.push(errnoCode(err));
        }
      }
      return { sent, errors };
    }
    case 'dump':
      socketOf(cmd.s).send(linkRequest(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, cmd.seq, 0));
      return {};
    case 'dellink':
      socketOf(cmd.s).send(
        linkRequest(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, cmd.seq, cmd.ifindex),
      );
      return {};
    case 'close': {
      const socket = socketOf(cmd.s);
      socket.close();
      socket.close();
      return { fd: socket.fd };
    }
    case 'closeInCallback':
      socketOf(cmd.s);
      closeInCallback.add(cmd.s);
      return {};
    case 'inject': {
      const errno = ERRNO[cmd.errno];
      if (errno === undefined) throw new Error(`no errno ${cmd.errno}`);
      native.injectFault(cmd.kind, cmd.fault, errno, cmd.count);
      return {};
    }
    case 'block': {
      out({ ev: 'blocking' });
      const started = performance.now();
      while (!existsSync(cmd.until) && performance.now() - started < cmd.maxMs) {
        // busy: the point is that the event loop does not run
      }
      if (cmd.dumpOn !== undefined) {
        socketOf(cmd.dumpOn).send(linkRequest(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 7, 0));
      }
      return { heldMs: Math.round(performance.now() - started) };
    }
    case 'transport': {
      const { s } = cmd;
      const transport = new RawTransport({
        family: cmd.family ?? 4,
        ifname: cmd.ifname,
        localAddress: cmd.local,
        onPacket: (p) =>
          out({ ev: 'packet', s, src: p.src, dst: p.dst, ttl: p.ttl, len: p.payload.length }),
        onIpReject: (reason) => out({ ev: 'ip-reject', s, reason }),
        onError: (err) => out({ ev: 'terror', s, ...errorFields(err) }),
      });
      transports.set(s, transport);
      return {};
    }
    case 'tsend': {
      const transport = transports.get(cmd.s);
      if (transport === undefined) throw new Error(`no transport ${cmd.s}`);
      const s = cmd.s;
      transport.send(cmd.dst, Buffer.alloc(8)).then(
        () => out({ ev: 'tsent', s }),
        (err: unknown) => out({ ev: 'tsend-failed', s, ...errorFields(err) }),
      );
      return {};
    }
    case 'packet':
      packets.set(cmd.s, PacketSocket.open(cmd.ifname));
      return {};
    case 'psend': {
      const socket = packets.get(cmd.s);
      if (socket === undefined) throw new Error(`no packet socket ${cmd.s}`);
      return { sent: socket.send([Buffer.from(cmd.frame, 'hex')]) };
    }
    case 'ping':
      return {};
  }
}

// The sockets never keep the process alive (uv_unref): stdin does, until the test closes it.
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const cmd = JSON.parse(line) as PeerCommand;
  try {
    out({ ev: 'ok', id: cmd.id, ...run(cmd) });
  } catch (err) {
    out({ ev: 'thrown', id: cmd.id, ...errorFields(err) });
  }
});
lines.on('close', () => process.exit(0));
