/**
 * Running Debian's keepalived as a real peer inside a lab host: one config, pid files and log per
 * start (keepalived refuses to start while an old pid file exists), foreground, console logging.
 * IPv4 or IPv6 VIPs (keepalived takes the instance's family from them), optionally on the
 * RFC's virtual MAC (`use_vmac`: a macvlan keepalived creates and carries the VIPs on).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabProcess } from '../lab/lab.js';

export interface KeepalivedOptions {
  priority: number;
  version: 2 | 3;
  authPassword?: string;
  vrid?: number;
  /** The one VIP (CIDR) when `vips` is not given; default 10.99.0.100/24. */
  vip?: string;
  /**
   * The VIPs (CIDRs), in keepalived's `virtual_ipaddress` order. For IPv6 (VRRPv3 only) the
   * first is a link-local, e.g. ['fe80::51/64', '2001:db8:99::100/64'] (RFC 5798 5.2.9).
   */
  vips?: string[];
  /**
   * `use_vmac`: keepalived creates a macvlan with the virtual MAC (00:00:5e:00:01:VRID, or
   * :02: for IPv6), sends its adverts from it and puts the VIPs on it; a string names it
   * (default vrrp.VRID). Without it the VIPs go on eth0.
   */
  useVmac?: boolean | string;
}

let starts = 0;

export function keepalivedConfig(host: string, o: KeepalivedOptions): string {
  const auth =
    o.authPassword === undefined
      ? ''
      : `  authentication {\n    auth_type PASS\n    auth_pass ${o.authPassword}\n  }\n`;
  const vmac =
    o.useVmac === undefined || o.useVmac === false
      ? ''
      : `  use_vmac${typeof o.useVmac === 'string' ? ` ${o.useVmac}` : ''}\n`;
  // With use_vmac a VIP without `dev` goes on the macvlan, which is the point.
  const dev = vmac === '' ? ' dev eth0' : '';
  const vips = (o.vips ?? [o.vip ?? '10.99.0.100/24']).map((v) => `    ${v}${dev}\n`).join('');
  return `global_defs {
  router_id ${host}
  vrrp_version ${o.version}
  vrrp_garp_master_delay 1
  vrrp_garp_master_repeat 1
  script_user root
  enable_script_security
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id ${o.vrid ?? 51}
  priority ${o.priority}
  advert_int 1
  version ${o.version}
${auth}${vmac}  virtual_ipaddress {
${vips}  }
}
`;
}

export function startKeepalived(lab: Lab, host: string, o: KeepalivedOptions): LabProcess {
  starts += 1;
  const base = join(lab.logDir, `keepalived-${host}-${starts}`);
  writeFileSync(`${base}.conf`, keepalivedConfig(host, o));
  return lab.spawn(host, `keepalived-${host}-${starts}`, 'keepalived', [
    '-n',
    '-l',
    '-D',
    '-G',
    '-P',
    '-f',
    `${base}.conf`,
    '-p',
    `${base}.pid`,
    '-r',
    `${base}.vrrp.pid`,
  ]);
}

/** keepalived log lines that would mean it rejected or mis-parsed a packet. */
export const KEEPALIVED_PACKET_ERRORS =
  /checksum|invalid|mismatch|bad (ttl|length|type)|auth.*(fail|error)/i;
