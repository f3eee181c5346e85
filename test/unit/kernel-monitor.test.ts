/**
 * KernelMonitor (src/net/kernel-monitor.ts) against a scripted kernel: the subscription comes
 * before the dump and what arrives during the dump is applied on top of it; link state, rename,
 * deletion, addresses in the kernel's order, promotion; IPv6 addresses (family 6, RFC 5952 text,
 * scope order, tentative until DAD is done, no secondaries); notifications that change nothing emit
 * nothing; bridge-port reports ignored; an overrun and a socket error each lead to one warning,
 * a re-dump whose differences are emitted before `resynced` (after a reopen with backoff for the
 * error); a failing dump is retried; a throwing listener is logged and the others still hear.
 * The lab test (test/integration/kernel-monitor.test.ts) runs it on the real kernel.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeCallError, NativeSocket, NetlinkSocketOptions } from '../../src/native.js';
import {
  KernelMonitor,
  KernelMonitorError,
  type KernelEvent,
  type MonitorDeps,
} from '../../src/net/kernel-monitor.js';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  decodeDatagram,
  encodeAddAddress,
  IF_OPER_DOWN,
  IF_OPER_UNKNOWN,
  IF_OPER_UP,
  IFA_F_DADFAILED,
  IFA_F_SECONDARY,
  IFA_F_TENTATIVE,
  IFF_LOWER_UP,
  IFF_UP,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
  type AddressMessage,
  type LinkMessage,
} from '../../src/net/rtnetlink.js';

interface KLink {
  index: number;
  name: string;
  flags: number;
  operstate: number;
  mac: string;
  family?: number;
}
interface KAddr {
  index: number;
  address: string;
  prefix: number;
  /** IFA_F_* beyond these. */
  flags?: number;
  secondary?: boolean;
  tentative?: boolean;
  /** RT_SCOPE_*: 0 (universe) unless told. */
  scope?: number;
}

const familyOf = (a: KAddr): typeof AF_INET | typeof AF_INET6 =>
  a.address.includes(':') ? AF_INET6 : AF_INET;

const UP = IFF_UP | IFF_LOWER_UP;
/** RT_SCOPE_LINK: the scope the kernel reports for an IPv6 link-local address. */
const LINK = 253;

