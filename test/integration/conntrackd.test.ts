/**
 * A TCP connection through the firewall pair (client -> VIP gateway -> NAT -> server) across a
 * crash of the master: with conntrackd flipped by the action plan the connection carries on on
 * the new master; without it the same connection stops (mid-flow packets have no conntrack
 * state there and the stateful filter drops them).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useLab } from '../support/lab-fixture.js';
import { buildGatewayPair, SERVER } from '../support/gateway-pair.js';
import { startVipd } from '../support/vipd.js';

interface ProbeResult {
  sent: number;
  echoed: number;
  echoes: number[];
  error: string | null;
}

const PROBE = ['--import', 'tsx', 'test/support/tcp-probe.ts'];
const RUN_MS = 14_000;
const CRASH_AT_MS = 3_000;

describe.each([true, false])(
  'TCP through the pair across a master crash, conntrackd %s',
  (withConntrackd) => {
    const fx = useLab(['fw1', 'fw2', 'client']);

    it(withConntrackd ? 'the connection survives' : 'the connection breaks', async () => {
      const lab = fx.lab;
      const instances = await buildGatewayPair(lab, withConntrackd);
      const fw1 = fx.track(startVipd(lab, 'fw1', instances.fw1 ?? []));
      const fw2 = fx.track(startVipd(lab, 'fw2', instances.fw2 ?? []));
      for (const name of ['LAN', 'BACK']) {
        await fw1.waitForLine(
          new RegExp(`"instance":"${name}".*"event":"plan","role":"master","ok":true`),
          15_000,
        );
        await fw2.waitForLine(
          new RegExp(`"instance":"${name}".*"event":"plan","role":"backup","ok":true`),
          15_000,
        );
      }
      const server = fx.track(
        lab.spawn('server', 'tcp-server', process.execPath, [...PROBE, 'server', '7000']),
      );
      await server.waitForLine(/listening/, 10_000);
      const client = fx.track(
        lab.spawn('client', 'tcp-client', process.execPath, [
          ...PROBE,
          'client',
          SERVER,
          '7000',
          String(RUN_MS),
          '100',
        ]),
      );
      await client.waitForLine(/connected/, 10_000);
      await new Promise((r) => setTimeout(r, CRASH_AT_MS));
      // The box dies: every process on it, and its links.
      const from = fw2.lines.length;
      await lab.signalHost('fw1', 'SIGKILL');
      for (const dev of ['eth0', 'eth1', 'sync0'])
        await lab.exec('fw1', 'ip', ['link', 'set', dev, 'down']);
      await fw2.waitForLine(
        /"instance":"BACK".*"event":"plan","role":"master","ok":true/,
        10_000,
        from,
      );
      const result = JSON.parse(await client.waitForLine(/^\{/, RUN_MS + 5_000)) as ProbeResult;
      const afterCrash = result.echoes.filter((t) => t > CRASH_AT_MS + 1_000).length;
      console.log(
        `[measure] conntrackd ${String(withConntrackd)}: sent ${result.sent}, echoed ${result.echoed}, ` +
          `echoes after the crash ${afterCrash}, longest gap ${Math.max(...result.echoes.map((t, i, a) => (i === 0 ? 0 : t - (a[i - 1] ?? t))))} ms`,
      );
      if (withConntrackd) {
        expect(result.error).toBeNull();
        expect(afterCrash).toBeGreaterThan(30);
        // The commit was confirmed from conntrackd's own log, not from its exit code.
        const log = readFileSync(join(lab.logDir, 'conntrackd-fw2.log'), 'utf8');
        expect(log).toMatch(/commit has taken|[Cc]ommitted \d+ new entr/);
        expect(fw2.lines.some((l) => /"step":"conntrackd commit","ok":true/.test(l))).toBe(true);
      } else {
        expect(afterCrash).toBe(0);
      }
    });
  },
);
