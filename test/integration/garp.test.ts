// Garp.announce in the namespace lab: a client's neighbour entry for a VIP moves to the announcing
// box, for an IPv4 VIP (gratuitous ARP) and for an IPv6 one (unsolicited Neighbor Advertisement,
// which tshark decodes off the client's wire, the Router flag following fw1's forwarding); both
// families go out in the same rounds; 1,000 VIPs x 2 rounds reach the wire as 2,000 announcements
// (time printed, not asserted), a transmit queue that overflows delays frames but loses none, and
// a missing interface is refused by name. Announcements run in fw1's namespace through
// test/support/garp-cli.ts, since this process cannot enter a namespace itself.

import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Garp, type GarpResult } from '../../src/actions/garp.js';
import { ipv4ToUint32, uint32ToIpv4 } from '../../src/net/address.js';
import { PacketSocketError } from '../../src/net/packet-socket.js';
import { useLab } from '../support/lab-fixture.js';
import { REPO_ROOT } from '../support/paths.js';

const VIP = '10.99.0.100';
const VIP6 = '2001:db8:99::100';
const CLI = resolve(REPO_ROOT, 'test/support/garp-cli.ts');

function vipRange(first: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => uint32ToIpv4(ipv4ToUint32(first) + i));
}

/** ARP requests from `mac` whose sender and target IP are equal: gratuitous ones. */
function gratuitousFrom(mac: string): string {
  return `arp and arp[6:2] = 1 and arp[14:4] = arp[24:4] and ether src ${mac}`;
}

