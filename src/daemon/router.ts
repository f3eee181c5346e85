/**
 * One virtual router at run time: the imperative shell around the pure state machine.
 *
 * It feeds the machine events (start-up, validated adverts, its single timer, shutdown) with the
 * monotonic time, and carries out the actions it returns: adverts go out at once; what a state
 * means for the box (its Duties: an instance's action plans, a cluster number's ownership) runs
 * one transition after another on a queue, so a fast master -> backup -> master sequence reaches
 * the kernel in order while adverts keep flowing. Duties that fail put the router in FAULT,
 * retried after faultRecovery. Every transition is logged with its reason and the peer behind it.
 */
import type { InstanceConfig } from '../config/instance.js';
import type { Logger } from '../log.js';
import { ipv4ToUint32, uint32ToIpv4 } from '../net/address.js';
import type { InterfaceAddress } from '../net/interface.js';
import type { Duties } from '../actions/duties.js';
import type { Role } from '../actions/plan.js';
import { VRRP_GROUP, type InboundPacket, type Transport } from '../net/transport.js';
import {
  initialState,
  nextDeadline,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmState,
  type VrrpState,
} from '../vrrp/fsm.js';
import { decodeAdvert, encodeAdvert, type VrrpAdvert } from '../vrrp/packet.js';
import { checkAdvert } from '../vrrp/validate.js';
import type { Clock } from './clock.js';
import { TroubleCounter } from './counters.js';

export interface RouterDeps {
  clock: Clock;
  transport: Transport;
  /** Whether the transport reports the received TTL (raw) or not (udp). */
  ttlChecked: boolean;
  primary: InterfaceAddress;
  /** What the router does about its state: an instance's action plans, a cluster number's ownership. */
  duties: Duties;
  /** Already scoped to this router (instance, VRID). */
  log: Logger;
}

export interface RouterStats {
  advertsSent: number;
  advertsReceived: number;
  sendFailures: Record<string, number>;
  rejected: Record<string, number>;
}

export class VirtualRouter {
  private fsm: FsmState;
  private readonly fsmConfig: FsmConfig;
  private readonly destinations: string[];
  private readonly log: Logger;
  private readonly rejects: TroubleCounter;
  private readonly sendFailures: TroubleCounter;
  private cancelTimer: (() => void) | undefined;
  /** Action plans run one after another, in the order of the transitions that asked for them. */
  private planWork: Promise<void> = Promise.resolve();
  private cancelRecovery: (() => void) | undefined;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private sent = 0;
  private received = 0;

  constructor(
    readonly cfg: InstanceConfig,
    private readonly deps: RouterDeps,
  ) {
    this.fsmConfig = {
      version: cfg.version,
      priority: cfg.priority,
      advertIntervalCs: cfg.advertIntervalCs,
      preempt: cfg.preempt,
      preemptDelayMs: cfg.preemptDelayMs,
      accept: cfg.accept,
      primaryAddress: ipv4ToUint32(deps.primary.address),
      reassertOnLower: cfg.reassertOnLower,
    };
    this.fsm = initialState(this.fsmConfig);
    this.destinations = cfg.unicastPeers.length > 0 ? cfg.unicastPeers : [VRRP_GROUP];
    this.log = deps.log;
    this.rejects = new TroubleCounter(this.log, deps.clock, 'packet-rejected');
    this.sendFailures = new TroubleCounter(this.log, deps.clock, 'send-failed');
  }

  get state(): VrrpState {
    return this.fsm.state;
  }

  stats(): RouterStats {
    return {
      advertsSent: this.sent,
      advertsReceived: this.received,
      sendFailures: this.sendFailures.snapshot(),
      rejected: this.rejects.snapshot(),
    };
  }

  /** Clears what a crashed run left behind (the duties know what), then starts the election. */
  async start(): Promise<void> {
    await this.deps.duties.prepare();
    this.dispatch({ type: 'startup' });
  }

