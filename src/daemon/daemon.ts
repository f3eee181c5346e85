/**
 * The daemon: builds one VirtualRouter per configured instance (and per node number of the
 * cluster, if this box is in one), the links they share and the one kernel monitor every link
 * and tracker listens to.
 *
 * Instances on the same interface with the same transport share one socket (a link,
 * daemon/link.ts), so N routers on a segment cost one receive per packet, not N. A link follows
 * its interface as the kernel reports it: an interface absent at start is waited for (its
 * instances in FAULT), not a reason to exit.
 */
import type { VipdConfig } from '../config/config.js';
import type { InstanceConfig } from '../config/instance.js';
import { instanceDuties, type Duties } from '../actions/duties.js';
import type { ClusterMember } from '../cluster/member.js';
import type { Logger } from '../log.js';
import { KernelMonitor } from '../net/kernel-monitor.js';
import { setPromoteSecondaries } from '../net/sysctl.js';
import type { Announcer } from '../actions/runner.js';
import { takeIndexesFrom } from '../actions/vip.js';
import type { TimerClock } from '../ports/clock.js';
import { linkKeyOf, VrrpLink, type LinkKey } from './link.js';
import { VirtualRouter } from './router.js';
import { VmacPort } from './vmac-port.js';
import { Observers } from '../ports/events.js';
import { TrackMonitor } from '../track/monitor.js';
import { faultKey, type Fault, type FaultCause } from '../router/faults.js';
import { reloadDelta } from '../router/reload-delta.js';
import {
  UnknownInstanceError,
  reloadSummary,
  type DaemonStatus,
  type ReloadReport,
} from '../router/status.js';

/** A router to build: its config and, once its link's ARP sender exists, what it does. */
interface RouterSpec {
  cfg: InstanceConfig;
  duties: (announcer: Announcer, log: Logger) => Duties;
}

export class ReloadError extends Error {
  override name = 'ReloadError';
}

function linkKey(cfg: InstanceConfig): string {
  return linkKeyOf(linkOf(cfg));
}

function linkOf(cfg: InstanceConfig): LinkKey {
  return {
    ifname: cfg.interface,
    family: cfg.family,
    transport: cfg.transport,
    udpPort: cfg.udpPort,
  };
}

/** Every VIP of the config, instances' and cluster's: the primary address of a link is none of them. */
function vipAddresses(config: VipdConfig): Set<string> {
  const all = [...config.instances, ...(config.cluster === null ? [] : [config.cluster])];
  return new Set(all.flatMap((c) => c.vips.map((v) => v.address)));
}

/** A load-sharing backend this kernel lacks is refused at start, not discovered at failover. */
async function checkBackends(config: VipdConfig): Promise<void> {
  const sharing = [
    ...config.instances.flatMap((i) => (i.loadSharing === null ? [] : [i.loadSharing])),
    ...(config.cluster === null ? [] : [config.cluster.sharing]),
  ];
  if (sharing.length === 0) return;
  // The cluster code is imported only by the daemons that use it (a plain VRRP box never does).
  const { probeKernel, selectBackend } = await import('../cluster/select.js');
  const kernel = await probeKernel();
  for (const cfg of sharing) selectBackend(cfg, kernel);
}

export class Daemon {
  private readonly links = new Map<string, VrrpLink>();
  readonly routers: VirtualRouter[] = [];
  private readonly monitors = new Map<VirtualRouter, TrackMonitor>();
  /** Ends the VIP queues' use of the kernel monitor's interface indexes (actions/vip.ts). */
  private forgetIndexes: () => void = () => undefined;
  /** The virtual-MAC macvlans of the routers that have one. */
  private readonly vmacs = new Map<VirtualRouter, VmacPort>();
  private foreign = 0;
  private member: ClusterMember | undefined;
  /** Metrics and other watchers subscribe here (see observer.ts). */
  readonly observers = new Observers();
  private stopping: Promise<void> | undefined;
  /** Interfaces (name and index) whose promote_secondaries was seen to: each is logged once. */
  private readonly promoted = new Set<string>();
  /** node.promoteSecondaries as started: the node section takes a restart to change. */
  private readonly promoteSecondaries: boolean;

  private vips: ReadonlySet<string>;

