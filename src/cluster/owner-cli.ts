/**
 * `vipd cluster owner <client-ip> [--sport P] [--dport P] [--instance NAME] --config FILE`:
 * which node number answers a client, computed with the kernel's own hash (cluster/hash.ts) and
 * the backend this box would use. Answers "who served this IP?" without touching the kernel
 * beyond reading its version. Which box owns a node number other than this box's own is the
 * cluster membership's business (live ownership comes with the active-active work).
 */
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../config/config.js';
import { UsageError } from '../usage.js';
import { isIpv4 } from '../net/address.js';
import { ownerNode } from './hash.js';
import { probeKernel, selectBackend } from './select.js';

export async function clusterOwner(args: string[]): Promise<string> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      instance: { type: 'string' },
      sport: { type: 'string' },
      dport: { type: 'string' },
    },
  });
  const [client] = positionals;
  if (client === undefined || !isIpv4(client))
    throw new UsageError('a client IPv4 address is required');
  if (values.config === undefined) throw new UsageError('--config FILE is required');
  const config = loadConfigFile(values.config);
  const inst = config.instances.find(
    (i) => i.loadSharing !== null && (values.instance === undefined || i.name === values.instance),
  );
  if (inst?.loadSharing == null) {
    throw new UsageError(
      values.instance === undefined
        ? 'no instance in the config has loadSharing'
        : `instance ${values.instance} does not exist or has no loadSharing`,
    );
  }
  const port = (v: string | undefined, what: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 65535)
      throw new UsageError(`--${what} must be a port 1..65535`);
    return n;
  };
  const sharing = inst.loadSharing;
  const backend = selectBackend(sharing, await probeKernel());
  const node = ownerNode(
    backend,
    sharing.hashmode,
    { saddr: client, sport: port(values.sport, 'sport'), dport: port(values.dport, 'dport') },
    sharing.totalNodes,
    sharing.hashInit,
  );
  const mine = node === sharing.localNode ? ` (this box, ${config.node.name})` : '';
  return `${client} -> node ${node} of ${sharing.totalNodes}${mine} [instance ${inst.name}, ${backend}, ${sharing.hashmode}, seed 0x${sharing.hashInit.toString(16)}]`;
}
