/**
 * docker/ on a real Docker engine: the lab's own dockerd (test/support/docker-engine.ts), the
 * image built once from the current tree, then `docker/splitbrain.sh` run as the README gives
 * it, in its default mode (proto cut of fw1, raw transport) and in `--mode oneway --fw3`. Each
 * run must exit 0 and show, in its status lines and the vipd log lines it lists: one master
 * (fw1) before the cut, the split brain the cut makes, one VIP holder with the client's ARP
 * entry on it after the heal. The host is put back as it was (engine stopped, its links, rules
 * and sysctls), and that is checked, whatever happened before.
 *
 * Needs root, dockerd/containerd/runc (docker.io), docker-compose, debootstrap's cached root
 * (debian-root.ts) and the Debian mirror and npm registry for the first build.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DockerEngine,
  hostNet,
  nodeBaseImage,
  restoreHostNet,
  run,
  type HostNet,
  type Run,
} from '../support/docker-engine.js';
import { REPO_ROOT } from '../support/paths.js';

const SCRIPT = join(REPO_ROOT, 'docker', 'splitbrain.sh');
const FW2 = '10.99.0.2';

interface Status {
  box: string;
  last: string;
  vip: boolean;
  arp: boolean;
}
interface VipdLine {
  box: string;
  time: number;
  event: string;
  from?: string;
  to?: string;
  reason?: string;
  peer?: string;
}
/** What a `splitbrain.sh run` printed, split at its CUT and HEAL lines. */
interface Report {
  before: Status[][];
  during: Status[][];
  after: Status[][];
  cutAt: number;
  healAt: number;
  vipd: VipdLine[];
}

const STATUS = /^\+\s*[\d.]+s\s+(fw\d): (.*); VIP: (yes|no); client ARP here: (yes|no)$/;

function report(out: string): Report {
  const r: Report = { before: [], during: [], after: [], cutAt: NaN, healAt: NaN, vipd: [] };
  let phase: Status[][] = r.before;
  for (const line of out.split('\n')) {
    const cut = / --- CUT fw1 \(\w+\) for \d+ s at (\S+) ---$/.exec(line);
    const heal = / --- HEAL at (\S+) ---$/.exec(line);
    const status = STATUS.exec(line);
    const logged = /^ {2}(fw\d) (\{.*\})$/.exec(line);
    if (cut) [r.cutAt, phase] = [Date.parse(cut[1] ?? ''), r.during];
    else if (heal) [r.healAt, phase] = [Date.parse(heal[1] ?? ''), r.after];
    else if (status) {
      const [, box = '', last = '', vip, arp] = status;
      // Each status round lists the firewalls from fw1.
      if (box === 'fw1' || phase.length === 0) phase.push([]);
      phase.at(-1)?.push({ box, last, vip: vip === 'yes', arp: arp === 'yes' });
    } else if (logged) {
      const fields = JSON.parse(logged[2] ?? '{}') as Omit<VipdLine, 'box' | 'time'> & {
        time: string;
      };
      r.vipd.push({ ...fields, box: logged[1] ?? '', time: Date.parse(fields.time) });
    }
  }
  return r;
}

const holders = (round: Status[] | undefined): string[] =>
  (round ?? []).filter((s) => s.vip).map((s) => s.box);
const arpOn = (round: Status[] | undefined): string[] =>
  (round ?? []).filter((s) => s.arp).map((s) => s.box);

