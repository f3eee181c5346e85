/**
 * Prometheus metrics, served by metrics-server.ts at GET http://<metrics.listen>/metrics.
 *
 * Two sources, each used for what it is exact at:
 * - state now (gauges), read from Daemon.status() at scrape time (prom-client `collect`), so a
 *   scrape never shows a state the daemon has already left:
 *     vipd_instance_state{instance,state}        1 for the current state, 0 for the others
 *     vipd_instance_priority{instance,kind}      kind="base" (configured) or "effective"
 *     vipd_cluster_owned_nodes{cluster,box}      node numbers this box answers (cluster only)
 *     vipd_adverts_sent_total{instance}, vipd_adverts_received_total{instance}: counters, but
 *     read from the routers' own counts too, so that no event is made for every packet
 * - things that happened (counters, histograms), fed by the daemon's observer events:
 *     vipd_transitions_total{instance,from,to,reason}
 *     vipd_packets_rejected_total{instance,reason}, vipd_split_brain_total{instance}
 *     vipd_action_step_seconds{instance,kind,ok}  every plan step, hooks included
 *     vipd_hook_seconds{instance,ok}              hook runs alone (the operator's own scripts)
 *     vipd_action_step_failures_total{instance,kind}
 *   Events emitted before the metrics were made (while Daemon.start ran: the start-up
 *   transition, the first adverts) are taken from the status passed in instead, which counts
 *   the same things; of the transitions only the last one per instance is known there, and
 *   start-up makes one.
 * Plus prom-client's process and Node.js metrics, prefixed vipd_.
 *
 * Its own Registry, never prom-client's global one: nothing else in the process (a library, a
 * test) can add to or collide with vipd's metrics. This module is loaded once the daemon runs
 * (metrics-server.ts's `attach`): prom-client is not on the path to the first advert.
 */
import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';
import type { Observer } from '../ports/events.js';
import type { DaemonEvent } from '../router/events.js';
import type { VrrpState } from '../vrrp/fsm.js';
import type { DaemonStatus } from '../router/status.js';

// prom-client's index also loads its Pushgateway (node:https, zlib) and cluster aggregator
// (node:cluster), 3 MiB of RSS for code vipd never calls; its files are taken one by one
// instead (the package has no "exports" map, so these paths are public to require). A
// prom-client that moved them fails here, when the metrics are attached, with the missing path
// in the message: `vipd run` logs it, and scrapes answer 500 with it.
const requireProm = createRequire(import.meta.url);
const Counter = requireProm('prom-client/lib/counter') as typeof Prom.Counter;
const Gauge = requireProm('prom-client/lib/gauge') as typeof Prom.Gauge;
const Histogram = requireProm('prom-client/lib/histogram') as typeof Prom.Histogram;
const Registry = requireProm('prom-client/lib/registry') as typeof Prom.Registry;
const collectDefaultMetrics = requireProm(
  'prom-client/lib/defaultMetrics',
) as typeof Prom.collectDefaultMetrics;

/** What metrics are read from: the Daemon, or a stand-in in tests. */
export interface MetricsSource {
  status(): DaemonStatus;
  readonly observers: { add(observer: Observer): void };
}

