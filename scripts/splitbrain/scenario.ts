/**
 * The split-brain scenario, independent of where the boxes run: start the firewalls, wait for
 * one agreed master, cut one box's election traffic (or its link) for a while, heal, wait for
 * the cluster to agree again; as many cycles as asked; then summarise.
 *
 * It talks to the boxes only through `Cluster` (network namespaces in netns.ts, Docker
 * containers in docker.ts). Who was master comes from vipd's own transition log lines; where
 * the VIP is and what the client's ARP entry names are sampled every 100 ms. "Agreed" means
 * exactly one master, the VIP on that box only and the client's ARP entry on its MAC; a phase
 * has converged once that has held for `HOLD_MS` (three adverts), and its convergence time runs
 * to the first sample of that stable stretch. vipd's split-brain/one-way-loss events are
 * narrated and listed when present, never used for the figures (they may not exist yet).
 */
import {
  agreedWinner,
  firstOverlap,
  masterIntervals,
  mastersAt,
  overlapMs,
  parseLogLine,
  pingStats,
  sampledIntervals,
  settledSince,
  type Interval,
  type NotableEvent,
  type PingStats,
  type Sample,
  type Transition,
} from './analysis.js';

export const VIP = '10.99.0.100';
export const VIP_CIDR = `${VIP}/24`;
export const INSTANCE = 'VI_1';
export const VRID = 51;
export const UDP_PORT = 11200;
export const ADVERT_INTERVAL_S = 1;

export type CutMode = 'proto' | 'link' | 'oneway';
export const CUT_MODES: readonly CutMode[] = ['proto', 'link', 'oneway'];
export type Transport = 'raw' | 'udp';

export interface BoxSpec {
  name: string;
  priority: number;
}

/** The firewalls, best first; the third only with --fw3. Docker's compose file mirrors these. */
export const FIREWALLS: readonly BoxSpec[] = [
  { name: 'fw1', priority: 150 },
  { name: 'fw2', priority: 100 },
  { name: 'fw3', priority: 50 },
];

/**
 * What the scenario needs from wherever the boxes run. One instance per firewall (`INSTANCE`,
 * VRID `VRID`, VIP `VIP_CIDR`, VRRPv3, advert `ADVERT_INTERVAL_S`, the driver's transport), a
 * client on the same LAN.
 */
export interface Cluster {
  readonly boxes: readonly BoxSpec[];
  /** The MAC of each box's LAN interface, to name what the client's ARP entry points at. */
  macs(): Promise<Map<string, string>>;
  /** Starts vipd on the box; resolves once it is launched (not elected). */
  start(box: BoxSpec): Promise<void>;
  /** Starts the client pinging the VIP every 200 ms (keeps its ARP entry in use). */
  startClientTraffic(): Promise<void>;
  /** The client's `ping -D -O` output so far. */
  clientTraffic(): readonly string[];
  /**
   * proto: `box` and the others stop hearing each other's adverts, clients still reach every
   * box; oneway: the others stop hearing `box`, it still hears them; link: `box` is unplugged.
   */
  cut(box: string, mode: CutMode): Promise<void>;
  /** Undoes the last cut. */
  heal(): Promise<void>;
  /** The boxes with the VIP on their LAN interface now. */
  vipHolders(): Promise<string[]>;
  /** The MAC the client's ARP entry for the VIP holds now, if it has one. */
  clientArp(): Promise<string | undefined>;
  /** vipd's log lines (pino JSON) on the box so far, oldest first. */
  logLines(box: string): readonly string[];
  /** Whether vipd on a started box still runs (a run whose daemon died measures nothing). */
  vipdRunning(box: string): boolean;
  /** Stops everything the driver started. */
  close(): Promise<void>;
}

export interface ScenarioOptions {
  mode: CutMode;
  transport: Transport;
  /** The box that is cut off; the best one, so the split has a master on each side. */
  cutBox: string;
  splitSeconds: number;
  cycles: number;
  driver: string;
  /** Epoch ms the summary's times count from (the caller's timeline zero); default now. */
  t0?: number;
}

/** Prints one timeline line for something that happened at `time` (epoch ms). */
export type Narrate = (time: number, text: string) => void;

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

const SAMPLE_MS = 100;
const HOLD_MS = 3 * ADVERT_INTERVAL_S * 1000;
const CONVERGE_TIMEOUT_MS = 30_000;

/** [from, to) in ms since the run started; `to` null when still open at the end. */
export interface RelInterval {
  from: number;
  to: number | null;
}

