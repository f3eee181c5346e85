/**
 * The project's N-API addon, build/Release/vipd_native.node (native/addon.cc; `npm ci` builds
 * it), for the system calls Node cannot make: AF_PACKET sends (src/net/packet-socket.ts) and
 * sd_notify's AF_UNIX datagrams (src/daemon/notify.ts). `loadNative()` loads it on first use and
 * caches it, so code that needs none of it (`vipd check`, the pure modules' tests) runs where it
 * was never built; a failed load throws a NativeLoadError (path, cause, how to build it) and is
 * tried again on the next call. Failed system calls inside the addon throw Errors carrying
 * `errno`, `syscall` and `strerror` (NativeCallError); `errnoCode` names the errno.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

export interface NativeAddon {
  /** native/packet_socket.cc */
  open(ifname: string): number;
  send(fd: number, frames: readonly Buffer[]): number;
  close(fd: number): void;
  /** native/notify.cc: one datagram to `path` ('@' first = abstract socket). */
  notify(path: string, message: string): void;
}

/** What the addon adds to the Errors it throws for a failed system call. */
export interface NativeCallError extends Error {
  errno?: number;
  syscall?: string;
  strerror?: string;
}

export class NativeLoadError extends Error {
  constructor(
    readonly path: string,
    options: ErrorOptions & { cause: unknown },
  ) {
    super(
      `the vipd_native addon did not load from ${path} (\`npm ci\` builds it, with a C++ ` +
        `compiler, make and python3): ${(options.cause as Error).message}`,
      options,
    );
    this.name = 'NativeLoadError';
  }
}

/** The errno name (`EPERM`, `ENOENT`...) of an error the addon threw, when it carries one. */
export function errnoCode(err: unknown): string | undefined {
  const errno = (err as NativeCallError).errno;
  return typeof errno === 'number' ? getSystemErrorName(-errno) : undefined;
}

/** The nearest directory above this file with a package.json, from src/ or dist/src/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('no package.json above the vipd sources');
    dir = parent;
  }
  return dir;
}

let addon: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (addon !== undefined) return addon;
  let path = 'build/Release/vipd_native.node';
  try {
    path = join(packageRoot(), path);
    addon = createRequire(import.meta.url)(path) as NativeAddon;
    return addon;
  } catch (err) {
    throw new NativeLoadError(path, { cause: err });
  }
}
