/**
 * The network-namespace lab every integration test, the demo and the simulations use.
 *
 * `Lab.create` builds a switch namespace with a bridge and one namespace per host, each host's
 * `eth0` a veth whose other end is a bridge port, all created with their ends already in place so
 * nothing ever appears in the host's own namespace. Names carry a unique prefix with the creating
 * PID (`vl<pid>x<n>-<host>`), so parallel runs never collide and a later run can sweep the labs
 * of runs that died without cleaning up.
 *
 * Teardown (`destroy`) kills every process the lab started (by PID: `ip netns del` does not),
 * then deletes the namespaces. It also runs on process exit and on SIGINT/SIGTERM, so Ctrl-C
 * leaves nothing behind. A lab that cannot be built throws with the failing command and its
 * stderr: tests must fail with that reason, never skip.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

export class LabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabError';
  }
}

export interface LabHost {
  name: string;
  ns: string;
  address: string;
  /** The bridge port (in the switch namespace) this host's eth0 is plugged into. */
  port: string;
}

export interface LabOptions {
  hosts: string[];
  /** First three octets of the LAN (a /24); host i (0-based) gets .(i+1). */
  subnet?: string;
  /** Where process output is written; default .lab/<prefix> under the working directory. */
  logDir?: string;
}

export class LabProcess {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private waiters: { re: RegExp; resolve: (line: string) => void }[] = [];

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    logFile: string,
  ) {
    const log = createWriteStream(logFile);
    let partial = '';
    const onData = (chunk: Buffer): void => {
      log.write(chunk);
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) this.addLine(line);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        log.end();
        resolve(code ?? (signal === null ? null : -1));
      }),
    );
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new LabError(`${this.name} has no PID (spawn failed)`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private addLine(line: string): void {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.re.test(line)) return true;
      w.resolve(line);
      return false;
    });
  }

  /**
   * Resolves with the first line matching `re`, already seen (from line `from` on) or future.
   * Pass `from: proc.lines.length` to wait for what happens after an event, not before it.
   */
  waitForLine(re: RegExp, timeoutMs: number, from = 0): Promise<string> {
    const seen = this.lines.slice(from).find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new LabError(
            `${this.name}: no line matching ${re} within ${timeoutMs} ms; last lines:\n${this.lines.slice(-15).join('\n')}`,
          ),
        );
      }, timeoutMs);
      timer.unref();
      const done = (line: string): void => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiters.push({ re, resolve: done });
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

const live = new Set<Lab>();
let counter = 0;

function onExitCleanup(): void {
  for (const lab of live) lab.destroySync();
}

function onSignal(signal: NodeJS.Signals): void {
  onExitCleanup();
  process.kill(process.pid, signal);
}

let hooksInstalled = false;
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', onExitCleanup);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function run(cmd: string, args: string[]): Promise<string> {
  const r = await execa(cmd, args, { reject: false });
  if (r.exitCode !== 0) {
    throw new LabError(
      `lab: \`${cmd} ${args.join(' ')}\` failed (exit ${String(r.exitCode)}): ${r.stderr.trim() || r.stdout.trim() || String(r.message)}`,
    );
  }
  return r.stdout;
}

/**
 * Runs `ip` commands (each an argument list) in one `ip -batch` process, in namespace `ns` if
 * given: building a lab takes a handful of processes instead of one per command. Stops at the
 * first failing command and throws with ip's complaint and the commands it was given.
 */
async function ipBatch(ns: string | undefined, commands: string[][]): Promise<void> {
  const args = [...(ns === undefined ? [] : ['-n', ns]), '-batch', '-'];
  const input = commands.map((c) => c.join(' ')).join('\n');
  const r = await execa('ip', args, { input, reject: false });
  if (r.exitCode !== 0) {
    throw new LabError(
      `lab: \`ip ${args.join(' ')}\` failed (exit ${String(r.exitCode)}): ${r.stderr.trim() || String(r.message)}; its commands:\n${input}`,
    );
  }
}

/** Kills what still runs in a namespace (`ip netns del` would leave it running), then deletes it. */
function deleteNamespaceSync(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
    for (const pid of pids.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
  } catch {
    // namespace already gone or its processes exited meanwhile
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // already deleted
  }
}

