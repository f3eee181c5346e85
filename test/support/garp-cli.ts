/**
 * One Garp.announce from the command line, for tests that need it inside a lab namespace:
 *   node --import tsx test/support/garp-cli.ts IFNAME MAC COUNT INTERVAL_MS VIP...
 * Prints the GarpResult as one JSON line and exits 0; on failure prints `Name: message` on stderr
 * and exits 1.
 */
import { Garp } from '../../src/actions/garp.js';

const [ifname, mac, count, intervalMs, ...vips] = process.argv.slice(2);
if (ifname === undefined || mac === undefined || count === undefined || intervalMs === undefined) {
  console.error('usage: garp-cli.ts IFNAME MAC COUNT INTERVAL_MS VIP...');
  process.exit(2);
}
try {
  const garp = Garp.open(ifname, mac);
  try {
    const result = await garp.announce(vips, {
      count: Number(count),
      intervalMs: Number(intervalMs),
    });
    console.log(JSON.stringify(result));
  } finally {
    garp.close();
  }
} catch (err) {
  console.error(`${(err as Error).name}: ${(err as Error).message}`);
  process.exit(1);
}
