/**
 * Making every node receive the VIPs' traffic (xt_cluster and nft backends; CLUSTERIP did this in
 * the kernel): the interface joins the cluster's multicast MAC (`ip maddr`), and an nft `arp`
 * table rewrites the sender MAC of every ARP request and reply this box sends for a VIP to that
 * MAC, so the segment's switches flood VIP frames to all nodes. Requests matter as much as
 * replies: a request carrying our own MAC would re-point its receivers at this node alone.
 * The table text is pure; joining and leaving are idempotent.
 */
import type { LoadSharingConfig } from '../config/load-sharing.js';
import { runOrThrow, type Run } from './command.js';

export const ARP_TABLE = 'vipd_arp';

/** An nft batch that (re)creates the ARP rewrite table, replacing any previous version of it. */
export function arpRewriteScript(cfg: LoadSharingConfig): string {
  return [
    arpRemoveScript().trimEnd(),
    `table arp ${ARP_TABLE} {`,
    '\tchain out {',
    '\t\ttype filter hook output priority filter; policy accept;',
    `\t\toifname "${cfg.interface}" arp saddr ip { ${cfg.vips.join(', ')} } arp saddr ether set ${cfg.clusterMac.toLowerCase()} counter`,
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** An nft batch that deletes the ARP rewrite table, and succeeds when it is already gone. */
export function arpRemoveScript(): string {
  // nft 1.0.6 has no `destroy`: adding the (empty) table first makes the delete always valid.
  return `table arp ${ARP_TABLE} {}\ndelete table arp ${ARP_TABLE}\n`;
}

async function hasClusterMac(run: Run, cfg: LoadSharingConfig): Promise<boolean> {
  // All interfaces, not `dev IF`: an interface that is gone holds no membership to remove.
  const out = await runOrThrow(run, 'reading multicast MACs', 'ip', ['-j', 'maddr', 'show']);
  const links = JSON.parse(out) as { ifname?: string; maddr?: { link?: string }[] }[];
  const mac = cfg.clusterMac.toLowerCase();
  return links.some(
    (l) => l.ifname === cfg.interface && (l.maddr ?? []).some((m) => m.link?.toLowerCase() === mac),
  );
}

/** Joins the cluster MAC; a second join is a no-op in the kernel (one static entry, no count). */
export async function joinClusterMac(run: Run, cfg: LoadSharingConfig): Promise<void> {
  await runOrThrow(run, `joining cluster MAC on ${cfg.interface}`, 'ip', [
    'maddr',
    'add',
    cfg.clusterMac,
    'dev',
    cfg.interface,
  ]);
}

/** Leaves the cluster MAC if joined (the kernel refuses to delete an entry that is not there). */
export async function leaveClusterMac(run: Run, cfg: LoadSharingConfig): Promise<void> {
  if (!(await hasClusterMac(run, cfg))) return;
  await runOrThrow(run, `leaving cluster MAC on ${cfg.interface}`, 'ip', [
    'maddr',
    'del',
    cfg.clusterMac,
    'dev',
    cfg.interface,
  ]);
}
