/**
 * Starting vipd inside a lab host for tests, the demo and benchmarks: writes the host's config
 * file into the lab's log directory and runs the built CLI (dist/, compiled by the test run's
 * global setup or the demo script) exactly as an operator would.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabProcess } from '../lab/lab.js';
import { VIPD_CLI } from './paths.js';

export interface InstanceOptions {
  name?: string;
  vrid?: number;
  priority: number;
  version?: 2 | 3;
  advertInterval?: number;
  transport?: 'raw' | 'udp';
  vips?: string[];
  [key: string]: unknown;
}

export function vipdConfig(node: string, instances: InstanceOptions[]): unknown {
  return {
    node: { name: node },
    log: { level: process.env.VIPD_TEST_LOG_LEVEL ?? 'info' },
    instances: instances.map((i) => ({
      name: 'VI_1',
      interface: 'eth0',
      vrid: 51,
      vips: ['10.99.0.100/24'],
      ...i,
    })),
  };
}

export function startVipd(lab: Lab, host: string, instances: InstanceOptions[]): LabProcess {
  return startVipdWith(lab, host, vipdConfig(host, instances));
}

/** The host's (or a named vipd's) config file in the lab's log directory (startVipdWith). */
export function configFile(lab: Lab, host: string): string {
  return join(lab.logDir, `${host}.json`);
}

/** The host's (or a named vipd's) control socket in the lab's log directory. */
export function controlSocket(lab: Lab, host: string): string {
  return join(lab.logDir, `${host}.sock`);
}

export interface StartOptions {
  /** Added to vipd's environment (e.g. a PATH that shadows a tool it runs). */
  env?: NodeJS.ProcessEnv;
  /** A command vipd runs under, given vipd's command line as its arguments (e.g. unshare). */
  wrapper?: string[];
  /** Names its config file, control socket and process (default: the host's), so a second vipd
   * on one host keeps its own. */
  name?: string;
}

/** Runs vipd on `host` with a whole config document. */
export function startVipdWith(
  lab: Lab,
  host: string,
  config: unknown,
  opts: StartOptions = {},
): LabProcess {
  const name = opts.name ?? host;
  const file = configFile(lab, name);
  // Lab hosts share one file system: each gets its own control socket next to its config.
  const doc = { control: { socket: controlSocket(lab, name) }, ...(config as object) };
  writeFileSync(file, JSON.stringify(doc, null, 2));
  const [cmd, ...args] = [
    ...(opts.wrapper ?? []),
    process.execPath,
    VIPD_CLI,
    'run',
    '--config',
    file,
  ];
  return lab.spawn(host, `vipd-${name}`, cmd ?? process.execPath, args, opts.env);
}

export interface TransitionLine {
  instance: string;
  from: string;
  to: string;
  reason: string;
  peer?: string;
}

/** The transitions a vipd process has logged so far (its JSON lines with event "transition"). */
export function transitions(proc: LabProcess): TransitionLine[] {
  return logEvents(proc, 'transition') as unknown as TransitionLine[];
}

/** The JSON log lines of a vipd process with `"event": name`, in order. */
export function logEvents(proc: LabProcess, name: string): Record<string, unknown>[] {
  return proc.lines.flatMap((line) => {
    try {
      const obj = JSON.parse(line) as Record<string, unknown>;
      return obj.event === name ? [obj] : [];
    } catch {
      return [];
    }
  });
}
