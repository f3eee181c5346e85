// The addon's raw IP socket (native/raw_socket.cc) and RawTransport on it, between two hosts of the
// namespace lab, driven through test/support/native-peer.ts (one peer process per host): adverts
// arrive with the interface index and the sender's TTL 255, our own multicast is not read back,
// 300 datagrams queued while the receiver's loop was held arrive in a few batches with none lost,
// injected send/recv/open faults fail exactly what they should and the socket goes on, close()
// inside a callback is safe, and a link flap does not fail the next gratuitous ARP send (the
// ENETDOWN it leaves pending on an AF_PACKET socket, issue 13).

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../support/lab-fixture.js';
import { NativePeer, type PeerEvent } from '../support/native-peer-client.js';

const GROUP = '224.0.0.18';

interface Item {
  ifindex: number;
  ttl: number;
  tos: number;
  protocol: number;
  src: string;
  dst: string;
  seq: number;
}

const isBatch = (s: string) => (e: PeerEvent) => e.ev === 'batch' && e.s === s;
const isError = (s: string) => (e: PeerEvent) => e.ev === 'error' && e.s === s;

function itemsOf(events: PeerEvent[]): Item[] {
  return events.flatMap((e) => e.items as Item[]);
}

describe('raw IP socket (protocol 112) between two namespaces', () => {
  const fx = useLab(['a', 'b']);
  let a: NativePeer;
  let b: NativePeer;
  let aIndex: number;
  let addrA: string;
  let addrB: string;
  const gates: string[] = [];

  beforeAll(async () => {
    [a, b] = await Promise.all([NativePeer.start(fx.lab, 'a'), NativePeer.start(fx.lab, 'b')]);
    addrA = fx.lab.host('a').address;
    addrB = fx.lab.host('b').address;
    const link = await fx.lab.exec('a', 'ip', ['-j', 'link', 'show', 'dev', 'eth0']);
    aIndex = (JSON.parse(link) as { ifindex: number }[])[0]?.ifindex ?? -1;
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    for (const gate of gates) rmSync(gate, { force: true });
  });

  // Each test opens its own sockets (names unique per test) and closes them.
  let n = 0;
  let sa = '';
  let sb = '';
  async function openBoth(): Promise<void> {
    n += 1;
    sa = `a${n}`;
    sb = `b${n}`;
    await a.ok({ op: 'raw', s: sa, ifname: 'eth0', local: addrA, group: GROUP });
    await b.ok({ op: 'raw', s: sb, ifname: 'eth0', local: addrB, group: GROUP });
  }
  afterEach(async () => {
    await Promise.all([a.request({ op: 'close', s: sa }), b.request({ op: 'close', s: sb })]);
  });

  /** A file the test creates to let a peer's held loop go (see the peer's 'block'). */
  function gate(): string {
    const path = join(tmpdir(), `vipd-raw-gate-${process.pid}-${gates.length}`);
    gates.push(path);
    return path;
  }

  it('delivers adverts with the ifindex and TTL 255, and never reads back its own multicast', async () => {
    await openBoth();
    const fromA = a.events.length;
    const fromB = b.events.length;
    expect(await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 3 })).toMatchObject({
      sent: 3,
      errors: [],
    });
    expect(
      await b.ok({ op: 'send', s: sb, src: addrB, dst: addrA, count: 1, first: 3 }),
    ).toMatchObject({
      sent: 1,
    });
    await a.waitFor('4 datagrams', () => itemsOf(a.seen(isBatch(sa), fromA)).length >= 4);
    const items = itemsOf(a.seen(isBatch(sa), fromA));
    expect(items.map((i) => i.seq)).toEqual([0, 1, 2, 3]);
    for (const item of items) {
      expect(item).toMatchObject({
        ifindex: aIndex,
        ttl: 255,
        tos: 0xc0,
        protocol: 112,
        src: addrB,
      });
    }
    expect(items.map((i) => i.dst)).toEqual([GROUP, GROUP, GROUP, addrA]);
    // b's own multicast: IP_MULTICAST_LOOP 0. a's answer makes sure b's socket was read since.
    await a.ok({ op: 'send', s: sa, src: addrA, dst: GROUP, count: 1, first: 100 });
    await b.waitFor("a's datagram", isBatch(sb), 5_000, fromB);
    expect(itemsOf(b.seen(isBatch(sb), fromB)).map((i) => i.src)).toEqual([addrA]);
    expect(a.seen(isError(sa), fromA)).toEqual([]);
  });

  it('reads 300 datagrams queued while its loop was held in a few batches, none lost', async () => {
    await openBoth();
    const from = a.events.length;
    const open = gate();
    const held = a.request({ op: 'block', until: open, maxMs: 15_000 }, 20_000);
    await a.waitFor('the hold', (e) => e.ev === 'blocking', 5_000, from);
    expect(await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 300 })).toMatchObject({
      sent: 300,
      errors: [],
    });
    // Let the last of them through the bridge into a's socket before the loop runs again.
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(open, '');
    expect((await held).ev).toBe('ok');
    await a.waitFor(
      '300 datagrams',
      () => itemsOf(a.seen(isBatch(sa), from)).length >= 300,
      10_000,
    );
    await new Promise((r) => setTimeout(r, 200));
    const batches = a.seen(isBatch(sa), from);
    const sizes = batches.map((e) => e.n as number);
    console.log(`[measure] 300 queued datagrams read in batches of ${sizes.join(', ')}`);
    expect(itemsOf(batches).map((i) => i.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(sizes[0]).toBe(256);
    expect(sizes.length).toBeLessThanOrEqual(3);
    expect(existsSync(open)).toBe(true);
  });

  it('an injected send fault fails exactly one send with its errno, then sends work', async () => {
    await openBoth();
    const from = a.events.length;
    await b.ok({ op: 'inject', kind: 'raw', fault: 'send', errno: 'EIO', count: 1 });
    const failed = await b.request({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 1 });
    expect(failed).toMatchObject({ ev: 'ok', sent: 0, errors: ['EIO'] });
    expect(
      await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 2, first: 1 }),
    ).toMatchObject({
      sent: 2,
      errors: [],
    });
    await a.waitFor('2 datagrams', () => itemsOf(a.seen(isBatch(sa), from)).length >= 2);
    expect(itemsOf(a.seen(isBatch(sa), from)).map((i) => i.seq)).toEqual([1, 2]);
  });

  it('an injected recv fault is one onError with its errno (queued datagrams dropped), then packets flow', async () => {
    await openBoth();
    const from = a.events.length;
    await a.ok({ op: 'inject', kind: 'raw', fault: 'recv', errno: 'ENOMEM', count: 1 });
    await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 1 });
    const error = await a.waitFor('the injected error', isError(sa), 5_000, from);
    expect(error).toMatchObject({ errno: 12, code: 'ENOMEM', syscall: 'recvmsg' });
    await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 2, first: 1 });
    await a.waitFor('2 datagrams', () => itemsOf(a.seen(isBatch(sa), from)).length >= 2);
    expect(itemsOf(a.seen(isBatch(sa), from)).map((i) => i.seq)).toEqual([1, 2]);
    expect(a.seen(isError(sa), from)).toHaveLength(1);
  });

  it('an injected open fault fails the next open only', async () => {
    await openBoth();
    await a.ok({ op: 'inject', kind: 'raw', fault: 'open', errno: 'EPERM', count: 1 });
    const refused = await a.request({ op: 'raw', s: 'x', ifname: 'eth0', local: addrA });
    expect(refused).toMatchObject({ ev: 'thrown', errno: 1, code: 'EPERM' });
    expect((await a.ok({ op: 'raw', s: 'x', ifname: 'eth0', local: addrA })).fd).toBeGreaterThan(0);
    await a.ok({ op: 'close', s: 'x' });
    const missing = await a.request({ op: 'raw', s: 'y', ifname: 'nosuch0', local: addrA });
    expect(missing).toMatchObject({ ev: 'thrown', code: 'ENODEV' });
  });

  it('close() inside onBatch and inside onError is safe; the socket then refuses sends (EBADF)', async () => {
    await openBoth();
    let from = a.events.length;
    await a.ok({ op: 'closeInCallback', s: sa });
    await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 5 });
    const closed = await a.waitFor(
      'close in onBatch',
      (e) => e.ev === 'closed-in-callback',
      5_000,
      from,
    );
    expect(closed).toMatchObject({ fd: -1, sendAfter: { code: 'EBADF', syscall: 'sendto' } });
    // Nothing more is delivered to the closed socket, and the process goes on.
    await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 5, first: 5 });
    await new Promise((r) => setTimeout(r, 300));
    expect(a.seen(isBatch(sa), from)).toHaveLength(1);
    await a.ok({ op: 'ping' });

    from = a.events.length;
    await a.ok({ op: 'raw', s: sa, ifname: 'eth0', local: addrA, group: GROUP });
    await a.ok({ op: 'closeInCallback', s: sa });
    await a.ok({ op: 'inject', kind: 'raw', fault: 'recv', errno: 'EIO', count: 1 });
    await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 1 });
    await a.waitFor('close in onError', (e) => e.ev === 'closed-in-callback', 5_000, from);
    await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(a.seen((e) => e.s === sa && (e.ev === 'batch' || e.ev === 'error'), from)).toHaveLength(
      1,
    );
    await a.ok({ op: 'ping' });
  });

  it('RawTransport: faults become TransportErrors with op and code, and packets flow again', async () => {
    await openBoth();
    const from = a.events.length;
    await a.ok({ op: 'inject', kind: 'raw', fault: 'open', errno: 'EACCES', count: 1 });
    const refused = await a.request({ op: 'transport', s: 'ta', ifname: 'eth0', local: addrA });
    expect(refused).toMatchObject({
      ev: 'thrown',
      name: 'TransportError',
      op: 'open',
      code: 'EACCES',
    });
    expect(refused.message).toMatch(/needs CAP_NET_RAW/);
    await a.ok({ op: 'transport', s: 'ta', ifname: 'eth0', local: addrA });

    await a.ok({ op: 'inject', kind: 'raw', fault: 'send', errno: 'ENETDOWN', count: 1 });
    await a.ok({ op: 'tsend', s: 'ta', dst: GROUP });
    const failed = await a.waitFor('a failed send', (e) => e.ev === 'tsend-failed', 5_000, from);
    expect(failed).toMatchObject({ name: 'TransportError', op: 'send', code: 'ENETDOWN' });
    await a.ok({ op: 'tsend', s: 'ta', dst: GROUP });
    await a.waitFor('a send', (e) => e.ev === 'tsent', 5_000, from);
    await b.waitFor(
      "the transport's advert",
      (e) => isBatch(sb)(e) && itemsOf([e])[0]?.src === addrA,
    );

    await a.ok({ op: 'inject', kind: 'raw', fault: 'recv', errno: 'EIO', count: 1 });
    // Both of a's sockets see b's datagram: the first readiness of either takes the fault.
    await a.ok({ op: 'close', s: sa });
    await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 1 });
    const error = await a.waitFor('a transport error', (e) => e.ev === 'terror', 5_000, from);
    expect(error).toMatchObject({ name: 'TransportError', op: 'recv', code: 'EIO' });
    await b.ok({ op: 'send', s: sb, src: addrB, dst: GROUP, count: 1 });
    const packet = await a.waitFor('a packet', (e) => e.ev === 'packet', 5_000, from);
    expect(packet).toMatchObject({ src: addrB, dst: GROUP, ttl: 255, len: 8 });
  });

  it('a link flap leaves ENETDOWN pending on an AF_PACKET socket; the next GARP send still goes', async () => {
    await openBoth();
    await a.ok({ op: 'packet', s: 'p', ifname: 'eth0' });
    await fx.lab.exec('a', 'ip', ['link', 'set', 'eth0', 'down']);
    await fx.lab.exec('a', 'ip', ['link', 'set', 'eth0', 'up']);
    // A broadcast ARP request frame: the content does not matter, only that the send goes.
    const frame = 'ffffffffffff' + '020000000001' + '0806' + '00'.repeat(46);
    expect(await a.request({ op: 'psend', s: 'p', frame })).toMatchObject({ ev: 'ok', sent: 1 });
    // The raw socket after the same flap: sends go, and whatever it reports comes as an event.
    expect(await a.ok({ op: 'send', s: sa, src: addrA, dst: GROUP, count: 1 })).toMatchObject({
      sent: 1,
      errors: [],
    });
  });
});
