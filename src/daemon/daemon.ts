/**
 * The daemon: builds one VirtualRouter per configured instance and the transports they share.
 *
 * Instances on the same interface with the same transport share one socket (a "link"); the link
 * hands each packet to the router whose VRID is in byte 1 of the VRRP header, so N routers on a
 * segment cost one receive per packet, not N. Packets for VRIDs we do not run are other clusters'
 * business on a shared segment: counted, not logged.
 */
import type { VipdConfig } from '../config/config.js';
import type { InstanceConfig } from '../config/instance.js';
import type { Logger } from '../log.js';
import { primaryAddress, readInterface } from '../net/interface.js';
import type { InboundPacket, Transport } from '../net/transport.js';
import { Garp } from '../actions/garp.js';
import { probeKernel, selectBackend } from '../cluster/select.js';
import { RawTransport } from '../net/transport-raw.js';
import { UdpTransport } from '../net/transport-udp.js';
import type { Clock } from './clock.js';
import { VirtualRouter } from './router.js';

interface Link {
  transport: Transport;
  garp: Garp;
  routers: Map<number, VirtualRouter>;
}

export interface DaemonStatus {
  instances: { name: string; state: string; stats: ReturnType<VirtualRouter['stats']> }[];
  foreignVrids: number;
}

/** A load-sharing backend this kernel lacks is refused at start, not discovered at failover. */
async function checkBackends(config: VipdConfig): Promise<void> {
  const sharing = config.instances.flatMap((i) => (i.loadSharing === null ? [] : [i.loadSharing]));
  if (sharing.length === 0) return;
  const kernel = await probeKernel();
  for (const cfg of sharing) selectBackend(cfg, kernel);
}

export class Daemon {
  private readonly links: Link[] = [];
  readonly routers: VirtualRouter[] = [];
  private foreign = 0;
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  static async start(config: VipdConfig, clock: Clock, log: Logger): Promise<Daemon> {
    const daemon = new Daemon(clock, log);
    const groups = new Map<string, InstanceConfig[]>();
    for (const inst of config.instances) {
      const key = `${inst.interface}|${inst.transport}|${inst.transport === 'udp' ? inst.udpPort : ''}`;
      groups.set(key, [...(groups.get(key) ?? []), inst]);
    }
    try {
      await checkBackends(config);
      for (const instances of groups.values()) await daemon.openLink(instances);
      for (const router of daemon.routers) await router.start();
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    return daemon;
  }

  private async openLink(instances: InstanceConfig[]): Promise<void> {
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
    for (const inst of instances) {
      const router = new VirtualRouter(inst, {
        clock: this.clock,
        transport,
        ttlChecked: inst.transport === 'raw',
        primary,
        announcer: garp,
        log: this.log,
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

  status(): DaemonStatus {
    return {
      instances: this.routers.map((r) => ({ name: r.cfg.name, state: r.state, stats: r.stats() })),
      foreignVrids: this.foreign,
    };
  }

  /** Graceful stop: priority-0 adverts out, VIPs removed, sockets closed. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.allSettled(this.routers.map((r) => r.stop()));
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
