/**
 * Reachability of quorum witnesses and peers: `10.0.0.1` is pinged (one ICMP echo), `10.0.0.1:443`
 * is a TCP connect. Every probe of a round runs at once and is bounded by the same timeout, so a
 * round costs at most that timeout however many targets there are; a probe that cannot run
 * (ping missing, socket error) counts as unreachable and says why.
 */
import { Socket } from 'node:net';
import { loadExeca } from '../runtime/execa.js';
import { parseTarget, type Probe } from '../router/quorum.js';

function tcpProbe(address: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (why: string | undefined): void => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no TCP answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    socket.connect(port, address);
  });
}

async function pingProbe(address: string, timeoutMs: number): Promise<string | undefined> {
  const execa = await loadExeca();
  const r = await execa('ping', ['-n', '-q', '-c', '1', '-W', String(timeoutMs / 1000), address], {
    reject: false,
    // ping's own -W bounds the wait; this catches a ping that hangs elsewhere (DNS, sendmsg).
    timeout: timeoutMs + 500,
  });
  if (r.exitCode === 0) return undefined;
  return r.exitCode === 1 ? `no echo reply within ${timeoutMs} ms` : r.stderr.trim() || r.message;
}

export async function probe(text: string, timeoutMs: number): Promise<Probe> {
  const target = parseTarget(text);
  if (target === undefined) return { target: text, up: false, detail: 'not an address' };
  const why =
    target.port === undefined
      ? await pingProbe(target.address, timeoutMs)
      : await tcpProbe(target.address, target.port, timeoutMs);
  return why === undefined ? { target: text, up: true } : { target: text, up: false, detail: why };
}

export function probeAll(targets: readonly string[], timeoutMs: number): Promise<Probe[]> {
  return Promise.all(targets.map((t) => probe(t, timeoutMs)));
}
