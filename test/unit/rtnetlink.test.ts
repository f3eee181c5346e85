/**
 * The rtnetlink codec (src/net/rtnetlink.ts) against what a real kernel sent: test/vectors/
 * rtnetlink.json, captured by test/support/rtnetlink-capture.py (a veth pair in a namespace,
 * vipd's requests and their replies, then the events of link down/up, address add/delete, a
 * primary's deletion taking its secondary along, a rename and a deletion). The encoder must
 * produce the requests the kernel accepted there, byte for byte; the decoder must read what it
 * answered. Malformed input never throws.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  addressBytes,
  addressSecondary,
  AF_INET,
  AF_INET6,
  decodeDatagram,
  encodeAddAddress,
  encodeDeleteAddress,
  encodeDumpAddresses,
  encodeDumpLinks,
  encodeGetLink,
  IF_OPER_DOWN,
  IF_OPER_UNKNOWN,
  IF_OPER_UP,
  IFA_F_NODAD,
  IFF_LOWER_UP,
  IFF_UP,
  linkAdminUp,
  linkOperUp,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_MULTI,
  NLMSG_ERROR,
  RtnetlinkEncodeError,
  setSequence,
  type AddressMessage,
  type AddressSpec,
  type LinkMessage,
  type RtMessage,
} from '../../src/net/rtnetlink.js';
import { REPO_ROOT } from '../support/paths.js';

interface Capture {
  kernel: string;
  ifindex: number;
  exchanges: { name: string; request: string; replies: string[] }[];
  events: { name: string; datagrams: string[] }[];
}

const capture = JSON.parse(
  readFileSync(resolve(REPO_ROOT, 'test/vectors/rtnetlink.json'), 'utf8'),
) as Capture;
const INDEX = capture.ifindex;

function exchange(name: string): { request: Buffer; replies: RtMessage[][] } {
  const e = capture.exchanges.find((x) => x.name === name);
  if (e === undefined) throw new Error(`no exchange ${name} in the capture`);
  return {
    request: Buffer.from(e.request, 'hex'),
    replies: e.replies.map((r) => decodeDatagram(Buffer.from(r, 'hex'))),
  };
}

function events(name: string): RtMessage[] {
  const e = capture.events.find((x) => x.name === name);
  if (e === undefined) throw new Error(`no event ${name} in the capture`);
  return e.datagrams.flatMap((d) => decodeDatagram(Buffer.from(d, 'hex')));
}

const numbered = (b: Buffer, seq: number): Buffer => {
  setSequence(b, seq);
  return b;
};

const links = (ms: RtMessage[]): LinkMessage[] =>
  ms.filter((m): m is LinkMessage => m.kind === 'link');
const addrs = (ms: RtMessage[]): AddressMessage[] =>
  ms.filter((m): m is AddressMessage => m.kind === 'address');

describe('requests, as the kernel accepted them', () => {
  it('link by name, link dump, address dump', () => {
    expect(numbered(encodeGetLink(0, 'dummy0'), 1)).toEqual(exchange('get dummy0').request);
    expect(numbered(encodeGetLink(0, 'nosuch0'), 2)).toEqual(exchange('get nosuch0').request);
    expect(numbered(encodeDumpLinks(0), 3)).toEqual(exchange('dump links').request);
    expect(numbered(encodeDumpAddresses(0, AF_INET), 4)).toEqual(
      exchange('dump addresses').request,
    );
  });

  it('address add (create|replace) and delete', () => {
    const spec = (address: string, prefix: number): AddressSpec => ({
      family: AF_INET,
      index: INDEX,
      address,
      prefix,
    });
    expect(encodeAddAddress(5, spec('10.9.0.3', 24))).toEqual(exchange('add 10.9.0.3/24').request);
    expect(encodeAddAddress(6, spec('10.9.0.5', 33))).toEqual(exchange('add 10.9.0.5/33').request);
    expect(encodeDeleteAddress(7, spec('10.9.0.3', 24))).toEqual(
      exchange('del 10.9.0.3/24').request,
    );
  });

  it('refuses what no request can carry', () => {
    expect(() => encodeGetLink(1, 'a-name-too-long0')).toThrow(RtnetlinkEncodeError);
    expect(() => encodeGetLink(1, '')).toThrow(RtnetlinkEncodeError);
    const bad = { family: AF_INET, index: 1, prefix: 24 } as const;
    expect(() => encodeAddAddress(1, { ...bad, address: '10.0.0.256' })).toThrow(
      /not an IPv4 address/,
    );
    expect(() => encodeAddAddress(1, { ...bad, address: '::1' })).toThrow(RtnetlinkEncodeError);
    expect(() => encodeDeleteAddress(1, { ...bad, address: '10.0.0.1', prefix: 256 })).toThrow(
      /prefix length 256/,
    );
  });
});

describe('replies', () => {
  it('a link by name: its RTM_NEWLINK, then the acknowledgement of the same seq', () => {
    const [[link], [ack]] = exchange('get dummy0').replies as [[LinkMessage], [RtMessage]];
    expect(link).toMatchObject({
      kind: 'link',
      deleted: false,
      index: INDEX,
      name: 'dummy0',
      mac: '02:00:5e:00:01:33',
      operstate: IF_OPER_UP,
      carrier: true,
      header: { seq: 1 },
    });
    expect(link.flags & IFF_UP).toBe(IFF_UP);
    expect(linkOperUp(link)).toBe(true);
    expect(ack).toMatchObject({ kind: 'error', errno: 0, header: { seq: 1 }, acked: { seq: 1 } });
  });

  it("no such interface: NLMSG_ERROR ENODEV naming the request's seq", () => {
    expect(exchange('get nosuch0').replies).toEqual([
      [
        expect.objectContaining({
          kind: 'error',
          errno: 19,
          acked: expect.objectContaining({ seq: 2, type: 18 }),
        }),
      ],
    ]);
  });

  it('the link dump: every interface, multipart, then NLMSG_DONE', () => {
    const [parts, [done]] = exchange('dump links').replies as [RtMessage[], [RtMessage]];
    const all = links(parts);
    expect(all.map((l) => [l.name, l.index])).toEqual([
      ['lo', 1],
      ['peer0', INDEX - 1],
      ['dummy0', INDEX],
    ]);
    expect(all.every((l) => (l.header.flags & NLM_F_MULTI) !== 0 && l.header.seq === 3)).toBe(true);
    // lo: operstate UNKNOWN with the carrier: up by the same rule as link-watch's sysfs reading.
    const lo = all[0] as LinkMessage;
    expect(lo.operstate).toBe(IF_OPER_UNKNOWN);
    expect(lo.flags & IFF_LOWER_UP).toBe(IFF_LOWER_UP);
    expect(linkOperUp(lo)).toBe(true);
    expect(done).toMatchObject({ kind: 'done', errno: 0, header: { seq: 3 } });
  });

  it('the IPv4 address dump: primaries before their secondaries', () => {
    const [parts, [done]] = exchange('dump addresses').replies as [RtMessage[], [RtMessage]];
    expect(
      addrs(parts).map((a) => [a.index, a.local, a.prefix, addressSecondary(a), a.label]),
    ).toEqual([
      [1, '127.0.0.1', 8, false, 'lo'],
      [INDEX, '10.9.0.1', 24, false, 'dummy0'],
      [INDEX, '10.9.0.2', 24, true, 'dummy0'],
    ]);
    expect(done).toMatchObject({ kind: 'done', errno: 0 });
  });

  it("changes: acknowledged, or the kernel's errno", () => {
    const only = (name: string): RtMessage => exchange(name).replies[0]?.[0] as RtMessage;
    expect(only('add 10.9.0.3/24')).toMatchObject({ kind: 'error', errno: 0, header: { seq: 5 } });
    expect(only('add 10.9.0.5/33')).toMatchObject({ kind: 'error', errno: 22, header: { seq: 6 } });
    expect(only('del 10.9.0.3/24')).toMatchObject({ kind: 'error', errno: 0, header: { seq: 7 } });
    expect(only('del 10.9.0.99/24')).toMatchObject({
      kind: 'error',
      errno: 99,
      header: { seq: 8 },
    });
  });

  it('an extended acknowledgement carries the reason text', () => {
    // NLMSG_ERROR, capped (the request's header only), with NLMSGERR_ATTR_MSG.
    const text = Buffer.from('Invalid prefix length\0');
    const attr = Buffer.alloc(4 + text.length + ((4 - (text.length % 4)) % 4));
    attr.writeUInt16LE(4 + text.length, 0);
    attr.writeUInt16LE(1, 2);
    text.copy(attr, 4);
    const body = Buffer.alloc(20);
    body.writeInt32LE(-22, 0);
    body.writeUInt32LE(52, 4);
    body.writeUInt16LE(20, 8);
    body.writeUInt32LE(9, 12);
    const h = Buffer.alloc(16);
    h.writeUInt32LE(16 + body.length + attr.length, 0);
    h.writeUInt16LE(NLMSG_ERROR, 4);
    h.writeUInt16LE(NLM_F_CAPPED | NLM_F_ACK_TLVS, 6);
    h.writeUInt32LE(9, 8);
    expect(decodeDatagram(Buffer.concat([h, body, attr]))).toEqual([
      expect.objectContaining({
        errno: 22,
        text: 'Invalid prefix length',
        acked: expect.objectContaining({ seq: 9 }),
      }),
    ]);
  });
});

describe('events', () => {
  it('link down and up: admin and operational state', () => {
    const down = links(events('ip link set dummy0 down')).find((l) => l.name === 'dummy0');
    expect(down && [linkAdminUp(down), linkOperUp(down), down.operstate]).toEqual([
      false,
      false,
      IF_OPER_DOWN,
    ]);
    const up = links(events('ip link set dummy0 up')).filter((l) => l.name === 'dummy0');
    // First IFF_UP without the carrier yet, then the carrier.
    expect(up.map((l) => [linkAdminUp(l), linkOperUp(l)])).toEqual([
      [true, false],
      [true, true],
    ]);
  });

  it('addresses added and removed; a primary deleted takes its secondary along', () => {
    expect(addrs(events('ip addr add 10.9.0.4/24 dev dummy0'))).toEqual([
      expect.objectContaining({ deleted: false, local: '10.9.0.4', prefix: 24, index: INDEX }),
    ]);
    expect(addrs(events('ip addr del 10.9.0.4/24 dev dummy0'))).toEqual([
      expect.objectContaining({ deleted: true, local: '10.9.0.4' }),
    ]);
    // promote_secondaries is 0 in a fresh namespace: the secondary goes first, then the primary.
    expect(
      addrs(events('ip addr del 10.9.0.1/24 dev dummy0')).map((a) => [
        a.deleted,
        a.local,
        addressSecondary(a),
      ]),
    ).toEqual([
      [true, '10.9.0.2', true],
      [true, '10.9.0.1', false],
    ]);
  });

  it('a rename is a RTM_NEWLINK of the same index with the new name; a deletion RTM_DELLINK', () => {
    expect(links(events('ip link set dummy0 name dummy9'))).toEqual([
      expect.objectContaining({ index: INDEX, name: 'dummy9', deleted: false }),
    ]);
    const gone = links(events('ip link del dummy9')).filter((l) => l.deleted);
    expect(gone.map((l) => l.name).sort()).toEqual(['dummy9', 'peer0']);
  });
});

describe('IPv6, for issue 14', () => {
  it('address text both ways, RFC 5952 on output', () => {
    const cases: [string, string][] = [
      ['2001:db8::1', '2001:db8::1'],
      ['2001:0DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['1:0:0:2::3', '1:0:0:2::3'],
      ['1:0:0:2:0:0:3:4', '1::2:0:0:3:4'],
    ];
    for (const [text, canonical] of cases) {
      const spec: AddressSpec = {
        family: AF_INET6,
        index: 7,
        address: text,
        prefix: 64,
        flags: IFA_F_NODAD,
      };
      // A request to add an address is laid out as the kernel's RTM_NEWADDR.
      const [m] = decodeDatagram(encodeAddAddress(1, spec));
      expect(m).toMatchObject({ kind: 'address', family: AF_INET6, local: canonical, prefix: 64 });
      expect((m as AddressMessage).flags).toBe(IFA_F_NODAD);
    }
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'g::1', '::1.2.3', '']) {
      expect(addressBytes(AF_INET6, bad)).toBeUndefined();
    }
  });
});

describe('malformed input', () => {
  it('never throws: truncations of every captured datagram', () => {
    const datagrams = [
      ...capture.exchanges.flatMap((e) => e.replies),
      ...capture.events.flatMap((e) => e.datagrams),
    ].map((h) => Buffer.from(h, 'hex'));
    let malformed = 0;
    for (const d of datagrams) {
      for (let n = 0; n < d.length; n++) {
        const out = decodeDatagram(d.subarray(0, n));
        malformed += out.filter((m) => m.kind === 'malformed').length;
      }
    }
    expect(malformed).toBeGreaterThan(0);
  });

  it('names what is wrong and keeps what came before it', () => {
    const good = Buffer.from(capture.events[2]?.datagrams[0] ?? '', 'hex');
    const lying = Buffer.from(good);
    lying.writeUInt32LE(4000, 0);
    expect(decodeDatagram(Buffer.concat([good, lying]))).toEqual([
      expect.objectContaining({ kind: 'address' }),
      expect.objectContaining({ kind: 'malformed', reason: expect.stringMatching(/claims 4000/) }),
    ]);
    // An attribute running past its message: the message is malformed, its header kept.
    const attr = Buffer.from(good);
    attr.writeUInt16LE(200, 24);
    expect(decodeDatagram(attr)).toEqual([
      expect.objectContaining({
        kind: 'malformed',
        header: expect.objectContaining({ seq: good.readUInt32LE(8) }),
      }),
    ]);
    expect(decodeDatagram(Buffer.alloc(7))).toEqual([
      { kind: 'malformed', reason: '7 trailing bytes' },
    ]);
    expect(decodeDatagram(Buffer.alloc(0))).toEqual([]);
  });
});
