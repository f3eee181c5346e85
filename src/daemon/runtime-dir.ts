/**
 * The daemon's runtime directory (the control socket's, /run/vipd by default): `vipd run`
 * creates it when it is missing, as systemd's RuntimeDirectory= does for the unit, so a vipd
 * started by hand or from another init needs no mkdir first. Created like `mkdir -p -m 0700`
 * (only root may reach the socket); an existing directory keeps its mode, the operator chose it.
 */
import { chmod, mkdir } from 'node:fs/promises';

/** The runtime directory could not be created: a start-up error naming the path. */
export class RuntimeDirError extends Error {
  override name = 'RuntimeDirError';
}

/** Creates `dir` and its missing parents, mode 0700; returns whether anything was created. */
export async function ensureRuntimeDir(dir: string): Promise<boolean> {
  try {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (created === undefined) return false;
    // The umask can only take bits away from 0700, but a umask such as 0277 would leave a
    // directory vipd cannot bind its socket in.
    await chmod(dir, 0o700);
    return true;
  } catch (err) {
    throw new RuntimeDirError(
      `cannot create the runtime directory ${dir} for the control socket: ${(err as Error).message}; create it (root's, mode 0700) or set control.socket to another path`,
    );
  }
}
