/**
 * The arithmetic of a split-brain run, pure (no I/O, no clock): turning vipd's log lines, the
 * sampled VIP holders and client ARP entries, and the client's ping output into intervals and
 * durations. Every time is epoch milliseconds (the clock vipd's pino `time` and `ping -D` use),
 * so log lines and samples taken by the scenario line up without conversion.
 *
 * An interval's `end` is undefined while it was still open when the run ended; windows are
 * half-open [start, end).
 */

export interface Interval {
  start: number;
  end: number | undefined;
}

export interface Transition {
  box: string;
  time: number;
  instance: string;
  from: string;
  to: string;
  reason: string;
  peer?: string;
  peerPriority?: number;
}

/** A log line the scenario narrates and reports as it is (e.g. split-brain, one-way-loss). */
export interface NotableEvent {
  box: string;
  time: number;
  event: string;
  fields: Record<string, unknown>;
}

/** One look at the cluster: where the VIP was and what the client's ARP entry pointed at. */
export interface Sample {
  time: number;
  /** Boxes with the VIP on their interface, in the cluster's box order. */
  vip: string[];
  /** The box the client's ARP entry for the VIP names, `none` without one, else the raw MAC. */
  arp: string;
}

export const NOTABLE_EVENTS: readonly string[] = ['split-brain', 'one-way-loss'];

type Parsed =
  | { kind: 'transition'; transition: Transition }
  | { kind: 'notable'; event: NotableEvent }
  | { kind: 'other' };

/** Classifies one pino JSON line of `box`'s vipd; anything unparseable is `other`. */
export function parseLogLine(box: string, line: string): Parsed {
  let obj: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null) return { kind: 'other' };
    obj = parsed as Record<string, unknown>;
  } catch {
    return { kind: 'other' };
  }
  const time = typeof obj.time === 'string' ? Date.parse(obj.time) : Number.NaN;
  if (Number.isNaN(time)) return { kind: 'other' };
  if (obj.event === 'transition') {
    return {
      kind: 'transition',
      transition: {
        box,
        time,
        instance: String(obj.instance),
        from: String(obj.from),
        to: String(obj.to),
        reason: String(obj.reason),
        ...(typeof obj.peer === 'string' ? { peer: obj.peer } : {}),
        ...(typeof obj.peerPriority === 'number' ? { peerPriority: obj.peerPriority } : {}),
      },
    };
  }
  if (typeof obj.event === 'string' && NOTABLE_EVENTS.includes(obj.event)) {
    // What pino adds to every line says nothing about the event.
    const fields = Object.fromEntries(
      Object.entries(obj).filter(([k]) => !['level', 'time', 'node', 'event', 'msg'].includes(k)),
    );
    return { kind: 'notable', event: { box, time, event: obj.event, fields } };
  }
  return { kind: 'other' };
}

/** Per box, when it was master: from each `-> master` to the next transition out of master. */
export function masterIntervals(
  boxes: readonly string[],
  transitions: readonly Transition[],
): Map<string, Interval[]> {
  const out = new Map<string, Interval[]>(boxes.map((b) => [b, []]));
  const sorted = [...transitions].sort((a, b) => a.time - b.time);
  for (const t of sorted) {
    const list = out.get(t.box);
    if (list === undefined) continue;
    const open = list.at(-1);
    if (t.to === 'master' && (open === undefined || open.end !== undefined)) {
      list.push({ start: t.time, end: undefined });
    } else if (t.to !== 'master' && open !== undefined && open.end === undefined) {
      open.end = t.time;
    }
  }
  return out;
}

/** The boxes whose last transition at or before `time` went to master. */
export function mastersAt(
  boxes: readonly string[],
  transitions: readonly Transition[],
  time: number,
): string[] {
  return boxes.filter((box) => {
    let last: Transition | undefined;
    for (const t of transitions) {
      if (t.box === box && t.time <= time && (last === undefined || t.time >= last.time)) last = t;
    }
    return last?.to === 'master';
  });
}

/**
 * Per key, the intervals during which the samples carried it: a key holds from the first sample
 * showing it until the first later sample without it (sampling resolution, ~100 ms).
 */