export interface CycleSummary {
  cycle: number;
  cutAt: number;
  healAt: number;
  /** Cut to heal, as the scenario applied them. */
  splitMs: number;
  /** Cut to the moment a second master appeared (by the logs), if one did. */
  secondMasterAfterMs: number | null;
  /** Between the cut and convergence (or the end): time with two or more masters (logs)... */
  twoMastersMs: number;
  /** ...and with the VIP on two or more boxes (samples). */
  vipOnTwoMs: number;
  /** How often the client's ARP entry changed box in that window. */
  arpChanges: number;
  convergedAt: number | null;
  /** Heal to agreement (one master, VIP there only, client ARP on it); null if it never came. */
  convergenceMs: number | null;
  winner: string | null;
}

export interface EventSummary {
  at: number;
  box: string;
  event: string;
  fields: Record<string, unknown>;
}

export interface Summary {
  driver: string;
  mode: CutMode;
  transport: Transport;
  splitSeconds: number;
  cutBox: string;
  startedAt: string;
  endedAt: number;
  boxes: (BoxSpec & { mac: string })[];
  initialMaster: { box: string; agreedAt: number } | null;
  masters: Record<string, RelInterval[]>;
  vip: Record<string, RelInterval[]>;
  arp: Record<string, RelInterval[]>;
  cycles: CycleSummary[];
  events: EventSummary[];
  /** How the samples actually came: the 100 ms period stretches when the machine is busy. */
  sampling: { count: number; medianGapMs: number; maxGapMs: number };
  ping: Omit<PingStats, 'longestGapFrom'> & { longestGapFrom: number | null };
  final: { masters: string[]; vip: string[]; arp: string; winner: string | null };
  converged: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const describeSet = (boxes: readonly string[]): string =>
  boxes.length === 0 ? 'nobody' : boxes.join(' and ');

/**
 * Samples the cluster every SAMPLE_MS and reads new log lines, narrating what changed (log
 * lines at their logged time, samples at theirs, each batch in time order).
 */
class Observer {
  readonly samples: Sample[] = [];
  readonly transitions: Transition[] = [];
  readonly events: NotableEvent[] = [];
  private readonly consumed = new Map<string, number>();
  private running = true;
  /** Set when a box's vipd stopped: every later wait fails with it. */
  private died: ScenarioError | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly cluster: Cluster,
    private readonly macToBox: Map<string, string>,
    private readonly narrate: Narrate,
  ) {
    this.loop = this.run();
  }

  get boxNames(): string[] {
    return this.cluster.boxes.map((b) => b.name);
  }

  mastersNow(at = Date.now()): string[] {
    return mastersAt(this.boxNames, this.transitions, at);
  }

  last(): Sample | undefined {
    return this.samples.at(-1);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const time = Date.now();
      const [vip, mac] = await Promise.all([this.cluster.vipHolders(), this.cluster.clientArp()]);
      const news: { time: number; text: string }[] = this.readLogs();
      const sample: Sample = { time, vip, arp: this.boxOf(mac) };
      const prev = this.samples.at(-1);
      if (prev === undefined || prev.vip.join() !== vip.join()) {
        news.push({ time, text: `VIP ${VIP} on ${describeSet(vip)}` });
      }
      if (prev === undefined || prev.arp !== sample.arp) {
        news.push({ time, text: `client ARP for ${VIP} -> ${sample.arp}` });
      }
      this.samples.push(sample);
      const dead = this.boxNames.find((b) => !this.cluster.vipdRunning(b));
      if (dead !== undefined && this.died === undefined) {
        news.push({ time, text: `${dead}: vipd is not running any more` });
        this.died = new ScenarioError(
          `vipd on ${dead} stopped during the run; its last lines:\n  ${this.cluster.logLines(dead).slice(-8).join('\n  ')}`,
        );
      }
      for (const n of news.sort((a, b) => a.time - b.time)) this.narrate(n.time, n.text);
      await sleep(Math.max(0, time + SAMPLE_MS - Date.now()));
    }
  }

  private boxOf(mac: string | undefined): string {
    if (mac === undefined) return 'none';
    return this.macToBox.get(mac.toLowerCase()) ?? mac;
  }

  private readLogs(): { time: number; text: string }[] {
    const news: { time: number; text: string }[] = [];
    for (const box of this.boxNames) {
      const lines = this.cluster.logLines(box);
      for (let i = this.consumed.get(box) ?? 0; i < lines.length; i += 1) {
        const parsed = parseLogLine(box, lines[i] ?? '');
        if (parsed.kind === 'transition' && parsed.transition.instance === INSTANCE) {
          const t = parsed.transition;
          this.transitions.push(t);
          const peer = t.peer === undefined ? '' : `, peer ${t.peer} prio ${t.peerPriority}`;
          news.push({ time: t.time, text: `${box}: ${t.from} -> ${t.to} (${t.reason}${peer})` });
        } else if (parsed.kind === 'notable') {
          this.events.push(parsed.event);
          news.push({
            time: parsed.event.time,
            text: `${box}: event ${parsed.event.event} ${JSON.stringify(parsed.event.fields)}`,
          });
        }
      }
      this.consumed.set(box, lines.length);
    }
    return news;
  }

  /**
   * Waits until the cluster has agreed on one winner for HOLD_MS, counting only samples from
   * `from` on; resolves with when that agreement began, or undefined after `timeoutMs`.
   */
  async settled(
    from: number,
    timeoutMs: number,
  ): Promise<{ time: number; winner: string } | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.died !== undefined) throw this.died;
      const since = settledSince(this.boxNames, this.transitions, this.samples, from);
      const last = this.samples.at(-1);
      if (since !== undefined && last !== undefined && last.time - since.time >= HOLD_MS) {
        return since;
      }
      if (Date.now() > deadline) return undefined;
      await sleep(SAMPLE_MS / 2);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Fails if a vipd died during the run. */
  check(): void {
    if (this.died !== undefined) throw this.died;
  }
}

