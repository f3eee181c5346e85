/**
 * The request socket of src/net/netlink.ts (NetlinkClient) against a scripted kernel: replies
 * matched by sequence number whatever their order, the window of requests in flight, a dump's
 * parts assembled while other replies arrive between them and one dump at a time, the timeout,
 * a socket error failing exactly the requests in flight and a new socket for the next ones, an
 * open that fails, and replies nobody waits for. No addon, no root: the lab tests
 * (test/integration/kernel-monitor.test.ts) run the same code on the real kernel.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NativeCallError, NativeSocket } from '../../src/native.js';
import { NetlinkClient, NetlinkError, type NetlinkOpener } from '../../src/net/netlink.js';
import {
  AF_INET,
  decodeDatagram,
  encodeAddAddress,
  encodeDumpAddresses,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  RTM_NEWADDR,
} from '../../src/net/rtnetlink.js';

function message(type: number, flags: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body]);
}

const ack = (seq: number, errno = 0): Buffer => {
  const body = Buffer.alloc(20);
  body.writeInt32LE(-errno, 0);
  body.writeUInt32LE(seq, 12);
  return message(NLMSG_ERROR, 0, seq, body);
};
const done = (seq: number, flags = NLM_F_MULTI, errno = 0): Buffer => {
  const body = Buffer.alloc(4);
  body.writeInt32LE(-errno, 0);
  return message(NLMSG_DONE, flags, seq, body);
};
/** One address part of a dump: an RTM_NEWADDR of 10.0.0.<n>/24 on ifindex 2. */
const part = (seq: number, n: number, flags = NLM_F_MULTI): Buffer => {
  const b = encodeAddAddress(seq, {
    family: AF_INET,
    index: 2,
    address: `10.0.0.${n}`,
    prefix: 24,
  });
  b.writeUInt16LE(RTM_NEWADDR, 4);
  b.writeUInt16LE(flags, 6);
  return b;
};

/** A request the scripted kernel received: its seq and whether it was a dump. */
interface Received {
  seq: number;
  dump: boolean;
}

/** A kernel the test answers by hand: `sent` lists what reached it, `deliver` answers. */
class FakeKernel {
  readonly sockets: {
    socket: NativeSocket;
    closed: boolean;
    onBatch: (b: Buffer[]) => void;
    onError: (e: NativeCallError) => void;
  }[] = [];
  readonly sent: Received[] = [];
  /** How many datagrams (send calls) carried them. */
  datagrams = 0;
  openFailures = 0;
  sendFailure: number | undefined;

  readonly open: NetlinkOpener = (onBatch, onError) => {
    if (this.openFailures > 0) {
      this.openFailures--;
      throw Object.assign(new Error('socket(AF_NETLINK): Operation not permitted'), { errno: 1 });
    }
    const entry = {
      closed: false,
      onBatch,
      onError,
      socket: {
        fd: 3 + this.sockets.length,
        send: (b: Buffer): void => {
          if (entry.closed) throw Object.assign(new Error('EBADF'), { errno: 9 });
          if (this.sendFailure !== undefined) {
            const errno = this.sendFailure;
            this.sendFailure = undefined;
            throw Object.assign(new Error('sendto failed'), { errno });
          }
          // One datagram may carry several requests: the kernel takes them one by one.
          this.datagrams++;
          const messages = decodeDatagram(b);
          if (messages.length === 0) throw new Error('the client sent something unreadable');
          for (const m of messages) {
            if (m.header === undefined) throw new Error('the client sent something unreadable');
            this.sent.push({ seq: m.header.seq, dump: (m.header.flags & 0x300) === 0x300 });
          }
        },
        // The scripted kernel delivers each batch itself: nothing waits to be read.
        drain: (): void => undefined,
        close: (): void => {
          entry.closed = true;
        },
      },
    };
    this.sockets.push(entry);
    return entry.socket;
  };