  private constructor(
    private config: VipdConfig,
    private readonly clock: TimerClock,
    private readonly log: Logger,
    private readonly monitor: KernelMonitor,
  ) {
    this.vips = vipAddresses(config);
    this.promoteSecondaries = config.node.promoteSecondaries;
    this.observers.add((event) => {
      if (event.type === 'faults') this.syncGroup(event.instance, event.causes);
    });
  }

  private spec(cfg: InstanceConfig): RouterSpec {
    return {
      cfg,
      duties: (announcer, scoped) =>
        instanceDuties(cfg, announcer, this.clock, scoped, this.observers.emit),
    };
  }

  static async start(config: VipdConfig, clock: TimerClock, log: Logger): Promise<Daemon> {
    const daemon = new Daemon(config, clock, log, await KernelMonitor.open(log));
    daemon.forgetIndexes = takeIndexesFrom((name) => daemon.monitor.link(name)?.index);
    const specs = config.instances.map((cfg) => daemon.spec(cfg));
    try {
      await checkBackends(config);
      if (config.cluster !== null) {
        const [{ ClusterMember }, { createBackend }] = await Promise.all([
          import('../cluster/member.js'),
          import('../cluster/select.js'),
        ]);
        const member = new ClusterMember(
          config.cluster,
          await createBackend(config.cluster.sharing),
          clock,
          log,
        );
        daemon.member = member;
        await member.start();
        specs.push(...member.routers().map((r) => ({ cfg: r.cfg, duties: () => r.duties })));
      }
      for (const spec of specs) await daemon.startRouter(daemon.buildRouter(spec, []));
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    return daemon;
  }

  private link(cfg: InstanceConfig): VrrpLink {
    const key = linkKey(cfg);
    const existing = this.links.get(key);
    if (existing !== undefined) return existing;
    const link = new VrrpLink(linkOf(cfg), {
      monitor: this.monitor,
      clock: this.clock,
      log: this.log,
      vips: () => this.vips,
      onForeign: () => (this.foreign += 1),
      onOpen: (ifname, index) => this.promoteSecondariesOn(ifname, index),
    });
    this.links.set(key, link);
    return link;
  }

  /**
   * promote_secondaries on an interface the VIPs go on, before its first plan (net/sysctl.ts says
   * why). A failure is a warning: vipd's own removals keep wanted VIPs without it (actions/vip.ts).
   */
  private async promoteSecondariesOn(ifname: string, index: number): Promise<void> {
    // A recreated interface (a new index) starts from the kernel's default again.
    const key = `${ifname}#${index}`;
    if (!this.promoteSecondaries || this.promoted.has(key)) return;
    this.promoted.add(key);
    try {
      const was = await setPromoteSecondaries(ifname);
      this.log.info(
        { event: 'promote-secondaries', interface: ifname, was },
        `net.ipv4.conf.${ifname}.promote_secondaries = 1 (was ${was})`,
      );
    } catch (err) {
      this.log.warn(
        { event: 'promote-secondaries-failed', interface: ifname, err: (err as Error).message },
        `${(err as Error).message}; vipd goes on without it (node.promoteSecondaries false silences this)`,
      );
    }
  }

  /**
   * Builds one router on its link (opening the link if it is new) without starting it or
   * registering it for packets. Links opened here are listed in `opened`, so a failed reload can
   * close them again.
   */
  private buildRouter(spec: RouterSpec, opened: VrrpLink[]): VirtualRouter {
    const existed = this.links.has(linkKey(spec.cfg));
    const link = this.link(spec.cfg);
    if (!existed) opened.push(link);
    const log = this.log.child({ instance: spec.cfg.name, vrid: spec.cfg.vrid });
    const { vmac } = spec.cfg;
    // With a virtual MAC the master speaks from the macvlan; it still listens on the link.
    const port = vmac === null ? undefined : new VmacPort({ ...spec.cfg, vmac }, link, log);
    const router = new VirtualRouter(spec.cfg, {
      // One timer per link, not per router (issue 17).
      clock: link.timers,
      link: port ?? link,
      ttlChecked: spec.cfg.transport === 'raw',
      primary: link.primary,
      mac: () => link.mac,
      duties: spec.duties(port ?? link, log),
      log,
      emit: this.observers.emit,
    });
    if (port !== undefined) this.vmacs.set(router, port);
    return router;
  }

  /** Registers a built router for its VRID's packets, tracks it and starts its election. */
  private async startRouter(router: VirtualRouter): Promise<void> {
    const link = this.links.get(linkKey(router.cfg));
    link?.attach(router);
    this.routers.push(router);
    await this.openVmac(router);
    await this.track(router);
    await link?.settled();
    await router.start();
  }

  /**
   * Opened when the router starts, not when it is built: a reload stops the router it replaces
   * first, whose macvlan may have the same name. A router without its macvlan is held in FAULT:
   * it must not take VIPs it cannot put where its config says.
   */
  private async openVmac(router: VirtualRouter): Promise<void> {
    const port = this.vmacs.get(router);
    const vmac = router.cfg.vmac;
    if (port === undefined || vmac === null) return;
    try {
      await port.open();
    } catch (err) {
      const reason = `cannot set up the virtual MAC interface ${vmac.name}: ${(err as Error).message}`;
      router.log.error(
        { event: 'vmac-failed', interface: vmac.name, err: (err as Error).message },
        reason,
      );
      router.raiseFault({ kind: 'interface', name: vmac.name }, reason);
    }
  }

  private async track(router: VirtualRouter): Promise<void> {
    this.monitors.get(router)?.close();
    this.monitors.delete(router);
    const monitor = new TrackMonitor(
      router.cfg,
      router,
      this.clock,
      this.monitor,
      this.log.child({ instance: router.cfg.name }),
    );
    if (monitor.empty) return;
    this.monitors.set(router, monitor);
    await monitor.start();
  }

  private async removeRouter(router: VirtualRouter): Promise<void> {
    this.monitors.get(router)?.close();
    this.monitors.delete(router);
    await router.stop();
    await this.vmacs.get(router)?.close(true);
    this.vmacs.delete(router);
    this.links.get(linkKey(router.cfg))?.detach(router.cfg.vrid);
    this.routers.splice(this.routers.indexOf(router), 1);
  }

  private closeLink(link: VrrpLink): void {
    link.close();
    this.links.delete(linkKeyOf(link.key));
  }

  /**
   * Applies a new, already validated config as one transaction, without disturbing what did not
   * change. First every new router (replaced or added instances) is built, with its link: if any
   * cannot be (an interface that does not exist...), the links opened for them are closed and the
   * reload is refused with the running set exactly as it was. Then the swap: priority, timers,
   * tracking, hooks, HMAC keys and the like are updated in place (a master advertises a new
   * priority at once); removed and replaced routers stop (priority-0 advert, release plan); the
   * new ones start, a replaced one still demoted if the old one was. The cluster section and the
   * control and metrics settings need a restart: a reload that changes the cluster is refused.
   */
  async reload(next: VipdConfig): Promise<ReloadReport> {
    const outcome = reloadDelta(this.config, next);
    if (!outcome.ok) throw new ReloadError(outcome.reason);
    const { delta } = outcome;
    // At start an absent interface is waited for (it may come up after vipd at boot); a reload
    // naming one is most likely a typo, and would replace a running instance with one in FAULT.
    const missing = [...delta.replace, ...delta.add].filter(
      (c) => this.monitor.link(c.interface) === undefined,
    );
    if (missing.length > 0) {
      throw new ReloadError(
        `${missing.map((c) => `${c.name}: interface ${c.interface} does not exist`).join('; ')}; nothing was changed: every instance runs as before`,
      );
    }
    const vipsBefore = this.vips;
    this.vips = vipAddresses(next);
    const opened: VrrpLink[] = [];
    const built: VirtualRouter[] = [];
    try {
      for (const cfg of [...delta.replace, ...delta.add]) {
        built.push(this.buildRouter(this.spec(cfg), opened));
      }
    } catch (err) {
      for (const link of opened) this.closeLink(link);
      this.vips = vipsBefore;
      throw new ReloadError(
        `${(err as Error).message}; nothing was changed: every instance runs as before`,
      );
    }
    for (const cfg of delta.inPlace) {
      const router = this.router(cfg.name);
      const link = this.links.get(linkKey(cfg));
      if (link === undefined) continue;
      router.update(cfg, this.spec(cfg).duties(this.vmacs.get(router) ?? link, router.log));
      await this.track(router);
    }
    // Stopped first: a replacement may reuse a VRID or a VIP.
    const demotions = new Map<string, Fault>();
    for (const name of [...delta.remove, ...delta.replace.map((c) => c.name)]) {
      const router = this.router(name);
      const demoted = router.fault('demoted');
      if (demoted !== undefined) demotions.set(name, demoted);
      await this.removeRouter(router);
    }
    for (const router of built) {
      const demoted = demotions.get(router.cfg.name);
      if (demoted !== undefined) {
        const left = demoted.until === undefined ? undefined : demoted.until - this.clock.now();
        if (left === undefined || left > 0) router.raiseFault(demoted.cause, demoted.detail, left);
      }
      await this.startRouter(router);
    }
    for (const link of [...this.links.values()]) if (link.routers.size === 0) this.closeLink(link);
    this.config = { ...next, control: this.config.control, metrics: this.config.metrics };
    this.log.info(
      { event: 'reloaded', ...delta.report },
      `reloaded: ${describeReport(delta.report)}`,
    );
    return delta.report;
  }

  /**
   * Sync groups: instances that must live on the same box. A member in FAULT for a cause of its
   * own holds every other member in FAULT too (so the whole group moves to the peer, where the
   * resigning adverts make each member master); when its own causes clear, so does the hold.
   */
  private syncGroup(instance: string, causes: readonly FaultCause[]): void {
    const group = this.config.syncGroups.find((g) => g.instances.includes(instance));
    if (group === undefined) return;
    const own = causes.filter((c) => c.kind !== 'sync-group');
    const cause: FaultCause = { kind: 'sync-group', group: group.name, member: instance };
    for (const member of group.instances) {
      if (member === instance) continue;
      const router = this.routers.find((r) => r.cfg.name === member);
      if (own.length > 0) {
        router?.raiseFault(cause, `${instance} is in FAULT (${own.map(faultKey).join(', ')})`);
      } else router?.clearFault(cause);
    }
  }

  private router(name: string): VirtualRouter {
    const router = this.routers.find((r) => r.cfg.name === name);
    if (router === undefined) {
      throw new UnknownInstanceError(
        `no instance ${JSON.stringify(name)}; running: ${this.routers.map((r) => r.cfg.name).join(', ')}`,
      );
    }
    return router;
  }

  /**
   * Maintenance: the instance resigns (priority-0 advert, the backup takes over within its skew
   * time) and stays out of the election for `forMs`, or until `promote`.
   */
  demote(name: string, forMs: number | undefined): void {
    const why = forMs === undefined ? 'until promoted' : `for ${Math.round(forMs / 1000)} s`;
    this.router(name).raiseFault({ kind: 'demoted' }, `demoted by the operator ${why}`, forMs);
  }

  /** Ends a demotion; false when the instance was not demoted. */
  promote(name: string): boolean {
    const router = this.router(name);
    if (router.fault('demoted') === undefined) return false;
    router.clearFault({ kind: 'demoted' });
    return true;
  }

  status(): DaemonStatus {
    return {
      node: this.config.node.name,
      instances: this.routers.map((r) => r.status()),
      foreignVrids: this.foreign,
      links: [...this.links.values()].map((l) => l.status()),
      monitor: { ...this.monitor.counters },
      ...(this.member === undefined
        ? {}
        : {
            cluster: {
              name: this.member.cfg.name,
              box: this.member.cfg.boxes[this.member.cfg.self - 1] ?? '?',
              owned: this.member.owned(),
            },
          }),
    };
  }

  /** Graceful stop: priority-0 adverts out, VIPs removed, sockets closed. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const monitor of this.monitors.values()) monitor.close();
      await Promise.allSettled(this.routers.map((r) => r.stop()));
      await Promise.allSettled([...this.vmacs.values()].map((p) => p.close(true)));
      await this.member
        ?.stop()
        .catch((err: unknown) =>
          this.log.error(
            { event: 'cluster-leave-failed', err: String(err) },
            `leaving the cluster failed: ${(err as Error).message}`,
          ),
        );
      // The counters are the last thing an operator sees of this run: keep them in the log.
      const status = this.status();
      for (const link of [...this.links.values()]) this.closeLink(link);
      this.forgetIndexes();
      this.monitor.close();
      this.log.info({ event: 'stopped', status }, 'vipd stopped');
    })();
    return this.stopping;
  }
}

function describeReport(r: ReloadReport): string {
  const parts = reloadSummary(r);
  return parts.length > 0 ? parts.join('; ') : 'nothing changed';
}