const rel =
  (t0: number) =>
  (intervals: Map<string, Interval[]>): Record<string, RelInterval[]> =>
    Object.fromEntries(
      [...intervals].map(([key, list]) => [
        key,
        list.map((iv) => ({ from: iv.start - t0, to: iv.end === undefined ? null : iv.end - t0 })),
      ]),
    );

export async function runScenario(
  cluster: Cluster,
  opts: ScenarioOptions,
  narrate: Narrate,
): Promise<Summary> {
  const t0 = opts.t0 ?? Date.now();
  const say = (text: string): void => narrate(Date.now(), text);
  await cluster.startClientTraffic();
  say(`client pings ${VIP} every 200 ms`);
  for (const box of cluster.boxes) await cluster.start(box);
  say(
    `vipd started on ${cluster.boxes.map((b) => b.name).join(', ')} (${INSTANCE}, VRID ${VRID}, VRRPv3, advert ${ADVERT_INTERVAL_S} s, ${opts.transport})`,
  );
  // After start: a container has no interface (no MAC) before it runs. Transitions logged
  // meanwhile are not lost, the observer reads each log from its first line.
  const macs = await cluster.macs();
  const macToBox = new Map([...macs].map(([box, mac]) => [mac.toLowerCase(), box]));
  say(
    `boxes: ${cluster.boxes.map((b) => `${b.name} prio ${b.priority} ${macs.get(b.name) ?? '?'}`).join(', ')}`,
  );
  const observer = new Observer(cluster, macToBox, narrate);
  const cycles: CycleSummary[] = [];
  let initialMaster: Summary['initialMaster'] = null;
  try {
    const initial = await observer.settled(t0, CONVERGE_TIMEOUT_MS);
    if (initial === undefined) {
      const tails = cluster.boxes.map(
        (b) => `${b.name}:\n  ${cluster.logLines(b.name).slice(-5).join('\n  ')}`,
      );
      throw new ScenarioError(
        `no agreed master within ${CONVERGE_TIMEOUT_MS / 1000} s (masters ${describeSet(observer.mastersNow())}, last sample ${JSON.stringify(observer.last())}); last log lines:\n${tails.join('\n')}`,
      );
    }
    initialMaster = { box: initial.winner, agreedAt: initial.time - t0 };
    say(`--- agreed: ${initial.winner} is master, holds the VIP, the client's ARP names it ---`);

    for (let cycle = 1; cycle <= opts.cycles; cycle += 1) {
      await cluster.cut(opts.cutBox, opts.mode);
      const cutAt = Date.now();
      say(`--- cycle ${cycle}: CUT ${opts.cutBox} (${describeCut(opts)}) ---`);
      await sleep(opts.splitSeconds * 1000);
      await cluster.heal();
      const healAt = Date.now();
      say(`--- cycle ${cycle}: HEAL after ${((healAt - cutAt) / 1000).toFixed(2)} s ---`);
      const agreed = await observer.settled(healAt, CONVERGE_TIMEOUT_MS);
      if (agreed === undefined) {
        say(`not converged ${CONVERGE_TIMEOUT_MS / 1000} s after the heal`);
      } else {
        say(
          `--- converged on ${agreed.winner} ${((agreed.time - healAt) / 1000).toFixed(2)} s after the heal ---`,
        );
      }
      cycles.push(cycleFigures(observer, { cycle, cutAt, healAt, agreed, t0 }));
    }
  } finally {
    await observer.stop();
  }
  observer.check();

  const endedAt = Date.now();
  const names = observer.boxNames;
  const last = observer.last();
  const finalMasters = observer.mastersNow(endedAt);
  const winner = last === undefined ? undefined : agreedWinner(finalMasters, last);
  const ping = pingStats(cluster.clientTraffic(), endedAt);
  return {
    driver: opts.driver,
    mode: opts.mode,
    transport: opts.transport,
    splitSeconds: opts.splitSeconds,
    cutBox: opts.cutBox,
    startedAt: new Date(t0).toISOString(),
    endedAt: endedAt - t0,
    boxes: cluster.boxes.map((b) => ({ ...b, mac: macs.get(b.name) ?? '?' })),
    initialMaster,
    masters: rel(t0)(masterIntervals(names, observer.transitions)),
    vip: rel(t0)(sampledIntervals(observer.samples, (s) => s.vip)),
    arp: rel(t0)(sampledIntervals(observer.samples, (s) => [s.arp])),
    cycles,
    events: observer.events.map((e) => ({
      at: e.time - t0,
      box: e.box,
      event: e.event,
      fields: e.fields,
    })),
    sampling: samplingStats(observer.samples),
    ping: {
      ...ping,
      longestGapFrom: ping.longestGapFrom === undefined ? null : ping.longestGapFrom - t0,
    },
    final: {
      masters: finalMasters,
      vip: last?.vip ?? [],
      arp: last?.arp ?? 'none',
      winner: winner ?? null,
    },
    converged: winner !== undefined,
  };
}