function attr(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc(4 + data.length + ((4 - (data.length % 4)) % 4));
  b.writeUInt16LE(4 + data.length, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}

function linkBytes(l: KLink, deleted = false): Buffer {
  const fixed = Buffer.alloc(16);
  fixed[0] = l.family ?? 0;
  fixed.writeInt32LE(l.index, 4);
  fixed.writeUInt32LE(l.flags, 8);
  const body = Buffer.concat([
    fixed,
    attr(3, Buffer.from(`${l.name}\0`)),
    attr(1, Buffer.from(l.mac.replace(/:/g, ''), 'hex')),
    attr(16, Buffer.from([l.operstate])),
  ]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(deleted ? RTM_DELLINK : RTM_NEWLINK, 4);
  return Buffer.concat([h, body]);
}

function addrBytes(a: KAddr, deleted = false): Buffer {
  const b = encodeAddAddress(0, {
    family: familyOf(a),
    index: a.index,
    address: a.address,
    prefix: a.prefix,
    flags:
      (a.flags ?? 0) |
      (a.secondary === true ? IFA_F_SECONDARY : 0) |
      (a.tentative === true ? IFA_F_TENTATIVE : 0),
  });
  b.writeUInt16LE(deleted ? RTM_DELADDR : RTM_NEWADDR, 4);
  b[16 + 3] = a.scope ?? 0; // ifa_scope
  return b;
}

/** The kernel's state, dumps of it, and the monitor socket's notifications. */
class FakeKernel {
  links = new Map<number, KLink>();
  addrs: KAddr[] = [];
  readonly calls: string[] = [];
  readonly sockets: {
    options: NetlinkSocketOptions;
    closed: boolean;
    onBatch: (b: Buffer[]) => void;
    onError: (e: NativeCallError) => void;
  }[] = [];
  openFailures = 0;
  dumpFailures = 0;
  /** Run during the next dump, between its request and its reply. */
  duringDump: (() => void) | undefined;

  readonly deps: MonitorDeps = {
    openSocket: (options, onBatch, onError) => {
      this.calls.push('open');
      if (this.openFailures > 0) {
        this.openFailures--;
        throw Object.assign(new Error('socket(AF_NETLINK): No buffer space available'), {
          errno: 105,
        });
      }
      const entry = { options, closed: false, onBatch, onError };
      this.sockets.push(entry);
      const socket: NativeSocket = {
        fd: 10,
        send: () => undefined,
        // The scripted kernel delivers each batch itself: nothing waits to be read.
        drain: () => undefined,
        close: () => {
          entry.closed = true;
        },
      };
      return socket;
    },
    links: async () => {
      this.calls.push('dump links');
      if (this.dumpFailures > 0) {
        this.dumpFailures--;
        throw new Error('reading the interfaces: netlink socket error ENOBUFS');
      }
      const during = this.duringDump;
      this.duringDump = undefined;
      const snapshot = [...this.links.values()].map((l) => linkBytes(l));
      during?.();
      await Promise.resolve();
      return snapshot
        .flatMap((b) => decodeDatagram(b))
        .filter((m): m is LinkMessage => m.kind === 'link');
    },
    addresses: async (family) => {
      this.calls.push(`dump IPv${family === AF_INET ? 4 : 6}`);
      await Promise.resolve();
      return this.addrs
        .filter((a) => familyOf(a) === family)
        .flatMap((a) => decodeDatagram(addrBytes(a)))
        .filter((m): m is AddressMessage => m.kind === 'address');
    },
    backoffMs: { first: 5, max: 20 },
  };

  private get socket() {
    const s = this.sockets.at(-1);
    if (s === undefined || s.closed) throw new Error('no open monitor socket');
    return s;
  }

  /** Changes the state and notifies, as the kernel does. */
  setLink(l: KLink): void {
    this.links.set(l.index, l);
    this.socket.onBatch([linkBytes(l)]);
  }
  delLink(index: number): void {
    const l = this.links.get(index);
    if (l === undefined) throw new Error(`no link ${index}`);
    this.links.delete(index);
    const gone = this.addrs.filter((a) => a.index === index);
    this.addrs = this.addrs.filter((a) => a.index !== index);
    this.socket.onBatch([...gone.map((a) => addrBytes(a, true)), linkBytes(l, true)]);
  }
  addAddr(a: KAddr): void {
    this.addrs.push(a);
    this.socket.onBatch([addrBytes(a)]);
  }
  delAddr(a: KAddr): void {
    this.addrs = this.addrs.filter((x) => x.address !== a.address || x.prefix !== a.prefix);
    this.socket.onBatch([addrBytes(a, true)]);
  }
  /** The kernel's RTM_NEWADDR for an address it has, its flags changed (DAD done). */
  updateAddr(a: KAddr): void {
    this.addrs = this.addrs.map((x) => (x.address === a.address && x.prefix === a.prefix ? a : x));
    this.socket.onBatch([addrBytes(a)]);
  }
  /** Changes the state without a word (the notification was lost), then reports the error. */
  lose(change: () => void, errno = 105): void {
    change();
    this.socket.onError(
      Object.assign(new Error(`recvmsg: errno ${errno}`), { errno, syscall: 'recvmsg' }),
    );
  }
}

const eth0: KLink = {
  index: 2,
  name: 'eth0',
  flags: UP,
  operstate: IF_OPER_UP,
  mac: '02:00:00:00:00:02',
};
const lo: KLink = {
  index: 1,
  name: 'lo',
  flags: UP | 0x8,
  operstate: IF_OPER_UNKNOWN,
  mac: '00:00:00:00:00:00',
};

let monitors: KernelMonitor[] = [];
afterEach(() => {
  for (const m of monitors) m.close();
  monitors = [];
});

async function setup(): Promise<{
  kernel: FakeKernel;
  monitor: KernelMonitor;
  events: KernelEvent[];
  lines: Record<string, unknown>[];
}> {
  const kernel = new FakeKernel();
  kernel.links.set(1, lo);
  kernel.links.set(2, eth0);
  kernel.addrs.push(
    { index: 1, address: '127.0.0.1', prefix: 8 },
    { index: 2, address: '10.0.0.1', prefix: 24 },
    { index: 2, address: '10.0.0.2', prefix: 24, secondary: true },
  );
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const monitor = await KernelMonitor.open(pino({ level: 'debug' }, sink), kernel.deps);
  monitors.push(monitor);
  const events: KernelEvent[] = [];
  monitor.subscribe((e) => events.push(e));
  return { kernel, monitor, events, lines };
}

/** Until the recovery loop has run (it sleeps on real timers). */
async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const addressesOf = (m: KernelMonitor, index: number): string[] =>
  m.addresses(index).map((a) => `${a.address}/${a.prefix}${a.secondary ? ' sec' : ''}`);

describe('KernelMonitor', () => {
  it('subscribes, then dumps; what happens during the dump is applied on top of it', async () => {
    const kernel = new FakeKernel();
    kernel.links.set(2, eth0);
    kernel.duringDump = () => {
      kernel.setLink({ ...eth0, name: 'wan0' });
      kernel.addAddr({ index: 2, address: '10.0.0.9', prefix: 24 });
    };
    const monitor = await KernelMonitor.open(pino({ level: 'silent' }), kernel.deps);
    monitors.push(monitor);
    expect(kernel.calls).toEqual(['open', 'dump links', 'dump IPv4', 'dump IPv6']);
    // RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR
    expect(kernel.sockets[0]?.options.groups).toBe(0x111);
    expect(kernel.sockets[0]?.options.rcvbuf).toBeGreaterThanOrEqual(4 << 20);
    expect(monitor.link('eth0')).toBeUndefined();
    expect(monitor.link('wan0')).toMatchObject({ index: 2, up: true, adminUp: true });
    expect(addressesOf(monitor, 2)).toEqual(['10.0.0.9/24']);
  });

  it('a first dump that fails rejects open with the reason; a socket that cannot open too', async () => {
    const kernel = new FakeKernel();
    kernel.dumpFailures = 1;
    await expect(KernelMonitor.open(pino({ level: 'silent' }), kernel.deps)).rejects.toThrow(
      KernelMonitorError,
    );
    expect(kernel.sockets[0]?.closed).toBe(true);
    kernel.openFailures = 1;
    await expect(KernelMonitor.open(pino({ level: 'silent' }), kernel.deps)).rejects.toThrow(
      /cannot watch the interfaces \(rtnetlink\): socket\(AF_NETLINK\)/,
    );
  });

  it('link state: down, up, operstate unknown with the carrier, rename, deletion', async () => {
    const { kernel, monitor, events } = await setup();
    expect(monitor.link('lo')).toMatchObject({ up: true, adminUp: true });
    kernel.setLink({ ...eth0, flags: 0, operstate: IF_OPER_DOWN });
    kernel.setLink({ ...eth0, flags: IFF_UP, operstate: IF_OPER_DOWN });
    kernel.setLink(eth0);
    kernel.setLink(eth0); // the same again (a statistics update): nothing
    expect(events.map((e) => e.type === 'link' && [e.link.adminUp, e.link.up])).toEqual([
      [false, false],
      [true, false],
      [true, true],
    ]);
    events.length = 0;
    kernel.setLink({ ...eth0, name: 'wan0' });
    expect(events).toEqual([
      { type: 'link', link: expect.objectContaining({ name: 'wan0' }), previousName: 'eth0' },
    ]);
    expect(monitor.link('eth0')).toBeUndefined();
    expect(monitor.linkByIndex(2)?.name).toBe('wan0');
    events.length = 0;
    kernel.delLink(2);
    expect(events.map((e) => e.type)).toEqual(['address-removed', 'address-removed', 'link-gone']);
    expect(monitor.link('wan0')).toBeUndefined();
    expect(monitor.addresses(2)).toEqual([]);
  });

  it("addresses: added and removed, in the kernel's order, a promotion is an address-added", async () => {
    const { kernel, monitor, events } = await setup();
    kernel.addAddr({ index: 2, address: '10.0.0.3', prefix: 24, secondary: true });
    kernel.addAddr({ index: 2, address: '192.168.1.1', prefix: 24 });
    kernel.addAddr({ index: 2, address: '192.168.1.1', prefix: 24 }); // replaced: nothing new
    expect(addressesOf(monitor, 2)).toEqual([
      '10.0.0.1/24',
      '192.168.1.1/24',
      '10.0.0.2/24 sec',
      '10.0.0.3/24 sec',
    ]);
    kernel.delAddr({ index: 2, address: '10.0.0.1', prefix: 24 });
    // promote_secondaries: the kernel re-announces 10.0.0.2 as a primary.
    kernel.addAddr({ index: 2, address: '10.0.0.2', prefix: 24 });
    expect(addressesOf(monitor, 2)).toEqual(['192.168.1.1/24', '10.0.0.2/24', '10.0.0.3/24 sec']);
    expect(events.map((e) => 'address' in e && [e.type, e.address.address])).toEqual([
      ['address-added', '10.0.0.3'],
      ['address-added', '192.168.1.1'],
      ['address-removed', '10.0.0.1'],
      ['address-added', '10.0.0.2'],
    ]);
  });

  it('IPv6: family 6, RFC 5952 text, global before link-local, newest first; removed', async () => {
    const { kernel, monitor, events } = await setup();
    kernel.addAddr({ index: 2, address: 'fe80::2', prefix: 64, scope: LINK });
    kernel.addAddr({ index: 2, address: '2001:DB8:0:0:0:0:0:A', prefix: 64 });
    kernel.addAddr({ index: 2, address: '2001:db8::b', prefix: 64 });
    // IFA_F_TEMPORARY is IFA_F_SECONDARY's bit: a privacy address is no secondary.
    kernel.addAddr({ index: 2, address: 'fe80::3', prefix: 64, scope: LINK, flags: 0x01 });
    expect(addressesOf(monitor, 2)).toEqual([
      '10.0.0.1/24',
      '10.0.0.2/24 sec',
      '2001:db8::b/64',
      '2001:db8::a/64',
      'fe80::3/64',
      'fe80::2/64',
    ]);
    expect(monitor.addresses(2).at(-1)).toEqual({
      ifindex: 2,
      family: 6,
      address: 'fe80::2',
      prefix: 64,
      secondary: false,
      tentative: false,
    });
    expect(monitor.addresses(2)[0]).toMatchObject({ family: 4, tentative: false });
    // An IPv4 primary added now still goes before every IPv6 address.
    kernel.addAddr({ index: 2, address: '192.168.1.1', prefix: 24 });
    expect(addressesOf(monitor, 2).slice(0, 3)).toEqual([
      '10.0.0.1/24',
      '192.168.1.1/24',
      '10.0.0.2/24 sec',
    ]);
    kernel.addAddr({ index: 2, address: '10.0.0.3', prefix: 24, secondary: true });
    expect(addressesOf(monitor, 2)[3]).toBe('10.0.0.3/24 sec');
    events.length = 0;
    kernel.delAddr({ index: 2, address: '2001:db8::a', prefix: 64 });
    expect(events).toEqual([
      {
        type: 'address-removed',
        address: expect.objectContaining({ family: 6, address: '2001:db8::a' }),
      },
    ]);
  });

  it('IPv6: a tentative address that passes DAD is an address-added, in place; a refresh is nothing', async () => {
    const { kernel, monitor, events } = await setup();
    const ll = { index: 2, address: 'fe80::2', prefix: 64, scope: LINK };
    kernel.addAddr({ ...ll, tentative: true });
    kernel.addAddr({ index: 2, address: 'fe80::9', prefix: 64, scope: LINK });
    expect(monitor.addresses(2).filter((a) => a.tentative)).toEqual([
      expect.objectContaining({ address: 'fe80::2', family: 6 }),
    ]);
    kernel.updateAddr(ll);
    // The kernel renews lifetimes with the same flags: nothing for the listeners.
    kernel.updateAddr(ll);
    expect(
      events.map((e) => 'address' in e && [e.type, e.address.address, e.address.tentative]),
    ).toEqual([
      ['address-added', 'fe80::2', true],
      ['address-added', 'fe80::9', false],
      ['address-added', 'fe80::2', false],
    ]);
    expect(addressesOf(monitor, 2).slice(2)).toEqual(['fe80::9/64', 'fe80::2/64']);
    // DAD failed: tentative for good.
    kernel.updateAddr({ ...ll, tentative: true, flags: IFA_F_DADFAILED });
    kernel.updateAddr({ ...ll, flags: IFA_F_DADFAILED });
    expect(events.slice(3).map((e) => 'address' in e && e.address.tentative)).toEqual([true]);
  });

  it('IPv6: a resync emits an address whose DAD finished unseen as an address-added', async () => {
    const { kernel, events } = await setup();
    const ll = { index: 2, address: 'fe80::2', prefix: 64, scope: LINK };
    kernel.addAddr({ ...ll, tentative: true });
    kernel.lose(() => {
      kernel.addrs = kernel.addrs.map((a) => (a.address === ll.address ? ll : a));
    });
    await until(() => events.some((e) => e.type === 'resynced'));
    expect(events).toEqual([
      { type: 'address-added', address: expect.objectContaining({ tentative: true }) },
      {
        type: 'address-added',
        address: expect.objectContaining({ address: 'fe80::2', tentative: false }),
      },
      { type: 'resynced', reason: expect.stringMatching(/ENOBUFS/) },
    ]);
  });

  it("ignores a bridge port's own reports, counts what does not parse", async () => {
    const { kernel, monitor, events } = await setup();
    const socket = kernel.sockets[0];
    socket?.onBatch([linkBytes({ ...eth0, family: AF_BRIDGE, flags: 0 }, true)]);
    socket?.onBatch([Buffer.from([9, 9, 9]), linkBytes(eth0).subarray(0, 40)]);
    expect(events).toEqual([]);
    expect(monitor.link('eth0')?.up).toBe(true);
    expect(monitor.counters.malformed).toBe(2);
  });

  it('an overrun: one warning, a re-dump, the differences emitted, then resynced', async () => {
    const { kernel, monitor, events, lines } = await setup();
    kernel.lose(() => {
      kernel.addrs = kernel.addrs.filter((a) => a.address !== '10.0.0.2');
      kernel.addrs.push({ index: 2, address: '10.0.0.7', prefix: 24, secondary: true });
      kernel.links.set(2, { ...eth0, operstate: IF_OPER_DOWN, flags: IFF_UP });
      kernel.links.set(3, { ...eth0, index: 3, name: 'eth1' });
    });
    // Another overrun while the first is being handled: counted, not logged again.
    kernel.lose(() => undefined);
    await until(() => events.some((e) => e.type === 'resynced'));
    expect(events).toEqual([
      { type: 'address-removed', address: expect.objectContaining({ address: '10.0.0.2' }) },
      { type: 'link', link: expect.objectContaining({ name: 'eth0', up: false }) },
      { type: 'link', link: expect.objectContaining({ name: 'eth1', up: true }) },
      { type: 'address-added', address: expect.objectContaining({ address: '10.0.0.7' }) },
      { type: 'resynced', reason: expect.stringMatching(/ENOBUFS/) },
    ]);
    expect(monitor.counters).toMatchObject({ overruns: 2, resyncs: 1, errors: 0 });
    expect(kernel.sockets).toHaveLength(1);
    expect(lines.filter((l) => l.level === 40).map((l) => l.event)).toEqual([
      'kernel-monitor-lost-events',
    ]);
    // Live again.
    kernel.addAddr({ index: 3, address: '10.1.0.1', prefix: 24 });
    expect(events.at(-1)).toMatchObject({ type: 'address-added' });
  });

  it('a socket error: closed, reopened with backoff (first opens failing), re-dumped', async () => {
    const { kernel, monitor, events } = await setup();
    kernel.openFailures = 2;
    kernel.lose(() => kernel.addrs.push({ index: 2, address: '10.0.0.8', prefix: 24 }), 9);
    await until(() => events.some((e) => e.type === 'resynced'));
    expect(kernel.sockets.map((s) => s.closed)).toEqual([true, false]);
    expect(kernel.calls.slice(4)).toEqual([
      'open',
      'open',
      'open',
      'dump links',
      'dump IPv4',
      'dump IPv6',
    ]);
    expect(events.map((e) => e.type)).toEqual(['address-added', 'resynced']);
    expect(monitor.counters).toMatchObject({ errors: 3, overruns: 0, resyncs: 1 });
  });

  it('a re-dump that fails is tried again', async () => {
    const { kernel, monitor, events } = await setup();
    kernel.dumpFailures = 2;
    kernel.lose(() => {
      kernel.links.delete(1);
      kernel.addrs = kernel.addrs.filter((a) => a.index !== 1);
    });
    await until(() => events.some((e) => e.type === 'resynced'));
    expect(events.map((e) => e.type)).toEqual(['address-removed', 'link-gone', 'resynced']);
    expect(monitor.counters).toMatchObject({ overruns: 1, errors: 2, resyncs: 1 });
  });

  it('a listener that throws is logged; the others still hear, the monitor goes on', async () => {
    const { kernel, monitor, events, lines } = await setup();
    const unsubscribe = monitor.subscribe(() => {
      throw new Error('listener bug');
    });
    kernel.addAddr({ index: 2, address: '10.0.0.5', prefix: 24 });
    unsubscribe();
    kernel.addAddr({ index: 2, address: '10.0.0.6', prefix: 24 });
    expect(events).toHaveLength(2);
    expect(lines.filter((l) => l.event === 'kernel-monitor-listener-failed')).toHaveLength(1);
  });
});
