/**
 * Running Debian's keepalived as a real peer inside a lab host: one config, pid files and log per
 * start (keepalived refuses to start while an old pid file exists), foreground, console logging.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, LabProcess } from '../lab/lab.js';

export interface KeepalivedOptions {
  priority: number;
  version: 2 | 3;
  authPassword?: string;
  vrid?: number;
  vip?: string;
}

let starts = 0;

export function keepalivedConfig(host: string, o: KeepalivedOptions): string {
  const auth =
    o.authPassword === undefined
      ? ''
      : `  authentication {\n    auth_type PASS\n    auth_pass ${o.authPassword}\n  }\n`;
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
${auth}  virtual_ipaddress {
    ${o.vip ?? '10.99.0.100/24'} dev eth0
  }
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
