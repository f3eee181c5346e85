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
import { HmacSigner, HmacVerifier } from '../vrrp/hmac.js';
import { probeAll } from '../net/witness.js';
import type { Probe } from '../router/quorum.js';
import { masterIsolated, takeoverVerdict, type QuorumConfig } from '../router/quorum.js';
import type { Observer } from '../ports/events.js';
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
  type TransitionAction,
  type VrrpState,
  DEAF_AFTER,
  MS_PER_CS,
} from '../vrrp/fsm.js';
import { decodeAdvert, encodeAdvert, type VrrpAdvert } from '../vrrp/packet.js';
import { checkAdvert } from '../vrrp/validate.js';
import type { Clock } from '../ports/clock.js';
import type { RouterStats, RouterStatus } from '../router/status.js';
import { TroubleCounter } from '../ports/counters.js';

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
  emit: Observer;
}

export class VirtualRouter {
  private fsm: FsmState;
  private fsmConfig: FsmConfig;
  private readonly destinations: string[];
  readonly log: Logger;
  private duties: Duties;
  private readonly signer: HmacSigner | undefined;
  private readonly verifier: HmacVerifier | undefined;
  private readonly rejects: TroubleCounter;
  private readonly sendFailures: TroubleCounter;
  private cancelTimer: (() => void) | undefined;
  /** Action plans run one after another, in the order of the transitions that asked for them. */
  private planWork: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private sent = 0;
  private received = 0;
  private splitBrains = 0;
  private oneWayLosses = 0;
  private quorumDenied = 0;
  private quorumLost = 0;
  private stalls = 0;
  /** Master-side quorum watch (and, after losing quorum, the watch for its return). */
  private cancelQuorumWatch: (() => void) | undefined;
  /** Why the router is held in FAULT: cause -> detail. It recovers when the last one clears. */
  private readonly faults = new Map<string, string>();
  private readonly faultTimers = new Map<string, () => void>();
  private lastTransition: RouterStatus['lastTransition'];

  constructor(
    private config: InstanceConfig,
    private readonly deps: RouterDeps,
  ) {
    const cfg = config;
    this.fsmConfig = {
      version: cfg.version,
      priority: cfg.priority,
      advertIntervalCs: cfg.advertIntervalCs,
      preempt: cfg.preempt,
      preemptDelayMs: cfg.preemptDelayMs,
      accept: cfg.accept,
      primaryAddress: ipv4ToUint32(deps.primary.address),
      reassertOnLower: cfg.reassertOnLower,
      quorumGated: cfg.quorum !== null,
      holdDownMs: cfg.holdDownMs,
    };
    this.fsm = initialState(this.fsmConfig);
    this.destinations = cfg.unicastPeers.length > 0 ? cfg.unicastPeers : [VRRP_GROUP];
    this.log = deps.log;
    this.duties = deps.duties;
    this.signer = cfg.hmac === null ? undefined : new HmacSigner(cfg.hmac);
    this.verifier = cfg.hmac === null ? undefined : new HmacVerifier(cfg.hmac);
    this.rejects = new TroubleCounter(this.log, deps.clock, 'packet-rejected');
    this.sendFailures = new TroubleCounter(this.log, deps.clock, 'send-failed');
  }

  get cfg(): InstanceConfig {
    return this.config;
  }

  /**
   * Takes a changed config in place (reload): the election keys a running router can change
   * (priority, preemption, interval, hold-down, quorum) and new duties for the rest (hooks, GARP,
   * timers). A master advertises the new priority at once. VRID, interface, transport and VIPs
   * cannot change here: the daemon replaces the router for those.
   */
  update(next: InstanceConfig, duties: Duties): void {
    this.config = next;
    this.duties.leaving();
    this.duties = duties;
    this.fsmConfig = {
      ...this.fsmConfig,
      priority: next.priority,
      advertIntervalCs: next.advertIntervalCs,
      preempt: next.preempt,
      preemptDelayMs: next.preemptDelayMs,
      holdDownMs: next.holdDownMs,
      quorumGated: next.quorum !== null,
    };
    this.log.info(
      { event: 'updated', priority: next.priority },
      `${next.name}: config updated in place`,
    );
    this.dispatch({ type: 'priority-changed' });
  }

  get state(): VrrpState {
    return this.fsm.state;
  }

