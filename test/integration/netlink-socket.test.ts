// The addon's NETLINK_ROUTE socket (native/netlink_socket.cc) inside a lab namespace, driven
// through test/support/native-peer.ts: a socket subscribed to RTMGRP_LINK sees a link created in
// its namespace (bridges: not every lab kernel has the dummy module); a dump request is answered
// in parts ending with NLMSG_DONE and a refused request with the kernel's errno; an injected
// ENOBUFS on receive and a real overrun (a small buffer, the loop held while 100 links are
// created) each reach onError once as ENOBUFS, and the socket delivers what comes after.

import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLab } from '../support/lab-fixture.js';
import { NativePeer, type PeerEvent } from '../support/native-peer-client.js';

const RTMGRP_LINK = 1;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const RTM_NEWLINK = 16;
const ENOBUFS = 105;
const ENODEV = 19;

interface Message {
  type: number;
  seq: number;
  error?: number;
  ifname?: string;
  len: number;
}

const batchOf = (s: string) => (e: PeerEvent) => e.ev === 'batch' && e.s === s;
const errorOf = (s: string) => (e: PeerEvent) => e.ev === 'error' && e.s === s;

function messagesOf(events: PeerEvent[]): Message[] {
  return events.flatMap((e) => e.messages as Message[]);
}

/** A batch holding RTM_NEWLINK for `ifname`. */
function newLink(s: string, ifname: string): (e: PeerEvent) => boolean {
  return (e) =>
    batchOf(s)(e) && messagesOf([e]).some((m) => m.type === RTM_NEWLINK && m.ifname === ifname);
}

