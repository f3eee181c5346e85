/**
 * The scenario's `Cluster` on the namespace lab (test/lab/lab.ts): one namespace per firewall
 * and one for the client on a bridge, vipd started the way the tests start it
 * (test/support/vipd.ts). Cuts happen on the switch, outside the boxes, so vipd sees only what a
 * real partition would show it: proto and oneway drop election packets on the bridge
 * (`Lab.cutElection`), link takes the box's switch port down (`Lab.cutLink`). `close` destroys
 * the lab, namespaces and processes included.
 */
import { Lab, type LabProcess } from '../../test/lab/lab.js';
import { startVipd } from '../../test/support/vipd.js';
import {
  ADVERT_INTERVAL_S,
  INSTANCE,
  UDP_PORT,
  VIP,
  VIP_CIDR,
  VRID,
  type BoxSpec,
  type Cluster,
  type CutMode,
  type Transport,
} from './scenario.js';

const CLIENT = 'client';

export class NetnsCluster implements Cluster {
  private readonly vipd = new Map<string, LabProcess>();
  private ping: LabProcess | undefined;
  private healCut: (() => Promise<void>) | undefined;

  private constructor(
    private readonly lab: Lab,
    readonly boxes: readonly BoxSpec[],
    private readonly transport: Transport,
  ) {}

  static async create(boxes: readonly BoxSpec[], transport: Transport): Promise<NetnsCluster> {
    const lab = await Lab.create({ hosts: [...boxes.map((b) => b.name), CLIENT] });
    return new NetnsCluster(lab, boxes, transport);
  }

  get description(): string {
    return `namespaces ${this.lab.prefix}-{${[...this.lab.hosts.keys()].join(',')},sw}, logs in ${this.lab.logDir}`;
  }

  async macs(): Promise<Map<string, string>> {
    const macs = new Map<string, string>();
    for (const box of this.boxes) {
      const link = await this.lab.exec(box.name, 'ip', ['-j', 'link', 'show', 'eth0']);
      macs.set(box.name, (JSON.parse(link) as { address: string }[])[0]?.address ?? '?');
    }
    return macs;
  }

  async start(box: BoxSpec): Promise<void> {
    this.vipd.set(
      box.name,
      startVipd(this.lab, box.name, [
        {
          name: INSTANCE,
          vrid: VRID,
          vips: [VIP_CIDR],
          priority: box.priority,
          version: 3,
          advertInterval: ADVERT_INTERVAL_S,
          transport: this.transport,
          udpPort: UDP_PORT,
        },
      ]),
    );
    return Promise.resolve();
  }

  startClientTraffic(): Promise<void> {
    this.ping = this.lab.spawn(CLIENT, 'ping', 'ping', ['-D', '-O', '-n', '-i', '0.2', VIP]);
    return Promise.resolve();
  }

  clientTraffic(): readonly string[] {
    return this.ping?.lines ?? [];
  }

  async cut(box: string, mode: CutMode): Promise<void> {
    if (this.healCut !== undefined) throw new Error(`${box}: already cut; heal first`);
    const udpPort = this.transport === 'udp' ? UDP_PORT : undefined;
    this.healCut =
      mode === 'link'
        ? await this.lab.cutLink(box)
        : await this.lab.cutElection(box, {
            direction: mode === 'oneway' ? 'from' : 'both',
            ...(udpPort === undefined ? {} : { udpPort }),
          });
  }

  async heal(): Promise<void> {
    const heal = this.healCut;
    this.healCut = undefined;
    await heal?.();
  }

  async vipHolders(): Promise<string[]> {
    const held = await Promise.all(this.boxes.map((b) => this.lab.hasAddress(b.name, VIP)));
    return this.boxes.filter((_, i) => held[i]).map((b) => b.name);
  }

  async clientArp(): Promise<string | undefined> {
    const out = await this.lab.exec(CLIENT, 'ip', [
      '-j',
      'neigh',
      'show',
      'to',
      VIP,
      'dev',
      'eth0',
    ]);
    return (JSON.parse(out) as { lladdr?: string }[])[0]?.lladdr;
  }

  logLines(box: string): readonly string[] {
    return this.vipd.get(box)?.lines ?? [];
  }

  vipdRunning(box: string): boolean {
    return this.vipd.get(box)?.running ?? false;
  }

  async close(): Promise<void> {
    await this.lab.destroy();
  }
}
