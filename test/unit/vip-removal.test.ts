// Removing VIPs never takes an address it was not asked to (issue 13), against a model of the
// kernel's IPv4 address list (net/ipv4/devinet.c): an address is the secondary of the first one
// with the same prefix length in its subnet; deleting a primary promotes its first secondary when
// promote_secondaries is 1, and deletes every secondary with it when it is 0; deleting an address
// that is not there is EADDRNOTAVAIL. IPv6 addresses (no secondaries) sit in the same list: each
// removed alone, added without DAD. The queue (actions/vip.ts) runs on the model through a mock
// of net/netlink.ts; the lab test (test/integration/vip-block.test.ts) runs it on the real kernel.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ipv4ToUint32, uint32ToIpv4 } from '../../src/net/address.js';
import type { AddressChange, ChangeOutcome, LinkAddress } from '../../src/net/netlink.js';

const kernel = vi.hoisted(() => {
  const net = (a: { address: string; prefix: number }): string => {
    const n = a.address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const mask = a.prefix === 0 ? 0 : (0xffffffff << (32 - a.prefix)) >>> 0;
    return `${(n & mask) >>> 0}/${a.prefix}`;
  };
  return {
    promote: false,
    addrs: [] as LinkAddress[],
    /** Every request as the kernel saw it, in order: "del 10.77.1.0/16 -> done". */
    seen: [] as string[],
    /** The families of every address read, in order: "4", "4 6". */
    dumps: [] as string[],
    apply(c: AddressChange): ChangeOutcome {
      const at = this.addrs.findIndex((a) => a.address === c.address && a.prefix === c.prefix);
      const family = c.address.includes(':') ? 6 : 4;
      let outcome: ChangeOutcome = { kind: 'done' };
      if (c.op === 'add' && at === -1) {
        const secondary =
          family === 4 &&
          this.addrs.some((a) => a.family === 4 && !a.secondary && net(a) === net(c));
        // Without IFA_F_NODAD an IPv6 address starts tentative.
        const tentative = family === 6 && c.nodad !== true;
        this.addrs.push({ family, address: c.address, prefix: c.prefix, secondary, tentative });
      } else if (c.op === 'del' && at === -1) {
        outcome = { kind: 'absent' };
      } else if (c.op === 'del') {
        const gone = this.addrs[at];
        this.addrs.splice(at, 1);
        if (gone !== undefined && gone.family === 4 && !gone.secondary) {
          const mates = this.addrs.filter((a) => a.secondary && net(a) === net(gone));
          if (this.promote) {
            const first = mates[0];
            if (first !== undefined) first.secondary = false;
          } else this.addrs = this.addrs.filter((a) => !mates.includes(a));
        }
      }
      this.seen.push(
        `${c.op} ${c.address}/${c.prefix}${c.nodad === true ? ' nodad' : ''} -> ${outcome.kind}`,
      );
      return outcome;
    },
  };
});

vi.mock('../../src/net/netlink.js', () => ({
  linkByName: (name: string) => Promise.resolve({ name, index: 2, mac: '', up: true }),
  linkAddresses: (_link: unknown, families: readonly number[] = [4, 6]) => {
    kernel.dumps.push(families.join(' '));
    // As netlink lists them: IPv4, then IPv6.
    return Promise.resolve(
      families.flatMap((f) => kernel.addrs.filter((a) => a.family === f).map((a) => ({ ...a }))),
    );
  },
  changeAddresses: (_link: unknown, changes: readonly AddressChange[]) =>
    Promise.resolve(changes.map((c) => kernel.apply(c))),
}));

// Unit files share a worker (isolate: false): a file before this one may have loaded vip.js with
// the real netlink, and the files after it must not get this model.
vi.resetModules();
const { addVips, readAddresses, removalOrder, removeVips, takenWith } =
  await import('../../src/actions/vip.js');
afterAll(() => {
  vi.doUnmock('../../src/net/netlink.js');
  vi.resetModules();
});

const OWN: LinkAddress = {
  family: 4,
  address: '10.77.0.2',
  prefix: 24,
  secondary: false,
  tentative: false,
};
const LINK_LOCAL: LinkAddress = {
  family: 6,
  address: 'fe80::2',
  prefix: 64,
  secondary: false,
  tentative: false,
};
/** The block: 256 VIPs in 10.77.0.0/16, outside the interface's own 10.77.0.2/24. */
const BLOCK = Array.from({ length: 256 }, (_, i) => ({
  address: uint32ToIpv4(ipv4ToUint32('10.77.1.0') + i),
  prefix: 16,
}));
const PRIMARY = BLOCK[0] ?? { address: '', prefix: 0 };

