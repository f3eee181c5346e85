/**
 * One instance's health tracking: its tracked interfaces, scripts and files (link-watch.ts,
 * script-check.ts, file-check.ts) folded into an effective priority and FAULT causes
 * (weights.ts) and handed to the router, which advertises a new priority at once and holds the
 * instance in FAULT while any weight-0 object is down. Every change is logged with the object
 * that caused it and the contributions that make up the new priority. `start` resolves when
 * every object has reported once, so the election starts from the real state. Interfaces come
 * from the daemon's kernel monitor, which already holds their state.
 */
import type { InstanceConfig } from '../config/instance.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../log.js';
import type { KernelMonitor } from '../net/kernel-monitor.js';
import type { FaultCause } from '../router/faults.js';
import { FileCheck } from './file-check.js';
import { LinkWatch } from './link-watch.js';
import { ScriptCheck } from './script-check.js';
import { effectivePriority, type Tracked, type TrackedFile } from './weights.js';

export interface TrackTarget {
  setEffectivePriority(priority: number, why: string): void;
  raiseFault(cause: FaultCause, detail: string): void;
  clearFault(cause: FaultCause): void;
}

export interface TrackStats {
  scripts: { name: string; up: boolean; runs: number; timeouts: number }[];
}

export class TrackMonitor {
  private links: LinkWatch | undefined;
  private readonly linkUp = new Map<string, boolean>();
  private readonly scripts: ScriptCheck[] = [];
  private readonly files: FileCheck[] = [];
  private readonly faults = new Set<string>();
  private started = false;

  constructor(
    private readonly cfg: InstanceConfig,
    private readonly target: TrackTarget,
    private readonly clock: Clock,
    private readonly kernel: KernelMonitor,
    private readonly log: Logger,
  ) {}

  get empty(): boolean {
    const t = this.cfg.track;
    return t.interfaces.length + t.scripts.length + t.files.length === 0;
  }

  async start(): Promise<void> {
    const t = this.cfg.track;
    const changed = (what: string) => (state: string) => {
      this.log.info({ event: 'track', object: what, state }, `${this.cfg.name}: ${what} ${state}`);
      if (this.started) this.apply(what);
    };
    if (t.interfaces.length > 0) {
      this.links = new LinkWatch(
        this.kernel,
        t.interfaces.map((i) => i.name),
        (name, up) => {
          this.linkUp.set(name, up);
          changed(`interface ${name}`)(up ? 'up' : 'down');
        },
      );
    }
    for (const sc of t.scripts) {
      this.scripts.push(
        new ScriptCheck(sc, this.clock, (up, detail) =>
          changed(`script ${sc.name}`)(up ? 'up' : `down (${detail})`),
        ),
      );
    }
    for (const f of t.files) {
      this.files.push(
        new FileCheck(f, this.clock, (value, why) =>
          changed(`file ${f.path}`)(`${value}${why === undefined ? '' : ` (${why})`}`),
        ),
      );
    }
    await Promise.all([...this.scripts.map((s) => s.settled), ...this.files.map((f) => f.settled)]);
    this.started = true;
    this.apply('start');
  }

  private apply(cause: string): void {
    const tracked: Tracked[] = [
      ...this.cfg.track.interfaces.map((i) => ({
        name: `interface ${i.name}`,
        weight: i.weight,
        up: this.linkUp.get(i.name) ?? false,
      })),
      ...this.scripts.map((s) => ({
        name: `script ${s.cfg.name}`,
        weight: s.cfg.weight,
        up: s.isUp,
      })),
    ];
    const files: TrackedFile[] = this.files.map((f) => ({
      name: `file ${f.cfg.path}`,
      weight: f.cfg.weight,
      value: f.current,
    }));
    const eff = effectivePriority(this.cfg.priority, tracked, files);
    const why = `${cause}${eff.parts.length > 0 ? `; ${eff.parts.join(', ')}` : ''}`;
    this.target.setEffectivePriority(eff.priority, why);
    const now = new Set(eff.faults.map((f) => f.name));
    for (const f of eff.faults) {
      if (!this.faults.has(f.name))
        this.target.raiseFault({ kind: 'track', object: f.name }, f.why);
    }
    for (const object of this.faults) {
      if (!now.has(object)) this.target.clearFault({ kind: 'track', object });
    }
    this.faults.clear();
    for (const object of now) this.faults.add(object);
  }

  stats(): TrackStats {
    return {
      scripts: this.scripts.map((s) => ({
        name: s.cfg.name,
        up: s.isUp,
        runs: s.runs,
        timeouts: s.timeouts,
      })),
    };
  }

  close(): void {
    this.links?.close();
    for (const s of this.scripts) s.close();
    for (const f of this.files) f.close();
  }
}
