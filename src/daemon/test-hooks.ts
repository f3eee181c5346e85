/**
 * Fault injection for the lab tests, off unless vipd is started with VIPD_TEST_FAULTS set: each
 * SIGUSR2 then makes the addon fail the listed socket operations as the kernel would
 * (native/fault.cc), so a test can show what a master does when its socket fails without
 * reaching into the process. The variable lists `kind:op:ERRNO:count` entries separated by
 * commas, e.g. `raw:send:EIO:20,netlink:recv:ENOBUFS:1`.
 */
import { constants } from 'node:os';
import type { Logger } from '../log.js';
import { loadNative, type FaultOp } from '../native.js';

interface Fault {
  kind: 'raw' | 'netlink';
  op: FaultOp;
  errno: number;
  count: number;
}

const ERRNO: Readonly<Record<string, number>> = constants.errno;

function parse(spec: string): Fault[] {
  return spec.split(',').map((entry) => {
    const [kind, op, name = '', count] = entry.trim().split(':');
    const errno = ERRNO[name];
    if (
      (kind !== 'raw' && kind !== 'netlink') ||
      (op !== 'open' && op !== 'send' && op !== 'recv') ||
      errno === undefined ||
      !Number.isInteger(Number(count))
    ) {
      throw new Error(
        `VIPD_TEST_FAULTS: ${JSON.stringify(entry)} is not kind:op:ERRNO:count (raw|netlink, open|send|recv, e.g. raw:send:EIO:20)`,
      );
    }
    return { kind, op, errno, count: Number(count) };
  });
}

/** Arms SIGUSR2 when VIPD_TEST_FAULTS is set; throws on a malformed value (at start, not later). */
export function armTestFaults(env: NodeJS.ProcessEnv, log: Logger): void {
  const spec = env.VIPD_TEST_FAULTS;
  if (spec === undefined || spec === '') return;
  const faults = parse(spec);
  log.warn({ event: 'test-faults-armed', spec }, `test hook: SIGUSR2 injects ${spec}`);
  process.on('SIGUSR2', () => {
    for (const f of faults) loadNative().injectFault(f.kind, f.op, f.errno, f.count);
    log.warn({ event: 'test-faults-injected', spec }, `test hook: injected ${spec}`);
  });
}
