// Native gratuitous ARP in the namespace lab: a client's neighbour entry for a VIP moves to the
// announcing box, 1,000 VIPs x 2 rounds reach the wire as 2,000 announcements (time printed, not
// asserted), a transmit queue that overflows delays frames but loses none, and a missing interface
// is refused by name. Announcements run in fw1's namespace through test/support/garp-cli.ts, since
// this process cannot enter a namespace itself.

import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { resolve } from 'node:path';
import { Garp, type GarpResult } from '../../src/actions/garp.js';
import { ipv4ToUint32, uint32ToIpv4 } from '../../src/net/address.js';
import { PacketSocketError } from '../../src/net/packet-socket.js';
import { useLab } from '../support/lab-fixture.js';
import { REPO_ROOT } from '../support/paths.js';

const VIP = '10.99.0.100';
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
