/**
 * Talking to a lab host's vipd over its control socket (the same requests `vipd status`, `vipd
 * demote` and `vipd reload` send), without starting a CLI process: a demotion's time is the
 * time the request left, not the time a Node process took to start.
 */
import { sendRequest } from '../../src/control/client.js';
import type { DaemonStatus, ReloadReport } from '../../src/router/status.js';
import type { Lab } from '../lab/lab.js';
import { controlSocket } from './vipd.js';

export type InstanceStatus = DaemonStatus['instances'][number];

export async function daemonStatus(lab: Lab, host: string): Promise<DaemonStatus> {
  const reply = await sendRequest(controlSocket(lab, host), { cmd: 'status' });
  if (!reply.ok || !('status' in reply))
    throw new Error(`${host} status: ${JSON.stringify(reply)}`);
  return reply.status;
}

/** The status of instance `name` on `host`, or undefined when the daemon does not list it. */
export async function instanceStatus(
  lab: Lab,
  host: string,
  name = 'VI_1',
): Promise<InstanceStatus | undefined> {
  return (await daemonStatus(lab, host)).instances.find((i) => i.name === name);
}

/** `vipd demote NAME [--for S]`; throws with the daemon's answer when it refuses. */
export async function demote(
  lab: Lab,
  host: string,
  name = 'VI_1',
  forSeconds?: number,
): Promise<void> {
  const reply = await sendRequest(controlSocket(lab, host), {
    cmd: 'demote',
    instance: name,
    ...(forSeconds === undefined ? {} : { forSeconds }),
  });
  if (!reply.ok) throw new Error(`${host} demote ${name}: ${reply.error}`);
}

/** `vipd promote NAME`; throws with the daemon's answer when it refuses. */
export async function promote(lab: Lab, host: string, name = 'VI_1'): Promise<void> {
  const reply = await sendRequest(controlSocket(lab, host), { cmd: 'promote', instance: name });
  if (!reply.ok) throw new Error(`${host} promote ${name}: ${reply.error}`);
}

/** `vipd reload`: the report of an applied reload, or the daemon's reason for refusing it. */
export async function reload(
  lab: Lab,
  host: string,
): Promise<{ ok: true; report: ReloadReport } | { ok: false; error: string }> {
  // A reload may stop and start routers, whose plans may run hooks: the CLI allows it 120 s.
  const reply = await sendRequest(controlSocket(lab, host), { cmd: 'reload' }, 120_000);
  if (!reply.ok) return { ok: false, error: reply.error };
  if (!('report' in reply)) throw new Error(`${host} reload: ${JSON.stringify(reply)}`);
  return { ok: true, report: reply.report };
}
