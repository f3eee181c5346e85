/**
 * The split-brain simulation's command line (scripts/splitbrain-sim runs it after
 * scripts/setup): parses the options, builds the driver (namespaces by default, Docker with
 * `--driver docker`), runs the scenario printing its timeline, then the summary.
 *
 * Exit codes: 0 when the run ended converged (one master, the VIP on it only, the client's ARP
 * entry on its MAC), 1 when it did not or the run failed, 2 on bad usage.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../../test/support/paths.js';
import { formatSummary, stamp } from './report.js';
import {
  CUT_MODES,
  FIREWALLS,
  runScenario,
  type Cluster,
  type CutMode,
  type Transport,
} from './scenario.js';

const USAGE = `usage: scripts/splitbrain-sim [--mode proto|link|oneway] [--fw3] [--transport raw|udp]
                             [--split SECONDS] [--cycles N] [--json FILE] [--driver netns|docker]
  proto   fw1's VRRP dropped both ways on the switch; clients still reach every box (default)
  link    fw1's switch port down (cable pulled)
  oneway  the others stop hearing fw1; fw1 still hears them
  --split how long each partition lasts (default 8 s); --cycles how many cut/heal rounds (1)`;

class UsageError extends Error {}

interface Options {
  mode: CutMode;
  fw3: boolean;
  transport: Transport;
  split: number;
  cycles: number;
  json: string | undefined;
  driver: 'netns' | 'docker';
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      mode: { type: 'string', default: 'proto' },
      fw3: { type: 'boolean', default: false },
      transport: { type: 'string', default: 'raw' },
      split: { type: 'string', default: '8' },
      cycles: { type: 'string', default: '1' },
      json: { type: 'string' },
      driver: { type: 'string', default: 'netns' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) throw new UsageError('');
  const mode = CUT_MODES.find((m) => m === values.mode);
  if (mode === undefined) throw new UsageError(`--mode must be one of ${CUT_MODES.join(', ')}`);
  if (values.transport !== 'raw' && values.transport !== 'udp') {
    throw new UsageError('--transport must be raw or udp');
  }
  if (values.driver !== 'netns' && values.driver !== 'docker') {
    throw new UsageError('--driver must be netns or docker');
  }
  const split = Number(values.split);
  const cycles = Number(values.cycles);
  if (!(split > 0)) throw new UsageError('--split must be a positive number of seconds');
  if (!Number.isInteger(cycles) || cycles < 1) throw new UsageError('--cycles must be 1 or more');
  return {
    mode,
    fw3: values.fw3,
    transport: values.transport,
    split,
    cycles,
    json: values.json,
    driver: values.driver,
  };
}

async function driver(opts: Options): Promise<Cluster & { description: string }> {
  const boxes = FIREWALLS.slice(0, opts.fw3 ? 3 : 2);
  // Imported on demand: the Docker run needs neither root nor the lab, the lab no Docker.
  if (opts.driver === 'docker') {
    const { DockerCluster } = await import('./docker.js');
    const logDir = join(REPO_ROOT, '.lab', `docker-${process.pid}`);
    return DockerCluster.create(boxes, opts.transport, logDir);
  }
  const { NetnsCluster } = await import('./netns.js');
  return NetnsCluster.create(boxes, opts.transport);
}

async function main(argv: string[]): Promise<number> {
  let opts: Options;
  try {
    opts = options(argv);
  } catch (err) {
    const message = (err as Error).message;
    if (message === '') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    process.stderr.write(`splitbrain-sim: ${message}\n${USAGE}\n`);
    return 2;
  }
  const t0 = Date.now();
  const narrate = (time: number, text: string): void => console.log(`${stamp(time - t0)}  ${text}`);
  console.log(
    `vipd split-brain simulation: mode ${opts.mode}, transport ${opts.transport}, ${opts.fw3 ? 3 : 2} firewalls, split ${opts.split} s, ${opts.cycles} cycle(s)\n`,
  );
  const cluster = await driver(opts);
  narrate(Date.now(), `${opts.driver} ready: ${cluster.description}`);
  try {
    const summary = await runScenario(
      cluster,
      {
        mode: opts.mode,
        transport: opts.transport,
        cutBox: 'fw1',
        splitSeconds: opts.split,
        cycles: opts.cycles,
        driver: opts.driver,
        t0,
      },
      narrate,
    );
    console.log(formatSummary(summary));
    if (opts.json !== undefined) {
      writeFileSync(opts.json, `${JSON.stringify(summary, null, 2)}\n`);
      console.log(`  summary written to ${opts.json}`);
    }
    return summary.converged ? 0 : 1;
  } finally {
    await cluster.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`splitbrain-sim failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
