/**
 * vipd speaking CARP with Debian's ucarp 1.5.2 on one vhid, on a lab bridge. The better box
 * (advskew 0) is fw1, the worse (advskew 50) fw2; vipd is either, ucarp the other, and a pair of
 * ucarps runs the same cases as the reference. Every box runs ucarp-style scripts (vipd as its
 * hooks) that add/remove VIP/32 and record the call, so each step checks which box ran which
 * script and that the VIP ends on exactly one box.
 *
 * - election: the lower skew is master, the other backup past its master-down interval;
 * - a crash of the master (SIGSTOP, then SIGKILL): the backup takes over after CARP's master-down
 *   interval (deadRatio x advbase + its advskew/256 s); the crashed box, back with preemption,
 *   takes over again at once;
 * - a graceful stop of the master: vipd's last advert (advbase 255, advskew 255) makes ucarp take
 *   over at once; ucarp sends nothing on SIGTERM, so its backup waits out the master-down
 *   interval; the stopped box, back without preemption, stays backup;
 * - a wrong password: each side drops the other's adverts (vipd counts them as `carp-auth`, ucarp
 *   logs "Bad digest") and both end master, each alone;
 * - equal advskew: two masters meeting keep the one ucarp keeps (the lower source address as a
 *   little-endian u32), whichever side runs vipd;
 * - the rolling migration of a ucarp pair to `vipd ucarp` box by box under a client's pings:
 *   with the same command lines (the stopped ucarp master leaves a master-down gap), and with
 *   the lower -k on the first vipd box (it preempts the ucarp master, which then stops as backup).
 *
 * A killed daemon leaves the VIP on its box, as a crashed box does until it reboots: the test
 * "reboots" it (removes the address) before counting holders again.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Lab, LabProcess } from '../lab/lab.js';
import { instanceStatus } from '../support/control.js';
import { useLab, type LabFixture } from '../support/lab-fixture.js';
import {
  CARP_VIP as VIP,
  ScriptRecord,
  startUcarp,
  ucarpArgs,
  UCARP_PACKET_ERRORS,
  vipdCarpConfig,
  type Ucarp,
  type UcarpOptions,
} from '../support/ucarp.js';
import { until } from '../support/until.js';
import { controlSocket, startVipdWith, transitions } from '../support/vipd.js';
import { VIPD_CLI } from '../support/paths.js';

type Host = 'fw1' | 'fw2';
type Kind = 'vipd' | 'ucarp';
type State = 'init' | 'backup' | 'master';

const BETTER = 0;
const WORSE = 50;
/** The worse box's master-down interval: 3 x 1 s + 50/256 s. */
const DEAD_MS = 3_000 + (WORSE / 256) * 1_000;
/** Slack for a loaded 2-core machine on top of a protocol bound. */
const MARGIN_MS = 2_500;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The VIP comes to be on exactly `want`: a daemon's scripts run after it logs its new state. */
const vipOn = (lab: Lab, want: Host[]): Promise<string[]> =>
  until(
    `the VIP on ${want.join(' and ')}`,
    async () => {
      const on = await lab.holders(VIP, ['fw1', 'fw2']);
      return { done: on.join() === want.join(), value: on };
    },
    5_000,
  );

/** One side of the pair, vipd or ucarp on a host, started and stopped as a test needs. */
interface Box {
  readonly kind: Kind;
  readonly host: Host;
  start(o: UcarpOptions): void;
  /** Log lines so far: a mark for `waitFor` to look after. */
  mark(): number;
  waitFor(state: 'master' | 'backup', timeoutMs: number, from?: number): Promise<void>;
  /** Every state it entered since its (last) start, and the last. */
  entered(): State[];
  state(): State;
  /** SIGSTOP, then SIGKILL: nothing runs between the signal and its death. */
  crash(): Promise<void>;
  /** SIGTERM, waited for. */
  stop(): Promise<void>;
  /** What its start adds to the script record: vipd runs its down script as it starts as
   * backup (as ucarp does without -n); ucarp runs here with -n, so nothing. */
  readonly startCalls: string[];
}

class VipdBox implements Box {
  readonly kind = 'vipd';
  private proc: LabProcess | undefined;

