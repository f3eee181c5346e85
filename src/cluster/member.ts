/**
 * This box's part in an active-active cluster (issue 4): the VIPs and the load-sharing backend
 * installed for the box's whole life, and the owned node set driven by the per-number virtual
 * routers (see ownership.ts for why ownership is plain VRRP).
 *
 * Contract:
 * - `start` installs the backend owning nothing, then adds the VIPs: the box joins the cluster's
 *   traffic but answers no client until it wins a number. `stop` removes both.
 * - `routers` gives one InstanceConfig per node number (VRID vridBase + n - 1, this box's rotated
 *   priority) with Duties whose master/backup/fault is claim/release of that number.
 * - Claims and releases are applied as whole owned sets, one backend call at a time (atomic for
 *   xt_cluster and nft, add-before-remove for clusterip). Changes arriving while a call runs are
 *   folded into the next one, so a box that inherits four numbers at once pays one transaction,
 *   and a number's duty reports success only when a set containing (or lacking) it is in the
 *   kernel. If the backend refuses, the routers waiting on it go to FAULT and resign the numbers.
 * - A set that gains a number first puts back any VIP missing from the interface (a link going
 *   down takes its IPv6 addresses with it, IPv4's stay; the routers are in FAULT meanwhile, so
 *   `restore` does not see it): a box never answers for a number without its VIPs.
 * - A box that inherits numbers sends no gratuitous ARP (or unsolicited neighbour advertisement
 *   for IPv6): the VIPs resolve to the cluster MAC on every box, so clients keep sending to all
 *   of them and only the kernel's filter moves.
 */
import type { ClusterConfig } from '../config/cluster.js';
import type { InstanceConfig } from '../config/instance.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../log.js';
import type { Duties } from '../actions/duties.js';
import { addVips, readAddresses, removeVips } from '../actions/vip.js';
import type { LoadSharingBackend } from './backend.js';
import { priorityFor } from './ownership.js';

/** The member's calls on the interface's addresses: actions/vip.ts's (a unit test's stand-in). */
export interface VipCalls {
  read: typeof readAddresses;
  add: typeof addVips;
  remove: typeof removeVips;
}

const KERNEL_VIPS: VipCalls = { read: readAddresses, add: addVips, remove: removeVips };

export interface NumberRouter {
  node: number;
  cfg: InstanceConfig;
  duties: Duties;
}

export class ClusterMember {
  private readonly desired = new Set<number>();
  private applied: number[] = [];
  private draining = false;
  private dirty = false;
  private round: Promise<boolean> = Promise.resolve(true);

  constructor(
    readonly cfg: ClusterConfig,
    private readonly backend: LoadSharingBackend,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly vips: VipCalls = KERNEL_VIPS,
  ) {}

  /** The node numbers this box answers for, as last applied to the kernel. */
  owned(): readonly number[] {
    return this.applied;
  }

  async start(): Promise<void> {
    // install() rebuilds the tables from scratch: an owned set a crashed run left is dropped.
    await this.backend.install([]);
    await this.vips.add(this.cfg.election.interface, this.cfg.vips);
    this.log.info(
      {
        event: 'cluster-joined',
        cluster: this.cfg.name,
        box: this.cfg.self,
        backend: this.backend.name,
        vips: this.cfg.vips.map((v) => v.address),
      },
      `cluster ${this.cfg.name}: joined as box ${this.cfg.self} of ${this.cfg.boxes.length} (${this.backend.name}), answering no node yet`,
    );
  }

  async stop(): Promise<void> {
    await this.backend.remove();
    await this.vips.remove(this.cfg.election.interface, this.cfg.vips, undefined, this.log);
    this.applied = [];
  }

  routers(): NumberRouter[] {
    const shape = { boxes: this.cfg.boxes.length, totalNodes: this.cfg.sharing.totalNodes };
    return Array.from({ length: shape.totalNodes }, (_, i) => {
      const node = i + 1;
      const cfg: InstanceConfig = {
        ...this.cfg.election,
        name: `${this.cfg.name}#${node}`,
        vrid: this.cfg.vridBase + i,
        priority: priorityFor(node, this.cfg.self, shape),
      };
      return { node, cfg, duties: this.duties(node) };
    });
  }

  private duties(node: number): Duties {
    return {
      prepare: () => Promise.resolve(),
      // A set operation is short and the next one folds in every later change: not cancelled.
      carryOut: async (role) => {
        if (role === 'master') this.desired.add(node);
        else this.desired.delete(node);
        const ok = await this.sync();
        return ok
          ? { ok, cancelled: false }
          : { ok, cancelled: false, detail: 'the owned set could not be applied' };
      },
      // The VIPs resolve to the cluster MAC on every box: nothing to re-point.
      announce: () => undefined,
      // Every box holds every cluster VIP; a master of any number puts a removed one back.
      restore: (addresses) =>
        this.vips.add(
          this.cfg.election.interface,
          this.cfg.vips.filter((v) => addresses.includes(v.address)),
          undefined,
          this.log,
        ),
    };
  }

  /** Adds the VIPs the interface lacks, with a warning: they were taken from it unasked. */
  private async putBackVips(): Promise<void> {
    const ifname = this.cfg.election.interface;
    const present = new Set((await this.vips.read(ifname)).map((a) => a.address));
    const missing = this.cfg.vips.filter((v) => !present.has(v.address));
    if (missing.length === 0) return;
    await this.vips.add(ifname, missing, undefined, this.log);
    const vips = missing.map((v) => v.address);
    this.log.warn(
      { event: 'cluster-vips-restored', cluster: this.cfg.name, vips },
      `cluster ${this.cfg.name}: ${vips.join(', ')} had gone from ${ifname} (IPv6 addresses go with a link going down): put back before answering`,
    );
  }

  private sync(): Promise<boolean> {
    this.dirty = true;
    if (!this.draining) {
      this.draining = true;
      this.round = this.drain();
    }
    return this.round;
  }

  /** Applies the desired set until it stops changing; the outcome is the last attempt's. */
  private async drain(): Promise<boolean> {
    let ok = true;
    try {
      // Routers whose timers fire in the same turn of the event loop land in one call.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.dirty) {
        this.dirty = false;
        const want = [...this.desired].sort((a, b) => a - b);
        if (want.join() === this.applied.join()) continue;
        const before = this.applied;
        const t0 = this.clock.now();
        try {
          if (want.some((n) => !before.includes(n))) await this.putBackVips();
          await this.backend.setOwned(want);
          ok = true;
        } catch (err) {
          ok = false;
          this.log.error(
            { event: 'cluster-owned-failed', cluster: this.cfg.name, want, err: String(err) },
            `cluster ${this.cfg.name}: could not set owned nodes to [${want.join(',')}]: ${(err as Error).message}`,
          );
          continue;
        }
        this.applied = want;
        const gained = want.filter((n) => !before.includes(n));
        const lost = before.filter((n) => !want.includes(n));
        const ms = Math.round(this.clock.now() - t0);
        this.log.info(
          { event: 'cluster-owned', cluster: this.cfg.name, owned: want, gained, lost, ms },
          `cluster ${this.cfg.name}: answering node(s) [${want.join(',')}]${gained.length > 0 ? ` +${gained.join(',+')}` : ''}${lost.length > 0 ? ` -${lost.join(',-')}` : ''} (${ms} ms)`,
        );
      }
    } finally {
      this.draining = false;
    }
    return ok;
  }
}
