/**
 * rtnetlink requests: a link's index, MAC and state, its IPv4 and IPv6 addresses, address
 * changes, and the link and address dumps the kernel monitor (net/kernel-monitor.ts) starts and resyncs from.
 * On the project's addon (native.ts `netlinkSocket`) and the codec in net/rtnetlink.ts, not `ip`:
 * spawning a process blocks Node's event loop for 10-25 ms (a fork of a large process), which
 * delayed the takeover it was part of; a netlink request takes about a millisecond and blocks
 * nothing.
 *
 * Contract:
 * - One request socket per process (NetlinkClient), opened on first use, subscribed to no group,
 *   never keeping the process alive. Replies are matched to requests by sequence number, so
 *   requests are in flight together (at most WINDOW, their acknowledgements must fit the
 *   receive buffer) and a dump's parts are assembled by their seq while other replies arrive
 *   between them. Requests go to the kernel in the order they were made (those the window
 *   lets go together in one datagram), and the kernel applies them in that order: a read made
 *   after a change sees it. One dump at a time (the kernel
 *   answers EBUSY to a second on the same socket).
 * - Every request ends: its reply, the kernel's errno, REQUEST_TIMEOUT_MS without a reply (a dump:
 *   without a part), or a socket error, which fails every request in flight with its errno and
 *   closes the socket; the next request opens a new one. Nothing here throws out of a callback
 *   of the addon or rejects a promise nobody holds.
 * - Errors are NetlinkErrors naming the interface, the address and the kernel's errno
 *   (`add 10.0.0.1/24 on eth0: EEXIST`); `code` carries the errno name and `absent` says the
 *   interface does not exist.
 */
import { getSystemErrorName } from 'node:util';
import { errnoCode, loadNative, type NativeCallError, type NativeSocket } from '../native.js';
import {
  addressOf,
  addressSecondary,
  addressTentative,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  encodeAddAddress,
  encodeDeleteAddress,
  encodeDumpAddresses,
  encodeDumpLinks,
  encodeGetLink,
  IFA_F_NODAD,
  IFF_UP,
  NLM_F_DUMP_INTR,
  setSequence,
  decodeDatagram,
  type AddressFamily,
  type AddressMessage,
  type AddressSpec,
  type LinkMessage,
  type RtMessage,
} from './rtnetlink.js';

/**
 * Requests in flight at once. 1,000 at once overran the old binding's receive buffer; 64
 * acknowledgements (a few hundred bytes of buffer each) fit the 1 MiB below many times over.
 */
export const WINDOW = 64;
/** A lost reply (a receive buffer overrun the socket did not report) must not hang a plan. */
export const REQUEST_TIMEOUT_MS = 5_000;
/** Replies only (no group): acknowledgements and dump parts the kernel sends as they are read. */
const REQUEST_RCVBUF = 1 << 20;
/** A dump the kernel marked inconsistent (the set changed under it) is asked again this often. */
const DUMP_ATTEMPTS = 5;

export class NetlinkError extends Error {
  /** The errno name the kernel (or the socket) answered with, when there was one. */
  readonly code: string | undefined;
  /** The interface does not exist (ENODEV): deleted, renamed, or not there yet. */
  readonly absent: boolean;

  /** The kernel's own words (extended ack), when it gave any: "ipv4: Invalid prefix length". */
  readonly detail: string | undefined;

