/**
 * Signed adverts on the udp transport (issue 7), in the namespace lab: fw1 (150) and fw2 (100)
 * share a key; a third host on the LAN sends priority-255 adverts for the same VRID, unsigned and
 * signed with a key the pair does not have, and an advert fw1 really sent is captured and
 * replayed from fw1's own address. None of them may cause a transition; each is counted under
 * its reason in `vipd status --json`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LabProcess } from '../lab/lab.js';
import { useLab } from '../support/lab-fixture.js';
import { VIPD_CLI } from '../support/paths.js';
import { controlSocket, startVipd, transitions } from '../support/vipd.js';

const KEY = { id: 1, secret: 'a shared secret of the pair' };
const PORT = 11200;

/** argv: mode (unsigned|wrong-key|replay) file targets-json. Sends 20 adverts, 50 ms apart. */
const FORGER = `
const dgram = require('node:dgram');
const { readFileSync } = require('node:fs');
const [mode, file, targets, dist] = process.argv.slice(1);
(async () => {
  const { encodeAdvert } = await import(dist + '/src/vrrp/packet.js');
  const { HmacSigner } = await import(dist + '/src/vrrp/hmac.js');
  const src = mode === 'replay' ? '10.99.0.1' : '10.99.0.3';
  const advert = encodeAdvert(
    { version: 3, vrid: 51, priority: 255, intervalCs: 100, addresses: ['10.99.0.100'] },
    { src, dst: '224.0.0.18', checksum: 'rfc5798' },
  );
  const payload =
    mode === 'unsigned' ? advert
    : mode === 'wrong-key' ? new HmacSigner({ keys: [{ id: 1, secret: Buffer.from('not the key of the pair') }], sendKeyId: 1, windowMs: 5000 }).sign(advert, src)
    : readFileSync(file);
  const sock = dgram.createSocket('udp4');
  sock.bind(0, src, async () => {
    for (let i = 0; i < 20; i++) {
      for (const t of JSON.parse(targets)) sock.send(payload, ${PORT}, t);
      await new Promise((r) => setTimeout(r, 50));
    }
    sock.close();
    console.log('sent');
  });
})();
`;

/** The UDP payload of the first packet of a pcap file (Ethernet, IPv4, UDP). */
function firstUdpPayload(pcap: Buffer): Buffer {
  const frame = pcap.subarray(24 + 16, 24 + 16 + pcap.readUInt32LE(24 + 8));
  const ip = frame.subarray(14);
  const ihl = ((ip[0] ?? 0) & 0x0f) * 4;
  const udp = ip.subarray(ihl);
  return udp.subarray(8, udp.readUInt16BE(4));
}

interface Status {
  instances: { name: string; state: string; counters: { rejected: Record<string, number> } }[];
}

describe('signed adverts (udp transport)', () => {
  const fx = useLab(['fw1', 'fw2', 'evil']);

  async function status(host: string): Promise<Status> {
    return JSON.parse(
      await fx.lab.exec(host, process.execPath, [
        VIPD_CLI,
        'status',
        '--json',
        '--socket',
        controlSocket(fx.lab, host),
      ]),
    ) as Status;
  }

  it('forged, wrong-key and replayed priority-255 adverts are dropped, counted, and move nothing', async () => {
    const start = (host: string, priority: number): LabProcess =>
      fx.track(
        startVipd(fx.lab, host, [
          { priority, transport: 'udp', advertInterval: 0.5, hmac: { keys: [KEY] } },
        ]),
      );
    const fw1 = start('fw1', 150);
    const fw2 = start('fw2', 100);
    await fw1.waitForLine(/"to":"master"/, 15_000);
    await fw2.waitForLine(/"to":"backup"/, 15_000);

    // Capture one advert fw1 really sent, as fw2 saw it.
    const pcap = join(fx.lab.logDir, 'fw1-advert.pcap');
    await fx.lab.exec('fw2', 'tcpdump', [
      '-i',
      'eth0',
      '-c',
      '1',
      '-w',
      pcap,
      `udp port ${PORT} and src host 10.99.0.1`,
    ]);
    const replay = join(fx.lab.logDir, 'fw1-advert.bin');
    writeFileSync(replay, firstUdpPayload(readFileSync(pcap)));

    const before = { fw1: transitions(fw1).length, fw2: transitions(fw2).length };
    const targets = JSON.stringify(['10.99.0.1', '10.99.0.2']);
    const dist = join(VIPD_CLI, '../../..', 'dist');
    for (const [mode, host] of [
      ['unsigned', 'evil'],
      ['wrong-key', 'evil'],
      ['replay', 'fw1'],
    ] as const) {
      await fx.lab.exec(host, process.execPath, ['-e', FORGER, mode, replay, targets, dist]);
    }
    await new Promise((r) => setTimeout(r, 1_500));
    expect(transitions(fw1).length).toBe(before.fw1);
    expect(transitions(fw2).length).toBe(before.fw2);
    const s1 = await status('fw1');
    const s2 = await status('fw2');
    expect(s1.instances[0]?.state).toBe('master');
    expect(s2.instances[0]?.state).toBe('backup');
    const rejected = s2.instances[0]?.counters.rejected ?? {};
    console.log(
      `[measure] hmac: fw2 rejected ${JSON.stringify(rejected)}; fw1 ${JSON.stringify(s1.instances[0]?.counters.rejected)}`,
    );
    expect(rejected.unsigned).toBe(20);
    expect(rejected['bad-mac']).toBe(20);
    // Inside the 5 s window a replay is caught by its nonce, past it by its age.
    expect((rejected['replayed-nonce'] ?? 0) + (rejected['stale-nonce'] ?? 0)).toBe(20);
  });
});