const STATES: readonly VrrpState[] = ['initialize', 'backup', 'master', 'fault'];
/** Plan steps take milliseconds (ip, nft) to seconds (conntrackd, hooks; hook timeout 10 s). */
const STEP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class VipdMetrics {
  readonly registry = new Registry();
  private readonly source: MetricsSource;

  private readonly transitions = this.counter('vipd_transitions_total', 'State transitions', [
    'instance',
    'from',
    'to',
    'reason',
  ]);
  private readonly rejected = this.counter(
    'vipd_packets_rejected_total',
    'Received packets rejected, by reason',
    ['instance', 'reason'],
  );
  private readonly splitBrains = this.counter(
    'vipd_split_brain_total',
    'Other masters heard while master (split brain, resolved by re-asserting)',
    ['instance'],
  );
  private readonly stepSeconds = new Histogram({
    name: 'vipd_action_step_seconds',
    help: 'Duration of action-plan steps (hooks included)',
    labelNames: ['instance', 'kind', 'ok'] as const,
    buckets: STEP_BUCKETS,
    registers: [this.registry],
  });
  private readonly hookSeconds = new Histogram({
    name: 'vipd_hook_seconds',
    help: 'Duration of hook script runs',
    labelNames: ['instance', 'ok'] as const,
    buckets: STEP_BUCKETS,
    registers: [this.registry],
  });
  private readonly stepFailures = this.counter(
    'vipd_action_step_failures_total',
    'Failed action-plan steps',
    ['instance', 'kind'],
  );

  /** Reads `source`'s status at every scrape; `seen`, taken earlier, has what happened before. */
  constructor(source: MetricsSource, seen: DaemonStatus) {
    this.source = source;
    this.countedAtScrape('vipd_adverts_sent_total', 'Adverts sent', (c) => c.advertsSent);
    this.countedAtScrape(
      'vipd_adverts_received_total',
      'Valid adverts received',
      (c) => c.advertsReceived,
    );
    // prom-client samples event-loop lag with a 10 ms timer by default: 100 wake-ups a second,
    // ten times what a 0.1 s master needs. One sample a second still shows a held loop.
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'vipd_',
      eventLoopMonitoringPrecision: 1000,
    });
    this.gauge(
      'vipd_instance_state',
      'Current VRRP state: 1 for the state the instance is in, 0 for the others',
      ['instance', 'state'],
      (g, status) => {
        for (const inst of status.instances) {
          for (const state of STATES) {
            g.set({ instance: inst.name, state }, inst.state === state ? 1 : 0);
          }
        }
      },
    );
    this.gauge(
      'vipd_instance_info',
      'Always 1: the election protocol and family, the interface the VIPs are on and the MAC they answer with',
      ['instance', 'protocol', 'family', 'interface', 'mac'],
      (g, status) => {
        for (const inst of status.instances) {
          const labels = {
            instance: inst.name,
            protocol: inst.protocol,
            family: `ipv${inst.family}`,
            interface: inst.vmac ?? inst.interface,
            mac: inst.mac ?? '',
          };
          g.set(labels, 1);
        }
      },
    );
    this.gauge(
      'vipd_instance_priority',
      'Priority: kind="base" as configured, kind="effective" as advertised now',
      ['instance', 'kind'],
      (g, status) => {
        for (const inst of status.instances) {
          g.set({ instance: inst.name, kind: 'base' }, inst.priority);
          g.set({ instance: inst.name, kind: 'effective' }, inst.effectivePriority);
        }
      },
    );
    this.gauge(
      'vipd_link_socket_errors',
      'VRRP socket errors since start, by interface and errno (each one reopens the socket)',
      ['interface', 'transport', 'errno'],
      (g, status) => {
        for (const l of status.links) {
          for (const [errno, n] of Object.entries(l.errors)) {
            g.set({ interface: l.interface, transport: l.transport, errno }, n);
          }
        }
      },
    );
    this.gauge(
      'vipd_link_open',
      'Whether the VRRP socket of an interface is open (0: the interface is unusable or the socket is being reopened)',
      ['interface', 'transport'],
      (g, status) => {
        for (const l of status.links) {
          g.set({ interface: l.interface, transport: l.transport }, l.state === 'open' ? 1 : 0);
        }
      },
    );
    this.gauge(
      'vipd_kernel_monitor_events_lost',
      'Kernel monitor trouble since start: kind="overrun" (then re-read), "error", "malformed"',
      ['kind'],
      (g, status) => {
        g.set({ kind: 'overrun' }, status.monitor.overruns);
        g.set({ kind: 'error' }, status.monitor.errors);
        g.set({ kind: 'malformed' }, status.monitor.malformed);
      },
    );
    this.gauge(
      'vipd_vips_restored',
      'VIPs a master found removed under it and put back, since start',
      ['instance'],
      (g, status) => {
        for (const inst of status.instances) {
          g.set({ instance: inst.name }, inst.counters.vipsRestored);
        }
      },
    );
    if (seen.cluster !== undefined) {
      this.gauge(
        'vipd_cluster_owned_nodes',
        'Number of cluster node numbers this box answers',
        ['cluster', 'box'],
        (g, s) => {
          if (s.cluster !== undefined)
            g.set({ cluster: s.cluster.name, box: s.cluster.box }, s.cluster.owned.length);
        },
      );
    }
    this.seed(seen);
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Prom.Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A per-instance counter the routers keep themselves, read at every scrape. */
  private countedAtScrape(
    name: string,
    help: string,
    count: (c: DaemonStatus['instances'][number]['counters']) => number,
  ): void {
    const read = (): DaemonStatus => this.source.status();
    new Counter({
      name,
      help,
      labelNames: ['instance'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const inst of read().instances)
          this.inc({ instance: inst.name }, count(inst.counters));
      },
    });
  }

  /** A gauge refilled from the daemon's status at every scrape. */
  private gauge<L extends string>(
    name: string,
    help: string,
    labelNames: L[],
    fill: (gauge: Prom.Gauge<L>, status: DaemonStatus) => void,
  ): void {
    const read = (): DaemonStatus => this.source.status();
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        // Reset first: an instance or state that is gone must not linger with its last value.
        this.reset();
        fill(this, read());
      },
    });
  }

  /** What happened before the metrics were made, from the status counters; every instance's series exist at 0. */
  private seed(status: DaemonStatus): void {
    for (const inst of status.instances) {
      const instance = inst.name;
      this.splitBrains.inc({ instance }, inst.counters.splitBrains);
      for (const [reason, n] of Object.entries(inst.counters.rejected)) {
        this.rejected.inc({ instance, reason }, n);
      }
      const t = inst.lastTransition;
      if (t !== undefined) {
        this.transitions.inc({ instance, from: t.from, to: t.to, reason: t.reason });
      }
    }
  }

  observe(event: DaemonEvent): void {
    const instance = event.instance;
    switch (event.type) {
      case 'transition':
        this.transitions.inc({ instance, from: event.from, to: event.to, reason: event.reason });
        return;
      case 'rejected':
        this.rejected.inc({ instance, reason: event.reason });
        return;
      case 'split-brain':
        this.splitBrains.inc({ instance });
        return;
      case 'step': {
        const ok = String(event.ok);
        const seconds = event.ms / 1000;
        this.stepSeconds.observe({ instance, kind: event.kind, ok }, seconds);
        if (event.kind === 'hook') this.hookSeconds.observe({ instance, ok }, seconds);
        if (!event.ok) this.stepFailures.inc({ instance, kind: event.kind });
        return;
      }
    }
  }
}