describe('NETLINK_ROUTE socket in a namespace', () => {
  const fx = useLab(['nl']);
  let peer: NativePeer;
  const gates: string[] = [];

  beforeAll(async () => {
    peer = await NativePeer.start(fx.lab, 'nl');
  });

  afterAll(async () => {
    await peer?.stop();
    for (const gate of gates) rmSync(gate, { force: true });
  });

  const ip = (...args: string[]): Promise<string> => fx.lab.exec('nl', 'ip', args);

  it('sees a link created (RTMGRP_LINK), answers a dump in parts and a refused request with its errno', async () => {
    const from = peer.events.length;
    await peer.ok({ op: 'netlink', s: 'm', groups: RTMGRP_LINK, rcvbuf: 1 << 20 });
    await ip('link', 'add', 'd0', 'type', 'bridge');
    await peer.waitFor('RTM_NEWLINK d0', newLink('m', 'd0'), 5_000, from);

    await peer.ok({ op: 'dump', s: 'm', seq: 42 });
    await peer.waitFor(
      'the end of the dump',
      (e) => batchOf('m')(e) && messagesOf([e]).some((m) => m.type === NLMSG_DONE && m.seq === 42),
    );
    const dumped = messagesOf(peer.seen(batchOf('m'), from)).filter(
      (m) => m.seq === 42 && m.type === RTM_NEWLINK,
    );
    expect(dumped.map((m) => m.ifname)).toEqual(expect.arrayContaining(['lo', 'eth0', 'd0']));

    await peer.ok({ op: 'dellink', s: 'm', seq: 43, ifindex: 999_999 });
    const refused = await peer.waitFor(
      'the error reply',
      (e) => batchOf('m')(e) && messagesOf([e]).some((m) => m.type === NLMSG_ERROR && m.seq === 43),
    );
    const reply = messagesOf([refused]).find((m) => m.seq === 43);
    expect(reply?.error).toBe(-ENODEV);
    // NETLINK_CAP_ACK: the reply echoes the request's header only (16 + 4 + 16 bytes), plus the
    // extended ack's attributes if the kernel has a message for it.
    expect(reply?.len).toBeLessThan(36 + 64);
    expect(peer.seen(errorOf('m'), from)).toEqual([]);
    await peer.ok({ op: 'close', s: 'm' });
  });

  it('an injected ENOBUFS on receive is one onError, and later messages still arrive', async () => {
    const from = peer.events.length;
    await peer.ok({ op: 'netlink', s: 'f', groups: RTMGRP_LINK, rcvbuf: 1 << 20 });
    await peer.ok({ op: 'inject', kind: 'netlink', fault: 'recv', errno: 'ENOBUFS', count: 1 });
    await ip('link', 'add', 'd1', 'type', 'bridge');
    const error = await peer.waitFor('ENOBUFS', errorOf('f'), 5_000, from);
    expect(error).toMatchObject({ errno: ENOBUFS, code: 'ENOBUFS', syscall: 'recvmsg' });
    await ip('link', 'add', 'd2', 'type', 'bridge');
    await peer.waitFor('RTM_NEWLINK d2', newLink('f', 'd2'), 5_000, from);
    expect(peer.seen(newLink('f', 'd1'), from)).toEqual([]);
    expect(peer.seen(errorOf('f'), from)).toHaveLength(1);

    await peer.ok({ op: 'inject', kind: 'netlink', fault: 'open', errno: 'EMFILE', count: 1 });
    const refused = await peer.request({ op: 'netlink', s: 'g', groups: 0, rcvbuf: 0 });
    expect(refused).toMatchObject({ ev: 'thrown', code: 'EMFILE', syscall: 'socket(AF_NETLINK)' });
    await peer.ok({ op: 'close', s: 'f' });
  });

  /** Holds the peer's loop while `during` runs, then lets it go; resolves with the hold's answer. */
  async function holding(during: () => Promise<void>, dumpOn?: string): Promise<PeerEvent> {
    const gate = join(tmpdir(), `vipd-netlink-gate-${process.pid}-${gates.length}`);
    gates.push(gate);
    const from = peer.events.length;
    const held = peer.request({ op: 'block', until: gate, maxMs: 15_000, dumpOn }, 20_000);
    await peer.waitFor('the hold', (e) => e.ev === 'blocking', 5_000, from);
    await during();
    writeFileSync(gate, '');
    return held;
  }

  const links = (prefix: string, n: number): string =>
    Array.from({ length: n }, (_, i) => `link add ${prefix}${i} type bridge`).join('\n') + '\n';

  it('a real overrun (small buffer, loop held) is one onError ENOBUFS; the socket goes on', async () => {
    let from = peer.events.length;
    await peer.ok({ op: 'netlink', s: 'o', groups: RTMGRP_LINK, rcvbuf: 1 });
    const batch = join(tmpdir(), `vipd-netlink-batch-${process.pid}`);
    gates.push(batch);
    writeFileSync(batch, links('x', 100));
    expect((await holding(() => ip('-batch', batch).then(() => undefined))).ev).toBe('ok');
    const overrun = await peer.waitFor('ENOBUFS', errorOf('o'), 5_000, from);
    // The kernel flags an overrun as a pending socket error (POLLERR), not as a failed read.
    expect(overrun).toMatchObject({ errno: ENOBUFS, code: 'ENOBUFS', syscall: 'SO_ERROR' });
    await ip('link', 'add', 'y0', 'type', 'bridge');
    await peer.waitFor('RTM_NEWLINK y0', newLink('o', 'y0'), 5_000, from);
    expect(peer.seen(errorOf('o'), from)).toHaveLength(1);

    // Overrun again, and this time a request is sent before the loop reads the socket: the
    // pending ENOBUFS does not fail it, comes as onError, and the dump is answered whole.
    from = peer.events.length;
    writeFileSync(batch, links('z', 100));
    expect((await holding(() => ip('-batch', batch).then(() => undefined), 'o')).ev).toBe('ok');
    const pending = await peer.waitFor('ENOBUFS', errorOf('o'), 5_000, from);
    expect(pending).toMatchObject({ errno: ENOBUFS, syscall: 'SO_ERROR' });
    await peer.waitFor(
      'the end of the dump',
      (e) => batchOf('o')(e) && messagesOf([e]).some((m) => m.type === NLMSG_DONE && m.seq === 7),
    );
    const dumped = messagesOf(peer.seen(batchOf('o'), from)).filter(
      (m) => m.seq === 7 && m.type === RTM_NEWLINK,
    );
    expect(dumped.map((m) => m.ifname)).toEqual(expect.arrayContaining(['y0', 'z0', 'z99']));
    expect(peer.seen(errorOf('o'), from)).toHaveLength(1);
    await peer.ok({ op: 'close', s: 'o' });
  });
});