  constructor(
    readonly host: Host,
    private readonly fx: LabFixture,
    private readonly record: () => ScriptRecord,
  ) {}

  get startCalls(): string[] {
    return [`down ${this.host}`];
  }

  get process(): LabProcess {
    if (this.proc === undefined) throw new Error(`vipd on ${this.host} was not started`);
    return this.proc;
  }

  start(o: UcarpOptions): void {
    const config = vipdCarpConfig(this.host, this.record(), o);
    this.proc = this.fx.track(startVipdWith(this.fx.lab, this.host, config));
  }

  mark(): number {
    return this.process.lines.length;
  }

  async waitFor(state: 'master' | 'backup', timeoutMs: number, from = 0): Promise<void> {
    await this.process.waitForLine(new RegExp(`"to":"${state}"`), timeoutMs, from);
  }

  entered(): State[] {
    return transitions(this.process).map((t) => t.to as State);
  }

  state(): State {
    return this.entered().at(-1) ?? 'init';
  }

  async crash(): Promise<void> {
    this.process.kill('SIGSTOP');
    this.process.kill('SIGKILL');
    await this.process.exited;
  }

  async stop(): Promise<void> {
    this.process.kill('SIGTERM');
    expect(await this.process.exited).toBe(0);
  }
}

class UcarpBox implements Box {
  readonly kind = 'ucarp';
  readonly startCalls: string[] = [];
  private daemon: Ucarp | undefined;

  constructor(
    readonly host: Host,
    private readonly fx: LabFixture,
    private readonly record: () => ScriptRecord,
  ) {}

  get ucarp(): Ucarp {
    if (this.daemon === undefined) throw new Error(`ucarp on ${this.host} was not started`);
    return this.daemon;
  }

  start(o: UcarpOptions): void {
    this.daemon = startUcarp(this.fx.lab, this.host, this.record(), o);
    this.fx.track(this.daemon.proc);
  }

  mark(): number {
    return this.ucarp.proc.lines.length;
  }

  async waitFor(state: 'master' | 'backup', timeoutMs: number, from = 0): Promise<void> {
    await this.ucarp.waitForState(state === 'master' ? 'MASTER' : 'BACKUP', timeoutMs, from);
  }

  entered(): State[] {
    const names = { INIT: 'init', BACKUP: 'backup', MASTER: 'master' } as const;
    return this.ucarp.states().map((s) => names[s]);
  }

  state(): State {
    return this.entered().at(-1) ?? 'init';
  }

  crash(): Promise<void> {
    return this.ucarp.crash();
  }

  stop(): Promise<void> {
    return this.ucarp.stop();
  }
}

