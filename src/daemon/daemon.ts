/**
 * The daemon: builds one VirtualRouter per configured instance (and per node number of the
 * cluster, if this box is in one) and the transports they share.
 *
 * Instances on the same interface with the same transport share one socket (a "link"); the link
 * hands each packet to the router whose VRID is in byte 1 of the VRRP header, so N routers on a
 * segment cost one receive per packet, not N. Packets for VRIDs we do not run are other clusters'
 * business on a shared segment: counted, not logged.
 */
import type { VipdConfig } from '../config/config.js';
import type { InstanceConfig } from '../config/instance.js';
import { instanceDuties, type Duties } from '../actions/duties.js';
import { ClusterMember } from '../cluster/member.js';
import { createBackend } from '../cluster/select.js';
import type { Logger } from '../log.js';
import { primaryAddress, readInterface } from '../net/interface.js';
import type { InboundPacket, Transport } from '../net/transport.js';
import { Garp } from '../actions/garp.js';
import { probeKernel, selectBackend } from '../cluster/select.js';
import type { Announcer } from '../actions/runner.js';
import { RawTransport } from '../net/transport-raw.js';
import { UdpTransport } from '../net/transport-udp.js';
import type { Clock } from './clock.js';
import { UnknownInstanceError, VirtualRouter, type RouterStatus } from './router.js';
import { Observers } from './observer.js';
import { TrackMonitor } from '../track/monitor.js';

/** A router to build: its config and, once its link's ARP sender exists, what it does. */
interface RouterSpec {
  cfg: InstanceConfig;
  duties: (announcer: Announcer, log: Logger) => Duties;
}

interface Link {
  transport: Transport;
  garp: Garp;
  routers: Map<number, VirtualRouter>;
}

export interface DaemonStatus {
  node: string;
  instances: RouterStatus[];
  foreignVrids: number;
  /** This box's place in the active-active cluster, if any: the node numbers its kernel answers. */
  cluster?: { name: string; box: string; owned: readonly number[] };
}

/** A load-sharing backend this kernel lacks is refused at start, not discovered at failover. */
async function checkBackends(config: VipdConfig): Promise<void> {
  const sharing = [
    ...config.instances.flatMap((i) => (i.loadSharing === null ? [] : [i.loadSharing])),
    ...(config.cluster === null ? [] : [config.cluster.sharing]),
  ];
  if (sharing.length === 0) return;
  const kernel = await probeKernel();
  for (const cfg of sharing) selectBackend(cfg, kernel);
}

export class Daemon {
  private readonly links: Link[] = [];
  readonly routers: VirtualRouter[] = [];
  private foreign = 0;
  private member: ClusterMember | undefined;
  private readonly monitors: TrackMonitor[] = [];
  /** Metrics and other watchers subscribe here (see observer.ts). */
  readonly observers = new Observers();
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly node: string,
  ) {}

  static async start(config: VipdConfig, clock: Clock, log: Logger): Promise<Daemon> {
    const daemon = new Daemon(clock, log, config.node.name);
    const specs: RouterSpec[] = config.instances.map((cfg) => ({
      cfg,
      duties: (announcer, scoped) =>
        instanceDuties(cfg, announcer, clock, scoped, daemon.observers.emit),
    }));
    try {
      await checkBackends(config);
      if (config.cluster !== null) {
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
      const groups = new Map<string, RouterSpec[]>();
      for (const spec of specs) {
        const inst = spec.cfg;
        const key = `${inst.interface}|${inst.transport}|${inst.transport === 'udp' ? inst.udpPort : ''}`;
        groups.set(key, [...(groups.get(key) ?? []), spec]);
      }
      for (const group of groups.values()) await daemon.openLink(group);
      for (const router of daemon.routers) {
        const monitor = new TrackMonitor(
          router.cfg,
          router,
          clock,
          log.child({ instance: router.cfg.name }),
        );
        if (config.instances.includes(router.cfg) && !monitor.empty) {
          daemon.monitors.push(monitor);
          await monitor.start();
        }
        await router.start();
      }
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    return daemon;
  }

  private async openLink(specs: RouterSpec[]): Promise<void> {
    const instances = specs.map((s) => s.cfg);
    const [first] = instances;
    if (first === undefined) return;
    const info = await readInterface(first.interface);
    const primary = primaryAddress(
      info,
      new Set(instances.flatMap((i) => i.vips.map((v) => v.address))),
    );
    const routers = new Map<number, VirtualRouter>();
    const onPacket = (packet: InboundPacket): void => {
      const router =
        packet.payload.length >= 2 ? routers.get(packet.payload.readUInt8(1)) : undefined;
      if (router === undefined) this.foreign += 1;
      else router.receive(packet);
    };
    const transport =
      first.transport === 'raw'
        ? new RawTransport({
            ifname: first.interface,
            localAddress: primary.address,
            onPacket,
            onIpReject: (reason) =>
              this.log.debug({ event: 'ip-rejected', reason }, 'malformed IP packet'),
          })
        : await UdpTransport.open({
            ifname: first.interface,
            localAddress: primary.address,
            port: first.udpPort,
            onPacket,
          });
    const garp = Garp.open(first.interface, info.mac);
    this.links.push({ transport, garp, routers });
    for (const { cfg: inst, duties } of specs) {
      const log = this.log.child({ instance: inst.name, vrid: inst.vrid });
      const router = new VirtualRouter(inst, {
        clock: this.clock,
        transport,
        ttlChecked: inst.transport === 'raw',
        primary,
        duties: duties(garp, log),
        log,
        emit: this.observers.emit,
      });
      routers.set(inst.vrid, router);
      this.routers.push(router);
    }
    this.log.info(
      {
        event: 'link-open',
        interface: first.interface,
        transport: first.transport,
        source: primary.address,
      },
      `listening on ${first.interface} (${first.transport}) from ${primary.address}`,
    );
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
    this.router(name).raiseFault('demoted', `demoted by the operator ${why}`, forMs);
  }

  /** Ends a demotion; false when the instance was not demoted. */
  promote(name: string): boolean {
    const router = this.router(name);
    if (!router.hasFault('demoted')) return false;
    router.clearFault('demoted');
    return true;
  }

  status(): DaemonStatus {
    return {
      node: this.node,
      instances: this.routers.map((r) => r.status()),
      foreignVrids: this.foreign,
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
      for (const monitor of this.monitors) monitor.close();
      await Promise.allSettled(this.routers.map((r) => r.stop()));
      await this.member
        ?.stop()
        .catch((err: unknown) =>
          this.log.error(
            { event: 'cluster-leave-failed', err: String(err) },
            `leaving the cluster failed: ${(err as Error).message}`,
          ),
        );
      for (const link of this.links) {
        link.transport.close();
        link.garp.close();
      }
      // The counters are the last thing an operator sees of this run: keep them in the log.
      this.log.info({ event: 'stopped', status: this.status() }, 'vipd stopped');
    })();
    return this.stopping;
  }
}
