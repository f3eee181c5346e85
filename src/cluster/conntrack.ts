/**
 * The conntrack setting hash-based load sharing needs (xt_cluster and nft backends): no TCP
 * mid-stream pickup. Every node sees every packet of the VIPs; with loose pickup a node that does
 * not own a flow (or took it over without its state) would adopt it from any mid-stream segment,
 * which is what iptables-extensions(8) warns about for the `cluster` match. The setting is per
 * network namespace and stays at 0 after `remove()`: turning pickup back on is not ours to decide.
 */
import { runOrThrow, type Run } from './command.js';

export async function disableLoosePickup(run: Run): Promise<void> {
  // Exists only once conntrack is active in the namespace: call after installing the rules.
  await runOrThrow(run, 'disabling conntrack TCP mid-stream pickup', 'sysctl', [
    '-q',
    '-w',
    'net.netfilter.nf_conntrack_tcp_loose=0',
  ]);
}
