/**
 * One virtual router at run time: the imperative shell around RouterCore (router/core.ts).
 *
 * It only turns I/O into core events (packets, its one timer, plan results, probe rounds, the
 * operator's and the tracker's fault causes) and the core's effects into I/O: adverts go out at
 * once; plans run one after another on a queue (runtime/plan-queue.ts), each cancelled when the
 * core says its state was left; gratuitous ARP, quorum probes, counters, events and log lines.
 * Every decision about mastership is the core's. What the shell adds is how late its timer ran:
 * `lateMs` on a transition's log line when a deadline made it, and a summary in its status.
 */
import type { InstanceConfig } from '../config/instance.js';
import type { Logger } from '../log.js';
import type { InterfaceAddress } from '../net/interface.js';
import type { Duties } from '../actions/duties.js';
import { HmacSigner } from '../vrrp/hmac.js';
import { probeAll } from '../net/witness.js';
import type { Observer } from '../ports/events.js';
import type { InboundPacket, Transport } from '../net/transport.js';
import type { VrrpState } from '../vrrp/fsm.js';
import { VRRP_GROUP, VRRP_GROUP_V6 } from '../vrrp/packet.js';
import { CARP_GROUP, encodeCarp } from '../carp/packet.js';
import type { CarpTiming } from '../carp/fsm.js';
import { randomBytes } from 'node:crypto';
import { AdvertBytes } from '../router/advert-bytes.js';
import type { Clock } from '../ports/clock.js';
import { TroubleCounter } from '../ports/counters.js';
import { PlanQueue } from '../runtime/plan-queue.js';
import {
  deadline,
  initialCore,
  step,
  type CoreEffect,
  type CoreEvent,
  type CoreState,
} from '../router/core.js';
import { faultKey, type Fault, type FaultCause } from '../router/faults.js';
import type { RouterStats, RouterStatus } from '../router/status.js';

type HeldEvent = Extract<CoreEffect, { type: 'event' }>;