  constructor(
    message: string,
    options: { code?: string; absent?: boolean; detail?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NetlinkError';
    this.code = options.code;
    this.absent = options.absent ?? false;
    this.detail = options.detail;
  }
}

export interface Link {
  name: string;
  index: number;
  mac: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
}

/** What an address request needs of a link: its index (and its name, for messages). */
export type LinkRef = Pick<Link, 'name' | 'index'>;

/** An address on a link, as the kernel lists it. */
export interface LinkAddress {
  family: 4 | 6;
  address: string;
  prefix: number;
  /** An IPv4 secondary (IPv6 has none). */
  secondary: boolean;
  /** IPv6 duplicate address detection under way or failed: nothing is sent from it. */
  tentative: boolean;
}

export interface AddressChange {
  op: 'add' | 'del';
  /** A dotted quad or IPv6 text: the family follows from it. */
  address: string;
  prefix: number;
  /** An IPv6 add without duplicate address detection (IFA_F_NODAD): usable at once. */
  nodad?: boolean;
}

/**
 * What the kernel made of one change: done; `absent`, a removal answered EADDRNOTAVAIL (or
 * ENOENT, or ENODEV: the interface itself is gone): no such address on the link, so nothing was
 * removed (the caller decides what that means); or failed, with the message naming the change
 * and the kernel's errno (also as `code`, when the kernel gave one).
 */
export type ChangeOutcome =
  { kind: 'done' } | { kind: 'absent' } | { kind: 'failed'; error: string; code?: string };

/** Opens a NETLINK_ROUTE socket (the addon's, or a test's stand-in). */
export type NetlinkOpener = (
  onBatch: (batch: Buffer[]) => void,
  onError: (err: NativeCallError) => void,
) => NativeSocket;

export interface NetlinkClientOptions {
  open?: NetlinkOpener;
  window?: number;
  timeoutMs?: number;
}

/** The errno name of a positive errno the kernel sent. */
function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno ${errno}`;
  }
}

interface Queued {
  bytes: Buffer;
  dump: boolean;
  resolve: (reply: Reply) => void;
  reject: (err: NetlinkError) => void;
}

interface InFlight extends Queued {
  parts: RtMessage[];
  timer: NodeJS.Timeout;
  interrupted: boolean;
}

/** The replies of a dump, and whether the kernel marked it inconsistent. */
interface Reply {
  parts: RtMessage[];
  interrupted: boolean;
}

/**
 * One request socket and the requests on it. Rejections are NetlinkErrors whose message is the
 * bare reason (`EEXIST`, `no reply within 5000 ms`): the functions below put it in context.
 */
export class NetlinkClient {
  private socket: NativeSocket | undefined;
  private readonly inFlight = new Map<number, InFlight>();
  private readonly queue: Queued[] = [];
  private dumping = false;
  // A random start: replies to a previous process's socket cannot look like ours anyway (the
  // port differs), but a restarted client's do not collide with the old one's stragglers.
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly open: NetlinkOpener;
  private readonly window: number;
  private readonly timeoutMs: number;
  /** Replies nobody waits for any more, datagrams that did not parse, socket errors, timeouts. */
  readonly stats = { stale: 0, malformed: 0, socketErrors: 0, timeouts: 0 };

  constructor(options: NetlinkClientOptions = {}) {
    this.open =
      options.open ??
      ((onBatch, onError) =>
        loadNative().netlinkSocket({ groups: 0, rcvbuf: REQUEST_RCVBUF }, onBatch, onError));
    this.window = options.window ?? WINDOW;
    this.timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** Requests in flight and queued behind them (for tests and status). */
  get pending(): { inFlight: number; queued: number } {
    return { inFlight: this.inFlight.size, queued: this.queue.length };
  }

  /**
   * Sends one request (its seq is set here) and resolves with the messages answering it: the
   * data before the acknowledgement, or a dump's parts. Rejects with the kernel's errno.
   */
  request(bytes: Buffer, dump: boolean): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      this.queue.push({ bytes, dump, resolve, reject });
      this.pump();
    });
  }

  /** Closes the socket; requests in flight fail, queued ones go out on a new socket. */
  close(): void {
    this.drop('the netlink socket was closed', undefined);
  }

  private nextSeq(): number {
    do {
      this.seq = (this.seq + 1) >>> 0;
    } while (this.seq === 0 || this.inFlight.has(this.seq));
    return this.seq;
  }

  /**
   * Sends what the window and the one-dump rule allow, in order, in one datagram: the kernel
   * takes the messages one after the other and answers each by its seq, and one send for up to
   * WINDOW requests spares a system call per address when a plan adds a thousand.
   */
  private pump(): void {
    const batch: number[] = [];
    const bytes: Buffer[] = [];
    while (this.queue.length > 0 && this.inFlight.size < this.window) {
      const next = this.queue[0];
      if (next === undefined || (next.dump && this.dumping)) break;
      this.queue.shift();
      if (this.socket === undefined && !this.openSocket(next)) break;
      const seq = this.nextSeq();
      setSequence(next.bytes, seq);
      this.inFlight.set(seq, { ...next, parts: [], interrupted: false, timer: this.timer(seq) });
      batch.push(seq);
      bytes.push(next.bytes);
      if (next.dump) this.dumping = true;
    }
    if (batch.length === 0 || this.socket === undefined) return;
    try {
      this.socket.send(bytes.length === 1 ? (bytes[0] as Buffer) : Buffer.concat(bytes));
    } catch (err) {
      const error = new NetlinkError(errnoCode(err) ?? (err as Error).message, {
        code: errnoCode(err),
        cause: err,
      });
      for (const seq of batch) this.finish(seq, error);
    }
  }

  /** Opens the socket for `next`; when it cannot, fails `next` and all queued with the reason. */
  private openSocket(next: Queued): boolean {
    try {
      const socket: NativeSocket = this.open(
        (batch) => this.onBatch(socket, batch),
        (err) => this.onError(socket, err),
      );
      this.socket = socket;
      return true;
    } catch (err) {
      // Nothing queued can go anywhere: fail it all with the reason, try again next time.
      const reason = `the netlink socket did not open: ${(err as Error).message}`;
      const code = errnoCode(err);
      for (const q of [next, ...this.queue.splice(0)]) {
        q.reject(new NetlinkError(reason, { code, cause: err }));
      }
      return false;
    }
  }

  private timer(seq: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.stats.timeouts++;
      this.finish(seq, new NetlinkError(`no reply within ${this.timeoutMs} ms`));
      this.pump();
    }, this.timeoutMs);
    // Not unref'd: a process waiting for the kernel's answer (a CLI, a plan) stays alive for it;
    // the socket's own poll never keeps it alive.
    return timer;
  }

  /** Ends a request in flight: resolved with its parts, or rejected with `error`. */
  private finish(seq: number, error?: NetlinkError): void {
    const entry = this.inFlight.get(seq);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.inFlight.delete(seq);
    if (entry.dump) this.dumping = false;
    if (error !== undefined) {
      entry.reject(error);
      return;
    }
    entry.resolve({ parts: entry.parts, interrupted: entry.interrupted });
  }

  private onBatch(socket: NativeSocket, batch: Buffer[]): void {
    // Called by the addon: nothing may escape.
    try {
      if (socket !== this.socket) return;
      for (const datagram of batch) {
        for (const m of decodeDatagram(datagram)) this.onMessage(m);
      }
      this.pump();
    } catch (err) {
      this.stats.malformed++;
      this.drop(`netlink reply handling failed: ${(err as Error).message}`, undefined);
    }
  }

  private onMessage(m: RtMessage): void {
    if (m.header === undefined) {
      this.stats.malformed++;
      return;
    }
    const seq = m.header.seq;
    const entry = this.inFlight.get(seq);
    if (entry === undefined) {
      this.stats.stale++;
      return;
    }
    if ((m.header.flags & NLM_F_DUMP_INTR) !== 0) entry.interrupted = true;
    switch (m.kind) {
      case 'malformed':
        this.stats.malformed++;
        this.finish(seq, new NetlinkError(`malformed reply (${m.reason})`));
        return;
      case 'error':
        if (m.errno === 0) this.finish(seq);
        else {
          const code = errnoName(m.errno);
          // The message stays the bare errno (`add ... on eth0: EINVAL`, as operators and tests
          // know it); the kernel's extended-ack text rides along in `detail`.
          this.finish(seq, new NetlinkError(code, { code, detail: m.text }));
        }
        return;
      case 'done':
        if (m.errno === 0) this.finish(seq);
        else {
          const code = errnoName(m.errno);
          this.finish(seq, new NetlinkError(code, { code }));
        }
        return;
      case 'other':
        return;
      default:
        entry.parts.push(m);
        if (entry.dump) {
          // A dump that is still sending is alive: its timeout counts from the last part.
          clearTimeout(entry.timer);
          entry.timer = this.timer(seq);
        }
    }
  }

  private onError(socket: NativeSocket, err: NativeCallError): void {
    try {
      if (socket !== this.socket) return;
      this.stats.socketErrors++;
      const code = errnoCode(err);
      this.drop(`netlink socket error ${code ?? err.message}`, code);
      this.pump();
    } catch {
      // Nothing to add: drop() already failed what it could.
    }
  }

  /** Closes the socket and fails every request in flight with `reason`. */
  private drop(reason: string, code: string | undefined): void {
    const socket = this.socket;
    this.socket = undefined;
    try {
      socket?.close();
    } catch {
      // Already closed: the point was to be rid of it.
    }
    for (const seq of [...this.inFlight.keys()]) {
      this.finish(seq, new NetlinkError(reason, { code }));
    }
    this.dumping = false;
  }
}

let shared: NetlinkClient | undefined;

/** The process's request socket (net/vmac.ts makes its link requests on it too). */
export function client(): NetlinkClient {
  shared ??= new NetlinkClient();
  return shared;
}

/** The bytes of a request, or the encoder's reason as a NetlinkError for `context`. */
function encoded(context: string, encode: () => Buffer): Buffer {
  try {
    return encode();
  } catch (err) {
    throw new NetlinkError(`${context}: ${(err as Error).message}`, { cause: err });
  }
}

/** A dump, asked again while the kernel says it changed under it. */
async function dump(bytes: () => Buffer, what: string): Promise<RtMessage[]> {
  for (let attempt = 1; ; attempt++) {
    let reply: Reply;
    try {
      reply = await client().request(bytes(), true);
    } catch (err) {
      const e = err as NetlinkError;
      throw new NetlinkError(`${what}: ${e.message}`, { code: e.code, cause: err });
    }
    if (!reply.interrupted) return reply.parts;
    if (attempt >= DUMP_ATTEMPTS) {
      throw new NetlinkError(
        `${what}: the kernel's list kept changing during ${DUMP_ATTEMPTS} dumps (NLM_F_DUMP_INTR); try again`,
      );
    }
  }
}

