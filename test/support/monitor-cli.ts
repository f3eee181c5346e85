/**
 * Runs a KernelMonitor (src/net/kernel-monitor.ts) for a test, inside a lab namespace:
 *   node --import tsx test/support/monitor-cli.ts
 * Prints one JSON line per kernel event ({"event": ...}) and the monitor's log lines (pino JSON,
 * they have a "level") on stdout, and answers JSON commands read from stdin, one a line, each
 * with an `id` its answer carries:
 *   {"id", "cmd": "view"}      -> {"id", "view": {links, addresses: {ifindex: [...]}}, "counters"}
 *   {"id", "cmd": "fault", "op", "errno", "count"}   -> injectFault('netlink', ...): {"id", "ok"}
 *   {"id", "cmd": "change", "ifname", "changes": [AddressChange...]}
 *        -> changeAddresses on the request socket: {"id", "ms", "outcomes": {done, absent, failed}, "errors"}
 *   {"id", "cmd": "block", "ms"}   -> holds the event loop (a busy daemon): {"id", "ok"}
 * MONITOR_RCVBUF=<bytes> in the environment opens the monitor's socket with that receive buffer
 * instead of the monitor's own (a small one makes a burst overrun it for real).
 * Exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { loadNative, type FaultOp } from '../../src/native.js';
import { KernelMonitor, type MonitorDeps } from '../../src/net/kernel-monitor.js';
import {
  addresses,
  changeAddresses,
  linkByName,
  links,
  type AddressChange,
} from '../../src/net/netlink.js';

type Command =
  | { id: number; cmd: 'view' }
  | { id: number; cmd: 'fault'; op: FaultOp; errno: number; count: number }
  | { id: number; cmd: 'change'; ifname: string; changes: AddressChange[] }
  | { id: number; cmd: 'block'; ms: number };

const out = (value: object): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

// Through process.stdout like the events: a second writer on fd 1 (pino's own destination)
// would splice its lines into the middle of a large answer still queued on the stream.
const log = pino({ level: 'info' }, process.stdout);
const rcvbuf = Number(process.env.MONITOR_RCVBUF ?? 0);
const deps: MonitorDeps | undefined =
  rcvbuf > 0
    ? {
        openSocket: (options, onBatch, onError) =>
          loadNative().netlinkSocket({ ...options, rcvbuf }, onBatch, onError),
        links,
        addresses,
      }
    : undefined;
const monitor = await KernelMonitor.open(log, deps);
monitor.subscribe((event) => out({ event }));
out({ ready: true });

async function answer(c: Command): Promise<object> {
  switch (c.cmd) {
    case 'view': {
      const links = monitor.allLinks();
      const addresses = Object.fromEntries(links.map((l) => [l.index, monitor.addresses(l.index)]));
      return { view: { links, addresses }, counters: monitor.counters };
    }
    case 'fault':
      loadNative().injectFault('netlink', c.op, c.errno, c.count);
      return { ok: true };
    case 'block': {
      const until = performance.now() + c.ms;
      while (performance.now() < until) {
        // Busy: the socket's queue fills meanwhile.
      }
      return { ok: true };
    }
    case 'change': {
      const started = performance.now();
      const link = await linkByName(c.ifname);
      const outcomes = await changeAddresses(link, c.changes);
      const count = { done: 0, absent: 0, failed: 0 };
      for (const o of outcomes) count[o.kind]++;
      return {
        ms: performance.now() - started,
        outcomes: count,
        errors: outcomes.flatMap((o) => (o.kind === 'failed' ? [o.error] : [])).slice(0, 5),
      };
    }
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const c = JSON.parse(line) as Command;
  answer(c).then(
    (result) => out({ id: c.id, ...result }),
    (err: unknown) => out({ id: c.id, error: `${(err as Error).name}: ${(err as Error).message}` }),
  );
});
lines.on('close', () => {
  monitor.close();
  process.exit(0);
});
