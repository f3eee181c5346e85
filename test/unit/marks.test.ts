import { describe, expect, it } from 'vitest';
import { marksRemoveScript, marksScript } from '../../src/actions/marks.js';
import { parseConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/formats.js';

const base = { name: 'VI_1', interface: 'eth0', vrid: 51, vips: ['10.99.0.100/24'] };
const web = {
  mark: 80,
  match: [
    { vip: '10.99.0.100', port: 80, protocol: 'tcp' },
    { vip: '10.99.0.100', port: 443, protocol: 'tcp' },
  ],
};

describe('firewall marks (seed 002)', () => {
  it('HTTP and HTTPS share one mark, in one table replaced whole', () => {
    const cfg = parseConfig({ instances: [{ ...base, marks: [web] }] }).instances[0];
    if (cfg === undefined) throw new Error('no instance');
    expect(marksScript(cfg, cfg.marks)).toBe(
      [
        'table ip vipd_marks_eth0_51 {}',
        'delete table ip vipd_marks_eth0_51',
        'table ip vipd_marks_eth0_51 {',
        '\tchain prerouting {',
        '\t\ttype filter hook prerouting priority mangle; policy accept;',
        '\t\tip daddr 10.99.0.100 tcp dport 80 counter meta mark set 80',
        '\t\tip daddr 10.99.0.100 tcp dport 443 counter meta mark set 80',
        '\t}',
        '}',
        '',
      ].join('\n'),
    );
    expect(marksRemoveScript(cfg)).toBe(
      'table ip vipd_marks_eth0_51 {}\ndelete table ip vipd_marks_eth0_51\n',
    );
  });

  it('refuses marks on addresses that are not VIPs of the instance, and bad values', () => {
    const bad = (marks: unknown): string[] => {
      try {
        parseConfig({ instances: [{ ...base, marks }] });
        return [];
      } catch (err) {
        return (err as ConfigError).issues.map((i) => `${i.key}: ${i.reason}`);
      }
    };
    expect(bad([{ mark: 80, match: [{ vip: '10.99.0.7', port: 80, protocol: 'tcp' }] }])).toEqual([
      "instances[0].marks[0].match[0].vip: 10.99.0.7 is not one of this instance's VIPs",
    ]);
    expect(bad([{ mark: 0, match: [] }])).toEqual([
      'instances[0].marks[0].mark: must be an integer from 1 to 4294967295, got 0',
      'instances[0].marks[0].match: must list at least one match { vip, port, protocol }',
    ]);
    expect(bad([{ mark: 1, match: [{ vip: '10.99.0.100', port: 80, protocol: 'icmp' }] }])).toEqual(
      ['instances[0].marks[0].match[0].protocol: must be one of tcp, udp, sctp, got "icmp"'],
    );
  });
});
