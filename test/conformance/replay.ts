/**
 * Conformance cases as data (the holo-vrrp way): a case is a folder with `config.json` (the
 * instance as written in a vipd config file, the link's primary address, the transport),
 * `input.jsonl` (timed events) and `expected.jsonl` (the effects RouterCore produced, in order,
 * with their times). `replay` drives the real reducer on a fake clock: before each input every
 * deadline due by then fires as a `tick` (late, at the current time, after a `stall`).
 *
 * Input events are RouterCore's own (`start`, `plan-done`, `fault`, `clear`, `priority`,
 * `quorum-probed`, `shutdown`), plus, for readability:
 * - `advert`: { src, priority, interval (s), version?, vrid?, ttl?, dst?, addresses? }, encoded
 *   with the real codec (defaults: the instance's version, VRID and VIPs, TTL 255, 224.0.0.18);
 * - `packet`: { hex, src, ttl?, dst? } for bytes no encoder would produce;
 * - `update`: { instance } keys merged over the case's instance, re-parsed (a reload in place);
 * - `stall`: { until }: the box runs nothing until then (timers due meanwhile fire late);
 * - `advance`: nothing happens; the clock moves (deadlines fire).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/config.js';
import type { InstanceConfig } from '../../src/config/instance.js';
import {
  deadline,
  initialCore,
  step,
  type CoreEffect,
  type CoreEvent,
  type CoreState,
} from '../../src/router/core.js';
import { encodeAdvert, type VrrpVersion } from '../../src/vrrp/packet.js';

export interface CaseConfig {
  instance: Record<string, unknown>;
  /** The link's primary address, CIDR. */
  primary: string;
  transport?: 'raw' | 'udp';
}

type AdvertInput = {
  type: 'advert';
  src: string;
  priority: number;
  interval: number;
  version?: VrrpVersion;
  vrid?: number;
  ttl?: number;
  dst?: string;
  addresses?: string[];
};
type InputEvent =
  | AdvertInput
  | { type: 'packet'; hex: string; src: string; ttl?: number; dst?: string }
  | { type: 'update'; instance: Record<string, unknown> }
  | { type: 'stall'; until: number }
  | { type: 'advance' }
  | Exclude<CoreEvent, { type: 'packet' | 'update' | 'tick' }>;

export interface Input {
  at: number;
  event: InputEvent;
}

export interface Output {
  at: number;
  effect: CoreEffect;
}

/** Wall-clock ms at fake time 0: only HMAC nonces read it. */
const WALL_EPOCH = 1_800_000_000_000;

function instanceOf(doc: Record<string, unknown>): InstanceConfig {
  const cfg = parseConfig({ instances: [doc] }).instances[0];
  if (cfg === undefined) throw new Error('the case config has no instance');
  return cfg;
}

export function readCase(dir: string): { config: CaseConfig; inputs: Input[] } {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as CaseConfig;
  const inputs = readFileSync(join(dir, 'input.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => JSON.parse(line) as Input);
  return { config, inputs };
}

export function replay(config: CaseConfig, inputs: readonly Input[]): Output[] {
  let instance = instanceOf(config.instance);
  const [address = '', prefix = '24'] = config.primary.split('/');
  let state: CoreState = initialCore({
    instance,
    primary: { address, prefix: Number(prefix) },
    ttlChecked: (config.transport ?? 'raw') === 'raw',
  });
  const out: Output[] = [];
  let now = 0;
  const apply = (event: CoreEvent): void => {
    const result = step(state, event, now);
    state = result.state;
    for (const effect of result.effects) out.push({ at: now, effect });
  };
  const runUntil = (t: number): void => {
    for (let d = deadline(state); d !== undefined && d <= t; d = deadline(state)) {
      now = Math.max(now, d);
      apply({ type: 'tick' });
    }
    now = Math.max(now, t);
  };
  for (const { at, event } of inputs) {
    if (event.type === 'stall') {
      now = Math.max(now, event.until);
      continue;
    }
    runUntil(at);
    switch (event.type) {
      case 'advance':
        break;
      case 'advert': {
        const version = event.version ?? instance.version;
        const dst = event.dst ?? '224.0.0.18';
        const payload = encodeAdvert(
          {
            version,
            vrid: event.vrid ?? instance.vrid,
            priority: event.priority,
            intervalCs: Math.round(event.interval * 100),
            addresses: event.addresses ?? instance.vips.map((v) => v.address),
            ...(version === 2 ? { auth: instance.auth ?? { type: 0 } } : {}),
          },
          { src: event.src, dst, checksum: 'rfc5798' },
        );
        apply({
          type: 'packet',
          packet: { payload, src: event.src, dst, ttl: event.ttl ?? 255 },
          wallMs: WALL_EPOCH + now,
        });
        break;
      }
      case 'packet':
        apply({
          type: 'packet',
          packet: {
            payload: Buffer.from(event.hex, 'hex'),
            src: event.src,
            dst: event.dst ?? '224.0.0.18',
            ttl: event.ttl ?? 255,
          },
          wallMs: WALL_EPOCH + now,
        });
        break;
      case 'update':
        instance = instanceOf({ ...config.instance, ...event.instance });
        apply({ type: 'update', instance });
        break;
      default:
        apply(event);
    }
  }
  return out;
}

/** One JSON line per output, times rounded to microseconds so goldens stay readable. */
export function formatOutputs(outputs: readonly Output[]): string {
  return outputs
    .map((o) => JSON.stringify({ at: Math.round(o.at * 1000) / 1000, effect: o.effect }))
    .join('\n')
    .concat(outputs.length > 0 ? '\n' : '');
}
