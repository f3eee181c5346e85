/**
 * A Docker engine of the lab's own, for the test that runs docker/ on a real engine.
 *
 * `DockerEngine.start()` runs dockerd by hand (no systemd) with its own data root, exec root,
 * pidfile and socket, so it never meets a system docker; children reach it through `env`
 * (DOCKER_HOST). The data root is kept in the lab cache: image layers (the base image, apt and
 * `npm ci` steps) are reused by later runs like any build cache, while layers made from the
 * tree rebuild whenever it changed. dockerd runs with `--bridge=none --iptables=false
 * --ip-forward=false`: no docker0, no iptables chains or rules, no FORWARD policy and no
 * ip_forward change; the containers of a compose project still talk over their own bridge
 * network, and builds reach the Debian mirror and the npm registry through the host's network
 * (`build()` passes `--network host`). `stop()` removes every container and network, prunes
 * untagged images (so the cache does not grow with each run), and stops dockerd by its pid,
 * then its containerd.
 *
 * `hostNet()` records what a Docker engine may change on the host (its links, iptables filter
 * and nat, the FORWARD policy, net.ipv4.ip_forward) and `restoreHostNet(before)` undoes any of
 * it that differs, for an engine that was started otherwise or that died half-way.
 *
 * `nodeBaseImage(engine)` is the base for docker/Dockerfile: the official node:<major>-bookworm-
 * slim when the registry answers, else a stand-in imported from a fresh debootstrap root
 * (debian-root.ts) with the Node that runs the tests laid out as in the official image.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mustRun } from './command.js';
import { freshDebianRoot, LAB_CACHE } from './debian-root.js';

export class DockerEngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerEngineError';
  }
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end without blocking the worker (builds take minutes). */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        env: { ...process.env, ...opts.env },
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 0,
        maxBuffer: 256 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({
          code,
          stdout,
          stderr: err !== null && code === null ? `${stderr}${err.message}` : stderr,
        });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

const ENGINE_DIR = join(LAB_CACHE, 'docker-engine');

export class DockerEngine {
  private constructor(
    private readonly dockerd: ChildProcess,
    private readonly runDir: string,
    /** DOCKER_HOST for the children that use this engine (docker, docker-compose). */
    readonly env: NodeJS.ProcessEnv,
    private readonly onExit: () => void,
  ) {}

