/**
 * The scenario's `Cluster` on a real Docker host, with docker/docker-compose.yml. Every compose
 * call and every cut goes through docker/splitbrain.sh (`compose ...`, `cut`, `heal`), so the
 * project name, profiles and nft rules live in one place and the bash-only run and this driver
 * cut the same way; the frequent reads (VIP, ARP: every 100 ms) use `docker exec` on the
 * container ids, which is much cheaper than a compose call.
 *
 * Containers are recreated for a run (vipd starts fresh with the chosen transport) and removed
 * by `close`; vipd's output is kept in `logDir`. Needs a Docker engine: nothing here runs in CI.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { LabProcess } from '../../test/lab/lab.js';
import { REPO_ROOT } from '../../test/support/paths.js';
import { VIP, type BoxSpec, type Cluster, type CutMode, type Transport } from './scenario.js';

const SCRIPT = join(REPO_ROOT, 'docker', 'splitbrain.sh');
const CLIENT = 'client';

export class DockerCluster implements Cluster {
  private readonly ids = new Map<string, string>();
  private readonly logs = new Map<string, LabProcess>();
  private ping: LabProcess | undefined;
  private cutBox: string | undefined;

  private constructor(
    readonly boxes: readonly BoxSpec[],
    private readonly transport: Transport,
    private readonly logDir: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Builds the image and starts the client; the firewalls start with `start`. */
  static async create(
    boxes: readonly BoxSpec[],
    transport: Transport,
    logDir: string,
  ): Promise<DockerCluster> {
    mkdirSync(logDir, { recursive: true });
    const env = {
      VIPD_TRANSPORT: transport,
      VIPD_FW3: boxes.some((b) => b.name === 'fw3') ? '1' : '0',
    };
    const cluster = new DockerCluster(boxes, transport, logDir, env);
    await cluster.script(['down']);
    await cluster.script(['compose', 'build', 'fw1']);
    await cluster.script(['compose', 'up', '-d', '--force-recreate', '--no-deps', CLIENT]);
    await cluster.resolve(CLIENT);
    return cluster;
  }

  get description(): string {
    return `docker compose project vipd-splitbrain (docker/docker-compose.yml), logs in ${this.logDir}`;
  }

  private async script(args: string[]): Promise<string> {
    const r = await execa(SCRIPT, args, { env: this.env, reject: false });
    if (r.exitCode !== 0) {
      throw new Error(`docker/splitbrain.sh ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    }
    return r.stdout;
  }

  private async resolve(service: string): Promise<void> {
    const id = (await this.script(['compose', 'ps', '-q', service])).trim();
    if (id === '') throw new Error(`no container for ${service}`);
    this.ids.set(service, id);
  }

  private async exec(service: string, cmd: string[]): Promise<string> {
    const id = this.ids.get(service);
    if (id === undefined) throw new Error(`${service} is not running`);
    return (await execa('docker', ['exec', id, ...cmd])).stdout;
  }

  private follow(name: string, cmd: string, args: string[]): LabProcess {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    return new LabProcess(name, child, join(this.logDir, `${name}.log`));
  }

  async macs(): Promise<Map<string, string>> {
    const macs = new Map<string, string>();
    for (const box of this.boxes) {
      macs.set(
        box.name,
        (await this.exec(box.name, ['cat', '/sys/class/net/eth0/address'])).trim(),
      );
    }
    return macs;
  }

  async start(box: BoxSpec): Promise<void> {
    // The priority is the compose file's (docker-files.test.ts checks it matches FIREWALLS).
    await this.script(['compose', 'up', '-d', '--force-recreate', '--no-deps', box.name]);
    await this.resolve(box.name);
    this.logs.set(
      box.name,
      this.follow(`vipd-${box.name}`, SCRIPT, ['compose', 'logs', '-f', '--no-color', box.name]),
    );
  }

  startClientTraffic(): Promise<void> {
    const id = this.ids.get(CLIENT) ?? CLIENT;
    this.ping = this.follow('ping', 'docker', [
      'exec',
      id,
      'ping',
      '-D',
      '-O',
      '-n',
      '-i',
      '0.2',
      VIP,
    ]);
    return Promise.resolve();
  }

  clientTraffic(): readonly string[] {
    return this.ping?.lines ?? [];
  }

  async cut(box: string, mode: CutMode): Promise<void> {
    await this.script(['--mode', mode, '--transport', this.transport, 'cut', box]);
    this.cutBox = box;
  }

  async heal(): Promise<void> {
    if (this.cutBox === undefined) return;
    await this.script(['heal']);
    this.cutBox = undefined;
  }

  async vipHolders(): Promise<string[]> {
    const held = await Promise.all(
      this.boxes.map(async (b) => {
        const out = await this.exec(b.name, ['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']);
        const parsed = JSON.parse(out) as { addr_info?: { local?: string }[] }[];
        return (parsed[0]?.addr_info ?? []).some((a) => a.local === VIP);
      }),
    );
    return this.boxes.filter((_, i) => held[i]).map((b) => b.name);
  }

  async clientArp(): Promise<string | undefined> {
    const out = await this.exec(CLIENT, ['ip', '-j', 'neigh', 'show', 'to', VIP, 'dev', 'eth0']);
    return (JSON.parse(out) as { lladdr?: string }[])[0]?.lladdr;
  }

  /** Compose prefixes each line with the service name; vipd's JSON starts at the first brace. */
  logLines(box: string): readonly string[] {
    return (this.logs.get(box)?.lines ?? []).map((l) => l.slice(Math.max(0, l.indexOf('{'))));
  }

  /** `compose logs -f` ends when the container stops, so its follower stands for the box. */
  vipdRunning(box: string): boolean {
    return this.logs.get(box)?.running ?? false;
  }

  async close(): Promise<void> {
    for (const p of [...this.logs.values(), this.ping]) p?.kill('SIGTERM');
    await this.script(['down']).catch((err: unknown) => {
      console.error(`docker: ${(err as Error).message}`);
    });
  }
}