export function sampledIntervals(
  samples: readonly Sample[],
  keys: (s: Sample) => readonly string[],
): Map<string, Interval[]> {
  const out = new Map<string, Interval[]>();
  const open = new Map<string, Interval>();
  for (const s of samples) {
    const now = new Set(keys(s));
    for (const [key, iv] of open) {
      if (!now.has(key)) {
        iv.end = s.time;
        open.delete(key);
      }
    }
    for (const key of now) {
      if (open.has(key)) continue;
      const iv: Interval = { start: s.time, end: undefined };
      open.set(key, iv);
      out.set(key, [...(out.get(key) ?? []), iv]);
    }
  }
  return out;
}

/** How long, within `window`, at least `n` of the keys' intervals overlapped. */
export function overlapMs(
  intervals: ReadonlyMap<string, readonly Interval[]>,
  n: number,
  window: { start: number; end: number },
): number {
  const edges: { at: number; delta: number }[] = [];
  for (const list of intervals.values()) {
    for (const iv of list) {
      const start = Math.max(iv.start, window.start);
      const end = Math.min(iv.end ?? window.end, window.end);
      if (end <= start) continue;
      edges.push({ at: start, delta: 1 }, { at: end, delta: -1 });
    }
  }
  // Ends before starts at the same instant: a hand-over in one step is not an overlap.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let active = 0;
  let since = 0;
  let total = 0;
  for (const e of edges) {
    if (active >= n) total += e.at - since;
    active += e.delta;
    since = e.at;
  }
  return total;
}

/** The first moment within `window` at which at least `n` intervals overlapped, if any. */
export function firstOverlap(
  intervals: ReadonlyMap<string, readonly Interval[]>,
  n: number,
  window: { start: number; end: number },
): number | undefined {
  const starts = [...intervals.values()]
    .flat()
    .map((iv) => Math.max(iv.start, window.start))
    .filter((t) => t < window.end)
    .sort((a, b) => a - b);
  return starts.find((t) => overlapMs(intervals, n, { start: t, end: t + 1 }) > 0);
}

/**
 * The box the cluster agrees on in this sample, or undefined: exactly one master (by the logs),
 * the VIP on that box only, and the client's ARP entry naming it.
 */
export function agreedWinner(masters: readonly string[], sample: Sample): string | undefined {
  const [only] = masters;
  if (masters.length !== 1 || only === undefined) return undefined;
  if (sample.vip.length !== 1 || sample.vip[0] !== only || sample.arp !== only) return undefined;
  return only;
}

/**
 * When the final agreement began: the first sample at or after `from` from which every later
 * sample agrees on the same winner. Undefined when the last sample does not agree.
 */
export function settledSince(
  boxes: readonly string[],
  transitions: readonly Transition[],
  samples: readonly Sample[],
  from: number,
): { time: number; winner: string } | undefined {
  let since: { time: number; winner: string } | undefined;
  for (const s of samples) {
    if (s.time < from) continue;
    const winner = agreedWinner(mastersAt(boxes, transitions, s.time), s);
    if (winner === undefined) since = undefined;
    else if (since?.winner !== winner) since = { time: s.time, winner };
  }
  return since;
}

export interface PingStats {
  sent: number;
  answered: number;
  /** Longest time without an answer once the first answer came (start-up is not an outage). */
  longestGapMs: number;
  longestGapFrom: number | undefined;
}

/** Reads `ping -D -O` output: `[epoch.us] 64 bytes from ...: icmp_seq=N` / `no answer yet for icmp_seq=N`. */
export function pingStats(lines: readonly string[], end: number): PingStats {
  let sent = 0;
  const answers: number[] = [];
  const answeredSeqs = new Set<number>();
  for (const line of lines) {
    const m = /^\[(\d+\.\d+)\] (.*)icmp_seq=(\d+)/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined || m[3] === undefined) continue;
    const seq = Number(m[3]);
    sent = Math.max(sent, seq);
    if (m[2].includes('bytes from')) {
      answeredSeqs.add(seq);
      answers.push(Number(m[1]) * 1000);
    }
  }
  let longestGapMs = 0;
  let longestGapFrom: number | undefined;
  for (const [i, at] of answers.entries()) {
    const next = answers[i + 1] ?? end;
    if (next - at > longestGapMs) {
      longestGapMs = next - at;
      longestGapFrom = at;
    }
  }
  return { sent, answered: answeredSeqs.size, longestGapMs, longestGapFrom };
}