/** Deletes namespaces left by lab runs whose process is gone (a crashed or killed test run). */
async function sweepDeadLabs(): Promise<void> {
  const out = await run('ip', ['netns', 'list']);
  for (const line of out.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = /^vl(\d+)x\d+-/.exec(name);
    if (m?.[1] !== undefined && !pidAlive(Number(m[1]))) deleteNamespaceSync(name);
  }
}

/** The switch-side end of a host's interface; eth0 keeps the short name p-<host>. */
function portName(host: string, ifname: string): string {
  return (ifname === 'eth0' ? `p-${host}` : `p-${host}-${ifname}`).slice(0, 15);
}

const LO_UP = ['link', 'set', 'lo', 'up'];

/** A bridge that forwards at once (no STP, no forwarding delay) and floods all multicast. */
function bridgeCommands(bridge: string): string[][] {
  return [
    [
      'link',
      'add',
      bridge,
      'type',
      'bridge',
      'mcast_snooping',
      '0',
      'stp_state',
      '0',
      'forward_delay',
      '0',
    ],
    ['link', 'set', bridge, 'up'],
  ];
}

/** In a host: `cidr` on `ifname`, then `ifname` up. */
function interfaceCommands(ifname: string, cidr: string): string[][] {
  return [
    ['addr', 'add', cidr, 'dev', ifname],
    ['link', 'set', ifname, 'up'],
  ];
}

export class Lab {
  readonly switchNs: string;
  readonly hosts = new Map<string, LabHost>();
  private readonly namespaces: string[] = [];
  private readonly processes: LabProcess[] = [];
  private destroyed = false;

  private constructor(
    readonly prefix: string,
    readonly subnet: string,
    readonly logDir: string,
  ) {
    this.switchNs = `${prefix}-sw`;
  }

