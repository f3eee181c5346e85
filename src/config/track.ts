/**
 * An instance's `track` section: interfaces, scripts and files whose health moves the priority
 * (weight) or forces FAULT (weight 0), as keepalived's track_interface, vrrp_script and
 * track_file. The track/ monitors run with the normalised types below.
 */
import * as z from 'zod';
import {
  absolutePath,
  integer,
  interfaceName,
  listOf,
  ms,
  section,
  seconds,
  text,
  type FileShape,
} from './formats.js';

const weight = integer(-253, 253);

const trackedInterface = section({ name: interfaceName, weight: weight.default(0) });

const trackedScript = section({
  name: text.optional(),
  script: absolutePath,
  args: listOf(z.string({ error: 'must be a string' }), 'strings').default([]),
  interval: seconds(0.1, 3600).default(2),
  timeout: seconds(0.1, 3600).default(2),
  rise: integer(1, 100).default(1),
  fall: integer(1, 100).default(1),
  weight: weight.default(0),
}).transform((sc) => ({
  /** In logs and status; the script's path unless named. */
  name: sc.name ?? sc.script,
  script: sc.script,
  args: sc.args,
  intervalMs: ms(sc.interval),
  /** A run that outlives this is killed with its process group and counts as a failure. */
  timeoutMs: ms(sc.timeout),
  /** Successes in a row that make it up. */
  rise: sc.rise,
  /** Failures in a row that make it down. */
  fall: sc.fall,
  weight: sc.weight,
}));

const trackedFile = section({
  path: absolutePath,
  weight: weight.default(1),
  interval: seconds(0.1, 3600).default(1),
}).transform((f) => ({
  path: f.path,
  /** The file's integer times this is added to the priority; 0 = FAULT while it reads non-zero. */
  weight: f.weight,
  intervalMs: ms(f.interval),
}));

export const trackSection = section({
  interfaces: listOf(trackedInterface, 'interfaces { name, weight }').default([]),
  scripts: listOf(
    trackedScript,
    'scripts { name, script, args, interval, timeout, rise, fall, weight }',
  ).default([]),
  files: listOf(trackedFile, 'files { path, weight, interval }').default([]),
});

export type TrackConfig = z.output<typeof trackSection>;
export type ScriptCheckConfig = TrackConfig['scripts'][number];
export type FileCheckConfig = TrackConfig['files'][number];

export function trackFileShape(t: TrackConfig): FileShape<z.input<typeof trackSection>> {
  return {
    interfaces: t.interfaces,
    scripts: t.scripts.map((sc) => ({
      name: sc.name,
      script: sc.script,
      args: sc.args,
      interval: sc.intervalMs / 1000,
      timeout: sc.timeoutMs / 1000,
      rise: sc.rise,
      fall: sc.fall,
      weight: sc.weight,
    })),
    files: t.files.map((f) => ({ path: f.path, weight: f.weight, interval: f.intervalMs / 1000 })),
  };
}
