/**
 * Who owns which node number of an active-active cluster: pure functions of the cluster's shape.
 *
 * Design (issue 4): every node number 1..N is its own VRRP virtual router (VRID vridBase + n - 1),
 * and "box b owns number n" means "box b is master of n's virtual router". Each box runs all N
 * routers with a priority that ranks it in n's preference order, so VRRP's own guarantees carry
 * over unchanged: one master per number once adverts flow, a box that stops advertising loses its
 * numbers after one master-down interval, a split view heals as soon as the higher-priority
 * advert is heard, and preemption (or not) when a box returns is plain VRRP preemption. No
 * membership protocol of our own, no extra negotiation round, and keepalived-style tooling (and
 * tcpdump) can read the election on the wire.
 *
 * Preference order: number n's home box is ((n - 1) mod B) + 1, so with N = k * B every box is
 * home to k numbers. The other boxes follow in cyclic order after the home box, rotated by the
 * home box's "round" floor((n - 1) / B): box 2's first number falls back to box 3, its second to
 * box 1, ... so a dead box's numbers spread evenly (within one) over the survivors. Priorities
 * are distinct per number (home 250, then 5 lower per rank) so no election falls to the address
 * tie-break; 255 is avoided because an "address owner" takes over at once even with preemption
 * off.
 */

export const HOME_PRIORITY = 250;
export const PRIORITY_STEP = 5;

export interface ClusterShape {
  /** Box count B (the names' order in the config gives box numbers 1..B). */
  boxes: number;
  /** Node numbers N (hash buckets), N >= B. */
  totalNodes: number;
}

/** The box that owns number n while it is alive (1-based). */
export function homeBox(n: number, shape: ClusterShape): number {
  return ((n - 1) % shape.boxes) + 1;
}

/** The numbers a box owns at home. */
export function homeNumbers(box: number, shape: ClusterShape): number[] {
  const out: number[] = [];
  for (let n = box; n <= shape.totalNodes; n += shape.boxes) out.push(n);
  return out;
}

/** Boxes in order of preference for number n: home first, then the spread fallback order. */
export function preferenceOrder(n: number, shape: ClusterShape): number[] {
  const home = homeBox(n, shape);
  const others = Array.from({ length: shape.boxes - 1 }, (_, i) => ((home + i) % shape.boxes) + 1);
  const round = Math.floor((n - 1) / shape.boxes);
  const shift = others.length === 0 ? 0 : round % others.length;
  return [home, ...others.slice(shift), ...others.slice(0, shift)];
}

/** Box b's VRRP priority for number n. */
export function priorityFor(n: number, box: number, shape: ClusterShape): number {
  return HOME_PRIORITY - PRIORITY_STEP * preferenceOrder(n, shape).indexOf(box);
}

/**
 * The owner of every number when exactly the boxes in `alive` are up and hear each other (what
 * the election converges to); numbers with no live box map to undefined.
 */
export function converged(
  alive: ReadonlySet<number>,
  shape: ClusterShape,
): Map<number, number | undefined> {
  const owners = new Map<number, number | undefined>();
  for (let n = 1; n <= shape.totalNodes; n += 1) {
    owners.set(
      n,
      preferenceOrder(n, shape).find((b) => alive.has(b)),
    );
  }
  return owners;
}

/** The numbers box b owns once the cluster with `alive` up has converged. */
export function ownedBy(box: number, alive: ReadonlySet<number>, shape: ClusterShape): number[] {
  return [...converged(alive, shape)].filter(([, owner]) => owner === box).map(([n]) => n);
}
