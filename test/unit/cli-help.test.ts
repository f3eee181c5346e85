/**
 * The command line's hygiene, run as an operator runs it: `vipd` as a child process, built by
 * tsc into a temporary directory laid out like the installed package (/usr/lib/vipd: package.json,
 * dist/, node_modules), whose package.json carries a version of its own. Checked: -h/--help and
 * `vipd help` on the top level and on every command of help.ts's COMMANDS (exit 0, the text on
 * stdout, before any option is parsed or file read), --version/-V/`vipd version` (the installed
 * package.json's version and the Node version), unknown options and commands (exit 2, the error,
 * then the usage of the command concerned on stderr), and that every option the help documents
 * is one the command's parser accepts.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  asksForHelp,
  command,
  commandHelp,
  COMMANDS,
  commandUsage,
  listUsage,
  optionFlags,
  topLevelHelp,
  topLevelUsage,
  type CommandHelp,
  type OptionHelp,
} from '../../src/help.js';
import { REPO_ROOT, VIPD_FROM_SOURCE } from '../support/paths.js';

const INSTALLED_VERSION = '9.8.7-cli-test';

let tmp: string;
let cli: string;

interface Result {
  code: number | undefined;
  stdout: string;
  stderr: string;
}

async function vipd(args: readonly string[]): Promise<Result> {
  const r = await execa(process.execPath, [cli, ...args], { reject: false, cwd: tmp });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** Runs every command line, a few at a time (2-core machines, other tests running). */
async function vipdAll(lines: readonly (readonly string[])[]): Promise<Result[]> {
  const results: Result[] = new Array<Result>(lines.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < lines.length) {
      const i = next++;
      results[i] = await vipd(lines[i] as string[]);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return results;
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'vipd-cli-'));
  const root = join(tmp, 'usr/lib/vipd');
  mkdirSync(root, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as object;
  writeFileSync(join(root, 'package.json'), JSON.stringify({ ...pkg, version: INSTALLED_VERSION }));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  // Only the CLI's import graph, with the project's compiler options.
  const tsconfig = join(tmp, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(REPO_ROOT, 'tsconfig.json'),
      compilerOptions: {
        outDir: join(root, 'dist'),
        rootDir: REPO_ROOT,
        sourceMap: false,
        typeRoots: [join(REPO_ROOT, 'node_modules/@types')],
      },
      include: [],
      files: [join(REPO_ROOT, 'src/cli.ts')],
    }),
  );
  execFileSync(process.execPath, [
    join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
    '-p',
    tsconfig,
  ]);
  cli = join(root, 'dist/src/cli.js');
}, 180_000);

afterAll(() => {
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

const ok = (stdout: string): Result => ({ code: 0, stdout, stderr: '' });
const names = COMMANDS.map((c) => c.name);

describe('vipd --help', () => {
  it('prints the command list on stdout and exits 0, as -h and `vipd help` do', async () => {
    const [long, short, word] = await vipdAll([['--help'], ['-h'], ['help']]);
    expect(long).toEqual(ok(topLevelHelp()));
    expect(short).toEqual(long);
    expect(word).toEqual(long);
  });

  it('names every command with its summary, and the global options', () => {
    const text = topLevelHelp();
    for (const c of COMMANDS)
      expect(text).toMatch(new RegExp(`^  ${c.name} +${esc(c.summary)}$`, 'm'));
    expect(text).toMatch(/^ {2}-h, --help +print this help/m);
    expect(text).toMatch(/^ {2}-V, --version +print the version/m);
    expect(text).toMatch(/^exit status:\n {2}0 +done\n {2}1 +.*\n {2}2 +bad usage/m);
  });

  it.each(names)('vipd %s --help, -h and `vipd help %s` print its help, exit 0', async (name) => {
    const words = name.split(' ');
    const c = COMMANDS.find((x) => x.name === name) as CommandHelp;
    const [long, short, word] = await vipdAll([
      [...words, '--help'],
      [...words, '-h'],
      ['help', ...words],
    ]);
    expect(long).toEqual(ok(commandHelp(c)));
    expect(short).toEqual(long);
    expect(word).toEqual(long);
    const text = long?.stdout ?? '';
    expect(text.split('\n')[0]).toBe(`vipd ${name}: ${c.summary}`);
    expect(text).toContain(`usage: vipd ${name}`);
    for (const o of c.options) expect(text).toContain(`  ${optionFlags(o)}  `);
    expect(text).toContain('  -h, --help  ');
  });

  it('a help request wins over everything else on the line: nothing is parsed or read', async () => {
    const missing = join(tmp, 'no-such-config.json');
    const results = await vipdAll([
      ['run', '--config', missing, '--help'],
      ['check', '-h', '--config', missing],
      ['status', '--bogus', '--help'],
      ['demote', '--for', 'ages', '-h'],
      ['cluster', 'owner', 'not-an-ip', '--help'],
      ['import', 'keepalived', missing, 'two', 'files', '--help'],
      ['ucarp', '-i', 'eth0', '--vhid', 'x', '--help'],
    ]);
    expect(results.map((r) => [r.code, r.stderr])).toEqual(results.map(() => [0, '']));
    expect(results[0]?.stdout).toBe(commandHelp(command('run')));
    expect(results[6]?.stdout).toBe(commandHelp(command('ucarp')));
  });

  it('a group prints the usage of its commands with --help, and is an error alone', async () => {
    const [help, alone, wrong, importAlone] = await vipdAll([
      ['cluster', '--help'],
      ['cluster'],
      ['cluster', 'members'],
      ['import'],
    ]);
    const group = listUsage([command('cluster owner')]);
    expect(help).toEqual(ok(group));
    expect(alone).toEqual({
      code: 2,
      stdout: '',
      stderr: `vipd: cluster needs a subcommand: owner\n${group}`,
    });
    expect(wrong?.code).toBe(2);
    expect(wrong?.stderr).toBe(
      `vipd: unknown command "cluster members" (cluster has: owner)\n${group}`,
    );
    expect(importAlone?.code).toBe(2);
    expect(importAlone?.stderr).toBe(
      `vipd: import needs a subcommand: keepalived\n${listUsage([command('import keepalived')])}`,
    );
  });

  it('-h/--help after `--` or as the value of an option is not a help request', () => {
    const run = command('run');
    expect(asksForHelp(run, ['--config', '--help'])).toBe(false);
    expect(asksForHelp(run, ['-c', '-h'])).toBe(false);
    expect(asksForHelp(run, ['--', '--help'])).toBe(false);
    expect(asksForHelp(run, ['--config=x', '-h'])).toBe(true);
    expect(asksForHelp(run, ['-c', 'x', '--help'])).toBe(true);
    expect(asksForHelp(command('status'), ['--json', '-h'])).toBe(true);
  });

  it('keeps every line of every help text within 100 columns', () => {
    const texts = [topLevelHelp(), topLevelUsage(), ...COMMANDS.map(commandHelp)];
    const long = texts.flatMap((t) => t.split('\n')).filter((l) => l.length > 100);
    expect(long).toEqual([]);
  });
});

describe('vipd --version', () => {
  it("prints the installed package.json's version and the Node version, exit 0", async () => {
    const results = await vipdAll([['--version'], ['-V'], ['version']]);
    const text = `vipd ${INSTALLED_VERSION}\nNode.js ${process.version}`;
    expect(results).toEqual([ok(text), ok(text), ok(text)]);
  });

  it("from the sources, the checkout's version", async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    const r = await execa(process.execPath, [...VIPD_FROM_SOURCE, '--version'], { reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`vipd ${pkg.version}`);
  });

  it('takes no arguments', async () => {
    const [r] = await vipdAll([['--version', 'now']]);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `vipd: version takes no arguments, got now\n${commandUsage(command('version'))}`,
    });
  });
});

