/**
 * Runs one command inside a virtual machine booted on Debian bookworm's 6.1 kernel, for lab tests
 * of kernel features newer kernels dropped (CLUSTERIP, removed in 6.3). The guest's root is THIS
 * machine's root, shared read-only over virtio-9p with a tmpfs overlay on top and a fresh /run,
 * so the guest runs the host's own node, node_modules, dist/ and tools at the same paths; the
 * guest has no NIC (traffic stays in its own network namespaces).
 *
 * Contract of `runInGuest`: `command` runs as root in the guest, with `outDir` (a host directory,
 * mounted writable at the same path) as its working directory, its stdout and stderr on the
 * guest's console; `modprobe` works there as on a bookworm box (kmod and the kernel's modules
 * come from the lab cache). It resolves when the guest has powered off with the command's exit
 * status and the console text; it throws GuestError with the console's tail when QEMU cannot
 * start, or the command does not finish within `timeoutMs`. Files the command writes to `outDir`
 * are the structured results.
 *
 * The kernel and kmod packages are fetched with `apt-get download` (the version apt picks from
 * this machine's bookworm sources) and kept unpacked in the lab cache, one directory per version.
 * Hardware KVM is used where /dev/kvm comes from kvm_intel/kvm_amd; elsewhere TCG (a /dev/kvm of
 * nested software virtualisation, kvm_pvm, hangs the stock kernel right after decompression).
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { mustRun } from './command.js';
import { LAB_CACHE } from './debian-root.js';

const exec = promisify(execFile);

export class GuestError extends Error {
  override name = 'GuestError';
}

/** A bookworm 6.1 kernel unpacked in the lab cache. */
export interface GuestKernel {
  /** `uname -r` in the guest, e.g. 6.1.0-57-amd64. */
  release: string;
  /** The Debian package and the version apt picked, e.g. linux-image-6.1.0-57-amd64 6.1.192-3. */
  package: string;
  version: string;
  /** The unpacked kernel package (boot/, lib/modules/ with depmod's indexes) and kmod. */
  dir: string;
}

/** apt's candidate `Version:` of a package, or undefined when apt does not know it. */
async function candidate(pkg: string): Promise<string | undefined> {
  const out = await exec('apt-cache', ['show', '--no-all-versions', pkg]).catch(() => undefined);
  return out === undefined ? undefined : /^Version: (\S+)/m.exec(out.stdout)?.[1];
}

/** The bookworm 6.1 image package linux-image-amd64 depends on now, and its version. */
async function kernelPackage(): Promise<{ pkg: string; version: string }> {
  for (const updated of [false, true]) {
    // No lists (a fresh machine): apt knows nothing yet; fetch them once.
    if (updated) await mustRun('apt-get', ['update', '-qq']);
    const deps = await exec('apt-cache', ['depends', 'linux-image-amd64']).catch(() => undefined);
    const pkg = /Depends: (linux-image-6\.1\.\S+-amd64)$/m.exec(deps?.stdout ?? '')?.[1];
    const version = pkg === undefined ? undefined : await candidate(pkg);
    if (pkg !== undefined && version !== undefined) return { pkg, version };
  }
  throw new GuestError(
    "no linux-image-6.1.0-*-amd64 in apt's lists after apt-get update: this machine's apt sources must carry Debian bookworm",
  );
}

/** Downloads `pkgs` with apt-get and unpacks them all into `dir`. */
async function unpackPackages(pkgs: string[], dir: string): Promise<void> {
  const debs = join(dir, '.debs');
  await mkdir(debs, { recursive: true });
  await mustRun('apt-get', ['download', ...pkgs], { cwd: debs });
  for (const deb of readdirSync(debs)) {
    await mustRun('dpkg-deb', ['-x', join(debs, deb), dir]);
  }
  rmSync(debs, { recursive: true, force: true });
}

/** The first existing path among `candidates` under `dir` (usrmerge moves /bin, /lib). */
function found(dir: string, candidates: string[], what: string): string {
  const hit = candidates.map((c) => join(dir, c)).find((p) => existsSync(p));
  if (hit === undefined) throw new GuestError(`${what} not found in ${dir}`);
  return hit;
}

const kmodBinary = (dir: string): string =>
  found(dir, ['usr/bin/kmod', 'bin/kmod'], 'kmod (package kmod)');

/**
 * The kernel apt picks now, with kmod (and libkmod2, which kmod needs and the host may lack),
 * downloaded and unpacked into the lab cache on first use; depmod's indexes built there.
 */