describe('vipd (CARP) and ucarp 1.5.2 on one vhid', () => {
  const fx = useLab(['fw1', 'fw2']);
  let record: ScriptRecord | undefined;
  const rec = (): ScriptRecord => {
    record ??= new ScriptRecord(fx.lab);
    return record;
  };
  const box = (kind: Kind, host: Host): Box =>
    kind === 'vipd' ? new VipdBox(host, fx, rec) : new UcarpBox(host, fx, rec);

  beforeEach(() => rec().reset());

  /** Holders of the VIP now. */
  const holders = (): Promise<string[]> => fx.lab.holders(VIP, ['fw1', 'fw2']);

  /**
   * The VIP comes to be on `host` only and stays so for an advert interval and more, and until
   * `quiet` (a wait of the caller's, running meanwhile) is over.
   */
  async function onlyHolder(host: Host, quiet: Promise<void> = Promise.resolve()): Promise<void> {
    await Promise.all([quiet, vipOn(fx.lab, [host]).then(() => sleep(1_500))]);
    expect(await holders()).toEqual([host]);
  }

  /** The script calls from call `from` on, once there are `n` of them ("up fw1", ...). */
  const calls = (from: number, n: number): Promise<string[]> =>
    until(
      `${n} script calls`,
      async () => {
        const got = rec().since(from);
        return { done: got.length >= n, value: got };
      },
      5_000,
    );
  const callCount = (): number => rec().since(0).length;
  /**
   * The calls from `from` on are `inOrder`, then `anyOrder` in any order (two boxes running
   * their scripts at the same time).
   */
  async function expectCalls(
    from: number,
    inOrder: string[],
    anyOrder: string[] = [],
  ): Promise<void> {
    const got = await calls(from, inOrder.length + anyOrder.length);
    expect({
      inOrder: got.slice(0, inOrder.length),
      anyOrder: got.slice(inOrder.length).sort(),
    }).toEqual({
      inOrder,
      anyOrder: [...anyOrder].sort(),
    });
  }

  /** Does `act` and measures (and logs) the time until the VIP appears on `host`. */
  async function timeToVip(
    host: Host,
    act: () => Promise<void>,
    what: string,
    timeoutMs = DEAD_MS + MARGIN_MS,
  ): Promise<number> {
    const appeared = await fx.lab.watchAddress(host, VIP);
    const t0 = performance.now();
    await act();
    const ms = (await appeared(timeoutMs)) - t0;
    console.log(`[measure] carp: ${what} holds the VIP: ${ms.toFixed(0)} ms`);
    return ms;
  }

  /** A crashed box reboots: what its daemon had put in place is gone. */
  async function reboot(b: Box): Promise<void> {
    await fx.lab.exec(b.host, 'ip', ['addr', 'flush', 'dev', 'eth0', 'to', `${VIP}/32`]);
  }

  /** Neither side dropped the other's packets (ucarp's log, vipd's counters). */
  async function cleanWire(...pair: Box[]): Promise<void> {
    for (const b of pair) {
      if (b instanceof UcarpBox) {
        expect(b.ucarp.proc.lines.filter((l) => UCARP_PACKET_ERRORS.test(l))).toEqual([]);
      } else if (b instanceof VipdBox && b.process.running) {
        expect((await instanceStatus(fx.lab, b.host))?.counters.rejected).toEqual({});
      }
    }
  }

  /** `better` (advskew 0) master first, then `worse` (advskew 50), which stays backup. */
  async function converge(better: Box, worse: Box, preempt: boolean): Promise<void> {
    better.start({ advskew: BETTER, preempt });
    await better.waitFor('master', 10_000);
    worse.start({ advskew: WORSE, preempt });
    await worse.waitFor('backup', 10_000);
    // Past its master-down interval: had it not accepted the master's adverts, it would be master.
    await onlyHolder(better.host, sleep(DEAD_MS + 500));
    expect(worse.entered()).toEqual(['backup']);
  }

  describe.each([
    ['vipd', 'ucarp'],
    ['ucarp', 'vipd'],
    ['ucarp', 'ucarp'],
  ] as const)('%s advskew 0 on fw1, %s advskew 50 on fw2', (b, w) => {
    const better = box(b, 'fw1');
    const worse = box(w, 'fw2');

    it(`${b} is master and ${w} backup: the VIP and the up script on fw1 only`, async () => {
      await converge(better, worse, false);
      expect(better.entered()).toEqual(['backup', 'master']);
      await expectCalls(0, [...better.startCalls, 'up fw1', ...worse.startCalls]);
      for (const v of [better, worse].filter((x) => x instanceof VipdBox)) {
        const status = await instanceStatus(fx.lab, v.host);
        expect(status?.state).toBe(v === better ? 'master' : 'backup');
        // A vipd backup knows the ucarp master by its address.
        if (v === worse) expect(status?.master).toBe(fx.lab.host('fw1').address);
        if (v === worse) expect(status?.counters.advertsReceived).toBeGreaterThan(0);
      }
      await cleanWire(better, worse);
    });

    it(`${w} takes over within the master-down interval when ${b} crashes; ${b} back with preemption takes over at once`, async () => {
      await converge(better, worse, true);
      const before = callCount();
      const ms = await timeToVip('fw2', () => better.crash(), `${b} master crashed -> ${w}`);
      // The last advert left at most advbase + 0/256 s before the crash.
      expect(ms).toBeGreaterThan(DEAD_MS - 1_000 - 300);
      await worse.waitFor('master', 2_000);
      await expectCalls(before, ['up fw2']);
      await reboot(better);
      await onlyHolder('fw2');

      // Back with preemption: it hears a worse master and takes over without waiting it out.
      const mark = worse.mark();
      const restart = callCount();
      await timeToVip(
        'fw1',
        async () => better.start({ advskew: BETTER, preempt: true }),
        `${b} restarted with preemption (from its start)`,
        // Without preemption it would never take over: the time only has to cover a start.
        10_000,
      );
      await worse.waitFor('backup', 5_000, mark);
      await onlyHolder('fw1');
      await expectCalls(restart, better.startCalls, ['down fw2', 'up fw1']);
      await cleanWire(better, worse);
    });

    const fast = b === 'vipd' && w === 'ucarp';
    it(`graceful stop of the ${b} master: ${w} takes over ${fast ? 'at once (advbase 255)' : 'after the master-down interval'}; ${b} back without preemption stays backup`, async () => {
      await converge(better, worse, false);
      const before = callCount();
      const ms = await timeToVip(
        'fw2',
        () => better.stop(),
        `${b} master stopped (SIGTERM) -> ${w}`,
      );
      if (better instanceof VipdBox && worse instanceof UcarpBox) {
        // ucarp treats a master advertising every 255 s as dead at once, once it reads the
        // advert: its capture (libpcap, 1 s timeout) hands packets over up to 1 s late. Still
        // well under the 2.2 s at least that waiting out the master-down interval would take.
        expect(ms).toBeLessThan(1_800);
        await worse.ucarp.proc.waitForLine(/Putting MASTER DOWN \(going to time out\)/, 2_000);
      } else if (better instanceof UcarpBox) {
        // ucarp exits without a word: the backup waits out the interval from its last advert.
        expect(ms).toBeGreaterThan(DEAD_MS - 1_000 - 300);
      }
      await worse.waitFor('master', 2_000);
      await onlyHolder('fw2');
      await expectCalls(before, [], ['down fw1', 'up fw2']);

      // Back without preemption: it hears the worse master and leaves it be.
      const after = callCount();
      better.start({ advskew: BETTER, preempt: false });
      await better.waitFor('backup', 10_000);
      await onlyHolder('fw2', sleep(DEAD_MS + 1_500));
      expect(better.entered()).toEqual(['backup']);
      expect(worse.state()).toBe('master');
      expect(rec().since(after)).toEqual(better.startCalls);
      await cleanWire(better, worse);
    });
  });

  it('a wrong password: each side drops the other adverts (carp-auth, "Bad digest") and both are master, each alone', async () => {
    const vipd = new VipdBox('fw1', fx, rec);
    const ucarp = new UcarpBox('fw2', fx, rec);
    vipd.start({ advskew: BETTER, password: 'not-the-same', preempt: true });
    ucarp.start({ advskew: WORSE, preempt: true });
    await vipd.waitFor('master', 10_000);
    await ucarp.waitFor('master', 10_000);
    // Five more advert intervals of each side ignoring the other (ucarp's 1.2 s apart).
    await sleep(6_000);
    expect(await holders()).toEqual(['fw1', 'fw2']);
    expect(vipd.entered()).toEqual(['backup', 'master']);
    expect(ucarp.entered()).toEqual(['backup', 'master']);
    const counters = (await instanceStatus(fx.lab, 'fw1'))?.counters;
    console.log(
      `[measure] carp wrong password: vipd rejected ${JSON.stringify(counters?.rejected)}, received ${counters?.advertsReceived}; ucarp Bad digest ${ucarp.ucarp.badDigests()}`,
    );
    expect(counters?.rejected['carp-auth']).toBeGreaterThanOrEqual(4);
    expect(Object.keys(counters?.rejected ?? {})).toEqual(['carp-auth']);
    expect(counters?.advertsReceived).toBe(0);
    expect(ucarp.ucarp.badDigests()).toBeGreaterThanOrEqual(4);
    // A ucarp master says so when it hears another master: it never did.
    expect(ucarp.ucarp.proc.lines.filter((l) => /master advertis/i.test(l))).toEqual([]);
  });
});