  /** Sends the priority-0 advert, removes the VIPs, and resolves when both are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.dispatch({ type: 'shutdown' });
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.cancelRecovery?.();
    this.deps.duties.leaving();
    await Promise.allSettled([...this.inFlight]);
    await this.planWork;
  }

  receive(packet: InboundPacket): void {
    // node:dgram cannot say where a datagram was sent; peers send where we would.
    const dst =
      packet.dst ?? (this.cfg.unicastPeers.length > 0 ? this.deps.primary.address : VRRP_GROUP);
    const decoded = decodeAdvert(packet.payload, { src: packet.src, dst, ttl: packet.ttl });
    if (!decoded.ok) {
      this.rejects.record(decoded.reason, decoded.detail, packet.src);
      return;
    }
    const advert = decoded.advert;
    const verdict = checkAdvert(this.cfg, advert, {
      src: packet.src,
      ttlChecked: this.deps.ttlChecked,
      subnet: this.deps.primary,
    });
    if (!verdict.ok) {
      this.rejects.record(verdict.reason, verdict.detail, packet.src);
      return;
    }
    if (verdict.addressMismatch) {
      this.rejects.record(
        'address-mismatch-accepted',
        `advertised ${advert.addresses.join(',')}`,
        packet.src,
      );
    }
    this.received += 1;
    this.log.debug(
      {
        event: 'advert-received',
        src: packet.src,
        priority: advert.priority,
        state: this.fsm.state,
      },
      'advert',
    );
    this.dispatch({
      type: 'advert',
      src: ipv4ToUint32(packet.src),
      priority: advert.priority,
      intervalCs: advert.intervalCs,
    });
  }

  private dispatch(event: FsmEvent): void {
    const result = step(this.fsmConfig, this.fsm, event, this.deps.clock.now());
    this.fsm = result.state;
    for (const action of result.actions) this.perform(action);
    this.arm();
  }

  private arm(): void {
    this.cancelTimer?.();
    const at = nextDeadline(this.fsm);
    this.cancelTimer =
      at === undefined
        ? undefined
        : this.deps.clock.schedule(at, () => this.dispatch({ type: 'timer' }));
  }

  private perform(action: FsmAction): void {
    if (action.type === 'send-advert') {
      this.sendAdvert(action.priority);
      if (action.cause === 'reassert-lower') this.deps.duties.reasserted();
      return;
    }
    const peer = action.peer;
    this.log.info(
      {
        event: 'transition',
        from: action.from,
        to: action.to,
        reason: action.reason,
        priority: this.cfg.priority,
        peer: peer === undefined ? undefined : uint32ToIpv4(peer.address),
        peerPriority: peer?.priority,
      },
      `${this.cfg.name}: ${action.from} -> ${action.to} (${action.reason})`,
    );
    this.deps.duties.leaving();
    if (action.to === 'master') this.queuePlan('master');
    else if (action.to === 'fault') this.queuePlan('fault');
    // Entering backup from anywhere but master also reconciles: start-up, recovery from fault.
    else if (action.to === 'backup' || action.from === 'master') this.queuePlan('backup');
  }

  private queuePlan(role: Role): void {
    this.planWork = this.planWork.then(() => this.runPlan(role));
  }

  private async runPlan(role: Role): Promise<void> {
    // Spawning processes blocks the event loop for milliseconds; the advert that came with this
    // transition (priority 0 on shutdown, the new master's first) must leave first.
    await Promise.allSettled([...this.inFlight]);
    let ok: boolean;
    try {
      ok = await this.deps.duties.carryOut(role);
    } catch (err) {
      this.log.error(
        { event: 'plan', role, ok: false, err: (err as Error).message },
        `${role} plan could not run`,
      );
      ok = false;
    }
    if (!ok) this.fault(role);
  }

  /**
   * A failed plan leaves the box unable to serve: FAULT (a master resigns with priority 0, the
   * fault plan releases everything), and the election is retried after faultRecovery.
   */
  private fault(role: Role): void {
    // A plan for a state we already left (or a release during shutdown) is not a fault of ours.
    if (this.stopped || this.fsm.state !== role) return;
    if (this.fsm.state !== 'fault') this.dispatch({ type: 'fault' });
    this.cancelRecovery?.();
    this.cancelRecovery = this.deps.clock.schedule(
      this.deps.clock.now() + this.cfg.faultRecoveryMs,
      () => {
        this.cancelRecovery = undefined;
        this.dispatch({ type: 'recover' });
      },
    );
  }

  private sendAdvert(priority: number): void {
    const advert: VrrpAdvert = {
      version: this.cfg.version,
      vrid: this.cfg.vrid,
      priority,
      intervalCs: this.cfg.advertIntervalCs,
      addresses: this.cfg.vips.slice(0, this.cfg.advertisedCount).map((v) => v.address),
      ...(this.cfg.version === 2 ? { auth: this.cfg.auth ?? { type: 0 } } : {}),
    };
    for (const dst of this.destinations) {
      const payload = encodeAdvert(advert, {
        src: this.deps.primary.address,
        dst,
        checksum: this.cfg.checksum,
      });
      const sending = this.deps.transport.send(dst, payload).then(
        () => {
          this.sent += 1;
        },
        (err: unknown) => {
          this.sendFailures.record('send-error', (err as Error).message, dst);
        },
      );
      this.inFlight.add(sending);
      void sending.finally(() => this.inFlight.delete(sending));
    }
  }
}
