/**
 * The test's side of test/support/native-peer.ts: starts the peer in a lab host's namespace,
 * sends it commands and waits for its events. `stop()` closes its stdin (it exits) and kills it
 * if it has not; the lab's teardown would kill it anyway with the namespace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { Lab } from '../lab/lab.js';
import type { PeerCommand } from './native-peer.js';
import { REPO_ROOT } from './paths.js';

export type PeerEvent = Record<string, unknown> & { ev: string };

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const PEER = resolve(REPO_ROOT, 'test/support/native-peer.ts');

export class NativePeer {
  readonly events: PeerEvent[] = [];
  private readonly stderr: string[] = [];
  private waiters: { test: (e: PeerEvent) => boolean; resolve: (e: PeerEvent) => void }[] = [];
  private nextId = 1;
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as PeerEvent;
      this.events.push(event);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(event)) return true;
        w.resolve(event);
        return false;
      });
    });
    createInterface({ input: child.stderr! }).on('line', (line) => this.stderr.push(line));
    this.exited = new Promise((done) => child.once('exit', () => done()));
  }

  static async start(lab: Lab, host: string): Promise<NativePeer> {
    const child = spawn(
      'ip',
      ['netns', 'exec', lab.host(host).ns, process.execPath, '--import', TSX, PEER],
      { stdio: ['pipe', 'pipe', 'pipe'], cwd: REPO_ROOT },
    );
    const peer = new NativePeer(host, child);
    await peer.request({ op: 'ping' }, 20_000);
    return peer;
  }

  /** The events so far that match, from index `from` on. */
  seen(test: (e: PeerEvent) => boolean, from = 0): PeerEvent[] {
    return this.events.slice(from).filter(test);
  }

  /** The first event matching `test` from index `from` on, seen already or to come. */
  waitFor(
    what: string,
    test: (e: PeerEvent) => boolean,
    timeoutMs = 5_000,
    from = 0,
  ): Promise<PeerEvent> {
    const already = this.events.slice(from).find(test);
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(
            `${this.name}: no ${what} within ${timeoutMs} ms; last events:\n` +
              `${this.events
                .slice(-8)
                .map((e) => JSON.stringify(e).slice(0, 300))
                .join('\n')}\nstderr:\n${this.stderr.slice(-10).join('\n')}`,
          ),
        );
      }, timeoutMs);
      const done = (e: PeerEvent): void => {
        clearTimeout(timer);
        resolvePromise(e);
      };
      this.waiters.push({ test, resolve: done });
    });
  }

  /** Sends a command and resolves with its answer ({ev: 'ok'} or {ev: 'thrown'}). */
  request(cmd: PeerCommand, timeoutMs = 5_000): Promise<PeerEvent> {
    const id = this.nextId++;
    const from = this.events.length;
    this.child.stdin!.write(`${JSON.stringify({ ...cmd, id })}\n`);
    return this.waitFor(
      `answer to ${cmd.op}`,
      (e) => (e.ev === 'ok' || e.ev === 'thrown') && e.id === id,
      timeoutMs,
      from,
    );
  }

  /** Like request, but an answer other than ok fails with it. */
  async ok(cmd: PeerCommand, timeoutMs = 5_000): Promise<PeerEvent> {
    const answer = await this.request(cmd, timeoutMs);
    if (answer.ev !== 'ok')
      throw new Error(`${this.name}: ${cmd.op} threw ${JSON.stringify(answer)}`);
    return answer;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await this.exited;
    clearTimeout(timer);
  }
}