  status(): RouterStatus {
    const master =
      this.fsm.state === 'master'
        ? this.deps.primary.address
        : this.fsm.state === 'backup' &&
            this.fsm.master !== undefined &&
            this.fsm.master.priority > 0
          ? uint32ToIpv4(this.fsm.master.address)
          : undefined;
    return {
      name: this.cfg.name,
      interface: this.cfg.interface,
      vrid: this.cfg.vrid,
      state: this.fsm.state,
      priority: this.cfg.priority,
      effectivePriority: this.fsmConfig.priority,
      master,
      vips: this.cfg.vips.map((v) => `${v.address}/${v.prefix}`),
      faults: [...this.faults].map(([cause, detail]) => `${cause}: ${detail}`),
      lastTransition: this.lastTransition,
      counters: this.stats(),
    };
  }

  /**
   * Holds the router in FAULT for `cause` (a failed plan, lost quorum, a demotion, a tracked
   * interface...): a master resigns with a priority-0 advert and everything is released. With
   * `forMs` the cause clears itself after that long.
   */
  raiseFault(cause: string, detail: string, forMs?: number): void {
    if (this.stopped) return;
    if (this.faults.get(cause) === detail && forMs === undefined) return;
    const first = this.faults.size === 0;
    this.faults.set(cause, detail);
    this.faultTimers.get(cause)?.();
    this.faultTimers.delete(cause);
    if (forMs !== undefined) {
      this.faultTimers.set(
        cause,
        this.deps.clock.schedule(this.deps.clock.now() + forMs, () => {
          this.faultTimers.delete(cause);
          this.clearFault(cause);
        }),
      );
    }
    this.log.warn(
      { event: 'fault-raised', cause, detail, faults: [...this.faults.keys()] },
      `${this.cfg.name}: ${cause}: ${detail}`,
    );
    this.deps.emit({ type: 'faults', instance: this.cfg.name, causes: [...this.faults.keys()] });
    if (first) this.dispatch({ type: 'fault' });
  }

  /** Clears `cause`; the election restarts when no cause is left. */
  clearFault(cause: string): void {
    if (!this.faults.delete(cause)) return;
    this.faultTimers.get(cause)?.();
    this.faultTimers.delete(cause);
    this.log.info(
      { event: 'fault-cleared', cause, faults: [...this.faults.keys()] },
      `${this.cfg.name}: ${cause} cleared${this.faults.size > 0 ? `; still held by ${[...this.faults.keys()].join(', ')}` : ''}`,
    );
    this.deps.emit({ type: 'faults', instance: this.cfg.name, causes: [...this.faults.keys()] });
    if (this.faults.size === 0 && !this.stopped) this.dispatch({ type: 'recover' });
  }

  /** Health tracking moved the priority: advertised at once by a master, logged with why. */
  setEffectivePriority(priority: number, why: string): void {
    const before = this.fsmConfig.priority;
    if (priority === before) return;
    this.fsmConfig = { ...this.fsmConfig, priority };
    this.log.info(
      { event: 'priority-changed', from: before, to: priority, why },
      `${this.cfg.name}: priority ${before} -> ${priority} (${why})`,
    );
    this.dispatch({ type: 'priority-changed' });
  }

  hasFault(cause: string): boolean {
    return this.faults.has(cause);
  }

  stats(): RouterStats {
    return {
      advertsSent: this.sent,
      advertsReceived: this.received,
      splitBrains: this.splitBrains,
      oneWayLosses: this.oneWayLosses,
      quorumDenied: this.quorumDenied,
      quorumLost: this.quorumLost,
      stalls: this.stalls,
      sendFailures: this.sendFailures.snapshot(),
      rejected: this.rejects.snapshot(),
    };
  }

  /** Clears what a crashed run left behind (the duties know what), then starts the election. */
  async start(): Promise<void> {
    await this.duties.prepare();
    this.dispatch({ type: 'startup' });
  }

