/**
 * Interoperability with keepalived 2.2.7 from Debian, both ways and in both protocol versions
 * (and v2 with keepalived's PASS authentication): vipd and keepalived on one LAN elect exactly
 * one master, the higher priority, and keepalived's own log shows it accepted vipd's adverts.
 */
import { describe, expect, it } from 'vitest';
import type { LabProcess } from '../lab/lab.js';
import { useLab } from '../support/lab-fixture.js';
import { KEEPALIVED_PACKET_ERRORS, startKeepalived } from '../support/keepalived.js';
import { startVipd, transitions } from '../support/vipd.js';

const VIP = '10.99.0.100';
const variants = [
  { version: 3, password: undefined },
  { version: 2, password: undefined },
  { version: 2, password: 's3cr3t' },
] as const;

describe.each(variants)(
  'vipd and keepalived, VRRPv$version, password $password',
  ({ version, password }) => {
    const fx = useLab(['fw1', 'fw2']);
    const vipd = (priority: number): LabProcess => {
      const p = startVipd(fx.lab, 'fw1', [
        {
          priority,
          version,
          advertInterval: 1,
          ...(password === undefined ? {} : { authPassword: password }),
        },
      ]);
      return fx.track(p);
    };
    const keepalived = (priority: number): LabProcess => {
      const p = startKeepalived(fx.lab, 'fw2', {
        priority,
        version,
        ...(password === undefined ? {} : { authPassword: password }),
      });
      return fx.track(p);
    };
    async function onlyHolder(host: 'fw1' | 'fw2'): Promise<void> {
      const other = host === 'fw1' ? 'fw2' : 'fw1';
      // Two advert intervals after convergence: a second master would show by now.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await fx.lab.hasAddress(host, VIP)).toBe(true);
      expect(await fx.lab.hasAddress(other, VIP)).toBe(false);
    }

    it('vipd with the higher priority takes over from a keepalived master', async () => {
      const ka = keepalived(100);
      await ka.waitForLine(/Entering MASTER STATE/, 10_000);
      const v = vipd(150);
      await v.waitForLine(/"to":"master"/, 10_000);
      await ka.waitForLine(
        /Master received advert from 10\.99\.0\.1 with higher priority 150, ours 100/,
        5_000,
      );
      await ka.waitForLine(/Entering BACKUP STATE/, 5_000);
      await onlyHolder('fw1');
      expect(ka.lines.filter((l) => KEEPALIVED_PACKET_ERRORS.test(l))).toEqual([]);
    });

    it('keepalived with the higher priority takes over from a vipd master, which steps down', async () => {
      const v = vipd(100);
      await v.waitForLine(/"to":"master"/, 10_000);
      const ka = keepalived(150);
      // keepalived parsed and validated vipd's advert, then applied the RFC's preemption rule.
      await ka.waitForLine(
        /received lower priority \(100\) advert from 10\.99\.0\.1 - discarding/,
        5_000,
      );
      await ka.waitForLine(/Entering MASTER STATE/, 10_000);
      await v.waitForLine(/"from":"master","to":"backup","reason":"higher-priority"/, 5_000);
      expect(transitions(v).at(-1)).toMatchObject({ peer: '10.99.0.2' });
      await onlyHolder('fw2');
      expect(ka.lines.filter((l) => KEEPALIVED_PACKET_ERRORS.test(l))).toEqual([]);
    });

    it('a vipd backup takes over within skew time + 300 ms when the keepalived master stops', async () => {
      const ka = keepalived(150);
      await ka.waitForLine(/Entering MASTER STATE/, 10_000);
      const v = vipd(100);
      await v.waitForLine(/"to":"backup"/, 10_000);
      await new Promise((r) => setTimeout(r, 1_500));
      const appeared = await fx.lab.watchAddress('fw1', VIP);
      const t0 = performance.now();
      ka.kill('SIGTERM');
      const ms = (await appeared(5_000)) - t0;
      console.log(
        `[measure] keepalived v${version} master SIGTERM -> vipd backup holds VIP: ${ms.toFixed(0)} ms`,
      );
      expect(ms).toBeLessThanOrEqual((156 / 256) * 1000 + 300);
      expect(transitions(v).at(-1)).toMatchObject({ to: 'master', reason: 'priority-zero-heard' });
    });
  },
);