export async function debianKernel(): Promise<GuestKernel> {
  const { pkg, version } = await kernelPackage();
  const release = pkg.replace(/^linux-image-/, '');
  const dir = join(LAB_CACHE, 'kernel', `${pkg}_${version}`);
  const kernel = { release, package: pkg, version, dir };
  if (existsSync(join(dir, 'boot', `vmlinuz-${release}`))) return kernel;
  await mkdir(join(LAB_CACHE, 'kernel'), { recursive: true });
  // Unpacked beside the cache and renamed in: a run killed half-way leaves nothing half-made.
  const build = await mkdtemp(join(LAB_CACHE, 'kernel', '.build-'));
  try {
    await unpackPackages([`${pkg}=${version}`, 'kmod', 'libkmod2'], build);
    // kmod picks its tool by the name it is called by.
    const depmod = join(build, 'depmod');
    await symlink(kmodBinary(build), depmod);
    await mustRun(depmod, ['-b', build, release]);
    rmSync(depmod);
    await rename(build, dir);
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
  return kernel;
}

/** The modules the initramfs loads before it can mount the 9p root, dependencies first. */
function initramfsModules(kernel: GuestKernel): string[] {
  const mods = join(kernel.dir, 'lib/modules', kernel.release);
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(mods, 'modules.dep'), 'utf8').split('\n')) {
    const [path, rest] = line.split(':');
    if (path !== undefined && rest !== undefined) deps.set(path, rest.trim().split(/\s+/));
  }
  const builtin = readFileSync(join(mods, 'modules.builtin'), 'utf8');
  const order: string[] = [];
  const add = (name: string): void => {
    const path = [...deps.keys()].find((p) => basename(p) === `${name}.ko`);
    if (path === undefined) {
      if (builtin.includes(`/${name}.ko`)) return;
      throw new GuestError(`module ${name} is not in ${mods}`);
    }
    if (order.includes(path)) return;
    for (const d of deps.get(path) ?? []) if (d !== '') add(basename(d, '.ko'));
    order.push(path);
  };
  for (const m of ['virtio_pci', '9pnet_virtio', '9p', 'overlay']) add(m);
  return order.map((p) => join(mods, p));
}

/** A statically linked busybox (busybox-static): the initramfs has no libraries. */
async function staticBusybox(): Promise<string> {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) {
    if (!existsSync(p)) continue;
    // ldd fails on a static executable ("not a dynamic executable").
    const dynamic = await exec('ldd', [p]).then(
      () => true,
      () => false,
    );
    if (!dynamic) return p;
  }
  throw new GuestError('a statically linked busybox is needed (apt-get install busybox-static)');
}

// PID 1: the host's root read-only over 9p with a tmpfs overlay, the results directory writable
// at its own path, then the command (guest.sh); power off whatever happens. Unknown name=value
// parameters of the kernel command line become init's environment (VIPD_GUEST_OUT).
const INIT = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for m in $(cat /mods/order); do insmod "/mods/$m" || echo "init: insmod $m failed"; done
p9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$p9,ro,cache=loose" host /lower || echo "init: mounting the host root failed"
mount -t tmpfs -o size=768m tmpfs /rw && mkdir -p /rw/u /rw/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/u,workdir=/rw/w /root || echo "init: overlay failed"
mount -t proc proc /root/proc; mount -t sysfs sysfs /root/sys; mount -t devtmpfs devtmpfs /root/dev
mkdir -p /root/dev/pts /root/dev/shm; mount -t devpts devpts /root/dev/pts; mount -t tmpfs tmpfs /root/dev/shm
# The host's /run holds its own netns mounts, locks and sockets.
mount -t tmpfs tmpfs /root/run
mkdir -p "/root$VIPD_GUEST_OUT" && mount -t 9p -o "$p9" out "/root$VIPD_GUEST_OUT" || echo "init: mounting the results directory failed"
# The kernel runs modprobe (module autoloading) in THIS root, not in the chroot: hand it over.
printf '#!/bin/sh\nexec /bin/chroot /root /usr/sbin/modprobe "$@"\n' > /bin/modprobe && chmod +x /bin/modprobe
echo /bin/modprobe > /proc/sys/kernel/modprobe
chroot /root /bin/sh "$VIPD_GUEST_OUT/guest.sh"
poweroff -f
`;

/** guest.sh: a bookworm box's module tooling from the cache, then the command in `outDir`. */
function guestScript(kernel: GuestKernel, outDir: string, command: string[]): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const kmod = kmodBinary(kernel.dir);
  const libkmod = found(
    kernel.dir,
    ['usr/lib/x86_64-linux-gnu/libkmod.so.2', 'lib/x86_64-linux-gnu/libkmod.so.2'],
    'libkmod.so.2 (package libkmod2)',
  );
  return `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mkdir -p /usr/lib/modules && ln -sfn ${q(join(kernel.dir, 'lib/modules', kernel.release))} /usr/lib/modules/${kernel.release}
