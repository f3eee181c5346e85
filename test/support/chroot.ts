/**
 * A Debian root (debian-root.ts) entered as a chroot, with what programs there expect mounted:
 * /proc, /sys, /dev and a tmpfs /run (empty, as at boot: no /run/systemd/system, so maintainer
 * scripts see no running systemd).
 *
 * The mounts live in a mount namespace of their own (`unshare -m --propagation private`), held
 * by one process that the kernel kills when the test process dies (`setpriv --pdeathsig`): the
 * host's mount table never shows them, so a run killed half-way leaves no /dev bind mount under
 * /tmp for a later `rm -rf` to reach through, and `close` (killing the holder) unmounts them all.
 * Commands enter that namespace with nsenter, then chroot, with a clean environment as a root
 * shell on the box would have; `command` gives that argv for a caller that spawns it itself
 * (e.g. `Lab.spawn`, to run it in a lab host's network namespace).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';

export interface ChrootRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class ChrootError extends Error {
  override name = 'ChrootError';
}

/** The environment of a root login on a Debian box (nothing of the test process leaks in). */
const CLEAN_ENV = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/root',
  'LC_ALL=C.UTF-8',
];

/** Mounts, then blocks holding the namespace; prints `ready` once everything is mounted. */
const HOLD = `set -e
mount -t proc proc "$1/proc"
mount -t sysfs sysfs "$1/sys"
mount --rbind /dev "$1/dev"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$1/run"
echo ready
exec sleep infinity`;

export class Chroot {
  private constructor(
    readonly root: string,
    private readonly holder: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  /** Mounts what `root` needs and gives it this machine's resolver (to reach the mirror). */
  static async open(root: string): Promise<Chroot> {
    copyFileSync('/etc/resolv.conf', join(root, 'etc/resolv.conf'));
    const holder = spawn(
      'setpriv',
      [
        '--pdeathsig',
        'KILL',
        '--',
        'unshare',
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        HOLD,
        'hold',
        root,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const exited = new Promise<void>((resolve) => holder.on('close', () => resolve()));
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (out.includes('ready\n')) resolve();
      };
      holder.stdout.on('data', onData);
      holder.stderr.on('data', onData);
      holder.on('error', reject);
      void exited.then(() =>
        reject(new ChrootError(`could not mount /proc, /sys, /dev and /run in ${root}: ${out}`)),
      );
    });
    const chroot = new Chroot(root, holder, exited);
    try {
      await ready;
    } catch (err) {
      await chroot.close();
      throw err;
    }
    return chroot;
  }

  /** The argv that runs `cmd args` inside the root, with `env` (NAME=value) added. */
  command(cmd: string, args: string[], env: string[] = []): string[] {
    const { pid, exitCode, signalCode } = this.holder;
    if (pid === undefined || exitCode !== null || signalCode !== null) {
      throw new ChrootError(`the chroot of ${this.root} is closed (its mounts are gone)`);
    }
    return [
      'nsenter',
      `--mount=/proc/${pid}/ns/mnt`,
      'chroot',
      this.root,
      'env',
      '-i',
      ...CLEAN_ENV,
      ...env,
      cmd,
      ...args,
    ];
  }

  /** Runs `cmd args` inside the root to its end (without blocking the event loop). */
  async run(cmd: string, args: string[], env: string[] = []): Promise<ChrootRun> {
    const [bin = 'nsenter', ...argv] = this.command(cmd, args, env);
    const r = await execa(bin, argv, { reject: false, stripFinalNewline: false, stdin: 'ignore' });
    // No exit code: not started, or killed; execa's message says which.
    const stderr = r.exitCode === undefined ? `${r.stderr}${r.message}` : r.stderr;
    return { code: r.exitCode ?? null, stdout: r.stdout, stderr };
  }

  /**
   * Unmounts everything (the namespace goes with its holder; processes still inside keep it
   * until they exit). Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.holder.exitCode === null && this.holder.signalCode === null) {
      this.holder.kill('SIGKILL');
    }
    await this.exited;
  }
}