describe('usage errors', () => {
  it.each(names)(
    'vipd %s with an unknown option exits 2: the error, then its usage, on stderr',
    async (name) => {
      const [r] = await vipdAll([[...name.split(' '), '--no-such-option']]);
      expect(r?.code).toBe(2);
      expect(r?.stdout).toBe('');
      const [error, ...rest] = (r?.stderr ?? '').split('\n');
      expect(error).toMatch(/^vipd: .*(--no-such-option|"--no-such-option")/);
      expect(rest.join('\n')).toBe(commandUsage(command(name)));
    },
  );

  it('an unknown command or top-level option, or none, exits 2 with the list of usages', async () => {
    const [unknown, option, none] = await vipdAll([['frobnicate'], ['--frobnicate'], []]);
    const tail = `\n${topLevelUsage()}`;
    expect(unknown).toEqual({
      code: 2,
      stdout: '',
      stderr: `vipd: unknown command "frobnicate"${tail}`,
    });
    expect(option).toEqual({
      code: 2,
      stdout: '',
      stderr: `vipd: unknown option --frobnicate${tail}`,
    });
    expect(none).toEqual({ code: 2, stdout: '', stderr: `vipd: a command is required${tail}` });
  });

  it('`vipd help` of an unknown command exits 2', async () => {
    const [r] = await vipdAll([['help', 'frobnicate']]);
    expect(r?.code).toBe(2);
    expect(r?.stderr).toBe(`vipd: no command "frobnicate"\n${commandUsage(command('help'))}`);
  });

  it('every option the help documents is one its command accepts (long and short)', async () => {
    // Values that get each command past its parser without reaching anything: a socket and a
    // config that do not exist, so no daemon on this machine is asked anything.
    const socket = join(tmp, 'no-daemon.sock');
    const values: Record<string, string> = {
      FILE: join(tmp, 'no-such-config.json'),
      PATH: socket,
      SECONDS: '10',
      P: '80',
    };
    // One line per command with every spelling of every option: an unknown one is named.
    const lines = COMMANDS.filter((c) => c.options.length > 0).map((c) => {
      const options: readonly OptionHelp[] = c.options;
      const line = c.name.split(' ');
      for (const o of options) {
        const value = o.value === undefined ? [] : [values[o.value] ?? 'x'];
        line.push(`--${o.long}`, ...value);
        if (o.short !== undefined) line.push(`-${o.short}`, ...value);
      }
      // Last, so the socket asked (if any) is the one that does not exist.
      if (options.some((o) => o.long === 'socket')) line.push('--socket', socket);
      return line;
    });
    expect(lines.length).toBe(8);
    const results = await vipdAll(lines);
    const refused = results
      .map((r, i) => ({ line: lines[i]?.join(' '), code: r.code, stderr: r.stderr }))
      .filter((r) => /Unknown option|ERR_PARSE_ARGS|unexpected error/.test(r.stderr));
    expect(refused).toEqual([]);
    // None of them got far: each is a usage or config error, or no daemon to talk to.
    expect(results.every((r) => r.code === 1 || r.code === 2)).toBe(true);
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