describe('vipd (CARP) and ucarp 1.5.2 with equal advskew: the tie goes as ucarp breaks it', () => {
  const fx = useLab(['fw1', 'fw2']);
  // ucarp compares the source addresses as the raw in_addr u32, little-endian on x86: the last
  // octet weighs most. 10.99.1.1 is then the lower (0x0101630a < 0x0200630a) and wins, where
  // network order would pick 10.99.0.2.
  const address = { fw1: '10.99.1.1', fw2: '10.99.0.2' } as const;
  let record: ScriptRecord | undefined;
  const rec = (): ScriptRecord => {
    record ??= new ScriptRecord(fx.lab);
    return record;
  };

  beforeAll(async () => {
    for (const host of ['fw1', 'fw2'] as const) {
      await fx.lab.exec(host, 'ip', ['addr', 'flush', 'dev', 'eth0']);
      await fx.lab.exec(host, 'ip', ['addr', 'add', `${address[host]}/16`, 'dev', 'eth0']);
    }
  });
  beforeEach(() => rec().reset());

  it.each([
    ['vipd', 'ucarp'],
    ['ucarp', 'vipd'],
  ] as const)(
    '%s on fw1 (10.99.1.1) and %s on fw2 (10.99.0.2), both master while cut apart: fw2 yields once they hear each other',
    async (k1, k2) => {
      const make = (kind: Kind, host: Host): Box =>
        kind === 'vipd' ? new VipdBox(host, fx, rec) : new UcarpBox(host, fx, rec);
      const fw1 = make(k1, 'fw1');
      const fw2 = make(k2, 'fw2');
      const o = (host: Host): UcarpOptions => ({ advskew: 20, source: address[host] });
      fw2.start(o('fw2'));
      await fw2.waitFor('master', 10_000);
      const heal = await fx.lab.cutElection('fw1');
      fw1.start(o('fw1'));
      await fw1.waitFor('master', 10_000);
      await vipOn(fx.lab, ['fw1', 'fw2']);
      const t0 = performance.now();
      const mark = fw2.mark();
      await heal();
      await fw2.waitFor('backup', DEAD_MS, mark);
      console.log(
        `[measure] carp tie: ${k2} on fw2 yields to ${k1} on fw1 ${(performance.now() - t0).toFixed(0)} ms after the cut healed`,
      );
      // No flapping after: past a master-down interval both stay put.
      await sleep(DEAD_MS);
      expect(fw1.entered()).toEqual(['backup', 'master']);
      expect(fw2.entered()).toEqual(['backup', 'master', 'backup']);
      expect(await fx.lab.holders(VIP, ['fw1', 'fw2'])).toEqual(['fw1']);
    },
  );
});

