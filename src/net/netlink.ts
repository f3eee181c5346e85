/**
 * rtnetlink for what a transition reads and changes: a link's index, MAC and state, and its
 * IPv4 addresses. Through npm `netlink` (a maintained binding with typed rtnetlink messages),
 * not `ip`: spawning a process blocks Node's event loop for 10-25 ms (a fork of a large
 * process), which delayed the takeover it was part of and, with many routers, held the loop
 * past the peers' master-down intervals; a netlink request takes about a millisecond and blocks
 * nothing. One socket per process, opened on first use, never keeping the process alive.
 * Errors name the interface, the address and the kernel's errno.
 *
 * One exchange on the socket at a time: the kernel sends a dump in parts as the socket is read,
 * so a reply to another request lands between the parts, and the binding, which assembles one
 * multipart reply at a time, then fails the dump ("Multipart message not terminated properly").
 */
import { createRtNetlink, FlagsNew, type RtNetlinkSocket } from 'netlink';

const AF_INET = 2;
/**
 * Requests in flight at once: their acknowledgements must fit the socket's receive buffer. 1,000
 * at once overran it and the binding aborted the process on the receive error; 64 at a time add
 * 1,000 addresses in about 90 ms (`ip -batch`: 35 ms, but a process spawned for every change).
 */
const WINDOW = 64;
/** A lost acknowledgement (receive buffer overrun) must not hang a plan forever. */
const REQUEST_TIMEOUT_MS = 5_000;

export class NetlinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetlinkError';
  }
}

export interface Link {
  name: string;
  index: number;
  mac: string;
  up: boolean;
}

export interface Ipv4Address {
  address: string;
  prefix: number;
  secondary: boolean;
}

export interface AddressChange {
  op: 'add' | 'del';
  address: string;
  prefix: number;
}

let rtnl: RtNetlinkSocket | undefined;

function socket(): RtNetlinkSocket {
  rtnl ??= createRtNetlink();
  return rtnl;
}

let last: Promise<unknown> = Promise.resolve();

/** Runs `exchange` once every exchange started before it has finished. */
function exclusive<T>(exchange: (rt: RtNetlinkSocket) => Promise<T>): Promise<T> {
  const turn = last.then(() => exchange(socket()));
  last = turn.catch(() => undefined);
  return turn;
}

/** The kernel's errno name from the binding's "Request rejected: EEXIST" message. */
function reason(err: unknown): string {
  const message = (err as Error).message;
  return /Request rejected: (\w+)/.exec(message)?.[1] ?? message;
}

function bytes(address: string): Buffer {
  return Buffer.from(address.split('.').map(Number));
}

const dotted = (b: Buffer | undefined): string => (b === undefined ? '' : [...b].join('.'));

export async function linkByName(name: string): Promise<Link> {
  let found;
  try {
    found = await exclusive((rt) =>
      rt.getLink({}, { ifname: name }, { timeout: REQUEST_TIMEOUT_MS }),
    );
  } catch (err) {
    const why = reason(err);
    throw new NetlinkError(
      why === 'ENODEV' ? `interface ${name} does not exist` : `interface ${name}: ${why}`,
    );
  }
  const link = found[0];
  if (link === undefined) throw new NetlinkError(`interface ${name} does not exist`);
  return {
    name,
    index: link.data.index ?? 0,
    mac: (link.attrs.address ?? Buffer.alloc(0)).toString('hex').replace(/(..)(?!$)/g, '$1:'),
    up: link.data.flags?.up === true,
  };
}

/** The IPv4 addresses on the link, in the kernel's order (primaries before their secondaries). */
export async function ipv4Addresses(link: Link): Promise<Ipv4Address[]> {
  let all;
  try {
    all = await exclusive((rt) =>
      rt.getAddresses({ family: AF_INET }, {}, { timeout: REQUEST_TIMEOUT_MS }),
    );
  } catch (err) {
    throw new NetlinkError(`reading the addresses of ${link.name}: ${reason(err)}`);
  }
  return all
    .filter((a) => a.data.index === link.index && a.attrs.local !== undefined)
    .map((a) => ({
      address: dotted(a.attrs.local),
      prefix: a.data.prefixlen ?? 32,
      secondary: a.data.flags?.secondary === true || a.attrs.flags?.secondary === true,
    }));
}

/**
 * What the kernel made of one change: done; `absent`, a removal answered EADDRNOTAVAIL (or
 * ENOENT): no such address on the link, so nothing was removed (the caller decides what that
 * means); or failed, with the message naming the change and the kernel's errno.
 */
export type ChangeOutcome =
  { kind: 'done' } | { kind: 'absent' } | { kind: 'failed'; error: string };

/** The errnos with which the kernel answers a removal of an address the link does not have. */
const ABSENT = new Set(['EADDRNOTAVAIL', 'ENOENT']);

/**
 * Carries out every change in order, WINDOW at a time; resolves with one outcome per change, so
 * callers sharing a run each learn their own. An add replaces the address if it is there (`ip
 * addr replace`), so adding is idempotent. Order holds within a window too: the kernel handles a
 * socket's requests one after another, as they were sent.
 */
export async function changeAddresses(
  link: Link,
  changes: readonly AddressChange[],
): Promise<ChangeOutcome[]> {
  const one = async (rt: RtNetlinkSocket, c: AddressChange): Promise<ChangeOutcome> => {
    const data = { family: AF_INET, prefixlen: c.prefix, index: link.index };
    const attrs = { local: bytes(c.address), address: bytes(c.address) };
    try {
      if (c.op === 'add') {
        await rt.newAddress(data, attrs, {
          flags: FlagsNew.CREATE | FlagsNew.REPLACE,
          timeout: REQUEST_TIMEOUT_MS,
        });
      } else {
        await rt.delAddress(data, attrs, { timeout: REQUEST_TIMEOUT_MS });
      }
      return { kind: 'done' };
    } catch (err) {
      const why = reason(err);
      if (c.op === 'del' && ABSENT.has(why)) return { kind: 'absent' };
      return { kind: 'failed', error: `${c.op} ${c.address}/${c.prefix} on ${link.name}: ${why}` };
    }
  };
  const results: ChangeOutcome[] = [];
  for (let i = 0; i < changes.length; i += WINDOW) {
    // Acknowledgements may interleave with each other, not with a dump: one exchange.
    const window = changes.slice(i, i + WINDOW);
    results.push(...(await exclusive((rt) => Promise.all(window.map((c) => one(rt, c))))));
  }
  return results;
}