/** Milliseconds to the microsecond, for log lines and status. */
function toMicros(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** What a router sends through: its link (daemon/link.ts), whose socket may be reopened under it. */
export type AdvertSender = Pick<Transport, 'send'>;

export interface RouterDeps {
  clock: Clock;
  link: AdvertSender;
  /** Whether the transport reports the received TTL (raw) or not (udp). */
  ttlChecked: boolean;
  /** The link's source address at start (0.0.0.0 while the interface is not usable yet). */
  primary: InterfaceAddress;
  /** The interface's MAC now (for status; the virtual MAC, when there is one, is the config's). */
  mac: () => string | undefined;
  /** What the router does about its state: an instance's action plans, a cluster number's ownership. */
  duties: Duties;
  /** Already scoped to this router (instance, VRID). */
  log: Logger;
  emit: Observer;
}

export class VirtualRouter {
  private core: CoreState;
  private readonly destinations: string[];
  readonly log: Logger;
  private duties: Duties;
  private signer: HmacSigner | undefined;
  private readonly rejects: TroubleCounter;
  private readonly sendFailures: TroubleCounter;
  private timer: { at: number; cancel: () => void } | undefined;
  private readonly plans = new PlanQueue();
  private readonly inFlight = new Set<Promise<void>>();
  /** The time of the last event handled: events reach the core in time order. */
  private handledAt = -Infinity;
  /** Events waiting for the next turn of the loop (`dispatch` says why). */
  private heldEvents: HeldEvent[] | undefined;
  private sent = 0;
  private readonly adverts: AdvertBytes;
  /**
   * CARP's 64-bit counter: random at start, one up per advert, as ucarp's. Nobody checks it
   * (ucarp and OpenBSD leave replay protection as a to-do), so it is the shell's bookkeeping.
   */
  private carpCounter = randomBytes(8).readBigUInt64BE();
  private lastTransition: RouterStatus['lastTransition'];
  private readonly lateness: RouterStatus['timerLateness'] = {
    lastMs: undefined,
    maxMs: 0,
    fired: 0,
  };

  constructor(
    config: InstanceConfig,
    private readonly deps: RouterDeps,
  ) {
    this.core = initialCore({
      instance: config,
      primary: deps.primary,
      ttlChecked: deps.ttlChecked,
    });
    this.destinations =
      config.unicastPeers.length > 0
        ? config.unicastPeers
        : [config.family === 6 ? VRRP_GROUP_V6 : VRRP_GROUP];
    this.adverts = new AdvertBytes(deps.ttlChecked);
    this.log = deps.log;
    this.duties = deps.duties;
    this.signer = config.hmac === null ? undefined : new HmacSigner(config.hmac);
    this.rejects = new TroubleCounter(this.log, deps.clock, 'packet-rejected');
    this.sendFailures = new TroubleCounter(this.log, deps.clock, 'send-failed');
  }

  get cfg(): InstanceConfig {
    return this.core.cfg.instance;
  }

  get state(): VrrpState {
    return this.core.fsm.state;
  }

  /**
   * Takes a changed config in place (reload): election keys, timers, hooks, GARP, HMAC keys.
   * VRID, interface, transport and VIPs cannot change here: the daemon replaces the router.
   */
  update(next: InstanceConfig, duties: Duties): void {
    this.duties = duties;
    if (JSON.stringify(next.hmac) !== JSON.stringify(this.cfg.hmac)) {
      this.signer = next.hmac === null ? undefined : new HmacSigner(next.hmac);
    }
    this.dispatch({ type: 'update', instance: next });
  }

  status(): RouterStatus {
    const fsm = this.core.fsm;
    const master =
      fsm.state === 'master'
        ? this.core.cfg.primary.address
        : fsm.state === 'backup' &&
            fsm.master !== undefined &&
            (fsm.master.priority > 0 || fsm.master.carp !== undefined)
          ? fsm.master.address
          : undefined;
    return {
      name: this.cfg.name,
      interface: this.cfg.interface,
      vrid: this.cfg.vrid,
      protocol: this.cfg.protocol,
      family: this.cfg.family,
      mac: this.cfg.vmac?.mac ?? this.deps.mac(),
      vmac: this.cfg.vmac?.name,
      state: fsm.state,
      priority: this.cfg.priority,
      effectivePriority: this.core.fsmConfig.priority,
      master,
      vips: this.cfg.vips.map((v) => `${v.address}/${v.prefix}`),
      faults: this.core.faults.map((f) => `${faultKey(f.cause)}: ${f.detail}`),
      lastTransition: this.lastTransition,
      timerLateness: { ...this.lateness },
      counters: this.stats(),
    };
  }

  /** Holds the router in FAULT for `cause`; with `forMs` the cause clears itself after that. */
  raiseFault(cause: FaultCause, detail: string, forMs?: number): void {
    this.dispatch(
      forMs === undefined
        ? { type: 'fault', cause, detail }
        : { type: 'fault', cause, detail, forMs },
    );
  }

  /** Clears `cause`; the election restarts when no cause is left. */
  clearFault(cause: FaultCause): void {
    this.dispatch({ type: 'clear', cause });
  }

  /** Health tracking moved the priority: advertised at once by a master, logged with why. */
  setEffectivePriority(priority: number, why: string): void {
    this.dispatch({ type: 'priority', priority, why });
  }

  /** The fault of this kind holding the router, if any (a demotion to carry over a reload). */
  fault(kind: FaultCause['kind']): Fault | undefined {
    return this.core.faults.find((f) => f.cause.kind === kind);
  }

  stats(): RouterStats {
    return {
      ...this.core.counters,
      advertsSent: this.sent,
      sendFailures: this.sendFailures.snapshot(),
      rejected: this.rejects.snapshot(),
    };
  }

  /**
   * Clears what a crashed run left behind (the duties know what), then starts the election. A
   * clean-up that fails is a failed plan: FAULT, retried after faultRecovery.
   */
  async start(): Promise<void> {
    try {
      await this.duties.prepare();
    } catch (err) {
      this.raiseFault(
        { kind: 'plan', role: 'backup' },
        `start-up clean-up failed: ${(err as Error).message}`,
        this.cfg.faultRecoveryMs,
      );
    }
    this.dispatch({ type: 'start' });
  }

  /** Sends the priority-0 advert, cancels what runs for the state left, releases, then resolves. */
  async stop(): Promise<void> {
    this.dispatch({ type: 'shutdown' });
    this.timer?.cancel();
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
    await this.plans.idle();
    // The daemon's last events follow this router's.
    this.catchUp();
  }

  /** The link's primary address changed (or became known). */
  setSource(primary: InterfaceAddress): void {
    this.dispatch({
      type: 'source',
      primary: { address: primary.address, prefix: primary.prefix },
    });
  }

  /** The kernel reports these addresses removed from the interface. */
  vipsMissing(addresses: string[]): void {
    this.dispatch({ type: 'vips-missing', addresses });
  }

  /**
   * An advert counts from when the kernel received it, where the transport tells (RFC 5798
   * 6.4.2: the Master_Down_Timer restarts on its arrival), not from when the loop read it; never
   * before an event already handled, nor after now.
   */
  receive(packet: InboundPacket): void {
    const now = this.deps.clock.now();
    const at =
      packet.receivedAt === undefined
        ? now
        : Math.min(now, Math.max(packet.receivedAt, this.handledAt));
    this.dispatch(
      {
        type: 'packet',
        packet: { payload: packet.payload, src: packet.src, dst: packet.dst, ttl: packet.ttl },
        wallMs: Date.now(),
      },
      at,
    );
  }

  /** `lateMs`: the event is the timer's, this late past its deadline. */
  private dispatch(event: CoreEvent, now = this.deps.clock.now(), lateMs?: number): void {
    const result = step(this.core, event, now);
    this.core = result.state;
    this.handledAt = now;
    // A transition's events (metrics, status, sync groups: 0.3 ms on a takeover) wait for the
    // next turn of the loop: its plan is under way first (a takeover's VIP request goes out in
    // this turn's microtasks). Its log line is written now, so a VIP never shows before the line
    // that explains it; events emitted meanwhile queue behind, so observers see them in order.
    const defer =
      this.heldEvents !== undefined || result.effects.some((e) => e.type === 'run-plan');
    for (const effect of result.effects) {
      if (defer && effect.type === 'event') this.hold(effect);
      else this.perform(effect, lateMs);
    }
    this.arm();
  }

  private hold(effect: HeldEvent): void {
    if (this.heldEvents === undefined) {
      this.heldEvents = [];
      setImmediate(() => this.catchUp());
    }
    this.heldEvents.push(effect);
  }

  /** Emits the events `hold` keeps. */
  private catchUp(): void {
    const held = this.heldEvents ?? [];
    this.heldEvents = undefined;
    for (const effect of held) this.perform(effect, undefined);
  }

  private arm(): void {
    const at = deadline(this.core);
    if (this.timer?.at === at) return;
    this.timer?.cancel();
    this.timer =
      at === undefined
        ? undefined
        : {
            at,
            cancel: this.deps.clock.schedule(at, () => {
              this.timer = undefined;
              const now = this.deps.clock.now();
              const lateMs = toMicros(now - at);
              this.lateness.lastMs = lateMs;
              this.lateness.maxMs = Math.max(this.lateness.maxMs, lateMs);
              this.lateness.fired += 1;
              this.dispatch({ type: 'tick' }, now, lateMs);
            }),
          };
  }

  private perform(effect: CoreEffect, lateMs: number | undefined): void {
    switch (effect.type) {
      case 'send':
        if (effect.carp === undefined) this.sendAdvert(effect.priority, effect.to);
        else this.sendCarp(effect.carp);
        return;
      case 'run-plan':
        this.plans.enqueue(
          effect.id,
          async (signal) => {
            // Spawning processes blocks the event loop for milliseconds; the advert that came
            // with this transition (priority 0 on shutdown, the new master's first) leaves first.
            await Promise.allSettled([...this.inFlight]);
            return this.duties.carryOut(effect.role, signal);
          },
          (outcome) => this.dispatch({ type: 'plan-done', id: effect.id, ...outcome }),
        );
        return;
      case 'cancel-plan':
        this.plans.cancel(effect.id, `the router is now ${this.core.fsm.state}`);
        return;
      case 'announce':
        this.duties.announce(effect.why);
        return;
      case 'restore-vips': {
        const { addresses } = effect;
        this.duties.restore(addresses).then(
          () => this.dispatch({ type: 'vips-restored', addresses, ok: true }),
          (err: unknown) =>
            this.dispatch({
              type: 'vips-restored',
              addresses,
              ok: false,
              detail: (err as Error).message,
            }),
        );
        return;
      }
      case 'probe-quorum':
        void this.probeQuorum(effect.round);
        return;
      case 'rejected':
        this.rejects.record(effect.reason, effect.detail, effect.src);
        return;
      case 'event':
        if (effect.event.type === 'transition') {
          const { from, to, reason } = effect.event;
          this.lastTransition = { from, to, reason, at: new Date().toISOString() };
        }
        this.deps.emit(effect.event);
        return;
      case 'log': {
        // A decision a deadline made (master-down, a master's advert due) says how late the
        // timer ran: the failover bench reads it.
        const late = lateMs !== undefined && effect.event === 'transition' ? { lateMs } : {};
        this.log[effect.level]({ event: effect.event, ...effect.fields, ...late }, effect.msg);
        return;
      }
    }
  }

  /** One probe round of the quorum's witnesses and peers, bounded by its timeout. */
  private async probeQuorum(round: number): Promise<void> {
    const q = this.cfg.quorum;
    if (q === null) return;
    const [witnesses, peers] = await Promise.all([
      probeAll(q.witnesses, q.timeoutMs),
      probeAll(q.peers, q.timeoutMs),
    ]);
    this.dispatch({ type: 'quorum-probed', round, witnesses, peers });
  }

  /** To the group or the unicast peers; with `to` (a yield notice), to that router alone. */
  private sendAdvert(priority: number, to: string | undefined): void {
    const source = this.core.cfg.primary.address;
    for (const dst of to === undefined ? this.destinations : [to]) {
      const payload = this.adverts.get(this.cfg, priority, source, dst);
      this.transmit(dst, this.signer?.sign(payload, source) ?? payload);
    }
  }

  /** A CARP advert as ucarp builds it: HMAC over the first VIP and the next counter value. */
  private sendCarp(timing: CarpTiming): void {
    const cfg = this.cfg;
    if (cfg.carp === null) return;
    this.carpCounter = BigInt.asUintN(64, this.carpCounter + 1n);
    const payload = encodeCarp({
      vhid: cfg.vrid,
      ...timing,
      counter: this.carpCounter,
      password: cfg.carp.password,
      vip: cfg.vips[0]?.address ?? '',
    });
    this.transmit(CARP_GROUP, payload);
  }

  private transmit(dst: string, payload: Buffer): void {
    const sending = this.deps.link.send(dst, payload).then(
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
