/**
 * Link state of tracked interfaces, from the daemon's one kernel monitor (net/kernel-monitor.ts):
 * no process per watcher, and the state is the kernel's own (operationally up, or `unknown` with
 * a carrier: dummy interfaces, some tunnels). An interface that does not exist (yet) is down; a
 * renamed one is gone under its old name. `onChange` is called once with every interface's
 * initial state and then on each change.
 */
import type { KernelMonitor } from '../net/kernel-monitor.js';

export class LinkWatch {
  private readonly state = new Map<string, boolean>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly monitor: KernelMonitor,
    private readonly names: readonly string[],
    private readonly onChange: (ifname: string, up: boolean) => void,
  ) {
    this.unsubscribe = monitor.subscribe((e) => {
      if (e.type !== 'address-added' && e.type !== 'address-removed') this.refresh();
    });
    this.refresh();
  }

  private refresh(): void {
    for (const name of this.names) {
      const up = this.monitor.link(name)?.up ?? false;
      if (this.state.get(name) === up) continue;
      this.state.set(name, up);
      this.onChange(name, up);
    }
  }

  close(): void {
    this.unsubscribe();
  }
}
