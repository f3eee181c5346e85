/**
 * A long-lived TCP conversation for connection-survival tests, run inside lab hosts:
 *   tcp-probe.ts server PORT                      echo every line back
 *   tcp-probe.ts client HOST PORT MS INTERVAL_MS  send a numbered line every INTERVAL_MS for MS,
 *                                                 then print one JSON line: what came back, when
 */
import { createConnection, createServer } from 'node:net';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'server') {
  createServer((sock) => sock.pipe(sock)).listen(Number(args[0]), () => console.log('listening'));
} else if (mode === 'client') {
  const [host = '', port = '0', ms = '0', interval = '100'] = args;
  const start = performance.now();
  const echoes: number[] = [];
  let sent = 0;
  let error: string | undefined;
  let buffered = '';
  const sock = createConnection({ host, port: Number(port) });
  sock.setNoDelay(true);
  sock.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    const at = Math.round(performance.now() - start);
    echoes.push(...lines.map(() => at));
  });
  sock.on('error', (err) => {
    error = err.message;
  });
  sock.on('connect', () => console.log('connected'));
  const tick = setInterval(() => {
    if (!sock.destroyed) sock.write(`${(sent += 1)}\n`);
  }, Number(interval));
  setTimeout(() => {
    clearInterval(tick);
    console.log(JSON.stringify({ sent, echoed: echoes.length, echoes, error: error ?? null }));
    process.exit(0);
  }, Number(ms));
} else {
  console.error('usage: tcp-probe.ts server PORT | client HOST PORT MS INTERVAL_MS');
  process.exit(2);
}
