/**
 * What the CLUSTERIP kernel test sets up, shared by the guest program that measures it
 * (clusterip-guest.ts, inside the 6.1 VM) and the test file that judges the measurements
 * (test/integration/clusterip-kernel.test.ts): addresses, hash parameters, the daemons' config.
 * Constants and pure functions only: importing it starts nothing.
 */
import type { HashMode, LoadSharingConfig } from '../../src/config/load-sharing.js';
import { CLUSTER_MAC } from '../support/cluster-probe.js';

/** The seed of the backend and hash checks. */
export const SEED = 0xdeadbeef;

/** The hash check: one VIP per hash mode, 7 nodes, every one owned by the box. */
export const HASH_VIPS: Readonly<Record<string, HashMode>> = {
  '10.99.0.20': 'sourceip',
  '10.99.0.21': 'sourceip-sourceport',
  '10.99.0.22': 'sourceip-sourceport-destport',
};
export const HASH_TOTAL = 7;

/**
 * A restart with changed parameters, one VIP per parameter: the rule a previous run left (old,
 * still in the kernel) and the config vipd comes back with (new). Both own all 4 nodes.
 */
export const REBUILDS = {
  '10.99.0.30': { old: { totalNodes: 2 }, new: { totalNodes: 4 } },
  '10.99.0.31': {
    old: { hashmode: 'sourceip' },
    new: { hashmode: 'sourceip-sourceport' },
  },
  '10.99.0.32': { old: { hashInit: 1 }, new: { hashInit: 2 } },
} as const satisfies Record<
  string,
  { old: Partial<LoadSharingConfig>; new: Partial<LoadSharingConfig> }
>;
/** An operator's CLUSTERIP rule in the mangle table, which remove() alone must take away. */
export const REMOVE_ONLY_VIP = '10.99.0.33';

/** One UDP flow as h's conntrack table has it. */
export interface MarkedFlow {
  saddr: string;
  sport: number;
  dport: number;
  /** The conntrack mark CLUSTERIP stamped: its hash, the node number 1..total. */
  mark: number;
}

/** The daemons' cluster: two boxes, 4 node numbers, seeds before and after the restart. */
export const VIP = '10.99.0.10';
export const BOXES = ['fw1', 'fw2'];
export const SHAPE = { boxes: BOXES.length, totalNodes: 4 };
export const SEEDS = [0xdeadbeef, 0x5eed] as const;

export function clusterDoc(box: string, seed: number): object {
  return {
    node: { name: box },
    log: { level: 'info' },
    cluster: {
      name: 'web',
      boxes: BOXES,
      totalNodes: SHAPE.totalNodes,
      vridBase: 60,
      backend: 'clusterip',
      hashmode: 'sourceip',
      hashInit: seed,
      clusterMac: CLUSTER_MAC,
      interface: 'eth0',
      vips: [`${VIP}/24`],
      advertInterval: 0.5,
    },
  };
}