describe('docker/splitbrain.sh on a real Docker engine', () => {
  let before: HostNet | undefined;
  let engine: DockerEngine | undefined;
  let baseImage = '';

  /** splitbrain.sh against the lab's engine, with the base image built or pulled here. */
  const splitbrain = (args: string[]): Promise<Run> =>
    run(SCRIPT, args, {
      // The classic builder, whose cache the image built in beforeAll is in.
      env: { ...engine?.env, VIPD_NODE_IMAGE: baseImage, DOCKER_BUILDKIT: '0' },
      timeoutMs: 300_000,
    });

  beforeAll(async () => {
    before = await hostNet();
    engine = await DockerEngine.start();
    baseImage = await nodeBaseImage(engine);
    // Built once for both runs; their `compose build` finds every step cached. The engine has
    // no default bridge, so the build's RUN steps use the host's network. The build stage is
    // tagged too: the engine's clean-up prunes untagged images, and its apt and npm ci layers
    // are the cache worth keeping.
    for (const target of [[], ['--target', 'build']]) {
      const built = await engine.build(
        [
          ...target,
          '--build-arg',
          `NODE_IMAGE=${baseImage}`,
          '-t',
          target.length === 0 ? 'vipd:splitbrain' : 'vipd-lab/splitbrain-build',
          '-f',
          'docker/Dockerfile',
          '.',
        ],
        REPO_ROOT,
      );
      expect(built.code, `${built.stdout.slice(-3000)}\n${built.stderr}`).toBe(0);
    }
  }, 1_200_000);

  afterAll(async () => {
    try {
      if (engine !== undefined) {
        await splitbrain(['down']);
        await engine.stop();
      }
    } finally {
      if (before !== undefined) {
        await restoreHostNet(before);
        expect(await hostNet()).toEqual(before);
      }
    }
  }, 120_000);

  it('default run (proto cut of fw1): fw1 master, two masters during the cut, fw1 alone after', async () => {
    const r = await splitbrain([]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const rep = report(r.stdout);

    expect(holders(rep.before.at(-1))).toEqual(['fw1']);
    expect(arpOn(rep.before.at(-1))).toEqual(['fw1']);
    // The cut is silent (input drops): fw1 keeps its VIP, fw2 takes it too.
    expect(rep.during.map(holders)).toContainEqual(['fw1', 'fw2']);
    const inCut = (l: VipdLine): boolean => l.time > rep.cutAt && l.time < rep.healAt;
    const afterHeal = (l: VipdLine): boolean => l.time > rep.healAt;
    expect(rep.vipd.filter((l) => l.box === 'fw1' && l.event === 'transition' && inCut(l))).toEqual(
      [],
    );
    expect(
      rep.vipd.filter((l) => l.box === 'fw2' && inCut(l)).map((l) => [l.from, l.to, l.reason]),
    ).toEqual([['backup', 'master', 'master-down']]);
    // Healed, fw1 hears the other master, reports it and wins; fw2 yields.
    expect(
      rep.vipd.filter((l) => l.box === 'fw1' && afterHeal(l)).map((l) => [l.event, l.peer]),
    ).toEqual([['split-brain', FW2]]);
    expect(
      rep.vipd.filter((l) => l.box === 'fw2' && afterHeal(l)).map((l) => [l.from, l.to, l.reason]),
    ).toEqual([['master', 'backup', 'higher-priority']]);
    expect(holders(rep.after.at(-1))).toEqual(['fw1']);
    expect(arpOn(rep.after.at(-1))).toEqual(['fw1']);
  }, 300_000);

  it('--mode oneway --fw3: fw2 takes over unheard by fw1, fw1 sees the split brain, one holder after', async () => {
    const r = await splitbrain(['--mode', 'oneway', '--fw3']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const rep = report(r.stdout);

    expect(holders(rep.before.at(-1))).toEqual(['fw1']);
    expect(arpOn(rep.before.at(-1))).toEqual(['fw1']);
    expect(rep.before.at(-1)?.map((s) => s.box)).toEqual(['fw1', 'fw2', 'fw3']);
    const inCut = (l: VipdLine): boolean => l.time > rep.cutAt && l.time < rep.healAt;
    // The others stop hearing fw1: fw2 (priority 100) takes over, fw3 (50) stays behind it.
    expect(
      rep.vipd.filter((l) => l.box === 'fw2' && inCut(l)).map((l) => [l.from, l.to, l.reason]),
    ).toEqual([['backup', 'master', 'master-down']]);
    // fw1 still hears fw2: it reports the second master while cut off.
    expect(
      rep.vipd.filter((l) => l.box === 'fw1' && l.event === 'split-brain' && inCut(l)),
    ).not.toEqual([]);
    // If fw1 concluded that fw2 cannot hear it, it yielded and holds off preempting (one-way
    // loss, 60 s): fw2 keeps the VIP after the heal; otherwise fw1's adverts win it back.
    const yielded = rep.vipd.some((l) => l.box === 'fw1' && l.reason === 'peer-cannot-hear-us');
    const winner = yielded ? 'fw2' : 'fw1';
    expect(holders(rep.after.at(-1))).toEqual([winner]);
    expect(arpOn(rep.after.at(-1))).toEqual([winner]);
  }, 300_000);
});
