/**
 * Effective priority from tracked objects, as keepalived computes it: every tracked interface or
 * script has a weight. Weight 0: while it is down the instance is in FAULT. Weight > 0: added
 * while it is up. Weight < 0: added while it is down. A tracked file adds its integer value times
 * its weight (weight 0: any non-zero value is a FAULT). The sum is clamped to 1..254; an address
 * owner (255) keeps 255, since a weight cannot make it stop owning the address, but its faults
 * still count. Pure.
 */

export interface Tracked {
  /** e.g. `interface eth1`, `script chk_gw`, `file /run/prio`. */
  name: string;
  weight: number;
  up: boolean;
}

export interface TrackedFile {
  name: string;
  weight: number;
  value: number;
}

export interface Effective {
  priority: number;
  /** Tracked objects that put the instance in FAULT, with why. */
  faults: { name: string; why: string }[];
  /** The non-zero contributions, for the log line that explains a priority change. */
  parts: string[];
}

export function effectivePriority(
  base: number,
  tracked: readonly Tracked[],
  files: readonly TrackedFile[],
): Effective {
  const faults: Effective['faults'] = [];
  const parts: string[] = [];
  let sum = 0;
  for (const t of tracked) {
    if (t.weight === 0) {
      if (!t.up) faults.push({ name: t.name, why: 'down' });
    } else if (t.weight > 0 === t.up) {
      sum += t.weight;
      parts.push(`${t.name} ${t.up ? 'up' : 'down'} ${t.weight > 0 ? '+' : ''}${t.weight}`);
    }
  }
  for (const f of files) {
    if (f.weight === 0) {
      if (f.value !== 0) faults.push({ name: f.name, why: `value ${f.value}` });
    } else if (f.value !== 0) {
      const add = f.value * f.weight;
      sum += add;
      parts.push(`${f.name} ${f.value}x${f.weight} ${add > 0 ? '+' : ''}${add}`);
    }
  }
  const priority = base === 255 ? 255 : Math.min(254, Math.max(1, base + sum));
  return { priority, faults, parts };
}