/** An advert as tcpdump printed it crossing the switch. */
interface WireAdvert {
  /** Epoch ms. */
  at: number;
  source: string;
  advbase: number;
  advskew: number;
}

function parseAdverts(lines: string[]): WireAdvert[] {
  return lines.flatMap((l) => {
    const m =
      /^(\d+\.\d+) IP (\S+) > 224\.0\.0\.18: CARPv2-advertise 36: vhid=\d+ advbase=(\d+) advskew=(\d+)/.exec(
        l,
      );
    if (m === null) return [];
    return [
      { at: Number(m[1]) * 1000, source: m[2] ?? '', advbase: Number(m[3]), advskew: Number(m[4]) },
    ];
  });
}

/**
 * The longest time two sources were both advertising as master: a source claims from one advert
 * to its next while they come at most `gapMs` apart (a master's rhythm); a last advert of
 * advbase 255 (vipd stepping down) claims nothing.
 */
function longestDoubleClaim(adverts: WireAdvert[], gapMs: number): number {
  const claims = new Map<string, [number, number][]>();
  const last = new Map<string, number>();
  for (const a of adverts) {
    if (a.advbase === 255) continue;
    const prev = last.get(a.source);
    last.set(a.source, a.at);
    if (prev === undefined || a.at - prev > gapMs) continue;
    claims.set(a.source, [...(claims.get(a.source) ?? []), [prev, a.at]]);
  }
  let longest = 0;
  const sources = [...claims.keys()];
  for (const [i, s] of sources.entries()) {
    for (const t of sources.slice(i + 1)) {
      for (const [a1, b1] of claims.get(s) ?? []) {
        for (const [a2, b2] of claims.get(t) ?? []) {
          longest = Math.max(longest, Math.min(b1, b2) - Math.max(a1, a2));
        }
      }
    }
  }
  return longest;
}

