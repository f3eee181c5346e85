/**
 * The building blocks of vipd's config schemas: convict format checks that name the rule they
 * enforce, the error type every config problem ends up in, and the translation of convict's
 * one-message-per-problem report back into (key, reason) pairs.
 */
import { isIpv4 } from '../net/address.js';

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

export function integerIn(min: number, max: number): (v: unknown) => void {
  return (v) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new Error(`must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
  };
}

export function nonEmptyString(v: unknown): void {
  if (typeof v !== 'string' || v.length === 0) throw new Error('must be a non-empty string');
}

export function boolean(v: unknown): void {
  if (typeof v !== 'boolean') throw new Error(`must be true or false, got ${JSON.stringify(v)}`);
}

export function arrayOf(what: string, check: (item: unknown) => boolean): (v: unknown) => void {
  return (v) => {
    if (!Array.isArray(v)) throw new Error(`must be a list of ${what}`);
    const bad = v.filter((item) => !check(item));
    if (bad.length > 0)
      throw new Error(`must be a list of ${what}; not valid: ${JSON.stringify(bad)}`);
  };
}

/** `a.b.c.d/nn`; the prefix is mandatory so nobody gets a /32 by accident where a /24 was meant. */
export function isCidr(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const [address, prefix, ...rest] = v.split('/');
  return (
    rest.length === 0 &&
    address !== undefined &&
    isIpv4(address) &&
    prefix !== undefined &&
    /^\d{1,2}$/.test(prefix) &&
    Number(prefix) <= 32
  );
}

export function seconds(min: number, max: number): (v: unknown) => void {
  return (v) => {
    if (typeof v !== 'number' || !(v >= min) || v > max) {
      throw new Error(
        `must be a number of seconds from ${min} to ${max}, got ${JSON.stringify(v)}`,
      );
    }
  };
}

export function optionalPath(v: unknown): void {
  if (v !== null && (typeof v !== 'string' || !v.startsWith('/')))
    throw new Error('must be an absolute path or null');
}

export interface ConvictErrorHolder {
  message: string;
}

/** convict reports all problems as one message, a line per problem; turn it back into a list. */
export function convictIssues(err: ConvictErrorHolder, prefix: string): ConfigIssue[] {
  return err.message
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const undeclared = /^configuration param '(.+)' not declared in the schema$/.exec(line);
      if (undeclared?.[1] !== undefined)
        return { key: prefix + undeclared[1], reason: 'unknown key' };
      const missing = /^configuration param '(.+)' missing from config/.exec(line);
      if (missing?.[1] !== undefined) return { key: prefix + missing[1], reason: 'missing' };
      const match = /^([^:]+): (.*?)(?:: value was .*)?$/.exec(line);
      if (match?.[1] !== undefined && match[2] !== undefined) {
        const reason = match[2].trim();
        return { key: prefix + match[1], reason: reason === '' ? 'invalid value' : reason };
      }
      return { key: prefix.replace(/\.$/, '') || '(config)', reason: line };
    });
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export type Leaf = { default: unknown };
export type Props<T> = { [K in keyof T]: T[K] extends Leaf ? T[K]['default'] : Props<T[K]> };

export const ms = (secondsValue: number): number => Math.round(secondsValue * 1000);