/** Every interface, as the kernel reports it (RTM_NEWLINK of family AF_UNSPEC). */
export async function links(): Promise<LinkMessage[]> {
  const parts = await dump(() => encodeDumpLinks(0), 'reading the interfaces');
  return parts.filter((m): m is LinkMessage => m.kind === 'link' && m.family === AF_UNSPEC);
}

/** Every address of `family` on every interface, in the kernel's order. */
export async function addresses(family: AddressFamily = AF_INET): Promise<AddressMessage[]> {
  const parts = await dump(
    () => encodeDumpAddresses(0, family),
    `reading the IPv${family === AF_INET ? 4 : 6} addresses`,
  );
  return parts.filter((m): m is AddressMessage => m.kind === 'address' && m.family === family);
}

/** The kernel's whole report of one interface (its kind, parent and settings too), by name. */
export async function linkMessage(name: string): Promise<LinkMessage> {
  const bytes = encoded(`interface ${name}`, () => encodeGetLink(0, name));
  let reply: Reply;
  try {
    reply = await client().request(bytes, false);
  } catch (err) {
    const e = err as NetlinkError;
    if (e.code === 'ENODEV') {
      throw new NetlinkError(`interface ${name} does not exist`, {
        code: e.code,
        absent: true,
        cause: err,
      });
    }
    throw new NetlinkError(`interface ${name}: ${e.message}`, { code: e.code, cause: err });
  }
  const link = reply.parts.find((m): m is LinkMessage => m.kind === 'link');
  if (link === undefined) {
    throw new NetlinkError(`interface ${name} does not exist`, { absent: true });
  }
  return link;
}

