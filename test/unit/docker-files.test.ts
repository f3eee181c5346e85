/**
 * The Docker variant of the split-brain lab (docker/), checked without a Docker engine: the
 * compose file's structure (js-yaml, see test/support/js-yaml.d.ts), that it describes the same
 * boxes as the namespace simulation, that the Dockerfile's base is a build argument and its
 * inputs exist, that the root .dockerignore keeps host state out of the build context, that no
 * nft rule names a protocol (the image has no /etc/protocols), that the shell scripts parse and
 * are executable, that splitbrain.sh brings the project down when run or up fails (through a
 * stand-in `docker`), and that the config the entrypoint writes from each service's environment
 * passes `vipd check` (the CLI run from its TypeScript source through tsx: this tier has no
 * build step). The nft rules docker/splitbrain.sh sends need root to be checked, so that test is
 * in the lab tier (test/integration/docker-splitbrain.test.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { load } from 'js-yaml';
import { afterAll, describe, it, expect } from 'vitest';
import { FakeDocker } from '../support/fake-docker.js';
import { REPO_ROOT, VIPD_FROM_SOURCE } from '../support/paths.js';
import { FIREWALLS, UDP_PORT, VIP, VIP_CIDR } from '../../scripts/splitbrain/scenario.js';
import { removeTempDirs, tempDir } from '../support/temp-dir.js';

afterAll(removeTempDirs);

const DOCKER = join(REPO_ROOT, 'docker');
const COMPOSE_FILE = join(DOCKER, 'docker-compose.yml');
const SCRIPTS = [
  join(DOCKER, 'entrypoint.sh'),
  join(DOCKER, 'splitbrain.sh'),
  join(REPO_ROOT, 'scripts', 'splitbrain-sim'),
];

interface Service {
  build?: { context?: string; dockerfile?: string };
  image?: string;
  cap_add?: string[];
  environment?: Record<string, string>;
  entrypoint?: string[];
  profiles?: string[];
  networks?: Record<string, { ipv4_address?: string } | null>;
}

interface Compose {
  services: Record<string, Service>;
  networks: Record<
    string,
    { ipam?: { config?: { subnet?: string; ip_range?: string; gateway?: string }[] } }
  >;
}

const compose = load(readFileSync(COMPOSE_FILE, 'utf8')) as Compose;
const services = Object.entries(compose.services);
const firewalls = services.filter(([, s]) => s.environment?.NODE_NAME !== undefined);

/** Compose's `${NAME:-default}` interpolation, the only form the file uses. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{(\w+):-([^}]*)\}/g,
    (_, name: string, dflt: string) => env[name] ?? dflt,
  );
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const ipv4 = (a: string): number => a.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
const inCidr = (address: string, cidr: string): boolean => {
  const [net = '', bits = '32'] = cidr.split('/');
  const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
  return (ipv4(address) & mask) >>> 0 === (ipv4(net) & mask) >>> 0;
};

describe('docker-compose.yml', () => {
  it('has the firewalls and a client, each allowed to manage addresses and send raw packets', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['fw1', 'fw2', 'client']));
    for (const [name, s] of services) {
      expect(s.cap_add, name).toEqual(expect.arrayContaining(['NET_ADMIN', 'NET_RAW']));
    }
  });

  it('describes the boxes the namespace simulation runs: names, priorities, VIP, fw3 optional', () => {
    expect(
      firewalls.map(([name, s]) => ({ name, priority: Number(s.environment?.PRIORITY) })),
    ).toEqual(FIREWALLS);
    for (const [name, s] of firewalls) {
      expect(s.environment?.NODE_NAME, name).toBe(name);
      expect(s.environment?.VIP, name).toBe(VIP_CIDR);
      expect(s.profiles ?? [], name).toEqual(name === 'fw3' ? ['fw3'] : []);
    }
  });

  it('puts every box on one network, with distinct static addresses in the subnet, none the VIP', () => {
    const [networkName, network] = Object.entries(compose.networks)[0] ?? [];
    const ipam = network?.ipam?.config?.[0];
    expect(networkName).toBeDefined();
    expect(ipam?.subnet).toBeDefined();
    const subnet = ipam?.subnet ?? '';
    const addresses = services.map(([name, s]) => {
      expect(Object.keys(s.networks ?? {}), name).toEqual([networkName]);
      return s.networks?.[networkName ?? '']?.ipv4_address ?? '';
    });
    for (const a of addresses) expect(inCidr(a, subnet), a).toBe(true);
    expect(new Set(addresses).size).toBe(addresses.length);
    expect(inCidr(VIP, subnet)).toBe(true);
    expect([...addresses, ipam?.gateway]).not.toContain(VIP);
    // Docker hands out ip_range to containers it numbers itself: the VIP must stay out of it.
    expect(inCidr(VIP, ipam?.ip_range ?? subnet)).toBe(false);
  });

  it('builds one image from docker/Dockerfile with the repository as context', () => {
    for (const [name, s] of services) {
      expect(resolve(DOCKER, s.build?.context ?? '.'), name).toBe(REPO_ROOT);
      expect(s.build?.dockerfile, name).toBe('docker/Dockerfile');
      expect(s.image, name).toBe(compose.services.fw1?.image);
    }
  });
});

describe('docker/Dockerfile', () => {
  const dockerfile = readFileSync(join(DOCKER, 'Dockerfile'), 'utf8');

  it('starts both stages from the build argument NODE_IMAGE, the official Node 24 image by default', () => {
    const lines = dockerfile.split('\n');
    const arg = lines.findIndex((l) => /^ARG NODE_IMAGE=/.test(l));
    const froms = lines.flatMap((l, i) => (l.startsWith('FROM ') ? [i] : []));
    expect(lines[arg]).toBe('ARG NODE_IMAGE=node:24-bookworm-slim');
    // An ARG before the first FROM is the only kind a FROM line can use.
    expect(arg).toBeLessThan(froms[0] ?? -1);
    expect(froms.map((i) => lines[i])).toEqual([
      'FROM ${NODE_IMAGE} AS build',
      'FROM ${NODE_IMAGE}',
    ]);
    const engines = (
      JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
        engines: { node: string };
      }
    ).engines.node;
    expect(engines).toBe('>=22');
    for (const pkg of ['iproute2', 'nftables', 'iputils-ping', 'iputils-arping', 'procps']) {
      expect(dockerfile).toContain(pkg);
    }
    expect(dockerfile).toMatch(/npm ci/);
    expect(dockerfile).toMatch(/npx tsc -p docker$/m);
  });

  it('copies only what exists in the build context and ends in the entrypoint', () => {
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      (m[1] ?? '').split(/\s+/),
    );
    expect(copies.length).toBeGreaterThan(0);
    for (const src of copies.filter((c) => c !== '.')) {
      expect(existsSync(join(REPO_ROOT, src)), src).toBe(true);
    }
    const workdir = /^WORKDIR (\S+)$/m.exec(dockerfile)?.[1] ?? '';
    const entrypoint = /^ENTRYPOINT \["([^"]+)"\]$/m.exec(dockerfile)?.[1] ?? '';
    expect(entrypoint.startsWith(`${workdir}/`)).toBe(true);
    expect(existsSync(join(REPO_ROOT, entrypoint.slice(workdir.length + 1)))).toBe(true);
  });

  it('keeps host state out of the build context, for every builder (root .dockerignore)', () => {
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const dir of ['node_modules', 'build', 'dist', '.git', '.lab', '.node', 'bench-results']) {
      expect(
        ignored.some((l) => l === dir || l === `**/${dir}`),
        dir,
      ).toBe(true);
    }
    // BuildKit would read this one instead of the root file, and the classic builder never.
    expect(existsSync(join(DOCKER, 'Dockerfile.dockerignore'))).toBe(false);
    // Nothing the build copies or compiles is excluded.
    for (const needed of ['package.json', 'native', 'src', 'test', 'scripts', 'bench', 'docker']) {
      expect(ignored, needed).not.toContain(needed);
    }
    expect(ignored.filter((l) => !/^(\*\*\/)?[\w.*-]+$/.test(l))).toEqual([]);
  });
});

describe('nft rules for the election traffic', () => {
  const files = [
    ...readdirSync(DOCKER).map((f) => join(DOCKER, f)),
    join(REPO_ROOT, 'scripts', 'splitbrain', 'docker.ts'),
    join(REPO_ROOT, 'test', 'lab', 'lab.ts'),
  ];

  it.each(files)('%s matches protocols by number (the image has no /etc/protocols)', (file) => {
    const named = readFileSync(file, 'utf8').match(
      /\b(ip protocol|meta l4proto|ip6 nexthdr) [a-z]\w*/g,
    );
    expect(named).toBeNull();
  });
});

describe('shell scripts', () => {
  it.each(SCRIPTS)('%s is executable and parses', (script) => {
    expect(statSync(script).mode & 0o111).toBe(0o111);
    const r = run('bash', ['-n', script]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('docker/splitbrain.sh against a stand-in docker', () => {
  const docker = new FakeDocker();
  const script = join(DOCKER, 'splitbrain.sh');
  const project = ['compose', '-p', 'vipd-splitbrain', '-f', COMPOSE_FILE];
  const down = [...project, '--profile', 'fw3', 'down', '--timeout', '5'];

  function splitbrain(args: string[], env: NodeJS.ProcessEnv) {
    docker.reset();
    const r = run(script, args, env);
    return { ...r, calls: docker.calls() };
  }

  it.each([
    ['build', 3],
    ['up', 17],
  ])(
    'up: a failing `compose %s` brings the project down and exits with its status',
    (word, status) => {
      const r = splitbrain(['up'], docker.env({ word, status }));
      expect(r.code).toBe(status);
      expect(r.calls.at(-1)).toEqual(down);
      expect(r.stderr).toContain(`splitbrain: failed (exit ${status}); bringing the project down`);
    },
  );

  it('up that succeeds leaves the project running', () => {
    const r = splitbrain(['up'], docker.env());
    expect(r.code).toBe(0);
    expect(r.calls).toEqual([
      [...project, 'build', 'fw1'],
      [...project, 'up', '-d', '--force-recreate'],
    ]);
  });

  it('a failing cut on its own leaves a project it did not start alone', () => {
    const r = splitbrain(['cut', 'fw1'], docker.env({ word: 'nft', status: 1 }));
    expect(r.code).toBe(1);
    expect(r.calls.at(-1)?.slice(0, 3)).toEqual(['exec', 'fake-fw1', 'nft']);
    expect(r.calls.filter((c) => c.includes('down'))).toEqual([]);
  });

  it('status before any transition says so instead of failing', () => {
    const r = splitbrain(['status'], docker.env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/fw1: no transition yet; VIP: no;/);
  });

  it('VIPD_NODE_IMAGE becomes the build argument NODE_IMAGE', () => {
    const r = splitbrain(['up'], { ...docker.env(), VIPD_NODE_IMAGE: 'local/node:24' });
    expect(r.calls[0]).toEqual([
      ...project,
      'build',
      '--build-arg',
      'NODE_IMAGE=local/node:24',
      'fw1',
    ]);
  });
});

describe('docker/entrypoint.sh', () => {
  const entrypoint = join(DOCKER, 'entrypoint.sh');
  const dir = tempDir('vipd-docker-');

  it.each(firewalls.flatMap(([name, s]) => ['raw', 'udp'].map((t) => [name, t, s] as const)))(
    'writes a config for %s (%s) that vipd check accepts',
    (name, transport, service) => {
      const env = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([k, v]) => [
          k,
          interpolate(v, { VIPD_TRANSPORT: transport }),
        ]),
      );
      const printed = run(entrypoint, ['--print-config'], env);
      expect(printed.stderr).toBe('');
      expect(printed.code).toBe(0);
      const file = join(dir, `${name}-${transport}.json`);
      writeFileSync(file, printed.stdout);
      const check = run(process.execPath, [...VIPD_FROM_SOURCE, 'check', '--config', file]);
      expect(check.stderr).toBe('');
      expect(check.code).toBe(0);
      const normalised = JSON.parse(check.stdout) as {
        node: { name: string };
        instances: { priority: number; vips: string[]; transport: string; udpPort: number }[];
      };
      expect(normalised.node.name).toBe(name);
      expect(normalised.instances[0]).toMatchObject({
        priority: Number(env.PRIORITY),
        vips: [VIP_CIDR],
        transport,
        udpPort: UDP_PORT,
      });
    },
  );

  it('refuses a missing or unsafe value instead of writing broken JSON', () => {
    const base = { NODE_NAME: 'fw1', PRIORITY: '150', VIP: VIP_CIDR };
    expect(run(entrypoint, ['--print-config'], { ...base, PRIORITY: '' }).code).toBe(2);
    const quoted = run(entrypoint, ['--print-config'], { ...base, NODE_NAME: 'fw"1' });
    expect(quoted.code).toBe(2);
    expect(quoted.stderr).toMatch(/NODE_NAME/);
  });
});
