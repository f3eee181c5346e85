/**
 * Gratuitous ARP for VIPs a new master has just taken, so neighbours re-point their caches at
 * this box's MAC. Interim form: one iputils `arping -U` per VIP, started in parallel and not
 * awaited (arping waits about a second for replies; adverts must not wait for it). The action
 * plan replaces this with native frames, counts and refresh.
 */
import { execa } from 'execa';
import type { Logger } from '../log.js';

export function announceVips(ifname: string, addresses: readonly string[], log: Logger): void {
  for (const address of addresses) {
    execa('arping', ['-U', '-c', '1', '-w', '1', '-I', ifname, address], { reject: false })
      .then((r) => {
        if (r.exitCode !== 0 && r.exitCode !== 1) {
          log.warn(
            { event: 'garp-failed', vip: address, stderr: r.stderr.trim() },
            `gratuitous ARP for ${address} failed`,
          );
        }
      })
      .catch((err: unknown) =>
        log.warn({ event: 'garp-failed', vip: address, err: String(err) }, 'arping could not run'),
      );
  }
}