function samplingStats(samples: readonly Sample[]): Summary['sampling'] {
  const gaps = samples
    .slice(1)
    .map((s, i) => s.time - (samples[i]?.time ?? s.time))
    .sort((a, b) => a - b);
  return {
    count: samples.length,
    medianGapMs: gaps[Math.floor(gaps.length / 2)] ?? 0,
    maxGapMs: gaps.at(-1) ?? 0,
  };
}

function describeCut(opts: ScenarioOptions): string {
  const what = opts.transport === 'udp' ? `UDP port ${UDP_PORT}` : 'VRRP (IP protocol 112)';
  switch (opts.mode) {
    case 'proto':
      return `${what} dropped both ways between ${opts.cutBox} and the others; clients still reach every box`;
    case 'oneway':
      return `${what} from ${opts.cutBox} dropped: the others stop hearing it, it still hears them`;
    case 'link':
      return `link down: ${opts.cutBox}'s switch port is down, nothing passes`;
  }
}

function cycleFigures(
  observer: Observer,
  c: {
    cycle: number;
    cutAt: number;
    healAt: number;
    agreed: { time: number; winner: string } | undefined;
    t0: number;
  },
): CycleSummary {
  const window = { start: c.cutAt, end: c.agreed?.time ?? Date.now() };
  const masters = masterIntervals(observer.boxNames, observer.transitions);
  // From the last sample before the cut (the agreed state) to the agreeing one, inclusive.
  const firstIn = observer.samples.findIndex((s) => s.time >= window.start);
  const inWindow = observer.samples
    .slice(Math.max(0, firstIn - 1))
    .filter((s) => s.time <= window.end);
  const second = firstOverlap(masters, 2, window);
  return {
    cycle: c.cycle,
    cutAt: c.cutAt - c.t0,
    healAt: c.healAt - c.t0,
    splitMs: c.healAt - c.cutAt,
    secondMasterAfterMs: second === undefined ? null : second - c.cutAt,
    twoMastersMs: overlapMs(masters, 2, window),
    vipOnTwoMs: overlapMs(
      sampledIntervals(observer.samples, (s) => s.vip),
      2,
      window,
    ),
    arpChanges: inWindow.filter((s, i) => i > 0 && inWindow[i - 1]?.arp !== s.arp).length,
    convergedAt: c.agreed === undefined ? null : c.agreed.time - c.t0,
    convergenceMs: c.agreed === undefined ? null : c.agreed.time - c.healAt,
    winner: c.agreed?.winner ?? null,
  };
}