/** Reply times (epoch ms) from `ping -D` output, and its count of packets sent. */
function pingReplies(lines: string[]): { replies: number[]; sent: number } {
  const replies = lines.flatMap((l) => {
    const m = /^\[(\d+\.\d+)\] \d+ bytes from /.exec(l);
    return m === null ? [] : [Number(m[1]) * 1000];
  });
  const sent = Number(/(\d+) packets transmitted/.exec(lines.join('\n'))?.[1] ?? 0);
  return { replies, sent };
}

describe('rolling migration of a ucarp pair to vipd, one box at a time, under a client', () => {
  const fx = useLab(['fw1', 'fw2', 'client']);

  /** What a migration's steps report back to the shared checks. */
  interface StepsDone {
    /** The preemption: from the step that starts it to the VIP being on the new master only. */
    preempt: { from: number; to: number; by: Host };
    /** The box holding the VIP at the end, alone since `zero`. */
    last: Host;
    /** The moment the log's times count from, and what it is. */
    zero: { at: number; what: string };
  }

  interface Migration {
    /** The pair as it runs before: each box's ucarp command line (both with -P and -z). */
    ucarp: Record<Host, UcarpOptions>;
    /** Each box's `vipd ucarp` command line. */
    vipd: Record<Host, UcarpOptions>;
    /** The steps, with ucarp running on both boxes and the client pinging the VIP. */
    steps(
      u: Record<Host, Ucarp>,
      vipdFor: (host: Host) => LabProcess,
      record: ScriptRecord,
    ): Promise<StepsDone>;
    /** The script calls over the steps, each group in any order (two boxes at once). */
    scripts: string[][];
    /** The longest the client may go without a reply (and the VIP on no box). */
    maxGapMs: number;
    /** The longest the preemption may keep the VIP on two boxes, and two masters advertising. */
    maxOverlapMs: { vip: number; adverts: number };
  }

  /**
   * Starts the ucarp pair (fw1 master), a holder timeline, a capture and a client pinging the
   * VIP 20 times a second; runs `m.steps`; then checks what every migration must keep (the VIP
   * on two boxes only during the preemption, on none at most `maxGapMs`, never two masters'
   * rhythms on the wire at once, the scripts on the right boxes) and logs what it measured.
   */
  async function migrate(label: string, m: Migration): Promise<{ gapAt: number }> {
    const record = new ScriptRecord(fx.lab);
    record.reset();
    /** The box's ucarp replaced by `vipd ucarp` with its command line (and a socket). */
    const vipdFor = (host: Host): LabProcess =>
      fx.track(
        fx.lab.spawn(host, `vipd-ucarp-${host}`, process.execPath, [
          VIPD_CLI,
          'ucarp',
          ...ucarpArgs(fx.lab, host, record, m.vipd[host]),
          `--vipd-socket=${controlSocket(fx.lab, host)}`,
        ]),
      );

    const u1 = startUcarp(fx.lab, 'fw1', record, m.ucarp.fw1);
    fx.track(u1.proc);
    await u1.waitForState('MASTER', 10_000);
    const u2 = startUcarp(fx.lab, 'fw2', record, m.ucarp.fw2);
    fx.track(u2.proc);
    await u2.waitForState('BACKUP', 10_000);
    await sleep(1_500);

    const timeline = await fx.lab.watchHolders(VIP, ['fw1', 'fw2']);
    const capture = await fx.lab.capture('ip proto 112', ['-T', 'carp']);
    const ping = fx.track(fx.lab.spawn('client', 'ping', 'ping', ['-n', '-D', '-i', '0.05', VIP]));
    await ping.waitForLine(/bytes from/, 5_000);
    await sleep(2_000);
    const start = record.calls().length;

    const done = await m.steps({ fw1: u1, fw2: u2 }, vipdFor, record);
    await sleep(3_000);

    ping.kill('SIGINT');
    await ping.exited;
    const adverts = parseAdverts(await capture.stop());
    const held = await timeline.stop();

    const { replies, sent } = pingReplies(ping.lines);
    const gaps = replies.slice(1).map((t, i) => t - (replies[i] ?? t));
    const longestGap = Math.max(...gaps);
    const gapAt = replies[gaps.indexOf(longestGap)] ?? 0;
    const { preempt, zero } = done;
    const twoMs =
      held.msWhen((h) => h.length > 1, held.startedAt, preempt.from) +
      held.msWhen((h) => h.length > 1, preempt.to);
    const handoverMs = held.msWhen((h) => h.length > 1, preempt.from, preempt.to);
    const noneMs = held.msWhen((h) => h.length === 0);
    const doubleClaim = longestDoubleClaim(adverts, 1_600);
    console.log(
      `[measure] carp migration${label}: ping ${replies.length}/${sent} replies (${sent - replies.length} lost), longest gap ${longestGap.toFixed(0)} ms (from the last reply ${(gapAt - zero.at).toFixed(0)} ms from ${zero.what}); VIP on two boxes ${twoMs.toFixed(0)} ms outside ${preempt.by}'s preemption and ${handoverMs.toFixed(0)} ms at it, on none ${noneMs.toFixed(0)} ms; longest double claim on the wire ${doubleClaim.toFixed(0)} ms`,
    );
    console.log(`[measure] carp migration${label} holders: ${held.describe(zero.at)}`);

    expect(twoMs).toBe(0);
    // Preemption is make-before-break, as with two ucarps: the new master adds the VIP and
    // advertises, the old one drops it when it hears that.
    expect(handoverMs).toBeLessThan(m.maxOverlapMs.vip);
    expect(noneMs).toBeLessThan(m.maxGapMs);
    expect(longestGap).toBeLessThan(m.maxGapMs);
    expect(held.soleFrom(done.last, zero.at)).toBeDefined();
    // Adverts from both boxes, all decoded by tcpdump as CARP, never two masters' rhythms at once.
    expect(new Set(adverts.map((a) => a.source))).toEqual(new Set(['10.99.0.1', '10.99.0.2']));
    expect(doubleClaim).toBeLessThan(m.maxOverlapMs.adverts);
    const steps = record.since(start);
    let at = 0;
    const grouped = m.scripts.map((g) => steps.slice(at, (at += g.length)).sort());
    expect({ grouped, rest: steps.slice(at) }).toEqual({
      grouped: m.scripts.map((g) => [...g].sort()),
      rest: [],
    });
    return { gapAt };
  }

  /** What step 2 checks on `host`'s `vipd ucarp`: `state`, hearing `master`, nothing rejected. */
  async function checkStatus(host: Host, state: 'master' | 'backup', master: string) {
    const status = await instanceStatus(fx.lab, host, 'ucarp-vhid-10');
    expect(status).toMatchObject({ state, master });
    expect(status?.counters.rejected).toEqual({});
  }

  it('never two masters on the wire, the VIP on two boxes only as fw1 preempts at the end, one gap: ucarp leaving without a word', async () => {
    // Both boxes keep their command line: fw1 the preferred master, both with -P.
    const lines = { fw1: { advskew: 0, preempt: true }, fw2: { advskew: 50, preempt: true } };
    let stopAt = 0;
    const { gapAt } = await migrate('', {
      ucarp: lines,
      vipd: lines,
      async steps(u, vipdFor) {
        // fw2 (backup): ucarp out, vipd in. It starts as backup hearing fw1's ucarp and stays so.
        await u.fw2.stop();
        const v2 = vipdFor('fw2');
        await v2.waitForLine(/"to":"backup"/, 10_000);
        await sleep(DEAD_MS + 1_000);
        expect(transitions(v2).map((t) => t.to)).toEqual(['backup']);
        await checkStatus('fw2', 'backup', '10.99.0.1');
        expect(await fx.lab.holders(VIP, ['fw1', 'fw2'])).toEqual(['fw1']);

        // fw1 (master): ucarp out (its down script drops the VIP; nothing on the wire), so fw2's
        // vipd takes over after the master-down interval; fw1's vipd, with -P, takes over back.
        stopAt = Date.now();
        await u.fw1.stop();
        await v2.waitForLine(/"to":"master"/, DEAD_MS + MARGIN_MS);
        const from = Date.now();
        const v1 = vipdFor('fw1');
        await v1.waitForLine(/"to":"master"/, 10_000);
        await v2.waitForLine(/"from":"master","to":"backup"/, 5_000);
        await vipOn(fx.lab, ['fw1']); // the end of the preemption's overlap
        return {
          preempt: { from, to: Date.now(), by: 'fw1' },
          last: 'fw1',
          zero: { at: stopAt, what: "fw1's ucarp SIGTERM" },
        };
      },
      scripts: [
        ['down fw2'], // vipd starting on fw2
        ['down fw1'], // ucarp -z leaving fw1
        ['up fw2'],
        ['down fw1'], // vipd starting on fw1
        ['down fw2', 'up fw1'], // fw1 preempting fw2: both scripts at once
      ],
      // The one gap: ucarp's silent exit, then the master-down interval.
      maxGapMs: DEAD_MS + MARGIN_MS,
      // vipd yields as it reads fw1's advert.
      maxOverlapMs: { vip: 1_000, adverts: 500 },
    });
    expect(gapAt).toBeGreaterThanOrEqual(stopAt - 500);
  });

  it('with the lower -k on the vipd box, fw2 preempts the ucarp master at once and fw1 stops as backup: no master-down gap', async () => {
    // The ucarp master needs an -k above 0 for a box to beat it. fw2's `vipd ucarp` gets -k 0
    // with -P; fw1 keeps its command line, now the higher -k: it comes back as backup and fw2
    // stays master, no second switch.
    const ucarp = { fw1: { advskew: 10, preempt: true }, fw2: { advskew: 50, preempt: true } };
    let startAt = 0;
    await migrate(' (lower -k on vipd)', {
      ucarp,
      vipd: { fw1: ucarp.fw1, fw2: { advskew: 0, preempt: true } },
      async steps(u, vipdFor, record) {
        // fw2 (backup): ucarp out, vipd in with -k 0: it hears fw1's worse ucarp and preempts it;
        // fw1's ucarp hears the better advert, goes backup and runs its down script.
        await u.fw2.stop();
        const mark = u.fw1.proc.lines.length;
        startAt = Date.now();
        const v2 = vipdFor('fw2');
        await v2.waitForLine(/"from":"backup","to":"master"/, 10_000);
        await u.fw1.waitForState('BACKUP', 5_000, mark);
        await vipOn(fx.lab, ['fw2']); // the end of the preemption's overlap
        const to = Date.now();
        await checkStatus('fw2', 'master', '10.99.0.2');
        await sleep(1_500);

        // fw1 (backup now): ucarp out, no script, nothing lost; vipd in, backup past its
        // master-down interval.
        const calls = record.calls().length;
        await u.fw1.stop();
        expect(record.calls().length).toBe(calls);
        const v1 = vipdFor('fw1');
        await v1.waitForLine(/"to":"backup"/, 10_000);
        await sleep(DEAD_MS + 1_000);
        expect(transitions(v1).map((t) => t.to)).toEqual(['backup']);
        expect(transitions(v2).map((t) => t.to)).toEqual(['backup', 'master']);
        await checkStatus('fw1', 'backup', '10.99.0.2');
        return {
          preempt: { from: startAt, to, by: 'fw2' },
          last: 'fw2',
          zero: { at: startAt, what: "fw2's vipd start" },
        };
      },
      scripts: [
        ['down fw2'], // vipd starting on fw2
        ['down fw1', 'up fw2'], // fw2 preempting fw1's ucarp: both scripts at once
        ['down fw1'], // vipd starting on fw1 (ucarp leaving as backup runs none)
      ],
      // No master-down interval to wait out: a preemption, then no takeover at all.
      maxGapMs: 1_000,
      // ucarp reads packets through libpcap with a 1 s timeout (CAPTURE_TIMEOUT): it hears
      // fw2's better advert up to 1 s late, advertising and holding the VIP until then.
      maxOverlapMs: { vip: 2_000, adverts: 1_500 },
    });
  });
});