  private get current() {
    const s = this.sockets.at(-1);
    if (s === undefined) throw new Error('no socket open');
    return s;
  }

  deliver(...datagrams: Buffer[]): void {
    this.current.onBatch(datagrams);
  }

  fail(errno: number): void {
    this.current.onError(
      Object.assign(new Error(`recvmsg: errno ${errno}`), { errno, syscall: 'recvmsg' }),
    );
  }
}

const addRequest = (n: number): Buffer =>
  encodeAddAddress(0, { family: AF_INET, index: 2, address: `10.1.0.${n}`, prefix: 32 });
const dumpRequest = (): Buffer => encodeDumpAddresses(0, AF_INET);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

let clients: NetlinkClient[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
});

function setup(options: { window?: number; timeoutMs?: number } = {}): {
  kernel: FakeKernel;
  client: NetlinkClient;
} {
  const kernel = new FakeKernel();
  const client = new NetlinkClient({ open: kernel.open, ...options });
  clients.push(client);
  return { kernel, client };
}

describe('NetlinkClient', () => {
  it('matches replies to requests by seq, in whatever order they come', async () => {
    const { kernel, client } = setup();
    const results = [1, 2, 3].map((n) => client.request(addRequest(n), false));
    expect(kernel.sent).toHaveLength(3);
    const [a, b, c] = kernel.sent.map((r) => r.seq);
    expect(new Set([a, b, c]).size).toBe(3);
    kernel.deliver(ack(c ?? 0, 17), ack(a ?? 0));
    kernel.deliver(ack(b ?? 0));
    const settled = await Promise.allSettled(results);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    const err = (settled[2] as PromiseRejectedResult).reason as NetlinkError;
    expect([err.message, err.code]).toEqual(['EEXIST', 'EEXIST']);
  });

  it('keeps at most the window in flight, and sends the rest in order as replies come', async () => {
    const { kernel, client } = setup({ window: 4 });
    const results = Array.from({ length: 10 }, (_, n) => client.request(addRequest(n), false));
    expect(kernel.sent).toHaveLength(4);
    expect(client.pending).toEqual({ inFlight: 4, queued: 6 });
    // Replies that free several places let that many go out in one datagram.
    const before = kernel.datagrams;
    kernel.deliver(...kernel.sent.slice(0, 3).map((r) => ack(r.seq)));
    expect([kernel.sent.length, kernel.datagrams - before]).toEqual([7, 1]);
    let answered = 3;
    while (answered < 10) {
      const next = kernel.sent[answered];
      if (next === undefined) throw new Error(`request ${answered} was never sent`);
      kernel.deliver(ack(next.seq));
      answered++;
      expect(client.pending.inFlight).toBeLessThanOrEqual(4);
    }
    await Promise.all(results);
    expect(client.pending).toEqual({ inFlight: 0, queued: 0 });
  });

  it("assembles a dump's parts by seq while other replies arrive between them; one dump at a time", async () => {
    const { kernel, client } = setup();
    const dump = client.request(dumpRequest(), true);
    const second = client.request(dumpRequest(), true);
    const change = client.request(addRequest(9), false);
    // The second dump waits for the first (the kernel would say EBUSY); so does what follows it.
    expect(kernel.sent.map((r) => r.dump)).toEqual([true]);
    const d = kernel.sent[0]?.seq ?? 0;
    kernel.deliver(part(d, 1), part(d, 2));
    kernel.deliver(part(d, 3), done(d));
    expect((await dump).parts).toHaveLength(3);
    expect(kernel.sent.map((r) => r.dump)).toEqual([true, true, false]);
    const [, d2, c] = kernel.sent.map((r) => r.seq);
    kernel.deliver(part(d2 ?? 0, 1), ack(c ?? 0), part(d2 ?? 0, 2, NLM_F_MULTI | NLM_F_DUMP_INTR));
    kernel.deliver(done(d2 ?? 0));
    await change;
    const reply = await second;
    expect(reply.parts.map((p) => (p.kind === 'address' ? p.local : p.kind))).toEqual([
      '10.0.0.1',
      '10.0.0.2',
    ]);
    expect(reply.interrupted).toBe(true);
  });

  it('fails a dump the kernel ends with an errno', async () => {
    const { kernel, client } = setup();
    const dump = client.request(dumpRequest(), true);
    kernel.deliver(done(kernel.sent[0]?.seq ?? 0, NLM_F_MULTI, 16));
    await expect(dump).rejects.toMatchObject({ code: 'EBUSY' });
  });

  it('times a request out; the window slot is freed and a late reply is only counted', async () => {
    const { kernel, client } = setup({ window: 1, timeoutMs: 30 });
    const lost = client.request(addRequest(1), false);
    const next = client.request(addRequest(2), false);
    await expect(lost).rejects.toThrow('no reply within 30 ms');
    expect(kernel.sent).toHaveLength(2);
    kernel.deliver(ack(kernel.sent[0]?.seq ?? 0), ack(kernel.sent[1]?.seq ?? 0));
    await next;
    expect(client.stats).toMatchObject({ timeouts: 1, stale: 1 });
  });

  it('a socket error fails every request in flight with its errno; the next ones get a new socket', async () => {
    const { kernel, client } = setup({ window: 2 });
    const results = [1, 2, 3].map((n) => client.request(addRequest(n), false));
    kernel.fail(105);
    const [first, second] = await Promise.allSettled(results.slice(0, 2));
    for (const s of [first, second]) {
      expect(s?.status).toBe('rejected');
      const err = (s as PromiseRejectedResult).reason as NetlinkError;
      expect(err).toBeInstanceOf(NetlinkError);
      expect([err.message, err.code]).toEqual(['netlink socket error ENOBUFS', 'ENOBUFS']);
    }
    expect(kernel.sockets.map((s) => s.closed)).toEqual([true, false]);
    // The queued third went out on the new socket.
    kernel.deliver(ack(kernel.sent[2]?.seq ?? 0));
    await results[2];
    // The old socket's late callbacks change nothing.
    kernel.sockets[0]?.onError(Object.assign(new Error('late'), { errno: 105 }));
    kernel.sockets[0]?.onBatch([ack(1)]);
    expect(client.stats.socketErrors).toBe(1);
  });

  it('an open that fails fails what was queued with the reason; the next request tries again', async () => {
    const { kernel, client } = setup();
    kernel.openFailures = 1;
    await expect(client.request(addRequest(1), false)).rejects.toMatchObject({
      message: expect.stringMatching(/^the netlink socket did not open: .*not permitted/),
      code: 'EPERM',
    });
    const again = client.request(addRequest(2), false);
    kernel.deliver(ack(kernel.sent[0]?.seq ?? 0));
    await again;
  });

  it('a failed send fails that request alone', async () => {
    const { kernel, client } = setup();
    kernel.sendFailure = 11;
    const failed = client.request(addRequest(1), false);
    const ok = client.request(addRequest(2), false);
    await expect(failed).rejects.toMatchObject({ code: 'EAGAIN' });
    kernel.deliver(ack(kernel.sent[0]?.seq ?? 0));
    await ok;
  });

  it('garbage, replies to nobody and malformed replies never throw out of the callback', async () => {
    const { kernel, client } = setup();
    const pending = client.request(addRequest(1), false);
    const seq = kernel.sent[0]?.seq ?? 0;
    expect(() => kernel.deliver(Buffer.from([1, 2, 3]), ack(seq + 1000))).not.toThrow();
    const short = message(NLMSG_ERROR, 0, seq, Buffer.alloc(3));
    kernel.deliver(short);
    await expect(pending).rejects.toThrow(/malformed reply/);
    expect(client.stats).toMatchObject({ stale: 1, malformed: 2 });
    await tick();
  });
});