  /** Sends the priority-0 advert, removes the VIPs, and resolves when both are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.dispatch({ type: 'shutdown' });
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.cancelQuorumWatch?.();
    for (const cancel of this.faultTimers.values()) cancel();
    this.duties.leaving();
    await Promise.allSettled([...this.inFlight]);
    await this.planWork;
  }

  private reject(reason: string, detail: string, src: string): void {
    this.rejects.record(reason, detail, src);
    this.deps.emit({ type: 'rejected', instance: this.cfg.name, reason });
  }

  receive(packet: InboundPacket): void {
    // node:dgram cannot say where a datagram was sent; peers send where we would.
    const dst =
      packet.dst ?? (this.cfg.unicastPeers.length > 0 ? this.deps.primary.address : VRRP_GROUP);
    let message = packet.payload;
    if (this.verifier !== undefined) {
      const verified = this.verifier.verify(packet.payload, packet.src);
      if (!verified.ok) {
        this.reject(verified.reason, verified.detail, packet.src);
        return;
      }
      message = verified.message;
    }
    const decoded = decodeAdvert(message, { src: packet.src, dst, ttl: packet.ttl });
    if (!decoded.ok) {
      this.reject(decoded.reason, decoded.detail, packet.src);
      return;
    }
    const advert = decoded.advert;
    const verdict = checkAdvert(this.cfg, advert, {
      src: packet.src,
      ttlChecked: this.deps.ttlChecked,
      subnet: this.deps.primary,
    });
    if (!verdict.ok) {
      this.reject(verdict.reason, verdict.detail, packet.src);
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
    this.deps.emit({ type: 'advert-received', instance: this.cfg.name });
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
      at === undefined ? undefined : this.deps.clock.schedule(at, () => this.expired(at));
  }

  /**
   * A backup's master-down timer firing more than half an advert interval past its deadline
   * means this process was not running: stalled, or the whole machine was (the soak saw a VM
   * stall of ~0.4 s). The master's sender was most likely stalled with it and sends as soon as
   * it runs again, so deciding now would take over from a live master: wait one more advert
   * interval, once. A stall of this process alone is covered already: the adverts queued
   * meanwhile are read before any timer acts (clock.ts).
   */
  private expired(at: number): void {
    const lateMs = this.deps.clock.now() - at;
    const intervalMs = this.fsm.masterAdverIntervalCs * MS_PER_CS;
    if (this.fsm.state !== 'backup' || lateMs <= intervalMs / 2) {
      this.dispatch({ type: 'timer' });
      return;
    }
    this.stalls += 1;
    this.log.warn(
      { event: 'stalled', lateMs: Math.round(lateMs), graceMs: intervalMs },
      `${this.cfg.name}: master-down timer ${Math.round(lateMs)} ms late (this box was stalled): ` +
        `one more advert interval (${intervalMs} ms) for the master to be heard`,
    );
    this.cancelTimer = this.deps.clock.schedule(this.deps.clock.now() + intervalMs, () =>
      this.dispatch({ type: 'timer' }),
    );
  }

  private perform(action: FsmAction): void {
    switch (action.type) {
      case 'send-advert':
        this.sendAdvert(action.priority, action.to);
        if (action.cause === 'reassert-lower') this.duties.reasserted();
        return;
      case 'split-brain':
        this.splitBrains += 1;
        this.deps.emit({ type: 'split-brain', instance: this.cfg.name });
        this.log.warn(
          {
            event: 'split-brain',
            peer: uint32ToIpv4(action.peer.address),
            peerPriority: action.peer.priority,
            priority: this.cfg.priority,
            masterForMs: Math.round(action.masterForMs),
            outcome: 'reassert',
          },
          `${this.cfg.name}: split brain: ${uint32ToIpv4(action.peer.address)} (priority ${action.peer.priority}) is master too; we (${this.cfg.priority}, master for ${(action.masterForMs / 1000).toFixed(1)} s) win: re-asserting and re-pointing neighbours`,
        );
        return;
      case 'check-quorum':
        void this.checkQuorum();
        return;
      case 'transition':
        this.transition(action);
        return;
    }
  }

  private transition(action: TransitionAction): void {
    const peer = action.peer;
    this.lastTransition = {
      from: action.from,
      to: action.to,
      reason: action.reason,
      at: new Date().toISOString(),
    };
    this.deps.emit({
      type: 'transition',
      instance: this.cfg.name,
      from: action.from,
      to: action.to,
      reason: action.reason,
    });
    const peerAddress = peer === undefined ? undefined : uint32ToIpv4(peer.address);
    this.log.info(
      {
        event: 'transition',
        from: action.from,
        to: action.to,
        reason: action.reason,
        priority: this.cfg.priority,
        peer: peerAddress,
        peerPriority: peer?.priority,
        masterForMs: action.masterForMs === undefined ? undefined : Math.round(action.masterForMs),
        faults: action.to === 'fault' ? [...this.faults.keys()] : undefined,
      },
      `${this.cfg.name}: ${action.from} -> ${action.to} (${action.reason})`,
    );
    if (action.reason === 'peer-cannot-hear-us') {
      this.oneWayLosses += 1;
      this.log.warn(
        {
          event: 'one-way-loss',
          peer: peerAddress,
          peerPriority: peer?.priority,
          holdDownMs: this.cfg.holdDownMs,
        },
        `${this.cfg.name}: one-way loss: ${peerAddress ?? '?'} stays master through ${DEAF_AFTER} re-assertions, so it cannot hear us; yielding to it and not preempting for ${this.cfg.holdDownMs / 1000} s`,
      );
    }
    this.duties.leaving();
    this.cancelQuorumWatch?.();
    this.cancelQuorumWatch = undefined;
    if (action.to === 'master') {
      this.queuePlan('master');
      this.watchQuorum();
    } else if (action.to === 'fault') this.queuePlan('fault');
    // Entering backup from anywhere but master also reconciles: start-up, recovery from fault.
    else if (action.to === 'backup' || action.from === 'master') this.queuePlan('backup');
    if (action.to === 'fault' && this.faults.has('quorum')) this.watchQuorum();
  }