[ -e /usr/lib/x86_64-linux-gnu/libkmod.so.2 ] || ln -s ${q(libkmod)} /usr/lib/x86_64-linux-gnu/libkmod.so.2
for t in modprobe modinfo lsmod insmod rmmod depmod; do ln -sf ${q(kmod)} /usr/sbin/$t; done
cd ${q(outDir)}
${command.map(q).join(' ')}
echo $? > exit-status
`;
}

async function buildInitramfs(kernel: GuestKernel, dir: string): Promise<string> {
  const root = join(dir, 'initramfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'lower', 'rw', 'root', 'mods']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await copyFile(await staticBusybox(), join(root, 'bin/busybox'));
  for (const a of [
    'sh',
    'mount',
    'mkdir',
    'insmod',
    'chroot',
    'poweroff',
    'cat',
    'chmod',
    'echo',
    'printf',
  ]) {
    await symlink('busybox', join(root, 'bin', a));
  }
  const mods = initramfsModules(kernel);
  for (const m of mods) await copyFile(m, join(root, 'mods', basename(m)));
  await writeFile(join(root, 'mods/order'), mods.map((m) => basename(m)).join('\n') + '\n');
  await writeFile(join(root, 'init'), INIT, { mode: 0o755 });
  const image = join(dir, 'initramfs.cpio.gz');
  await mustRun('sh', [
    '-c',
    `cd "${root}" && find . | cpio -o -H newc --quiet | gzip -1 > "${image}"`,
  ]);
  rmSync(root, { recursive: true, force: true });
  return image;
}

/** kvm only where /dev/kvm is hardware KVM; tcg elsewhere. */
export function accelerator(): 'kvm' | 'tcg' {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return 'tcg';
  }
  return existsSync('/sys/module/kvm_intel') || existsSync('/sys/module/kvm_amd') ? 'kvm' : 'tcg';
}

export interface GuestOptions {
  kernel: GuestKernel;
  /** argv run in the guest; absolute paths (the host's, seen at the same place). */
  command: string[];
  /** Host directory for the command's results (created); its working directory in the guest. */
  outDir: string;
  timeoutMs: number;
  cpus?: number;
  memMiB?: number;
}

export interface GuestResult {
  exitCode: number;
  console: string;
  accel: 'kvm' | 'tcg';
  wallMs: number;
}

export async function runInGuest(opts: GuestOptions): Promise<GuestResult> {
  const { kernel, outDir } = opts;
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'guest.sh'), guestScript(kernel, outDir, opts.command));
  rmSync(join(outDir, 'exit-status'), { force: true });
  const initrd = await buildInitramfs(kernel, await mkdtemp(join(outDir, '.boot-')));
  const accel = accelerator();
  const accelArgs =
    accel === 'kvm'
      ? // -cpu host can fail on nested hosts (MSR 0x10a, arch-capabilities): masked.
        ['-enable-kvm', '-cpu', 'host,-arch-capabilities']
      : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
  const args = [
    ...accelArgs,
    ...['-smp', String(opts.cpus ?? 2), '-m', String(opts.memMiB ?? 1024)],
    ...['-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot', '-nic', 'none'],
    ...['-kernel', join(kernel.dir, 'boot', `vmlinuz-${kernel.release}`), '-initrd', initrd],
    '-virtfs',
    'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${outDir},mount_tag=out,security_model=none,multidevs=remap`,
    '-append',
    `console=ttyS0 quiet loglevel=3 panic=-1 VIPD_GUEST_OUT=${outDir}`,
  ];
  const t0 = performance.now();
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  qemu.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  qemu.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const tail = (): string => out.replace(/\r/g, '').split('\n').slice(-40).join('\n');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, opts.timeoutMs);
  const started = await new Promise<NodeJS.ErrnoException | number | null>((resolve) => {
    qemu.on('error', resolve);
    qemu.on('exit', (code) => resolve(code));
  });
  clearTimeout(timer);
  const wallMs = performance.now() - t0;
  if (started instanceof Error) {
    throw new GuestError(
      `cannot start qemu-system-x86_64 (${started.code ?? started.message}): apt-get install qemu-system-x86`,
    );
  }
  if (timedOut) {
    throw new GuestError(
      `the ${kernel.release} guest (${accel}) did not finish within ${opts.timeoutMs} ms; console tail:\n${tail()}`,
    );
  }
  const status = await readFile(join(outDir, 'exit-status'), 'utf8').catch(() => undefined);
  if (status === undefined) {
    throw new GuestError(
      `the ${kernel.release} guest (${accel}) stopped (qemu exit ${String(started)}) before the command finished; console tail:\n${tail()}`,
    );
  }
  return { exitCode: Number(status.trim()), console: out.replace(/\r/g, ''), accel, wallMs };
}