  /** Starts dockerd and waits until it answers; fails with its log when it does not. */
  static async start(): Promise<DockerEngine> {
    const runDir = mkdtempSync(join(tmpdir(), 'vipd-dockerd-'));
    const data = join(ENGINE_DIR, 'data');
    mkdirSync(data, { recursive: true });
    const logFile = join(runDir, 'dockerd.log');
    const env = { DOCKER_HOST: `unix://${join(runDir, 'docker.sock')}` };
    const log = openSync(logFile, 'w');
    // The pidfile sits beside the data root: a second engine on the same cache is refused by
    // dockerd itself ("pid file found, ensure docker is not running").
    const dockerd = spawn(
      'dockerd',
      [
        '--data-root',
        data,
        '--exec-root',
        join(runDir, 'exec'),
        '--pidfile',
        join(ENGINE_DIR, 'dockerd.pid'),
        '--host',
        env.DOCKER_HOST,
        '--bridge=none',
        '--iptables=false',
        '--ip-forward=false',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    // A test process that dies without its afterAll still stops the engine it started.
    const onExit = (): void => {
      if (dockerd.exitCode === null) dockerd.kill('SIGTERM');
    };
    process.once('exit', onExit);
    const engine = new DockerEngine(dockerd, runDir, env, onExit);
    const deadline = performance.now() + 60_000;
    for (;;) {
      if ((await run('docker', ['version'], { env })).code === 0) return engine;
      const exited = dockerd.exitCode !== null || dockerd.signalCode !== null;
      if (exited || performance.now() > deadline) {
        const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n');
        await engine.stop();
        throw new DockerEngineError(
          `dockerd ${exited ? 'exited' : 'did not answer within 60 s'} (log ${logFile}):\n${tail}`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** `docker ARGS` against this engine. */
  docker(args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<Run> {
    return run('docker', args, { ...opts, env: this.env });
  }

  /**
   * `docker build --network host` with the classic builder, which docker-compose 1.29 also
   * uses: a compose build of the same Dockerfile and context then finds every step cached.
   */
  async build(args: readonly string[], cwd: string): Promise<Run> {
    return run('docker', ['build', '--network', 'host', ...args], {
      cwd,
      env: { ...this.env, DOCKER_BUILDKIT: '0' },
    });
  }

  /** Removes containers, networks and untagged images, then stops dockerd and its containerd. */
  async stop(): Promise<void> {
    const failures: string[] = [];
    const containerd = join(this.runDir, 'exec', 'containerd', 'containerd.pid');
    const containerdPid = existsSync(containerd) ? Number(readFileSync(containerd, 'utf8')) : 0;
    if (this.dockerd.exitCode === null && this.dockerd.signalCode === null) {
      const ids = (await this.docker(['ps', '-aq'])).stdout.split('\n').filter((l) => l !== '');
      for (const step of [
        ids.length > 0 ? ['rm', '-f', ...ids] : [],
        ['network', 'prune', '-f'],
        ['image', 'prune', '-f'],
      ]) {
        if (step.length === 0) continue;
        const r = await this.docker(step);
        if (r.code !== 0) failures.push(`docker ${step.join(' ')}: ${r.stderr.trim()}`);
      }
      const exited = new Promise((r) => this.dockerd.once('exit', r));
      this.dockerd.kill('SIGTERM');
      const stopped = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 30_000)),
      ]);
      if (!stopped) {
        failures.push(`dockerd (pid ${String(this.dockerd.pid)}) ignored SIGTERM for 30 s`);
        this.dockerd.kill('SIGKILL');
        await exited;
      }
    }
    process.removeListener('exit', this.onExit);
    // dockerd stops the containerd it started; one left behind (dockerd killed) is ours to stop.
    if (containerdPid > 0 && alive(containerdPid)) {
      process.kill(containerdPid, 'SIGTERM');
      for (let i = 0; i < 100 && alive(containerdPid); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      if (alive(containerdPid)) failures.push(`containerd (pid ${containerdPid}) did not exit`);
    }
    // dockerd leaves its exec root's netns/default (nsfs) mounted after it exits.
    for (const mount of mountsUnder(this.runDir)) {
      const r = await run('umount', [mount]);
      if (r.code !== 0) failures.push(`umount ${mount}: ${r.stderr.trim()}`);
    }
    try {
      rmSync(this.runDir, { recursive: true, force: true });
    } catch (e) {
      failures.push(`removing ${this.runDir}: ${(e as Error).message}`);
    }
    if (failures.length > 0) {
      throw new DockerEngineError(`stopping the lab's Docker engine:\n${failures.join('\n')}`);
    }
  }
}

/** Mount points at or below `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What a Docker engine may change on the host. */
export interface HostNet {
  /** Links a Docker engine creates (docker0, br-<id>, veth<id>). */
  links: string[];
  /** `iptables -S` of the filter and nat tables. */
  filter: string[];
  nat: string[];
  ipForward: string;
}

const DOCKER_LINK = /^(docker\d+|br-[0-9a-f]{12}|veth[0-9a-f]{7})$/;

export async function hostNet(): Promise<HostNet> {
  const links = (await mustRun('ip', ['-o', 'link', 'show']))
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((name) => DOCKER_LINK.test(name))
    .sort();
  const rules = async (table: string): Promise<string[]> =>
    (await mustRun('iptables', ['-t', table, '-S'])).trim().split('\n');
  return {
    links,
    filter: await rules('filter'),
    nat: await rules('nat'),
    ipForward: (await mustRun('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim(),
  };
}

/**
 * Puts back what differs from `before`: Docker's links deleted, rules and chains added since
 * deleted (rules first, then the emptied chains), policies and ip_forward reset.
 */
export async function restoreHostNet(before: HostNet): Promise<void> {
  const now = await hostNet();
  for (const link of now.links.filter((l) => !before.links.includes(l))) {
    await run('ip', ['link', 'del', link]);
  }
  for (const table of ['filter', 'nat'] as const) {
    const added = now[table].filter((r) => !before[table].includes(r));
    for (const rule of added.filter((r) => r.startsWith('-A '))) {
      // The line as iptables printed it, quotes included: a shell splits it as iptables meant.
      await run('sh', ['-c', `iptables -t ${table} -D ${rule.slice(3)}`]);
    }
    for (const chain of added.filter((r) => r.startsWith('-N '))) {
      await run('iptables', ['-t', table, '-X', chain.slice(3)]);
    }
    for (const policy of before[table].filter((r) => r.startsWith('-P '))) {
      const [, chain = '', target = ''] = policy.split(' ');
      await run('iptables', ['-t', table, '-P', chain, target]);
    }
  }
  if (now.ipForward !== before.ipForward) {
    await mustRun('sysctl', ['-qw', `net.ipv4.ip_forward=${before.ipForward}`]);
  }
}

/** Where npm's package lives for a Node prefix: beside it, else the npm on PATH. */
async function npmDir(prefix: string): Promise<string> {
  const beside = join(prefix, 'lib/node_modules/npm');
  if (existsSync(beside)) return beside;
  const cli = realpathSync((await mustRun('sh', ['-c', 'command -v npm'])).trim());
  // <dir>/npm/bin/npm-cli.js
  return dirname(dirname(cli));
}

/**
 * The image docker/Dockerfile's NODE_IMAGE should name: the official node:<major>-bookworm-slim
 * if present or pullable within 30 s, else `vipd-lab/node:<version>-bookworm`, imported once
 * (then kept in the engine's cache) from a fresh debootstrap root plus this process's Node:
 * bin/node, include/node (node-gyp builds the addons offline against them) and npm under
 * /usr/local as in the official image, and the host's extra CA certificates for npm's TLS
 * (NODE_EXTRA_CA_CERTS), which the official image would not trust either.
 */
export async function nodeBaseImage(engine: DockerEngine): Promise<string> {
  const version = process.versions.node;
  const official = `node:${version.split('.')[0] ?? ''}-bookworm-slim`;
  if ((await engine.docker(['image', 'inspect', official])).code === 0) return official;
  if ((await engine.docker(['pull', official], { timeoutMs: 30_000 })).code === 0) return official;
  const standIn = `vipd-lab/node:${version}-bookworm`;
  if ((await engine.docker(['image', 'inspect', standIn])).code === 0) return standIn;

  const prefix = dirname(dirname(realpathSync(process.execPath)));
  const root = mkdtempSync(join(tmpdir(), 'vipd-node-image-'));
  try {
    await freshDebianRoot(root);
    const local = join(root, 'usr/local');
    cpSync(process.execPath, join(local, 'bin/node'), { dereference: true });
    cpSync(join(prefix, 'include/node'), join(local, 'include/node'), { recursive: true });
    cpSync(await npmDir(prefix), join(local, 'lib/node_modules/npm'), { recursive: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(local, 'bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(local, 'bin/npx'));
    const changes = ['-c', 'CMD ["node"]'];
    const caDir = '/usr/local/share/ca-certificates';
    const cas = existsSync(caDir) ? readdirSync(caDir).filter((f) => f.endsWith('.crt')) : [];
    if (cas.length > 0) {
      const bundle = cas.map((f) => readFileSync(join(caDir, f), 'utf8')).join('\n');
      writeFileSync(join(local, 'share/vipd-lab-extra-ca.pem'), bundle);
      changes.push('-c', 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/vipd-lab-extra-ca.pem');
    }
    await mustRun(
      'sh',
      [
        '-c',
        `tar -C "$1" -c . | docker import ${changes.map((c) => `'${c}'`).join(' ')} - "$2"`,
        'sh',
        root,
        standIn,
      ],
      { env: engine.env },
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return standIn;
}