  private async probeQuorum(): Promise<{ witnesses: Probe[]; peers: Probe[] } | undefined> {
    const q = this.cfg.quorum;
    if (q === null) return undefined;
    const [witnesses, peers] = await Promise.all([
      probeAll(q.witnesses, q.timeoutMs),
      probeAll(q.peers, q.timeoutMs),
    ]);
    return { witnesses, peers };
  }

  /** The FSM asked: may this backup take over? One probe round, bounded by the timeout. */
  private async checkQuorum(): Promise<void> {
    const q = this.cfg.quorum;
    const round = await this.probeQuorum();
    if (this.stopped || q === null || round === undefined) return;
    const verdict = takeoverVerdict(q, round.witnesses, round.peers);
    if (!verdict.ok) {
      this.quorumDenied += 1;
      this.log.warn(
        {
          event: 'quorum-denied',
          why: verdict.why,
          down: round.witnesses.concat(round.peers).filter((p) => !p.up),
        },
        `${this.cfg.name}: master down, but no quorum (${verdict.why}): staying backup`,
      );
    } else {
      this.log.info(
        { event: 'quorum-granted', why: verdict.why },
        `${this.cfg.name}: quorum: ${verdict.why}`,
      );
    }
    this.dispatch({ type: 'quorum', ok: verdict.ok });
  }

  /**
   * While master (and while in FAULT for lost quorum): a probe round every interval. A master that
   * reaches neither witnesses nor peers is the cut-off one: FAULT (priority-0 advert, VIPs
   * released). It recovers once a round would grant a takeover again.
   */
  private watchQuorum(): void {
    const q = this.cfg.quorum;
    if (q === null || this.stopped) return;
    this.cancelQuorumWatch = this.deps.clock.schedule(this.deps.clock.now() + q.intervalMs, () => {
      this.cancelQuorumWatch = undefined;
      void this.quorumRound(q);
    });
  }

  private async quorumRound(q: QuorumConfig): Promise<void> {
    const round = await this.probeQuorum();
    if (this.stopped || round === undefined) return;
    if (this.fsm.state === 'master' && masterIsolated(q, round.witnesses, round.peers)) {
      this.quorumLost += 1;
      this.log.warn(
        { event: 'quorum-lost', down: round.witnesses.concat(round.peers) },
        `${this.cfg.name}: no witness and no peer answers: this box is cut off`,
      );
      this.raiseFault('quorum', 'no witness and no peer answers');
      return;
    }
    if (this.fsm.state === 'fault' && this.faults.has('quorum')) {
      const verdict = takeoverVerdict(q, round.witnesses, round.peers);
      if (verdict.ok) {
        this.log.info(
          { event: 'quorum-regained', why: verdict.why },
          `${this.cfg.name}: quorum regained (${verdict.why})`,
        );
        this.clearFault('quorum');
        return;
      }
    }
    if (this.fsm.state === 'master' || (this.fsm.state === 'fault' && this.faults.has('quorum'))) {
      this.watchQuorum();
    }
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
      ok = await this.duties.carryOut(role);
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
    this.raiseFault('plan', `${role} plan failed`, this.cfg.faultRecoveryMs);
  }

  /** To the group or the unicast peers; with `to` (a yield notice), to that router alone. */
  private sendAdvert(priority: number, to?: number): void {
    const advert: VrrpAdvert = {
      version: this.cfg.version,
      vrid: this.cfg.vrid,
      priority,
      intervalCs: this.cfg.advertIntervalCs,
      addresses: this.cfg.vips.slice(0, this.cfg.advertisedCount).map((v) => v.address),
      ...(this.cfg.version === 2 ? { auth: this.cfg.auth ?? { type: 0 } } : {}),
    };
    for (const dst of to === undefined ? this.destinations : [uint32ToIpv4(to)]) {
      const payload = encodeAdvert(advert, {
        src: this.deps.primary.address,
        // A udp receiver cannot see the destination and checks against the one it expects.
        dst: this.deps.ttlChecked || this.cfg.unicastPeers.length > 0 ? dst : VRRP_GROUP,
        checksum: this.cfg.checksum,
      });
      const signed = this.signer?.sign(payload, this.deps.primary.address) ?? payload;
      const sending = this.deps.transport.send(dst, signed).then(
        () => {
          this.sent += 1;
          this.deps.emit({ type: 'advert-sent', instance: this.cfg.name });
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
