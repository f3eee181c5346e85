/**
 * A firewall pair as a gateway, for the connection-survival tests: client (10.99.0.10) on the
 * LAN, server (10.98.0.10) behind, fw1/fw2 routing between them with NAT to the back VIP, a
 * stateful filter (mid-flow packets without conntrack state are dropped, nf_conntrack_tcp_loose
 * 0) and conntrackd FTFW configs on a direct sync cable. Returns the vipd instances to run.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../lab/lab.js';
import type { InstanceOptions } from './vipd.js';

export const LAN_VIP = '10.99.0.100';
export const BACK_VIP = '10.98.0.100';
export const SERVER = '10.98.0.10';

const RULES = `
table ip vipd_test_fw {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "eth0" oifname "eth1" ct state new accept
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.99.0.0/24 oifname "eth1" snat to ${BACK_VIP}
  }
}
`;

function conntrackdConf(dir: string, host: string, self: string, peer: string): string {
  return `Sync {
  Mode FTFW {
    DisableExternalCache off
  }
  UDP {
    IPv4_address ${self}
    IPv4_Destination_Address ${peer}
    Port 3780
    Interface sync0
    Checksum on
  }
}
General {
  HashSize 8192
  HashLimit 65536
  Syslog off
  LogFile ${join(dir, `conntrackd-${host}.log`)}
  LockFile ${join(dir, `conntrackd-${host}.lock`)}
  UNIX {
    Path ${join(dir, `conntrackd-${host}.ctl`)}
  }
  NetlinkBufferSize 2097152
  NetlinkBufferSizeMaxGrowth 8388608
  Filter From Userspace {
    Protocol Accept {
      TCP
    }
    Address Ignore {
      IPv4_address 127.0.0.1
      IPv4_address ${self}
    }
  }
}
`;
}

export async function buildGatewayPair(
  lab: Lab,
  withConntrackd: boolean,
): Promise<Record<string, InstanceOptions[]>> {
  await lab.addSwitch('br1');
  await lab.addHost('server', SERVER, 'br1');
  const instances: Record<string, InstanceOptions[]> = {};
  for (const [i, host] of ['fw1', 'fw2'].entries()) {
    await lab.plug(host, 'eth1', `10.98.0.${i + 1}/24`, 'br1');
    await lab.exec(host, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    const rules = join(lab.logDir, `${host}-rules.nft`);
    writeFileSync(rules, RULES);
    // The rules use conntrack, which loads it in this namespace; only then does its sysctl exist.
    await lab.exec(host, 'nft', ['-f', rules]);
    await lab.exec(host, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_tcp_loose=0']);
    const conf = join(lab.logDir, `conntrackd-${host}.conf`);
    writeFileSync(conf, conntrackdConf(lab.logDir, host, `10.97.0.${i + 1}`, `10.97.0.${2 - i}`));
    const common = {
      priority: host === 'fw1' ? 150 : 100,
      conntrackd: { enabled: withConntrackd, config: conf },
    };
    instances[host] = [
      { name: 'LAN', interface: 'eth0', vrid: 51, vips: [`${LAN_VIP}/24`], ...common },
      { name: 'BACK', interface: 'eth1', vrid: 52, vips: [`${BACK_VIP}/24`], ...common },
    ];
  }
  await lab.cable('fw1', 'sync0', '10.97.0.1/24', 'fw2', 'sync0', '10.97.0.2/24');
  await lab.exec('client', 'ip', ['route', 'add', 'default', 'via', LAN_VIP]);
  await lab.exec('server', 'ip', ['route', 'add', 'default', 'via', BACK_VIP]);
  return instances;
}