export async function linkByName(name: string): Promise<Link> {
  const link = await linkMessage(name);
  return {
    name: link.name ?? name,
    index: link.index,
    mac: link.mac ?? '',
    up: (link.flags & IFF_UP) !== 0,
  };
}

/**
 * The link's addresses of `families` (both unless told), IPv4 before IPv6, each in the kernel's
 * order (IPv4 primaries before their secondaries).
 */
export async function linkAddresses(
  link: LinkRef,
  families: readonly (4 | 6)[] = [4, 6],
): Promise<LinkAddress[]> {
  const out: LinkAddress[] = [];
  for (const family of ([4, 6] as const).filter((f) => families.includes(f))) {
    let all: AddressMessage[];
    try {
      all = await addresses(family === 4 ? AF_INET : AF_INET6);
    } catch (err) {
      const e = err as NetlinkError;
      throw new NetlinkError(`reading the addresses of ${link.name}: ${e.message}`, {
        code: e.code,
        cause: err,
      });
    }
    for (const a of all) {
      const address = addressOf(a);
      if (a.index !== link.index || address === undefined) continue;
      out.push({
        family,
        address,
        prefix: a.prefix,
        secondary: addressSecondary(a),
        tentative: addressTentative(a),
      });
    }
  }
  return out;
}

/** The errnos with which the kernel answers a removal of an address the link does not have. */
const ABSENT = new Set(['EADDRNOTAVAIL', 'ENOENT', 'ENODEV']);

/**
 * Carries out every change in order; resolves with one outcome per change, so callers sharing a
 * run each learn their own. An add replaces the address if it is there (`ip addr replace`), so
 * adding is idempotent. The changes go out WINDOW at a time in their order, and the kernel
 * applies a socket's requests in the order they arrive.
 */
export async function changeAddresses(
  link: LinkRef,
  changes: readonly AddressChange[],
): Promise<ChangeOutcome[]> {
  const rt = client();
  const one = async (c: AddressChange): Promise<ChangeOutcome> => {
    const what = `${c.op} ${c.address}/${c.prefix} on ${link.name}`;
    try {
      const spec: AddressSpec = {
        // Only IPv6 text has a colon; anything else is refused by the IPv4 encoder, by name.
        family: c.address.includes(':') ? AF_INET6 : AF_INET,
        index: link.index,
        address: c.address,
        prefix: c.prefix,
        flags: c.op === 'add' && c.nodad === true ? IFA_F_NODAD : 0,
      };
      const bytes = c.op === 'add' ? encodeAddAddress(0, spec) : encodeDeleteAddress(0, spec);
      await rt.request(bytes, false);
      return { kind: 'done' };
    } catch (err) {
      const e = err as NetlinkError;
      if (c.op === 'del' && e.code !== undefined && ABSENT.has(e.code)) return { kind: 'absent' };
      const failed = { kind: 'failed', error: `${what}: ${e.message}` } as const;
      return e.code === undefined ? failed : { ...failed, code: e.code };
    }
  };
  // Every request is queued now, in order: the client's window paces them.
  return Promise.all(changes.map(one));
}
