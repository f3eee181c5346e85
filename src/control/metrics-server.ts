/**
 * The metrics endpoint's HTTP side: GET http://<metrics.listen>/metrics (anything else: 404),
 * what is served being metrics.ts's VipdMetrics.
 *
 * The port is bound before the daemon starts (a taken port is a start-up error, found before
 * the daemon touches the network), with node:http alone; prom-client and the registry are
 * loaded by `attach`, once the virtual routers run: they are not on the path to the first
 * advert (issue 17). Until then the endpoint answers 503.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { DaemonEvent } from '../router/events.js';
import type { MetricsSource, VipdMetrics } from './metrics.js';

// Not `import ... from 'node:http'`: an ES import of a built-in reads every export, and on Node
// 24 node:http's lazy ones load undici and http2, 14 MiB of RSS a daemon never uses (measured:
// 58.6 vs 44.8 MiB for that import alone). getBuiltinModule returns the same module unread.
const { createServer } = process.getBuiltinModule('node:http');

/** The metrics endpoint cannot be set up; the message says what to do about it. */
export class MetricsError extends Error {
  override name = 'MetricsError';
}

function listenProblem(host: string, port: number, err: NodeJS.ErrnoException): MetricsError {
  const where = `${host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new MetricsError(
        `metrics: ${where} is already in use (another vipd or exporter?): set metrics.listen to a free port, or null to turn metrics off`,
      );
    case 'EADDRNOTAVAIL':
      return new MetricsError(
        `metrics: ${host} is not an address of this box: fix metrics.listen (e.g. 127.0.0.1:${port})`,
      );
    case 'EACCES':
      return new MetricsError(`metrics: not allowed to listen on ${where}: use a port above 1023`);
    default:
      return new MetricsError(`metrics: cannot listen on ${where}: ${err.message}`);
  }
}

/** What a scrape gets: the metrics once attached, or why there are none. */
type Served = { metrics: VipdMetrics } | { failed: Error } | undefined;

export class MetricsServer {
  private closing: Promise<void> | undefined;
  private served: Served;

  private constructor(
    private readonly server: Server,
    /** host:port as bound (the real port when 0 was asked for). */
    readonly address: string,
  ) {}

  static async listen(listen: { host: string; port: number }, log: Logger): Promise<MetricsServer> {
    // The handler exists before the MetricsServer does (it is made once the port is bound).
    const made: { server?: MetricsServer } = {};
    const server = createServer((req, res) => void answer(made.server?.served, req, res, log));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(listenProblem(listen.host, listen.port, err)),
      );
      server.listen(listen.port, listen.host, () => resolve());
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : listen.port;
    const address = `${listen.host}:${port}`;
    log.info(
      { event: 'metrics-listening', listen: address },
      `metrics at http://${address}/metrics`,
    );
    made.server = new MetricsServer(server, address);
    return made.server;
  }

  /**
   * Loads prom-client and serves `source`'s metrics. What happened before is read from the
   * status taken now, and the events that come while prom-client loads are held and counted
   * after it, so the counters miss nothing. Rejects (and scrapes answer 500 with the reason) if
   * the metrics module cannot be loaded.
   */
  async attach(source: MetricsSource): Promise<void> {
    if (this.served !== undefined) throw new Error('metrics are already attached to a daemon');
    const seen = source.status();
    const held: DaemonEvent[] = [];
    let deliver = (event: DaemonEvent): void => void held.push(event);
    // Synchronous after status(): no event can fall between the two.
    source.observers.add((event) => deliver(event));
    try {
      const { VipdMetrics } = await import('./metrics.js');
      const metrics = new VipdMetrics(source, seen);
      for (const event of held) metrics.observe(event);
      deliver = (event) => metrics.observe(event);
      this.served = { metrics };
    } catch (err) {
      this.served = { failed: err as Error };
      throw err;
    }
  }

  /** Stops listening and drops keep-alive connections (a scraper must not delay a stop). */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }
}

async function answer(
  served: Served,
  req: IncomingMessage,
  res: ServerResponse,
  log: Logger,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const text = (code: number, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
    res.end(`${body}\n`);
  };
  if (path !== '/metrics') return text(404, 'not found: vipd serves /metrics');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return text(405, 'method not allowed: GET /metrics', { Allow: 'GET, HEAD' });
  }
  if (served === undefined) return text(503, 'vipd is starting: no metrics yet');
  if ('failed' in served) return text(500, `metrics unavailable: ${served.failed.message}`);
  const { registry } = served.metrics;
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    log.error(
      { event: 'metrics-failed', err: (err as Error).message },
      `metrics scrape failed: ${(err as Error).message}`,
    );
    text(500, `metrics failed: ${(err as Error).message}`);
  }
}
