/**
 * The building blocks of vipd's config schema (zod): leaf values that refuse with a reason an
 * operator can act on ("must be an integer from 1 to 255, got 300"), strict sections that refuse
 * unknown keys, checks across keys that run as soon as the keys they read are valid, and the
 * translation of zod's issues into the (key path, reason) pairs of a ConfigError.
 */
import * as z from 'zod';
import { addressFamily, canonicalAddress, isIpv4 } from '../net/address.js';

export interface ConfigIssue {
  key: string;
  reason: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    super(
      `${source}: invalid configuration\n${issues.map((i) => `  ${i.key}: ${i.reason}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** A value as the operator wrote it, short enough for one line; never throws. */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch {
    text = undefined;
  }
  if (text === undefined) return `a ${typeof v}`;
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** "must be WHAT, got VALUE", or "is required: WHAT" for a missing key. */
export function expected(what: string): (issue: { input?: unknown }) => string {
  return (issue) =>
    issue.input === undefined
      ? `is required: ${what}`
      : `must be ${what}, got ${shown(issue.input)}`;
}

export function integer(min: number, max: number): z.ZodNumber {
  const error = expected(`an integer from ${min} to ${max}`);
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

export function seconds(min: number, max: number): z.ZodNumber {
  const error = expected(`a number of seconds from ${min} to ${max}`);
  return z.number({ error }).min(min, { error }).max(max, { error });
}

export const flag = z.boolean({ error: expected('true or false') });

export const text = z.string({ error: expected('a non-empty string') }).min(1, {
  error: expected('a non-empty string'),
});

/** One of a fixed set of strings or numbers. */
export function oneOf<const T extends readonly [string | number, ...(string | number)[]]>(
  values: T,
): z.ZodLiteral<T[number]> {
  return z.literal(values, { error: expected(`one of ${values.join(', ')}`) });
}

const ABSOLUTE = /^\/[^\0]*$/;
export const absolutePath = z
  .string({ error: expected('an absolute path') })
  .regex(ABSOLUTE, { error: expected('an absolute path') });
export const nullablePath = z
  .string({ error: expected('an absolute path or null') })
  .regex(ABSOLUTE, { error: expected('an absolute path or null') })
  .nullable();

export const ipv4 = z
  .string({ error: expected('an IPv4 address') })
  .refine(isIpv4, { error: expected('an IPv4 address') });

/** `a.b.c.d/nn` or `2001:db8::1/64`; the prefix is mandatory so nobody gets a /32 by accident where a /24 was meant. */
function isCidr(v: string): boolean {
  const [address, prefix, ...rest] = v.split('/');
  const family = address === undefined ? undefined : addressFamily(address);
  return (
    rest.length === 0 &&
    family !== undefined &&
    prefix !== undefined &&
    /^\d{1,3}$/.test(prefix) &&
    Number(prefix) <= (family === 4 ? 32 : 128)
  );
}

const CIDR = 'an IP address with its prefix length, like 10.99.0.100/24 or 2001:db8::100/64';
/** An address and prefix, the address in its canonical text (RFC 5952 for IPv6). */
export const cidr = z
  .string({ error: expected(CIDR) })
  .refine(isCidr, { error: expected(CIDR) })
  .transform((text) => {
    const [address = '', prefix = ''] = text.split('/');
    return { address: canonicalAddress(address), prefix: Number(prefix) };
  });

/** What the kernel accepts as a name (dev_valid_name): `run` would fail later with ERANGE. */
export function isInterfaceName(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name) <= 15 &&
    name !== '.' &&
    name !== '..' &&
    !/[\s/:\0]/.test(name)
  );
}

const IFNAME = "an interface name (1 to 15 bytes, not '.' or '..', no '/', ':' or whitespace)";
export const interfaceName = z
  .string({ error: expected(IFNAME) })
  .refine(isInterfaceName, { error: expected(IFNAME) });

export function listOf<T extends z.ZodType>(item: T, what: string): z.ZodArray<T> {
  return z.array(item, { error: expected(`a list of ${what}`) });
}

/** A list's lower bound, in the same words as its other problems. */
export function atLeast(min: number, what: string): { error: () => string } {
  return { error: () => `must list at least ${min === 1 ? 'one' : String(min)} ${what}` };
}

/** Edit distance, to name the key a typo meant. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next.push(Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + cost));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

function unknownKey(key: string, known: string[]): string {
  const near = known.find(
    (k) =>
      k.toLowerCase() === key.toLowerCase() || distance(k.toLowerCase(), key.toLowerCase()) <= 2,
  );
  return near === undefined
    ? `unknown key (this section takes ${known.join(', ')})`
    : `unknown key (did you mean "${near}"?)`;
}

/** An object whose keys are exactly `shape`'s: a typo must never fall back to a default. */
export function section<S extends z.ZodRawShape>(shape: S, orNull = false): z.ZodObject<S> {
  const keys = Object.keys(shape);
  const what = expected(`an object { ${keys.join(', ')} }${orNull ? ' or null' : ''}`);
  return z.strictObject(shape, {
    // zod words one issue per object; configIssues splits it into one per key.
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((k) => unknownKey(k, keys)).join('\n')
        : what(issue),
  });
}

/**
 * A check's `when`: run as soon as the keys it reads parsed cleanly, whatever else is wrong in
 * the object (zod would otherwise wait for the whole object, and a config with ten mistakes
 * must show all ten). Unknown keys do not stop it: the known ones were still parsed.
 */
export function whenValid(keys: readonly string[]): {
  when: (payload: z.core.ParsePayload) => boolean;
} {
  return {
    when: (payload) =>
      typeof payload.value === 'object' &&
      payload.value !== null &&
      payload.issues.every((issue) =>
        issue.path === undefined || issue.path.length === 0
          ? issue.code === 'unrecognized_keys'
          : !keys.includes(String(issue.path[0])),
      ),
  };
}

/** Whether nothing at or under `path` (relative to the checked object) has a problem. */
export function parsedAt(payload: z.core.ParsePayload, ...path: PropertyKey[]): boolean {
  return payload.issues.every(
    (issue) => issue.path === undefined || !path.every((p, i) => issue.path?.[i] === p),
  );
}

/** A `when` for checks that pick the valid parts themselves (parsedAt): they run whatever else is wrong. */
export function always(): { when: (payload: z.core.ParsePayload) => boolean } {
  return { when: (payload) => typeof payload.value === 'object' && payload.value !== null };
}

export function keyPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/** The wording for any issue a leaf above did not word itself (it should not happen). */
function fallback(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return expected(`a ${issue.expected}`)(issue);
    case 'unrecognized_keys':
      return 'unknown key';
    default:
      return `${issue.message ?? 'not valid'}, got ${shown(issue.input)}`;
  }
}

/** zod's issues as (key, reason) pairs: one per unknown key, duplicates folded. */
export function configIssues(error: z.ZodError): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const at = keyPath(issue.path);
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    const reasons = issue.code === 'unrecognized_keys' ? issue.message.split('\n') : [];
    for (const [n, key] of keys.entries()) {
      const full = key === undefined ? at : at === '' ? key : `${at}.${key}`;
      const one = { key: full === '' ? '(config)' : full, reason: reasons[n] ?? issue.message };
      if (!out.some((o) => o.key === one.key && o.reason === one.reason)) out.push(one);
    }
  }
  return out;
}

export const parseOptions = { error: fallback };

export const ms = (secondsValue: number): number => Math.round(secondsValue * 1000);

/**
 * The file's own shape with every key present: what `vipd check` prints. The compiler then
 * checks each printer key by key against the schema, so the inverse mapping cannot drift.
 */
export type FileShape<T> = T extends readonly (infer E)[]
  ? FileShape<E>[]
  : T extends object
    ? { [K in keyof T]-?: FileShape<Exclude<T[K], undefined>> }
    : T;
