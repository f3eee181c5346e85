/**
 * Link state of tracked interfaces, event-driven: one `ip -o monitor link` process per watcher
 * says that something changed, and the state is then read from sysfs (`operstate`, `carrier`),
 * which is what the kernel itself reports, instead of parsing monitor output that differs between
 * iproute2 versions. An interface that does not exist (yet) is down. `onChange` is called once
 * with every interface's initial state and then on each change.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

async function sysfs(ifname: string, file: string): Promise<string | undefined> {
  try {
    return (await readFile(`/sys/class/net/${ifname}/${file}`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Up = operationally up; `unknown` (dummy, some tunnels) counts when the carrier is there. */
export async function linkUp(ifname: string): Promise<boolean> {
  const oper = await sysfs(ifname, 'operstate');
  if (oper === 'up') return true;
  return oper === 'unknown' && (await sysfs(ifname, 'carrier')) === '1';
}

export class LinkWatch {
  private readonly monitor: ChildProcess;
  private readonly state = new Map<string, boolean>();
  private reading: Promise<void> = Promise.resolve();
  private closed = false;
  /** Resolves once every interface's state has been read the first time. */
  readonly settled: Promise<void>;

  constructor(
    private readonly names: readonly string[],
    private readonly onChange: (ifname: string, up: boolean) => void,
    onError: (err: Error) => void,
  ) {
    this.monitor = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.monitor.on('error', onError);
    createInterface({ input: this.monitor.stdout ?? process.stdin }).on(
      'line',
      () => void this.refresh(),
    );
    this.settled = this.refresh();
  }

  /** Re-reads every watched interface; changes are reported in order. */
  private refresh(): Promise<void> {
    this.reading = this.reading.then(async () => {
      for (const name of this.names) {
        const up = await linkUp(name);
        if (this.closed || this.state.get(name) === up) continue;
        this.state.set(name, up);
        this.onChange(name, up);
      }
    });
    return this.reading;
  }

  close(): void {
    this.closed = true;
    this.monitor.kill('SIGKILL');
  }
}
