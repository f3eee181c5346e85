/**
 * The macvlan requests and link details of the rtnetlink codec (src/net/rtnetlink.ts) against
 * test/vectors/vmac.json, captured by test/support/vmac-capture.py: the requests iproute2 sends
 * for `ip link add ... type macvlan`, `addrgenmode none`, `protodown on|off`, `up`, `down` and
 * `link del` (the encoders must produce them byte for byte), and a kernel's RTM_GETLINK replies
 * for a bridge-mode macvlan (addrgenmode none, protodown on), a private-mode one and a veth.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeDatagram,
  encodeDeleteLink,
  encodeNewMacvlan,
  encodeSetAddrGenMode,
  encodeSetLinkUp,
  encodeSetProtodown,
  IN6_ADDR_GEN_MODE_EUI64,
  IN6_ADDR_GEN_MODE_NONE,
  MACVLAN_MODE_BRIDGE,
  MACVLAN_MODE_PRIVATE,
  RtnetlinkEncodeError,
  setSequence,
  type LinkMessage,
} from '../../src/net/rtnetlink.js';
import { REPO_ROOT } from '../support/paths.js';

interface Capture {
  kernel: string;
  parentIndex: number;
  requests: { name: string; command: string; request: string }[];
  links: { name: string; replies: string[] }[];
}

const capture = JSON.parse(
  readFileSync(resolve(REPO_ROOT, 'test/vectors/vmac.json'), 'utf8'),
) as Capture;

/** iproute2's request, and the encoder's numbered with the same sequence number. */
function pair(name: string, encode: (seq: number) => Buffer): [Buffer, Buffer] {
  const r = capture.requests.find((x) => x.name === name);
  if (r === undefined) throw new Error(`no request ${name} in the capture`);
  const theirs = Buffer.from(r.request, 'hex');
  const ours = encode(0);
  setSequence(ours, theirs.readUInt32LE(8));
  return [ours, theirs];
}

function link(name: string): LinkMessage {
  const l = capture.links.find((x) => x.name === name);
  const found = l?.replies
    .flatMap((d) => decodeDatagram(Buffer.from(d, 'hex')))
    .find((m): m is LinkMessage => m.kind === 'link');
  if (found === undefined) throw new Error(`no link ${name} in the capture`);
  return found;
}

// The macvlan vm0 the captured commands made was the namespace's fourth link (lo, v1, v0).
const VM0 = 4;

describe('macvlan requests, as iproute2 sends them', () => {
  it('creation: MAC, parent, name, kind and mode, with NLM_F_CREATE|NLM_F_EXCL', () => {
    const [ours, theirs] = pair('create', (seq) =>
      encodeNewMacvlan(seq, {
        name: 'vm0',
        parentIndex: capture.parentIndex,
        mac: '00:00:5E:00:01:33',
        mode: MACVLAN_MODE_BRIDGE,
      }),
    );
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
  });

  it('address generation mode, protodown, up, down and deletion by index', () => {
    const cases: [string, (seq: number) => Buffer][] = [
      ['addrgenmode none', (s) => encodeSetAddrGenMode(s, VM0, IN6_ADDR_GEN_MODE_NONE)],
      ['protodown on', (s) => encodeSetProtodown(s, VM0, true)],
      ['protodown off', (s) => encodeSetProtodown(s, VM0, false)],
      ['up', (s) => encodeSetLinkUp(s, VM0, true)],
      ['down', (s) => encodeSetLinkUp(s, VM0, false)],
      ['delete', (s) => encodeDeleteLink(s, VM0)],
    ];
    for (const [name, encode] of cases) {
      const [ours, theirs] = pair(name, encode);
      expect([name, ours.toString('hex')]).toEqual([name, theirs.toString('hex')]);
    }
  });

  it('refuses what no request can carry', () => {
    const spec = { name: 'vm0', parentIndex: 3, mac: '00:00:5e:00:01:33', mode: 4 };
    const bad: [() => Buffer, RegExp][] = [
      [() => encodeNewMacvlan(0, { ...spec, mac: '00:00:5e:00:01' }), /is not a MAC address/],
      [() => encodeNewMacvlan(0, { ...spec, mac: '00-00-5e-00-01-33' }), /is not a MAC address/],
      [
        () => encodeNewMacvlan(0, { ...spec, name: 'a-name-too-long0' }),
        /not a Linux interface name/,
      ],
      [() => encodeNewMacvlan(0, { ...spec, parentIndex: 0 }), /0 is not an interface index/],
      [() => encodeDeleteLink(0, -1), /-1 is not an interface index/],
      [() => encodeSetLinkUp(0, 1.5, true), /1\.5 is not an interface index/],
    ];
    for (const [encode, reason] of bad) {
      expect(encode).toThrow(RtnetlinkEncodeError);
      expect(encode).toThrow(reason);
    }
  });
});

describe('link details a kernel reports', () => {
  it('a bridge-mode macvlan: its parent, kind, mode, no address generation, protodown', () => {
    expect(link('vm0')).toMatchObject({
      name: 'vm0',
      mac: '00:00:5e:00:02:33',
      parentIndex: capture.parentIndex,
      linkKind: 'macvlan',
      macvlanMode: MACVLAN_MODE_BRIDGE,
      addrGenMode: IN6_ADDR_GEN_MODE_NONE,
      protodown: true,
    });
  });

  it('a private-mode macvlan with the default address generation', () => {
    expect(link('vm1')).toMatchObject({
      linkKind: 'macvlan',
      macvlanMode: MACVLAN_MODE_PRIVATE,
      addrGenMode: IN6_ADDR_GEN_MODE_EUI64,
      protodown: false,
    });
  });

  it('a veth: its kind, no macvlan mode', () => {
    const v0 = link('v0');
    expect(v0.linkKind).toBe('veth');
    expect(v0.macvlanMode).toBeUndefined();
  });

  it('a nest that does not parse leaves its fields out and the link readable', () => {
    const l = capture.links.find((x) => x.name === 'vm0');
    const bytes = Buffer.from(l?.replies[0] ?? '', 'hex');
    // IFLA_LINKINFO (18): make its first inner attribute claim more bytes than the nest holds.
    let o = 16 + 16;
    while (o + 4 <= bytes.length && bytes.readUInt16LE(o + 2) !== 18) {
      o += (bytes.readUInt16LE(o) + 3) & ~3;
    }
    expect(o + 4).toBeLessThanOrEqual(bytes.length);
    bytes.writeUInt16LE(0xff0, o + 4);
    const [m] = decodeDatagram(bytes);
    expect(m).toMatchObject({ kind: 'link', name: 'vm0', addrGenMode: IN6_ADDR_GEN_MODE_NONE });
    expect((m as LinkMessage).linkKind).toBeUndefined();
  });
});
