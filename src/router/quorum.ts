/**
 * The quorum rule that keeps a cut-off box from taking the VIPs (issue 5), as pure functions of
 * one probe round; the router runs the probes (net/witness.ts) and feeds the verdict to the FSM.
 *
 * - Takeover (a backup whose master-down timer fired): a majority of the witnesses must answer,
 *   and with three or more boxes (two or more peers) this box plus the peers it reaches must be a
 *   majority of all boxes. A box that fails stays backup and asks again one master-down interval
 *   later.
 * - A master steps down to FAULT only when it reaches no witness AND no peer: it is the one cut
 *   off. Losing only the witnesses (the upstream died) is not a reason to leave the VIPs to
 *   nobody, and a master that reaches its peer is not isolated. Without peers configured the
 *   master-side rule is off, for the same reason.
 */
import { isIpv4 } from '../net/address.js';

export interface Target {
  address: string;
  /** TCP port; undefined = ICMP echo. */
  port?: number;
}

export interface Probe {
  target: string;
  up: boolean;
  /** Why it is down (timeout, refused, ...). */
  detail?: string;
}

/** Parses `a.b.c.d` or `a.b.c.d:port`; undefined when it is neither. */
export function parseTarget(text: string): Target | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?$/.exec(text);
  if (m?.[1] === undefined || !isIpv4(m[1])) return undefined;
  if (m[2] === undefined) return { address: m[1] };
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { address: m[1], port } : undefined;
}

export interface QuorumConfig {
  /** `a.b.c.d` (ping) or `a.b.c.d:port` (TCP connect). */
  witnesses: string[];
  /** The other vipd boxes' addresses (pinged). */
  peers: string[];
  timeoutMs: number;
  /** Probe round interval while master (and while in FAULT for lost quorum). */
  intervalMs: number;
}

export interface Verdict {
  ok: boolean;
  witnessesUp: number;
  peersUp: number;
  /** One line for the log. */
  why: string;
}

const up = (probes: readonly Probe[]): number => probes.filter((p) => p.up).length;

export function takeoverVerdict(
  cfg: QuorumConfig,
  witnesses: readonly Probe[],
  peers: readonly Probe[],
): Verdict {
  const w = up(witnesses);
  const p = up(peers);
  const needW = Math.floor(cfg.witnesses.length / 2) + 1;
  const boxes = cfg.peers.length + 1;
  const witnessOk = cfg.witnesses.length === 0 || w >= needW;
  const peersOk = cfg.peers.length < 2 || (p + 1) * 2 > boxes;
  const why = [
    cfg.witnesses.length > 0 ? `witnesses ${w}/${cfg.witnesses.length} (need ${needW})` : '',
    cfg.peers.length >= 2 ? `boxes ${p + 1}/${boxes} (need a majority)` : '',
  ]
    .filter((x) => x !== '')
    .join(', ');
  return { ok: witnessOk && peersOk, witnessesUp: w, peersUp: p, why };
}

export function masterIsolated(
  cfg: QuorumConfig,
  witnesses: readonly Probe[],
  peers: readonly Probe[],
): boolean {
  return cfg.peers.length > 0 && cfg.witnesses.length > 0 && up(witnesses) === 0 && up(peers) === 0;
}