/** A logger whose lines (level, event, msg) the test reads. */
function capture(): { log: Logger; lines: { level: number; event?: string; msg: string }[] } {
  const lines: { level: number; event?: string; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as (typeof lines)[number]);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

const addresses = (): string[] => kernel.addrs.map((a) => `${a.address}/${a.prefix}`);

beforeEach(() => {
  kernel.addrs = [{ ...OWN }, { ...LINK_LOCAL }];
  kernel.seen = [];
  kernel.dumps = [];
});

const v4 = (address: string, prefix: number, secondary: boolean): LinkAddress => ({
  family: 4,
  address,
  prefix,
  secondary,
  tentative: false,
});
const v6 = (address: string, prefix: number): LinkAddress => ({
  family: 6,
  address,
  prefix,
  secondary: false,
  tentative: false,
});

describe('removalOrder and takenWith (pure)', () => {
  const present = [
    OWN,
    v4('10.77.1.0', 16, false),
    v4('10.77.1.1', 16, true),
    v4('10.77.1.2', 16, true),
    v4('10.77.0.9', 24, true),
    v6('2001:db8::10', 64),
    v6('2001:db8::11', 64),
    LINK_LOCAL,
  ];

  it('puts every secondary before the primaries', () => {
    const vips = [
      { address: '10.77.1.0', prefix: 16 },
      { address: '10.77.1.2', prefix: 16 },
      { address: '10.77.0.9', prefix: 24 },
    ];
    expect(removalOrder(vips, present)).toEqual({
      secondaries: [vips[1], vips[2]],
      primaries: [vips[0]],
    });
  });

  it('names the secondaries of a removed primary that are not removed too, nothing else', () => {
    expect(takenWith([{ address: '10.77.1.0', prefix: 16 }], present)).toEqual([
      present[2],
      present[3],
    ]);
    expect(
      takenWith(
        [
          { address: '10.77.1.0', prefix: 16 },
          { address: '10.77.1.1', prefix: 16 },
        ],
        present,
      ),
    ).toEqual([present[3]]);
    // A secondary removed alone takes nothing; neither does an address of another prefix.
    expect(takenWith([{ address: '10.77.1.1', prefix: 16 }], present)).toEqual([]);
    expect(takenWith([{ address: '10.77.1.0', prefix: 32 }], present)).toEqual([]);
  });

  it('IPv6: no secondaries, so an IPv6 VIP goes with the secondaries and takes nothing', () => {
    const vips = [
      { address: '2001:db8::10', prefix: 64 },
      { address: '10.77.1.0', prefix: 16 },
      { address: '2001:db8::11', prefix: 64 },
    ];
    expect(removalOrder(vips, present)).toEqual({
      secondaries: [vips[0], vips[2]],
      primaries: [vips[1]],
    });
    expect(takenWith([{ address: '2001:db8::10', prefix: 64 }], present)).toEqual([]);
    expect(takenWith(vips, present)).toEqual([present[2], present[3]]);
  });
});

describe('IPv6 VIPs on the kernel model', () => {
  const IPV6 = [
    { address: '2001:db8::10', prefix: 64 },
    { address: 'fe80::100', prefix: 64 },
  ];

  it('adds IPv6 VIPs without DAD (IPv4 ones as ever), reads both families', async () => {
    await addVips('eth0', [...IPV6, { address: '10.77.1.0', prefix: 16 }]);
    expect(kernel.seen).toEqual([
      'add 2001:db8::10/64 nodad -> done',
      'add fe80::100/64 nodad -> done',
      'add 10.77.1.0/16 -> done',
    ]);
    expect(kernel.addrs.filter((a) => a.tentative)).toEqual([]);
    expect((await readAddresses('eth0')).map((a) => `${a.family} ${a.address}`)).toEqual([
      '4 10.77.0.2',
      '4 10.77.1.0',
      '6 fe80::2',
      '6 2001:db8::10',
      '6 fe80::100',
    ]);
    expect(kernel.dumps).toEqual(['4 6']);
  });

  it('removes only ours, mixed with an IPv4 block, reading only the families it removes', async () => {
    await addVips('eth0', [...IPV6, ...BLOCK.slice(0, 3)]);
    kernel.dumps = [];
    kernel.seen = [];
    expect(await removeVips('eth0', IPV6)).toEqual(IPV6);
    expect(kernel.dumps).toEqual(['6']);
    expect(kernel.seen).toEqual(['del 2001:db8::10/64 -> done', 'del fe80::100/64 -> done']);
    kernel.seen = [];
    const removed = await removeVips('eth0', [...BLOCK.slice(0, 3), ...IPV6]);
    // The IPv6 ones are gone already: read (they are named), not found, not asked for.
    expect(removed).toEqual(BLOCK.slice(0, 3));
    expect(kernel.dumps).toEqual(['6', '4 6']);
    expect(kernel.seen.at(-1)).toBe('del 10.77.1.0/16 -> done');
    expect(addresses()).toEqual(['10.77.0.2/24', 'fe80::2/64']);
  });
});

describe.each([
  ['promote_secondaries 0', false],
  ['promote_secondaries 1', true],
])('the address queue on the kernel model, %s', (_name, promote) => {
  beforeEach(() => {
    kernel.promote = promote;
  });

  it('releases a 256-VIP block outside the interface prefix without one failure', async () => {
    await addVips('eth0', BLOCK);
    expect(
      kernel.addrs.filter((a) => a.family === 4 && !a.secondary).map((a) => a.address),
    ).toEqual(['10.77.0.2', '10.77.1.0']);
    kernel.seen = [];
    const { log, lines } = capture();
    const removed = await removeVips('eth0', BLOCK, undefined, log);
    expect(removed).toHaveLength(256);
    expect(addresses()).toEqual(['10.77.0.2/24', 'fe80::2/64']);
    // The primary went last, so the kernel had each of the others to delete.
    expect(kernel.seen.at(-1)).toBe('del 10.77.1.0/16 -> done');
    expect(kernel.seen.filter((s) => !s.endsWith('-> done'))).toEqual([]);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  it('removing only the primary of the block keeps the other 255 on the interface', async () => {
    await addVips('eth0', BLOCK);
    const { log, lines } = capture();
    await removeVips('eth0', [PRIMARY], undefined, log);
    expect(addresses().sort()).toEqual(
      ['10.77.0.2/24', 'fe80::2/64', ...BLOCK.slice(1).map((v) => `${v.address}/16`)].sort(),
    );
    const putBack = lines.filter((l) => l.event === 'vips-put-back');
    // Without the sysctl the kernel took them and they were put back, with a warning that says
    // so; with it nothing was lost and nothing is said.
    expect(putBack.map((l) => [l.level, l.msg])).toEqual(
      promote
        ? []
        : [
            [
              40,
              'removing the primary of their subnet deleted 255 other address(es) (10.77.1.1/16 10.77.1.2/16 10.77.1.3/16 (+252 more)): promote_secondaries is off on eth0; put back',
            ],
          ],
    );
  });

  it("another router's VIPs in the same subnet survive a release of the primary's", async () => {
    // Two instances on one interface: A holds the block's first address, B the rest.
    await addVips('eth0', [PRIMARY]);
    await addVips('eth0', BLOCK.slice(1, 10));
    const other = capture();
    const [removedA] = await Promise.all([
      removeVips('eth0', [PRIMARY], undefined, capture().log),
      // B adds in the same run (a master plan): its VIPs must end up there too.
      addVips('eth0', BLOCK.slice(10, 20), undefined, other.log),
    ]);
    expect(removedA).toEqual([PRIMARY]);
    expect(addresses().sort()).toEqual(
      ['10.77.0.2/24', 'fe80::2/64', ...BLOCK.slice(1, 20).map((v) => `${v.address}/16`)].sort(),
    );
  });

  it('an address already gone counts as released, logged at debug only', async () => {
    await addVips('eth0', BLOCK.slice(0, 3));
    const { log, lines } = capture();
    // Two routers' removals in one run name the same address: the second finds it gone.
    const both = await Promise.all([
      removeVips('eth0', BLOCK.slice(0, 3), undefined, log),
      removeVips('eth0', BLOCK.slice(0, 1), undefined, log),
    ]);
    expect(both.map((r) => r.length)).toEqual([3, 1]);
    expect(kernel.seen).toContain('del 10.77.1.0/16 -> absent');
    expect(addresses()).toEqual(['10.77.0.2/24', 'fe80::2/64']);
    const gone = lines.filter((l) => l.event === 'vip-already-gone');
    expect(gone.map((l) => [l.level, l.msg])).toEqual([
      [20, '10.77.1.0/16 already gone from eth0: counted as released'],
    ]);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });
});
