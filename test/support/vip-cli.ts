/**
 * Drives actions/vip.ts from the command line, for tests that need it inside a lab namespace:
 *   node --import tsx test/support/vip-cli.ts IFNAME WAVES_JSON
 * WAVES_JSON is a list of waves, each a list of requests made in the same turn of the event
 * loop: {"add": [VIP...]}, {"del": [VIP...]}, {"read": true} (through the queue), {"link": true}
 * (readInterface, as the daemon reads a link at start-up) or {"index": N} (from now on the queue
 * takes N as the interface's index, as it takes the daemon's kernel monitor's), a VIP being
 * {address, prefix}.
 * Each wave is awaited before the next. Prints one JSON line: per wave, per request, either
 * {ok: true, value} (the VIPs removed, or the addresses read) or {ok: false, error}.
 */
import type { Vip } from '../../src/config/instance.js';
import { addVips, readAddresses, removeVips, takeIndexesFrom } from '../../src/actions/vip.js';
import { readInterface } from '../../src/net/interface.js';

type Request =
  { add: Vip[] } | { del: Vip[] } | { read: true } | { link: true } | { index: number };

const [ifname, waves] = process.argv.slice(2);
if (ifname === undefined || waves === undefined) {
  console.error('usage: vip-cli.ts IFNAME WAVES_JSON');
  process.exit(2);
}
const settle = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    (value) => ({ ok: true, value: value ?? null }),
    (err: unknown) => ({ ok: false, error: `${(err as Error).name}: ${(err as Error).message}` }),
  );
const results: unknown[][] = [];
for (const wave of JSON.parse(waves) as Request[][]) {
  results.push(
    await Promise.all(
      wave.map((r) =>
        settle(
          'add' in r
            ? addVips(ifname, r.add)
            : 'del' in r
              ? removeVips(ifname, r.del)
              : 'link' in r
                ? readInterface(ifname).then((i) => i.addresses.map((x) => x.address))
                : 'index' in r
                  ? Promise.resolve(takeIndexesFrom(() => r.index)).then(() => r.index)
                  : readAddresses(ifname).then((a) => a.map((x) => x.address)),
        ),
      ),
    ),
  );
}
console.log(JSON.stringify(results));