  static async create(opts: LabOptions): Promise<Lab> {
    if (process.getuid?.() !== 0) {
      throw new LabError('lab: network namespaces need root (run the tests as root, as CI does)');
    }
    counter += 1;
    const prefix = `vl${process.pid}x${counter}`;
    const lab = new Lab(
      prefix,
      opts.subnet ?? '10.99.0',
      opts.logDir ?? join(process.cwd(), '.lab', prefix),
    );
    mkdirSync(lab.logDir, { recursive: true });
    installHooks();
    live.add(lab);
    try {
      await sweepDeadLabs();
      // The whole LAN in four steps, each one `ip -batch`: the namespaces, then the switch with
      // its bridge and every host's cable (whose far end lands in the host), then all hosts at
      // once, each bringing up its end with its address.
      const hosts = opts.hosts.map((name, i) => lab.newHost(name, `${lab.subnet}.${i + 1}`));
      await lab.addNamespaces([lab.switchNs, ...hosts.map((h) => h.ns)]);
      await ipBatch(lab.switchNs, [
        LO_UP,
        ...bridgeCommands('br0'),
        ...hosts.flatMap((h) => lab.portCommands(h, 'eth0', 'br0')),
      ]);
      await Promise.all(
        hosts.map((h) => ipBatch(h.ns, [LO_UP, ...interfaceCommands('eth0', `${h.address}/24`)])),
      );
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  /** Creates namespaces, recorded first so that a failure half-way still removes them all. */
  private async addNamespaces(names: string[]): Promise<void> {
    this.namespaces.push(...names);
    await ipBatch(
      undefined,
      names.map((ns) => ['netns', 'add', ns]),
    );
  }

  /** Registers a host (its namespace not yet created) with the port its eth0 will plug into. */
  private newHost(name: string, address: string): LabHost {
    const host = { name, ns: `${this.prefix}-${name}`, address, port: portName(name, 'eth0') };
    this.hosts.set(name, host);
    return host;
  }

  /** Adds a host namespace plugged into the bridge, with `address`/24 on its eth0. */
  async addHost(name: string, address: string, bridge = 'br0'): Promise<LabHost> {
    const host = this.newHost(name, address);
    await this.addNamespaces([host.ns]);
    await ipBatch(host.ns, [LO_UP]);
    await this.plug(name, 'eth0', `${address}/24`, bridge);
    return host;
  }

  /** Another switch (bridge) in the switch namespace, for a second LAN (e.g. behind the firewalls). */
  async addSwitch(bridge: string): Promise<void> {
    await ipBatch(this.switchNs, bridgeCommands(bridge));
  }

  /** Plugs an existing host into a switch with a new interface carrying `cidr`. */
  async plug(host: string, ifname: string, cidr: string, bridge: string): Promise<string> {
    const h = this.host(host);
    await ipBatch(this.switchNs, this.portCommands(h, ifname, bridge));
    await ipBatch(h.ns, interfaceCommands(ifname, cidr));
    return portName(host, ifname);
  }

  /** In the switch namespace: a veth whose far end is `ifname` in `host`, its near end a port of `bridge`. */
  private portCommands(host: LabHost, ifname: string, bridge: string): string[][] {
    const port = portName(host.name, ifname);
    return [
      ['link', 'add', port, 'type', 'veth', 'peer', 'name', ifname, 'netns', host.ns],
      ['link', 'set', port, 'master', bridge, 'up'],
    ];
  }

  /** A direct cable between two hosts (e.g. the conntrackd sync link). */
  async cable(
    a: string,
    ifA: string,
    cidrA: string,
    b: string,
    ifB: string,
    cidrB: string,
  ): Promise<void> {
    const nsA = this.host(a).ns;
    const nsB = this.host(b).ns;
    await ipBatch(nsA, [['link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]]);
    await Promise.all([
      ipBatch(nsA, interfaceCommands(ifA, cidrA)),
      ipBatch(nsB, interfaceCommands(ifB, cidrB)),
    ]);
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (h === undefined) throw new LabError(`lab has no host ${name}`);
    return h;
  }

  /** Runs a command inside a host's namespace and returns stdout; throws with stderr on failure. */
  exec(host: string, cmd: string, args: string[]): Promise<string> {
    return run('ip', ['netns', 'exec', this.host(host).ns, cmd, ...args]);
  }

  /** Starts a long-running process inside a host's namespace; output goes to a log file and to `lines`. */
  spawn(
    host: string,
    name: string,
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): LabProcess {
    return this.spawnIn(this.host(host).ns, name, cmd, args, env);
  }

  private spawnIn(
    ns: string,
    name: string,
    cmd: string,
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): LabProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    const proc = new LabProcess(
      name,
      child,
      join(this.logDir, `${name}.${this.processes.length}.log`),
    );
    this.processes.push(proc);
    return proc;
  }

  /** IPv4 (or, with `family` 6, IPv6) addresses on a host's interface. */
  async addresses(host: string, dev = 'eth0', family: 4 | 6 = 4): Promise<string[]> {
    return (await this.addressInfo(host, dev, family)).map((a) => a.local ?? '');
  }

  /** Whether `address` (IPv4 or IPv6, as `ip` prints it) is on a host's interface. */
  async hasAddress(host: string, address: string, dev = 'eth0'): Promise<boolean> {
    return (await this.addresses(host, dev, address.includes(':') ? 6 : 4)).includes(address);
  }

  /** A host interface's IPv6 link-local address (fe80::/10), if it has one. */
  async linkLocal(host: string, dev = 'eth0'): Promise<string | undefined> {
    const info = await this.addressInfo(host, dev, 6);
    return info.find((a) => a.scope === 'link')?.local;
  }

  /**
   * Waits until no IPv6 address on a host's interface is tentative: until then the kernel
   * neither sends from it nor answers for it (duplicate address detection, about 1 s).
   */
  async dadDone(host: string, dev = 'eth0', timeoutMs = 10_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const info = await this.addressInfo(host, dev, 6);
      const tentative = info.filter((a) => a.tentative === true).map((a) => a.local);
      if (info.length > 0 && tentative.length === 0) return;
      if (performance.now() > deadline) {
        throw new LabError(
          `lab: ${host}'s ${dev} still has tentative IPv6 addresses after ${timeoutMs} ms: ${tentative.join(', ') || '(none at all)'}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async addressInfo(host: string, dev: string, family: 4 | 6): Promise<AddressInfo[]> {
    const ns = this.host(host).ns;
    const out = await run('ip', ['-n', ns, '-j', `-${family}`, 'addr', 'show', 'dev', dev]);
    return (JSON.parse(out) as { addr_info?: AddressInfo[] }[])[0]?.addr_info ?? [];
  }

  /** A host's neighbour table (ARP for 4, neighbour discovery for 6), optionally one interface. */
  async neighbours(host: string, family: 4 | 6, dev?: string): Promise<Neighbour[]> {
    const args = ['-n', this.host(host).ns, '-j', `-${family}`, 'neigh', 'show'];
    const out = await run('ip', dev === undefined ? args : [...args, 'dev', dev]);
    return (
      JSON.parse(out) as { dst: string; dev: string; lladdr?: string; state?: string[] }[]
    ).map((n) => ({ address: n.dst, dev: n.dev, mac: n.lladdr, state: n.state ?? [] }));
  }

  /**
   * The MACs a switch has learnt and the port each is behind (`bridge fdb`, the bridge's own
   * permanent entries left out): which box a virtual MAC lives on, as the LAN sees it.
   */
  async fdb(bridge = 'br0'): Promise<{ mac: string; port: string }[]> {
    const out = await run('bridge', ['-n', this.switchNs, '-j', 'fdb', 'show', 'br', bridge]);
    return (JSON.parse(out) as { mac: string; ifname: string; state?: string; flags?: string[] }[])
      .filter((e) => e.state !== 'permanent' && e.ifname !== bridge)
      .map((e) => ({ mac: e.mac, port: e.ifname }));
  }

  /**
   * Starts watching a host's eth0 for `address` to appear and returns a function that resolves
   * with the (performance.now) time it did. Event-driven (`ip monitor`), so a measured failover
   * time is the time the kernel reported the address, not a polling step. Call it BEFORE the
   * event whose effect you time.
   */
  async watchAddress(
    host: string,
    address: string,
  ): Promise<(timeoutMs: number) => Promise<number>> {
    const monitor = this.spawn(host, `monitor-${host}-${this.processes.length}`, 'ip', [
      'monitor',
      'address',
    ]);
    // ip monitor prints nothing when ready; give it time to subscribe before the caller acts.
    await new Promise((r) => setTimeout(r, 100));
    const escaped = address.replace(/\./g, '\\.');
    const seen = monitor
      .waitForLine(new RegExp(`^(?!Deleted).*inet6? ${escaped}/`), 120_000)
      .then(() => performance.now());
    seen.catch(() => undefined);
    return async (timeoutMs) => {
      try {
        return await Promise.race([
          seen,
          new Promise<number>((_, reject) =>
            setTimeout(
              () =>
                reject(new LabError(`${address} did not appear on ${host} within ${timeoutMs} ms`)),
              timeoutMs,
            ),
          ),
        ]);
      } finally {
        monitor.kill('SIGKILL');
      }
    };
  }

  /**
   * Sends `signal` to every process in a host's namespace: a daemon that forks (keepalived's
   * VRRP child) dies as a whole, as when the box itself crashes.
   */
  async signalHost(host: string, signal: NodeJS.Signals): Promise<void> {
    const pids = await run('ip', ['netns', 'pids', this.host(host).ns]);
    for (const pid of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), signal);
      } catch {
        // exited meanwhile
      }
    }
  }

  /**
   * Cuts the election traffic (VRRP, IP protocol 112; or a UDP port for the udp transport)
   * between `host` and the rest of the LAN, on the switch, while everything else still flows:
   * the host keeps reaching and serving clients but stops hearing (direction 'to'), being heard
   * by ('from') or both ('both') its peers. Returns the function that heals the cut.
   */
  async cutElection(
    host: string,
    opts: { direction?: 'both' | 'from' | 'to'; udpPort?: number } = {},
  ): Promise<() => Promise<void>> {
    const port = this.host(host).port;
    const what = opts.udpPort === undefined ? 'meta l4proto 112' : `udp dport ${opts.udpPort}`;
    const direction = opts.direction ?? 'both';
    const rules = [
      ...(direction === 'to' ? [] : [`iifname "${port}" ${what} drop`]),
      ...(direction === 'from' ? [] : [`oifname "${port}" ${what} drop`]),
    ];
    return this.bridgeTable(
      `cut_${host.replace(/[^a-z0-9]/gi, '_')}`,
      rules,
      `cutting ${host} off`,
    );
  }

  /**
   * Random loss of the election traffic (VRRP, or a UDP port for the udp transport) on the
   * switch: every such packet the bridge forwards is dropped with probability `percent` %, each
   * independently and in both directions, while everything else flows. Returns the function
   * that ends the loss and says how many election packets the bridge forwarded meanwhile
   * (`seen`) and how many of them it dropped (nft counters), so a test reports the loss it got.
   */
  async loseElection(
    percent: number,
    opts: { udpPort?: number } = {},
  ): Promise<() => Promise<{ seen: number; dropped: number }>> {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) {
      throw new LabError(`lab: loss must be a whole percentage 0..100, got ${percent}`);
    }
    const what = opts.udpPort === undefined ? 'meta l4proto 112' : `udp dport ${opts.udpPort}`;
    const table = 'loss_election';
    const remove = await this.bridgeTable(
      table,
      [`${what} counter`, `${what} numgen random mod 100 < ${percent} counter drop`],
      `${percent} % election loss`,
    );
    return async () => {
      const out = await run('ip', [
        'netns',
        'exec',
        this.switchNs,
        'nft',
        '-j',
        'list',
        'table',
        'bridge',
        table,
      ]);
      const doc = JSON.parse(out) as {
        nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[];
      };
      const [seen = 0, dropped = 0] = doc.nftables.flatMap((o) =>
        (o.rule?.expr ?? []).flatMap((e) => (e.counter === undefined ? [] : [e.counter.packets])),
      );
      await remove();
      return { seen, dropped };
    };
  }

  /** Installs `rules` in the forward chain of a bridge table on the switch; returns its removal. */
  private async bridgeTable(
    table: string,
    rules: string[],
    what: string,
  ): Promise<() => Promise<void>> {
    const script = [
      `table bridge ${table} {`,
      '  chain forward {',
      '    type filter hook forward priority 0; policy accept;',
      ...rules.map((r) => `    ${r}`),
      '  }',
      '}',
      '',
    ].join('\n');
    await execa('ip', ['netns', 'exec', this.switchNs, 'nft', '-f', '-'], { input: script }).catch(
      (err: unknown) => {
        throw new LabError(`lab: ${what}: ${(err as Error).message}`);
      },
    );
    return () =>
      run('ip', ['netns', 'exec', this.switchNs, 'nft', 'delete', 'table', 'bridge', table]).then(
        () => undefined,
      );
  }

  /**
   * Pulls `host`'s cable: its switch port goes down, so its eth0 loses carrier and nothing
   * passes either way (election, clients, ARP). Returns the function that plugs it back in.
   */
  async cutLink(host: string, ifname = 'eth0'): Promise<() => Promise<void>> {
    const port = portName(host, ifname);
    await run('ip', ['-n', this.switchNs, 'link', 'set', port, 'down']);
    return () => run('ip', ['-n', this.switchNs, 'link', 'set', port, 'up']).then(() => undefined);
  }

  /** Counts packets matching a tcpdump filter crossing the switch during `ms`. */
  async countPackets(filter: string, ms: number): Promise<number> {
    const capture = await this.capture(filter);
    await new Promise((r) => setTimeout(r, ms));
    return (await capture.stop()).length;
  }

  /**
   * Starts tcpdump on the switch's bridge with `filter` and resolves once it listens; `stop` ends
   * it and returns one line per packet, each starting with its capture time in epoch seconds
   * (`-tt`, microseconds), so timings compare with `date +%s.%N` on the hosts. `args` go to
   * tcpdump before the filter (e.g. `-T carp`: protocol 112 decoded as CARP, not VRRP).
   */
  async capture(filter: string, args: string[] = []): Promise<{ stop: () => Promise<string[]> }> {
    const dump = this.spawnIn(this.switchNs, `tcpdump-${this.processes.length}`, 'tcpdump', [
      '-i',
      'br0',
      '-nn',
      '-l',
      '-tt',
      ...args,
      filter,
    ]);
    await dump.waitForLine(/listening on/, 5_000);
    return {
      stop: async () => {
        dump.kill('SIGINT');
        await dump.exited;
        return dump.lines.filter((l) => /^\d+\.\d+ /.test(l));
      },
    };
  }

  /**
   * Writes what crosses the switch and matches `filter` to a pcap file for `ms` (tcpdump -w):
   * frames as they were on the wire, for an independent decoder to read.
   */
  async captureFile(filter: string, ms: number): Promise<string> {
    const file = join(this.logDir, `capture-${this.processes.length}.pcap`);
    const dump = this.spawnIn(this.switchNs, `tcpdump-${this.processes.length}`, 'tcpdump', [
      '-i',
      'br0',
      '-U',
      '-w',
      file,
      filter,
    ]);
    await dump.waitForLine(/listening on/, 5_000);
    await new Promise((r) => setTimeout(r, ms));
    dump.kill('SIGINT');
    await dump.exited;
    return file;
  }

  /** Which of `hosts` (default: all) carry `address` on their eth0 now. */
  async holders(address: string, hosts: string[] = [...this.hosts.keys()]): Promise<string[]> {
    const on: string[] = [];
    for (const host of hosts) if (await this.hasAddress(host, address)) on.push(host);
    return on;
  }

  /**
   * Starts recording which of `hosts` carry `address`, from the kernel's own reports: `ip -ts
   * monitor address` in each namespace, each change timestamped by ip as it receives it. So a
   * test can tell how long the address was on two boxes, or on none, to the millisecond, however
   * busy the test process was meanwhile. Resolves once every monitor is known to be subscribed
   * (a probe address added to and removed from its loopback was reported); `stop` ends the
   * recording and returns the timeline (times in epoch ms, as Date.now()).
   */
  async watchHolders(
    address: string,
    hosts: string[] = [...this.hosts.keys()],
  ): Promise<{ stop: () => Promise<HolderTimeline> }> {
    const monitors: LabProcess[] = [];
    for (const [i, host] of hosts.entries()) {
      const ns = this.host(host).ns;
      const monitor = this.spawn(host, `holders-${host}-${this.processes.length}`, 'ip', [
        '-ts',
        'monitor',
        'address',
      ]);
      monitors.push(monitor);
      const probe = `127.77.0.${i + 1}`;
      const seen = monitor.waitForLine(new RegExp(`inet ${probe.replace(/\./g, '\\.')}/`), 10_000);
      seen.catch(() => undefined);
      for (let tries = 1; ; tries++) {
        await run('ip', ['-n', ns, 'addr', 'add', `${probe}/32`, 'dev', 'lo']);
        await run('ip', ['-n', ns, 'addr', 'del', `${probe}/32`, 'dev', 'lo']);
        const reported = await Promise.race([
          seen.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 200)),
        ]);
        if (reported) break;
        if (tries === 50) throw new LabError(`lab: ip monitor in ${host} never reported its probe`);
      }
    }
    // Changes from here on are applied over the holders read now (re-applying one is harmless).
    const startedAt = Date.now();
    const initial = await this.holders(address, hosts);
    const escaped = address.replace(/\./g, '\\.');
    const change = new RegExp(
      `^\\[(\\d+)-(\\d+)-(\\d+)T(\\d+):(\\d+):(\\d+)\\.(\\d+)\\] (Deleted )?\\d+: \\S+\\s+inet6? ${escaped}/`,
    );
    return {
      stop: async () => {
        const endedAt = Date.now();
        // What the kernel reported up to now reaches the monitors' output.
        await new Promise((r) => setTimeout(r, 200));
        for (const m of monitors) m.kill('SIGKILL');
        await Promise.all(monitors.map((m) => m.exited));
        const changes = monitors.flatMap((m, i) =>
          m.lines.flatMap((l): HolderChange[] => {
            const f = change.exec(l)?.slice(1, 9);
            if (f === undefined) return [];
            const [y, mo, d, h, mi, s] = f.slice(0, 6).map(Number);
            // ip prints local time, with microseconds.
            const at =
              new Date(y ?? 0, (mo ?? 1) - 1, d, h, mi, s).getTime() + Number(`0.${f[6]}`) * 1000;
            return [{ at, host: hosts[i] ?? '?', present: f[7] === undefined }];
          }),
        );
        return new HolderTimeline(
          hosts,
          initial,
          startedAt,
          endedAt,
          changes.filter((c) => c.at >= startedAt && c.at <= endedAt).sort((a, b) => a.at - b.at),
        );
      },
    };
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    for (const p of this.processes) p.kill('SIGKILL');
    await Promise.all(this.processes.map((p) => p.exited));
    // As destroySync, with the namespaces read at once and deleted by one process.
    const namespaces = [...this.namespaces].reverse();
    const pids = await Promise.all(
      namespaces.map(
        async (ns) => (await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout,
      ),
    );
    for (const pid of pids.join('\n').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    // -force: past a namespace that is already gone (or never was: a half-built lab).
    const input = namespaces.map((ns) => `netns del ${ns}`).join('\n');
    await execa('ip', ['-force', '-batch', '-'], { input, reject: false });
    this.destroyed = true;
    live.delete(this);
  }

  /** The same without waiting for exits, for process-exit and signal handlers. */
  destroySync(): void {
    if (this.destroyed) return;
    for (const p of this.processes) p.kill('SIGKILL');
    for (const ns of [...this.namespaces].reverse()) deleteNamespaceSync(ns);
    this.destroyed = true;
    live.delete(this);
  }
}

/** One address of `ip -j addr`; `tentative` while duplicate address detection runs (IPv6). */
interface AddressInfo {
  local?: string;
  scope?: string;
  tentative?: boolean;
}

export interface Neighbour {
  address: string;
  dev: string;
  /** Absent while unresolved (INCOMPLETE, FAILED). */
  mac: string | undefined;
  /** e.g. ['REACHABLE'], ['STALE'], ['PERMANENT']. */
  state: string[];
}

export interface HolderChange {
  /** Epoch ms. */
  at: number;
  host: string;
  present: boolean;
}

export interface HolderSpan {
  from: number;
  to: number;
  holders: string[];
}

/** Who carried an address when, as recorded by Lab.watchHolders; all times in epoch ms. */
export class HolderTimeline {
  constructor(
    readonly hosts: readonly string[],
    readonly initial: readonly string[],
    readonly startedAt: number,
    readonly endedAt: number,
    readonly changes: readonly HolderChange[],
  ) {}

  /** Consecutive spans covering [from, to), each with the hosts that held the address. */
  spans(from = this.startedAt, to = this.endedAt): HolderSpan[] {
    const on = new Set(this.initial);
    const spans: HolderSpan[] = [];
    let since = this.startedAt;
    const close = (until: number): void => {
      const a = Math.max(since, from);
      const b = Math.min(until, to);
      if (b <= a) return;
      const holders = this.hosts.filter((h) => on.has(h));
      const last = spans.at(-1);
      if (last?.to === a && last.holders.join() === holders.join()) last.to = b;
      else spans.push({ from: a, to: b, holders });
    };
    for (const c of this.changes) {
      close(c.at);
      since = c.at;
      if (c.present) on.add(c.host);
      else on.delete(c.host);
    }
    close(this.endedAt);
    return spans;
  }

  /** Milliseconds within [from, to) during which `when(holders)` held. */
  msWhen(when: (holders: string[]) => boolean, from?: number, to?: number): number {
    return this.spans(from, to)
      .filter((s) => when(s.holders))
      .reduce((sum, s) => sum + s.to - s.from, 0);
  }

  /** When `host` gained the address at or after `after`, in order. */
  added(host: string, after = this.startedAt): number[] {
    return this.changes
      .filter((c) => c.host === host && c.present && c.at >= after)
      .map((c) => c.at);
  }

  /**
   * From when on (at or after `after`) `host` held the address without a break to the end of
   * the recording, alone or (`alone` false) with others beside it; undefined if it did not hold
   * it at the end.
   */
  heldFrom(host: string, after = this.startedAt, alone = false): number | undefined {
    let since: number | undefined;
    for (const s of this.spans(after)) {
      const holds = s.holders.includes(host) && (!alone || s.holders.length === 1);
      if (holds) since ??= s.from;
      else since = undefined;
    }
    return since;
  }

  /** From when on (at or after `after`) `host` alone held the address to the end, if it did. */
  soleFrom(host: string, after = this.startedAt): number | undefined {
    return this.heldFrom(host, after, true);
  }

  /** The spans as text, times relative to `zero` in ms, e.g. "-1200 fw1 | +430 fw1,fw2 | +512 fw2". */
  describe(zero: number, from?: number, to?: number): string {
    return this.spans(from, to)
      .map((s) => {
        const t = Math.round(s.from - zero);
        return `${t >= 0 ? '+' : ''}${t} ${s.holders.join(',') || 'none'}`;
      })
      .join(' | ');
  }
}