describe('gratuitous ARP', () => {
  const fx = useLab(['fw1', 'fw2', 'client']);

  async function macOf(host: string): Promise<string> {
    const out = await fx.lab.exec(host, 'ip', ['-j', 'link', 'show', 'dev', 'eth0']);
    const address = (JSON.parse(out) as { address?: string }[])[0]?.address;
    if (address === undefined) throw new Error(`no MAC for ${host}'s eth0 in: ${out}`);
    return address;
  }

  async function neighbour(host: string, ip: string): Promise<string | undefined> {
    const out = await fx.lab.exec(host, 'ip', ['-j', 'neigh', 'show', ip, 'dev', 'eth0']);
    return (JSON.parse(out) as { lladdr?: string }[])[0]?.lladdr;
  }

  async function announce(
    host: string,
    mac: string,
    count: number,
    vips: readonly string[],
  ): Promise<GarpResult> {
    const args = ['--import', 'tsx', CLI, 'eth0', mac, String(count), '0', ...vips];
    return JSON.parse(await fx.lab.exec(host, process.execPath, args)) as GarpResult;
  }

  /**
   * Waits until tcpdump on the bridge has its filter in the kernel: from then on every matching
   * frame is captured, however late tcpdump reads it, so a one-off burst cannot slip past
   * countPackets' start. libpcap first installs a one-instruction drop-all filter, hence >= 2.
   */
  async function bridgeCapturing(): Promise<void> {
    const deadline = performance.now() + 5_000;
    let out = '';
    while (performance.now() < deadline) {
      out = (await execa('ss', ['-N', fx.lab.switchNs, '-0', '-b', '-p'])).stdout;
      if (/"tcpdump".*\n\s*bpf filter \((?:[2-9]|\d{2,})\)/.test(out)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`tcpdump on the bridge has no filter after 5 s; ss says:\n${out}`);
  }

  it("re-points a client's existing neighbour entry at the announcing box", async () => {
    const [fw1Mac, fw2Mac] = [await macOf('fw1'), await macOf('fw2')];
    // A gratuitous ARP updates an entry but creates none (arp_accept=0), so one must exist.
    const stale = ['neigh', 'replace', VIP, 'lladdr', fw2Mac, 'dev', 'eth0', 'nud', 'stale'];
    await fx.lab.exec('client', 'ip', stale);
    await fx.lab.exec('fw1', 'ip', ['addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
    expect(await neighbour('client', VIP)).toBe(fw2Mac);

    expect(await announce('fw1', fw1Mac, 1, [VIP])).toMatchObject({ frames: 1 });
    expect(await neighbour('client', VIP)).toBe(fw1Mac);
  });

  interface Neighbour6 {
    lladdr?: string;
    state?: string[];
    /** Present (null) when the entry is flagged a router. */
    router?: null;
  }

  async function neighbour6(host: string, ip: string): Promise<Neighbour6 | undefined> {
    const out = await fx.lab.exec(host, 'ip', ['-j', '-6', 'neigh', 'show', ip, 'dev', 'eth0']);
    return (JSON.parse(out) as Neighbour6[])[0];
  }

  /** The first Neighbor Advertisement from `mac` on the client's wire during `run`: tshark's fields. */
  async function capturedAdvert(
    mac: string,
    run: () => Promise<unknown>,
  ): Promise<Record<string, string>> {
    const dir = mkdtempSync(join(tmpdir(), 'vipd-na-'));
    const file = join(dir, 'na.pcap');
    try {
      const filter = `ether src ${mac} and icmp6 and ip6[40] == 136`;
      const dump = fx.track(
        fx.lab.spawn('client', 'tcpdump-na', 'tcpdump', [
          '-i',
          'eth0',
          '-U',
          '-c',
          '1',
          '-w',
          file,
          filter,
        ]),
      );
      await dump.waitForLine(/listening on/, 5_000);
      await run();
      const timer = setTimeout(() => dump.kill('SIGINT'), 5_000);
      await dump.exited;
      clearTimeout(timer);
      const fields = [
        'eth.src',
        'eth.dst',
        'ipv6.src',
        'ipv6.dst',
        'ipv6.hlim',
        'icmpv6.type',
        'icmpv6.code',
        'icmpv6.checksum.status',
        'icmpv6.nd.na.flag.r',
        'icmpv6.nd.na.flag.s',
        'icmpv6.nd.na.flag.o',
        'icmpv6.nd.na.target_address',
        'icmpv6.opt.type',
        'icmpv6.opt.linkaddr',
      ];
      const { stdout } = await execa('tshark', [
        '-r',
        file,
        '-T',
        'fields',
        '-E',
        'separator=|',
        ...fields.flatMap((f) => ['-e', f]),
      ]);
      const values = stdout.trim().split('|');
      return Object.fromEntries(fields.map((f, i) => [f, values[i] ?? '']));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("re-points a client's IPv6 neighbour entry with an unsolicited Neighbor Advertisement", async () => {
    const [fw1Mac, fw2Mac] = [await macOf('fw1'), await macOf('fw2')];
    await fx.lab.exec('client', 'ip', ['addr', 'add', '2001:db8:99::3/64', 'dev', 'eth0', 'nodad']);
    // The client learns the VIP where it is now, on fw2: a solicited advert, entry REACHABLE.
    await fx.lab.exec('fw2', 'ip', ['addr', 'add', `${VIP6}/64`, 'dev', 'eth0', 'nodad']);
    await fx.lab.exec('client', 'ping', ['-6', '-c', '1', '-W', '5', VIP6]);
    expect(await neighbour6('client', VIP6)).toMatchObject({
      lladdr: fw2Mac,
      state: ['REACHABLE'],
    });
    // fw1 takes it over (added without DAD, as vip.ts does): the kernel itself tells nobody.
    await fx.lab.exec('fw2', 'ip', ['addr', 'del', `${VIP6}/64`, 'dev', 'eth0']);
    await fx.lab.exec('fw1', 'ip', ['addr', 'add', `${VIP6}/64`, 'dev', 'eth0', 'nodad']);
    expect((await neighbour6('client', VIP6))?.lladdr).toBe(fw2Mac);

    const advert = await capturedAdvert(fw1Mac, async () => {
      expect(await announce('fw1', fw1Mac, 1, [VIP6])).toMatchObject({ frames: 1 });
    });
    // RFC 4861 7.2.5: Override set and a new address: replaced, and STALE (it was not solicited).
    const entry = await neighbour6('client', VIP6);
    expect(entry).toMatchObject({ lladdr: fw1Mac, state: ['STALE'] });
    expect(entry).not.toHaveProperty('router');
    expect(advert).toEqual({
      'eth.src': fw1Mac,
      'eth.dst': '33:33:00:00:00:01',
      'ipv6.src': VIP6,
      'ipv6.dst': 'ff02::1',
      'ipv6.hlim': '255',
      'icmpv6.type': '136',
      'icmpv6.code': '0',
      'icmpv6.checksum.status': '1', // Good
      'icmpv6.nd.na.flag.r': '0',
      'icmpv6.nd.na.flag.s': '0',
      'icmpv6.nd.na.flag.o': '1',
      'icmpv6.nd.na.target_address': VIP6,
      'icmpv6.opt.type': '2',
      'icmpv6.opt.linkaddr': fw1Mac,
    });

    // fw1 forwarding IPv6 on eth0: the Router flag, read when the sender opens.
    const forwarding = (on: 0 | 1): Promise<string> =>
      fx.lab.exec('fw1', 'sysctl', ['-w', `net.ipv6.conf.eth0.forwarding=${on}`]);
    await forwarding(1);
    try {
      const routed = await capturedAdvert(fw1Mac, () => announce('fw1', fw1Mac, 1, [VIP6]));
      expect(routed['icmpv6.nd.na.flag.r']).toBe('1');
      expect(await neighbour6('client', VIP6)).toMatchObject({ lladdr: fw1Mac, router: null });
    } finally {
      await forwarding(0);
      await fx.lab.exec('fw1', 'ip', ['addr', 'del', `${VIP6}/64`, 'dev', 'eth0']);
    }
  });

  it('announces both families in the same rounds', async () => {
    const mac = await macOf('fw1');
    const vips = ['10.99.2.1', '2001:db8:98::1', '10.99.2.2', '2001:db8:98::2', 'fe80::98'];
    const filter = `ether src ${mac} and ((arp and arp[6:2] = 1) or (icmp6 and ip6[40] == 136))`;
    const capture = await fx.lab.capture(filter);
    await bridgeCapturing();
    expect(await announce('fw1', mac, 2, vips)).toMatchObject({ frames: 10 });
    await new Promise((r) => setTimeout(r, 500));
    const lines = await capture.stop();
    expect(lines.filter((l) => / ARP, Request/.test(l))).toHaveLength(4);
    const adverts = lines.filter((l) => /neighbor advertisement/.test(l));
    expect(adverts).toHaveLength(6);
    for (const vip of vips.filter((v) => v.includes(':'))) {
      expect(adverts.filter((l) => l.includes(`tgt is ${vip}`))).toHaveLength(2);
    }
  });

  it('puts 1,000 VIPs x 2 rounds on the wire as 2,000 announcements', async () => {
    const mac = await macOf('fw1');
    const vips = vipRange('10.99.4.0', 1_000);
    const counted = fx.lab.countPackets(gratuitousFrom(mac), 5_000);
    await bridgeCapturing();

    const started = performance.now();
    const result = await announce('fw1', mac, 2, vips);
    const wallMs = performance.now() - started;
    console.log(
      `[measure] gratuitous ARP, 1,000 VIPs x 2 rounds: ${result.frames} frames sent in ` +
        `${result.ms.toFixed(1)} ms (announce), ${wallMs.toFixed(0)} ms with node start-up`,
    );
    expect(result.frames).toBe(2_000);
    expect(await counted).toBe(2_000);
  });

  it('waits out a full transmit queue and loses no frame', async () => {
    const mac = await macOf('fw1');
    const vips = vipRange('10.99.8.0', 1_000);
    // A slow NIC: a 3,000-byte queue drained at 1 Mbit/s refuses most of a 1,000-frame burst.
    const tbf = ['qdisc', 'add', 'dev', 'eth0', 'root', 'tbf'];
    await fx.lab.exec('fw1', 'tc', [...tbf, 'rate', '1mbit', 'burst', '1600', 'limit', '3000']);
    try {
      const counted = fx.lab.countPackets(gratuitousFrom(mac), 4_000);
      await bridgeCapturing();
      expect(await announce('fw1', mac, 1, vips)).toMatchObject({ frames: 1_000 });
      const stats = await fx.lab.exec('fw1', 'tc', ['-s', 'qdisc', 'show', 'dev', 'eth0']);
      expect(Number(/dropped (\d+)/.exec(stats)?.[1]), stats).toBeGreaterThan(0);
      expect(await counted).toBe(1_000);
    } finally {
      await fx.lab.exec('fw1', 'tc', ['qdisc', 'del', 'dev', 'eth0', 'root']);
    }
  });

  it('refuses a missing interface, naming it', () => {
    let error: unknown;
    try {
      Garp.open('vipd-nosuch0', '52:54:00:00:00:01');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PacketSocketError);
    expect(error).toMatchObject({ ifname: 'vipd-nosuch0', code: 'ENODEV' });
    expect((error as Error).message).toBe(
      'cannot open AF_PACKET socket on vipd-nosuch0: No such device ' +
        '(no such interface in this network namespace)',
    );
  });
});
