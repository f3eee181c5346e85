/**
 * Making every node receive the VIPs' traffic (xt_cluster and nft backends; CLUSTERIP did this in
 * the kernel): the interface joins the cluster's multicast MAC (`ip maddr`), and every neighbour
 * message this box sends for a VIP names that MAC instead of the box's own, so the segment's
 * switches flood VIP frames to all nodes. Requests matter as much as answers: a request carrying
 * our own MAC would re-point its receivers at this node alone.
 *
 * - IPv4: an nft `arp` table rewrites the sender MAC of ARP requests and replies.
 * - IPv6: an nft `ip6` table rewrites the link-layer option of neighbour solicitations (source
 *   option) and advertisements (target option) sent from a VIP, which Linux puts first, right
 *   after the 24-byte message. nft does not fix the ICMPv6 checksum after a raw write, so the
 *   same rule writes the difference of the two MACs' 16-bit sums into the message's reserved
 *   field (RFC 4861: zero when sent, ignored on receipt), which leaves the checksum valid. That
 *   difference depends on this box's MAC: the rule matches only messages carrying it, so if the
 *   interface's MAC changes the messages leave untouched (clients reach this box alone) until
 *   the next install.
 *
 * The table texts are pure; joining and leaving are idempotent.
 */
import { sharingFamily, type LoadSharingConfig } from '../config/load-sharing.js';
import { CommandError, runOrThrow, type Run } from './command.js';

export const ARP_TABLE = 'vipd_arp';
export const ND_TABLE = 'vipd_nd';

/** nft 1.0.6 has no `destroy`: adding the (empty) table first makes the delete always valid. */
function removeTable(family: string, name: string): string {
  return `table ${family} ${name} {}\ndelete table ${family} ${name}\n`;
}

function outputTable(family: string, name: string, rules: readonly string[]): string {
  return [
    removeTable(family, name).trimEnd(),
    `table ${family} ${name} {`,
    '\tchain out {',
    '\t\ttype filter hook output priority filter; policy accept;',
    ...rules.map((r) => `\t\t${r}`),
    '\t}',
    '}',
    '',
  ].join('\n');
}

/** An nft batch that (re)creates the ARP rewrite table, replacing any previous version of it. */
export function arpRewriteScript(cfg: LoadSharingConfig): string {
  return outputTable('arp', ARP_TABLE, [
    `oifname "${cfg.interface}" arp saddr ip { ${cfg.vips.join(', ')} } arp saddr ether set ${cfg.clusterMac.toLowerCase()} counter`,
  ]);
}

/** An nft batch that deletes the ARP rewrite table, and succeeds when it is already gone. */
export function arpRemoveScript(): string {
  return removeTable('arp', ARP_TABLE);
}

const macHex = (mac: string): string => mac.toLowerCase().replace(/:/g, '');

/** Ones'-complement sum of a MAC's three 16-bit words (mod 0xffff). */
function macSum(mac: string): number {
  const hex = macHex(mac);
  return [0, 4, 8].reduce((sum, i) => sum + parseInt(hex.slice(i, i + 4), 16), 0) % 0xffff;
}

/**
 * The value for the reserved 16 bits that keeps the ICMPv6 checksum valid when the link-layer
 * option changes from `ownMac` to `clusterMac` (both sums taken mod 0xffff, ones' complement).
 */
export function checksumCompensation(ownMac: string, clusterMac: string): number {
  return (macSum(ownMac) - macSum(clusterMac) + 0xffff) % 0xffff;
}

/**
 * An nft batch that (re)creates the neighbour-discovery rewrite table. Offsets are in bits from
 * the ICMPv6 header: reserved low half at 48, first option's type and length at 192, its MAC at
 * 208. Matching reserved == 0 and the option's type and our MAC first means a message is only
 * ever rewritten from the state the compensation was computed for.
 */
export function ndRewriteScript(cfg: LoadSharingConfig, ownMac: string): string {
  const fix = `@th,48,16 set 0x${checksumCompensation(ownMac, cfg.clusterMac).toString(16).padStart(4, '0')} @th,208,48 set 0x${macHex(cfg.clusterMac)}`;
  const rule = (type: string, option: string): string =>
    `oifname "${cfg.interface}" ip6 saddr { ${cfg.vips.join(', ')} } icmpv6 type ${type} @th,48,16 0x0000 @th,192,16 ${option} @th,208,48 0x${macHex(ownMac)} ${fix} counter`;
  return outputTable('ip6', ND_TABLE, [
    rule('nd-neighbor-solicit', '0x0101'),
    rule('nd-neighbor-advert', '0x0201'),
  ]);
}

/** An nft batch that deletes the neighbour-discovery rewrite table, also when it is gone. */
export function ndRemoveScript(): string {
  return removeTable('ip6', ND_TABLE);
}

/** The interface's own MAC, as the kernel has it now. */
async function linkMac(run: Run, ifname: string): Promise<string> {
  const out = await runOrThrow(run, `reading the MAC of ${ifname}`, 'ip', [
    '-j',
    'link',
    'show',
    'dev',
    ifname,
  ]);
  const mac = (JSON.parse(out) as { address?: string }[])[0]?.address;
  if (mac === undefined) throw new CommandError(`${ifname} has no link-layer address`);
  return mac;
}

/** The rewrite batch for the set's family (IPv6 reads this box's MAC for the checksum fix). */
export async function neighbourRewriteScript(run: Run, cfg: LoadSharingConfig): Promise<string> {
  return sharingFamily(cfg.vips) === 6
    ? ndRewriteScript(cfg, await linkMac(run, cfg.interface))
    : arpRewriteScript(cfg);
}

/** The batch removing the set's family's rewrite table. */
export function neighbourRemoveScript(cfg: LoadSharingConfig): string {
  return sharingFamily(cfg.vips) === 6 ? ndRemoveScript() : arpRemoveScript();
}

/** Whether vipd's (static) membership is there; the kernel's own, for an IPv6 group, does not count. */
async function hasClusterMac(run: Run, cfg: LoadSharingConfig): Promise<boolean> {
  // All interfaces, not `dev IF`: an interface that is gone holds no membership to remove.
  const out = await runOrThrow(run, 'reading multicast MACs', 'ip', ['-j', 'maddr', 'show']);
  const links = JSON.parse(out) as {
    ifname?: string;
    maddr?: { link?: string; features?: string }[];
  }[];
  const mac = cfg.clusterMac.toLowerCase();
  return links.some(
    (l) =>
      l.ifname === cfg.interface &&
      (l.maddr ?? []).some((m) => m.link?.toLowerCase() === mac && m.features === 'static'),
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

/**
 * Leaves the cluster MAC if joined (the kernel refuses to delete a static entry that is not
 * there, even while an IPv6 group of the interface holds the same MAC).
 */
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
