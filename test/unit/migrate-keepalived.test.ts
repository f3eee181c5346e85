import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/config/formats.js';
import {
  convertKeepalived,
  importKeepalived,
  KeepalivedInputError,
  MAX_BLOCK_DEPTH,
  MAX_INPUT_BYTES,
  parseKeepalived,
  type KeepalivedNote,
} from '../../src/migrate/keepalived.js';
import { keepalivedConfig } from '../support/keepalived.js';
import { removeTempDirs, tempDir } from '../support/temp-dir.js';

afterAll(removeTempDirs);

/** Numbered lines: the tests name the keepalived line each note must point at. */
function conf(...lines: string[]): string {
  return lines.join('\n');
}

function instances(text: string): Record<string, unknown>[] {
  return (convertKeepalived(text).config as { instances: Record<string, unknown>[] }).instances;
}

function notesAt(text: string, line: number): string[] {
  return convertKeepalived(text)
    .notes.filter((n) => n.line === line)
    .map((n) => n.text);
}

const minimal = (body: string[], head: string[] = []): string =>
  conf(
    ...head,
    'vrrp_instance VI_1 {',
    '  interface eth0',
    '  virtual_router_id 51',
    ...body,
    '  virtual_ipaddress {',
    '    10.99.0.100/24',
    '  }',
    '}',
  );

describe('keepalived block syntax', () => {
  it('cuts # and ! comments anywhere outside quotes, keeps escaped and quoted ones', () => {
    const { statements, notes } = parseKeepalived(
      conf(
        '! whole-line comment',
        'global_defs { # trailing comment',
        '  router_id fw#1 ! the rest is a comment',
        '  notification_email_from "ops#1@example.org" # quoted # survives',
        '  smtp_helo_name a\\#b\\!c',
        '}',
      ),
    );
    expect(notes).toEqual([]);
    expect(statements).toEqual([
      {
        keyword: 'global_defs',
        args: [],
        line: 2,
        block: [
          { keyword: 'router_id', args: ['fw'], line: 3 },
          { keyword: 'notification_email_from', args: ['ops#1@example.org'], line: 4 },
          { keyword: 'smtp_helo_name', args: ['a#b!c'], line: 5 },
        ],
      },
    ]);
  });

  it('reads nested blocks wherever their braces stand, and line continuations', () => {
    const { statements, notes } = parseKeepalived(
      conf(
        'vrrp_instance VI_1',
        '{',
        '  authentication { auth_type PASS',
        '    auth_pass x }  priority \\',
        '    150',
        '  virtual_ipaddress {',
        '    10.0.0.1/24',
        '  } }',
      ),
    );
    expect(notes).toEqual([]);
    expect(statements).toEqual([
      {
        keyword: 'vrrp_instance',
        args: ['VI_1'],
        line: 1,
        block: [
          {
            keyword: 'authentication',
            args: [],
            line: 3,
            block: [
              { keyword: 'auth_type', args: ['PASS'], line: 3 },
              { keyword: 'auth_pass', args: ['x'], line: 4 },
            ],
          },
          { keyword: 'priority', args: ['150'], line: 4 },
          {
            keyword: 'virtual_ipaddress',
            args: [],
            line: 6,
            block: [{ keyword: '10.0.0.1/24', args: [], line: 7 }],
          },
        ],
      },
    ]);
  });

  it('keeps a quoted name with spaces and braces as one word', () => {
    const { statements } = parseKeepalived('vrrp_instance "edge {west} #1" { priority 9 }');
    expect(statements[0]).toMatchObject({ keyword: 'vrrp_instance', args: ['edge {west} #1'] });
    expect(statements[0]?.block).toEqual([{ keyword: 'priority', args: ['9'], line: 1 }]);
  });

  it('reports unbalanced braces and an unterminated quote with their lines', () => {
    const { notes } = parseKeepalived(
      conf('global_defs {', '  router_id "fw1', '}', '}', 'vrrp_instance X {'),
    );
    expect(notes).toEqual<KeepalivedNote[]>([
      { line: 2, text: 'unterminated quote: the rest of the line is one value' },
      { line: 4, text: 'extra "}" ignored' },
      { line: 5, text: 'this block has no closing "}"' },
    ]);
  });
});

describe('keepalived to vipd', () => {
  it("converts the interop tests' keepalived config to the vipd config they run against it", () => {
    const { config, notes } = convertKeepalived(
      keepalivedConfig('fw2', { priority: 150, version: 2, authPassword: 's3cr3t' }),
    );
    expect(config).toEqual({
      node: { name: 'fw2' },
      instances: [
        {
          name: 'VI_1',
          interface: 'eth0',
          vrid: 51,
          priority: 150,
          version: 2,
          advertInterval: 1,
          preempt: true,
          authPassword: 's3cr3t',
          vips: ['10.99.0.100/24'],
          garp: { count: 2, interval: 1 },
        },
      ],
    });
    expect(notes.map((n) => `${n.line}: ${n.text.split(':')[0]}`)).toEqual([
      '6: script_user',
      '7: enable_script_security',
      '10: state BACKUP',
    ]);
    expect(() => parseConfig(config)).not.toThrow();
  });

  it('converts several instances, each with its own settings over the global defaults', () => {
    const text = conf(
      'global_defs {',
      '  router_id lb-a',
      '  vrrp_version 3',
      '}',
      'vrrp_instance "VI ext" {',
      '  interface eth0',
      '  virtual_router_id 10',
      '  priority 200',
      '  advert_int 0.5',
      '  nopreempt',
      '  virtual_ipaddress {',
      '    192.0.2.10/24 dev eth0',
      '    192.0.2.11',
      '  }',
      '  virtual_ipaddress_excluded {',
      '    192.0.2.12/24',
      '  }',
      '  unicast_peer {',
      '    192.0.2.2',
      '  }',
      '}',
      'vrrp_instance VI_int {',
      '  interface eth1',
      '  virtual_router_id 10',
      '  version 2',
      '  priority 50',
      '  preempt_delay 30',
      '  accept',
      '  virtual_ipaddress {',
      '    10.1.0.1/16',
      '  }',
      '}',
    );
    const { config, notes } = convertKeepalived(text, { node: 'override' });
    expect(notes).toEqual([]);
    expect(config).toEqual({
      node: { name: 'override' },
      instances: [
        {
          name: 'VI ext',
          interface: 'eth0',
          vrid: 10,
          priority: 200,
          version: 3,
          advertInterval: 0.5,
          preempt: false,
          unicastPeers: ['192.0.2.2'],
          vips: ['192.0.2.10/24', '192.0.2.11/32'],
          excludedVips: ['192.0.2.12/24'],
        },
        {
          name: 'VI_int',
          interface: 'eth1',
          vrid: 10,
          priority: 50,
          version: 2,
          advertInterval: 1,
          preempt: true,
          preemptDelay: 30,
          accept: true,
          vips: ['10.1.0.1/16'],
        },
      ],
    });
    expect(() => parseConfig(config)).not.toThrow();
  });

  it('reports each thing it cannot convert at its own line, and still converts the rest', () => {
    const text = minimal([
      '  use_ipvlan', // 4
      '  notify_master "/etc/keepalived/master.sh VI_1"', // 5
      '  authentication {', // 6
      '    auth_type AH', // 7
      '  }', // 8
      '  virtual_routes {', // 9
      '    0.0.0.0/0 via 10.99.0.254', // 10
      '  }', // 11
      'include /etc/keepalived/more.conf', // 12
      '  virtual_ipaddress {', // 13
      '    10.99.0.101/24 dev eth1', // 14
      '    2001:db8::1/64', // 15
      '    10.99.0.102/24 dev eth0 label eth0:vip brd 10.99.0.255', // 16
      '  }', // 17
    ]);
    const { config, notes } = convertKeepalived(text);
    expect(notes.map((n) => n.line)).toEqual([4, 5, 7, 9, 12, 14, 15, 16]);
    expect(notes[0]?.text).toMatch(/^use_ipvlan: vipd has no ipvlan mode/);
    expect(notes[1]?.text).toMatch(
      /^notify_master "\/etc\/keepalived\/master.sh VI_1" not converted: vipd hooks take ucarp's arguments .* set hooks.up$/,
    );
    expect(notes[2]?.text).toMatch(/^auth_type AH .* not converted/);
    expect(notes[3]?.text).toMatch(/^virtual_routes: vipd moves addresses only/);
    expect(notes[4]?.text).toMatch(/^include \/etc\/keepalived\/more.conf: not followed/);
    expect(notes[5]?.text).toMatch(/^10.99.0.101\/24 dev eth1: .*not converted/);
    expect(notes[6]?.text).toMatch(/IPv6 .* not converted/);
    expect(notes[7]?.text).toMatch(/label eth0:vip, brd 10.99.0.255 ignored/);
    expect((config as { instances: { vips: string[] }[] }).instances[0]?.vips).toEqual([
      '10.99.0.102/24',
      '10.99.0.100/24',
    ]);
  });

  it("applies keepalived's start-up rules: MASTER without priority owns the address, nopreempt cleared", () => {
    const text = minimal(['  state MASTER', '  nopreempt', '  preempt_delay 5']);
    expect(instances(text)[0]).toMatchObject({ priority: 255, preempt: true });
    expect(instances(text)[0]).not.toHaveProperty('preemptDelay');
    expect(notesAt(text, 4)).toEqual([
      'state MASTER without a priority: keepalived makes it the address owner, so priority 255',
      expect.stringMatching(/^state MASTER: vipd has no initial state/),
    ]);
    expect(notesAt(text, 5)).toEqual([
      'nopreempt with state MASTER: keepalived clears it, so vipd preempts',
    ]);
    expect(notesAt(text, 6)).toEqual(['preempt_delay with state MASTER: keepalived clears it']);
  });

  it('rounds intervals and truncates passwords as keepalived does, and drops v3 authentication', () => {
    const v2 = minimal([
      '  advert_int 2.5',
      '  authentication {',
      '    auth_type PASS',
      '    auth_pass 0123456789',
      '  }',
    ]);
    expect(instances(v2)[0]).toMatchObject({ advertInterval: 3, authPassword: '01234567' });
    expect(notesAt(v2, 4)).toEqual([
      'advert_int 2.5: VRRPv2 carries whole seconds up to 255; keepalived and vipd use 3',
    ]);
    expect(notesAt(v2, 7)).toEqual([
      'auth_pass longer than 8 bytes: truncated to 8, as keepalived does',
    ]);
    const v3 = minimal([
      '  version 3',
      '  advert_int 0.333',
      '  authentication {',
      '    auth_type PASS',
      '    auth_pass x',
      '  }',
    ]);
    expect(instances(v3)[0]).toMatchObject({ version: 3, advertInterval: 0.33 });
    expect(instances(v3)[0]).not.toHaveProperty('authPassword');
    expect(notesAt(v3, 7)).toEqual([
      'authentication: VRRPv3 has none (keepalived ignores it too): not converted',
    ]);
  });

  it('maps the two keepalived GARP bursts onto two vipd rounds, and the refresh', () => {
    const text = minimal([
      '  garp_master_delay 3',
      '  garp_master_repeat 4',
      '  garp_master_refresh 60',
    ]);
    expect(instances(text)[0]?.garp).toEqual({ refresh: 60, count: 2, interval: 3 });
    expect(notesAt(text, 4)).toEqual([
      'garp_master_repeat 4: vipd sends one gratuitous ARP per VIP at each of its 2 rounds (now and 3 s later), not 4',
    ]);
    const burst = minimal([], ['global_defs {', '  vrrp_garp_master_delay 0', '}']);
    expect(instances(burst)[0]?.garp).toEqual({ count: 5 });
  });

  it('converts tracked interfaces, scripts and files, with keepalived defaults and weight overrides', () => {
    const text = conf(
      'vrrp_script chk_gw {', // 1
      '  script "/usr/local/bin/check gw \'two words\'"', // 2
      '  interval 2', // 3
      '  weight -20', // 4
      '  fall 3', // 5
      '}', // 6
      'vrrp_script relative {', // 7
      '  script "pidof haproxy"', // 8
      '}', // 9
      'track_file prio {', // 10
      '  file /run/prio', // 11
      '}', // 12
      'vrrp_instance VI_1 {', // 13
      '  interface eth0', // 14
      '  virtual_router_id 51', // 15
      '  virtual_ipaddress {', // 16
      '    10.99.0.100/24', // 17
      '  }', // 18
      '  track_interface {', // 19
      '    eth1', // 20
      '    eth2 weight 10', // 21
      '    eth3 weight 10 reverse', // 22
      '  }', // 23
      '  track_script {', // 24
      '    chk_gw', // 25
      '    chk_gw weight 5', // 26
      '    relative', // 27
      '    missing', // 28
      '  }', // 29
      '  track_file {', // 30
      '    prio weight -2', // 31
      '  }', // 32
      '}', // 33
    );
    const { config, notes } = convertKeepalived(text);
    const script = {
      name: 'chk_gw',
      script: '/usr/local/bin/check',
      args: ['gw', 'two words'],
      interval: 2,
      timeout: 2,
      rise: 1,
      fall: 3,
    };
    expect((config as { instances: { track: unknown }[] }).instances[0]?.track).toEqual({
      interfaces: [
        { name: 'eth1', weight: 0 },
        { name: 'eth2', weight: 10 },
      ],
      scripts: [
        { ...script, weight: -20 },
        { ...script, weight: 5 },
      ],
      files: [{ path: '/run/prio', weight: -2 }],
    });
    expect(notes.map((n) => n.line)).toEqual([7, 22, 28]);
    expect(notes[0]?.text).toMatch(/"pidof" is not an absolute path .* write the full path/);
    expect(notes[1]?.text).toBe(
      'track_interface eth3: reverse weights have no vipd equivalent: not converted',
    );
    expect(notes[2]?.text).toBe(
      'track_script missing: no vrrp_script missing is defined: not converted',
    );
    expect(() => parseConfig(config)).not.toThrow();
  });

  it('converts a sync group of known instances, and reports what vipd has no equivalent for', () => {
    const second = conf(
      'vrrp_instance VI_2 {', // 21
      '  interface eth1', // 22
      '  virtual_router_id 52', // 23
      '  virtual_ipaddress {', // 24
      '    10.1.0.100/24', // 25
      '  }', // 26
      '}', // 27
    );
    const text = conf(
      minimal(
        ['  track_process {', '    haproxy', '  }'],
        [
          'vrrp_sync_group G1 {', // 1
          '  group {', // 2
          '    VI_1', // 3
          '    VI_2', // 4
          '    VI_9', // 5
          '  }', // 6
          '  track_interface {', // 7
          '    eth3', // 8
          '  }', // 9
          '}', // 10
        ],
      ),
      second,
    );
    const { config, notes } = convertKeepalived(text);
    expect((config as { syncGroups: unknown }).syncGroups).toEqual([
      { name: 'G1', instances: ['VI_1', 'VI_2'] },
    ]);
    expect(notes).toEqual([
      { line: 5, text: 'sync group G1: no vrrp_instance VI_9: left out' },
      {
        line: 7,
        text: 'track_interface in sync group G1: vipd tracks per instance; add it to each member: not converted',
      },
      { line: 14, text: 'track_process: vipd tracks interfaces, scripts and files: not converted' },
    ]);
    expect(() => parseConfig(config)).not.toThrow();
    expect(
      notesAt(conf('vrrp_sync_group G2 {', '  group {', '    VI_1', '  }', '}', minimal([])), 1),
    ).toEqual(['vrrp_sync_group G2: fewer than two instances: not converted']);
  });
});

/** An instance of `lines` on eth0 with VRID 51, after `head` (numbered from 1). */
function instance(lines: string[], head: string[] = [], name = 'VI_1'): string {
  return conf(...head, `vrrp_instance ${name} {`, '  interface eth0', ...lines, '}');
}

/** The converted document, checked by vipd's own config schema. */
function converted(text: string): { config: unknown; notes: KeepalivedNote[] } {
  const result = convertKeepalived(text);
  expect(() => parseConfig(result.config)).not.toThrow();
  return result;
}

describe('keepalived IPv6 instances to vipd', () => {
  it('converts an IPv6 instance: link-local first, a global /64, VRRPv3', () => {
    const text = instance([
      '  virtual_router_id 51', // 3
      '  priority 150', // 4
      '  advert_int 0.5', // 5
      '  virtual_ipaddress {', // 6
      '    fe80::1/64', // 7
      '    2001:DB8:0::100/64 dev eth0', // 8
      '  }', // 9
      '  track_interface {', // 10
      '    eth1', // 11
      '  }', // 12
    ]);
    const { config, notes } = converted(text);
    expect(notes).toEqual([]);
    expect((config as { instances: unknown[] }).instances).toEqual([
      {
        name: 'VI_1',
        interface: 'eth0',
        vrid: 51,
        priority: 150,
        version: 3,
        advertInterval: 0.5,
        preempt: true,
        vips: ['fe80::1/64', '2001:db8::100/64'],
        track: { interfaces: [{ name: 'eth1', weight: 0 }], scripts: [], files: [] },
      },
    ]);
    const vipd = parseConfig(config).instances[0];
    expect(vipd?.family).toBe(6);
    expect(vipd?.vips.map((v) => v.address)).toEqual(['fe80::1', '2001:db8::100']);
  });

  it('gives a bare IPv6 address /128 as keepalived does, and names the link-local address the RFC lists first', () => {
    const text = instance([
      '  virtual_router_id 51', // 3
      '  virtual_ipaddress {', // 4
      '    2001:db8::10', // 5
      '    2001:db8::11 preferred_lft forever', // 6
      '  }', // 7
    ]);
    const { config, notes } = converted(text);
    expect(instances(text)[0]).toMatchObject({
      version: 3,
      vips: ['2001:db8::10/128', '2001:db8::11/128'],
    });
    expect(notes).toEqual([
      {
        line: 1,
        text: expect.stringMatching(
          /^no link-local VIP: RFC 5798 section 5.2.9 puts .*\(fe80::200:5eff:fe00:233\/64, .* add it first on every peer at once: .*$/,
        ),
      },
      {
        line: 5,
        text: '2001:db8::10/128: keepalived adds a /128 deprecated (preferred_lft 0), so the kernel never picks it as a source address; vipd adds it preferred (no lifetime setting)',
      },
      { line: 6, text: expect.stringMatching(/^2001:db8::11: preferred_lft forever ignored/) },
    ]);
    // Nothing is added: vipd advertises the list as keepalived does.
    expect(parseConfig(config).instances[0]?.vips.map((v) => v.address)).toEqual([
      '2001:db8::10',
      '2001:db8::11',
    ]);
  });

  it('keeps an instance to the family of its first address, as keepalived does', () => {
    const text = instance([
      '  virtual_router_id 51', // 3
      '  virtual_ipaddress {', // 4
      '    10.99.0.100/24', // 5
      '    2001:db8::1/64', // 6
      '  }', // 7
      '  virtual_ipaddress_excluded {', // 8
      '    2001:db8::2/64', // 9
      '    10.99.0.101/24', // 10
      '  }', // 11
      '  unicast_peer {', // 12
      '    2001:db8::20', // 13
      '    10.99.0.2', // 14
      '  }', // 15
    ]);
    const { notes } = converted(text);
    expect(instances(text)[0]).toMatchObject({
      version: 2,
      vips: ['10.99.0.100/24'],
      excludedVips: ['10.99.0.101/24'],
      unicastPeers: ['10.99.0.2'],
    });
    expect(notes.map((n) => n.line)).toEqual([6, 9, 13]);
    expect(notes[0]?.text).toBe(
      '2001:db8::1/64: an IPv6 address in an IPv4 instance (settled at line 5): keepalived ignores it ("address family must match VRRP instance"): not converted; to move it, give it its own vrrp_instance, in keepalived too, and join both in a vrrp_sync_group',
    );
    expect(notes[1]?.text).toMatch(
      /^2001:db8::2\/64: an excluded IPv6 address of an IPv4 instance: keepalived moves it with this instance, but a vipd instance is one address family: not converted; in vipd it takes an IPv6 instance on eth0 \(version 3\) with it in vips, in a sync group with this one/,
    );
    expect(notes[2]?.text).toMatch(/^unicast_peer 2001:db8::20: .* keepalived skips it/);

    const six = instance([
      '  virtual_router_id 51', // 3
      '  virtual_ipaddress {', // 4
      '    fe80::1/64', // 5
      '    10.99.0.100/24', // 6
      '  }', // 7
      '  virtual_ipaddress_excluded {', // 8
      '    10.99.0.101/24', // 9
      '  }', // 10
    ]);
    expect(instances(six)[0]).toMatchObject({ version: 3, vips: ['fe80::1/64'] });
    expect(instances(six)[0]).not.toHaveProperty('excludedVips');
    expect(converted(six).notes.map((n) => [n.line, n.text.slice(0, 50)])).toEqual([
      [6, '10.99.0.100/24: an IPv4 address in an IPv6 instanc'],
      [9, '10.99.0.101/24: an excluded IPv4 address of an IPv'],
    ]);
  });

  it('runs IPv6 on VRRPv3 whatever the version keyword says, noting what keepalived does', () => {
    const after = instance([
      '  virtual_router_id 51', // 3
      '  virtual_ipaddress {', // 4
      '    fe80::1/64', // 5
      '  }', // 6
      '  version 2', // 7
    ]);
    expect(instances(after)[0]?.version).toBe(3);
    expect(notesAt(after, 7)).toEqual([
      'version 2 in an IPv6 instance: keepalived ignores it ("conflicts with configured or deduced version") and runs VRRPv3: version 3',
    ]);
    // Written before the instance is IPv6, keepalived keeps it and sends VRRPv2 over IPv6.
    const before = instance([
      '  virtual_router_id 51', // 3
      '  version 2', // 4
      '  authentication {', // 5
      '    auth_type PASS', // 6
      '    auth_pass secret', // 7
      '  }', // 8
      '  virtual_ipaddress {', // 9
      '    fe80::1/64', // 10
      '  }', // 11
    ]);
    expect(instances(before)[0]).toMatchObject({ version: 3 });
    expect(instances(before)[0]).not.toHaveProperty('authPassword');
    expect(converted(before).notes).toEqual([
      {
        line: 4,
        text: expect.stringMatching(
          /^version 2 before the IPv6 address at line 10: keepalived 2.2.7 then sends VRRPv2 over IPv6, .* set version 3 on the keepalived peers too/,
        ),
      },
      {
        line: 6,
        text: 'authentication: VRRPv3 has none (keepalived ignores it too): not converted',
      },
    ]);
    const strict = conf('global_defs {', '  vrrp_strict', '}', before);
    expect(notesAt(strict, 7)).toEqual([
      'version 2 in an IPv6 instance: keepalived in strict mode runs VRRPv3 ("cannot use IPv6 with VRRP version 2"): version 3',
    ]);
    const global = instance(
      ['  virtual_router_id 51', '  virtual_ipaddress {', '    fe80::1/64', '  }'],
      ['global_defs {', '  vrrp_version 2', '}'],
    );
    expect(instances(global)[0]?.version).toBe(3);
    expect(notesAt(global, 4)).toEqual([
      'vrrp_version 2 (line 2) does not apply to IPv6 instances: keepalived runs them as VRRPv3: version 3',
    ]);
  });

  it('reads native_ipv6 as keepalived does: IPv6 and VRRPv3, unless IPv4 addresses came first', () => {
    const native = instance([
      '  virtual_router_id 51', // 3
      '  native_ipv6', // 4
      '  version 2', // 5
      '  virtual_ipaddress {', // 6
      '    10.99.0.100/24', // 7
      '    2001:db8::1/64', // 8
      '  }', // 9
    ]);
    expect(instances(native)[0]).toMatchObject({ version: 3, vips: ['2001:db8::1/64'] });
    const { notes } = converted(native);
    expect(notes.map((n) => n.line)).toEqual([1, 5, 7]);
    expect(notes[1]?.text).toMatch(/^version 2 in an IPv6 instance: keepalived ignores it/);
    expect(notes[2]?.text).toMatch(
      /^10.99.0.100\/24: an IPv4 address in an IPv6 instance \(settled at line 4\)/,
    );
    const late = instance([
      '  virtual_router_id 51', // 3
      '  virtual_ipaddress {', // 4
      '    10.99.0.100/24', // 5
      '  }', // 6
      '  native_ipv6', // 7
    ]);
    expect(instances(late)[0]).toMatchObject({ version: 2, vips: ['10.99.0.100/24'] });
    expect(notesAt(late, 7)).toEqual([
      'native_ipv6: the instance is already IPv4 (line 5): keepalived ignores it ("Cannot specify native_ipv6 with IPv4 addresses")',
    ]);
  });

  it('leaves IPv6 unicast peers out (vipd advertises IPv6 to ff02::12), and the skipped broadcast VIP', () => {
    const text = instance(
      [
        '  virtual_router_id 51', // 6
        '  unicast_peer {', // 7
        '    2001:db8::2', // 8
        '    2001:db8::3', // 9
        '  }', // 10
        '  virtual_ipaddress {', // 11
        '    fe80::1/64', // 12
        '    2001:db8::1/64 brd 2001:db8::ff', // 13
        '    10.99.0.100/24', // 14
        '  }', // 15
      ],
      ['global_defs {', '  vrrp_mcast_group6 FF02:0:0:0:0:0:0:12', '}'],
    );
    const { config, notes } = converted(text);
    const [converted6] = (config as { instances: Record<string, unknown>[] }).instances;
    expect(converted6).not.toHaveProperty('unicastPeers');
    expect(converted6?.vips).toEqual(['fe80::1/64']);
    expect(notes.map((n) => n.line)).toEqual([7, 13, 14]);
    expect(notes[0]?.text).toBe(
      'unicast_peer 2001:db8::2, 2001:db8::3: vipd has no IPv6 unicast (an IPv6 instance advertises to ff02::12): not converted; remove unicast_peer on the keepalived peers too, since keepalived in unicast mode drops multicast adverts',
    );
    expect(notes[1]?.text).toBe(
      '2001:db8::1/64 brd 2001:db8::ff: keepalived skips an IPv6 address given a broadcast address: not converted',
    );
    expect(notes[2]?.text).toMatch(/an IPv4 address in an IPv6 instance \(settled at line 8\)/);
    expect(
      notesAt(
        instance(
          ['  virtual_router_id 51', '  virtual_ipaddress {', '    fe80::1/64', '  }'],
          ['global_defs {', '  vrrp_mcast_group6 ff02::99', '}'],
        ),
        2,
      ),
    ).toEqual(['vrrp_mcast_group6: vipd sends IPv6 adverts to ff02::12']);
  });

  it('converts a dual-stack pair of instances in one sync group, both kept', () => {
    const text = conf(
      'vrrp_sync_group G1 {', // 1
      '  group {', // 2
      '    VI_4', // 3
      '    VI_6', // 4
      '  }', // 5
      '}', // 6
      instance(
        [
          '  virtual_router_id 51',
          '  version 2',
          '  virtual_ipaddress {',
          '    10.99.0.100/24',
          '  }',
        ],
        [],
        'VI_4',
      ), // 7-14
      instance(
        [
          '  virtual_router_id 51', // 17
          '  virtual_ipaddress {', // 18
          '    fe80::1/64', // 19
          '    2001:db8::100/64', // 20
          '  }', // 21
        ],
        [],
        'VI_6',
      ),
    );
    const { config, notes } = converted(text);
    expect(notes).toEqual([]);
    expect(config).toEqual({
      instances: [
        {
          name: 'VI_4',
          interface: 'eth0',
          vrid: 51,
          priority: 100,
          version: 2,
          advertInterval: 1,
          preempt: true,
          vips: ['10.99.0.100/24'],
        },
        {
          name: 'VI_6',
          interface: 'eth0',
          vrid: 51,
          priority: 100,
          version: 3,
          advertInterval: 1,
          preempt: true,
          vips: ['fe80::1/64', '2001:db8::100/64'],
        },
      ],
      syncGroups: [{ name: 'G1', instances: ['VI_4', 'VI_6'] }],
    });
    expect(parseConfig(config).instances.map((i) => i.family)).toEqual([4, 6]);
  });
});

describe('keepalived use_vmac to vipd vmac', () => {
  const v4 = (lines: string[], name = 'VI_4', vrid = 51): string =>
    instance(
      [
        `  virtual_router_id ${vrid}`,
        ...lines,
        '  virtual_ipaddress {',
        `    10.99.0.${vrid}/24`,
        '  }',
      ],
      [],
      name,
    );
  const v6 = (lines: string[], name = 'VI_6', vrid = 51): string =>
    instance(
      [`  virtual_router_id ${vrid}`, ...lines, '  virtual_ipaddress {', '    fe80::1/64', '  }'],
      [],
      name,
    );
  const vmacs = (text: string): unknown[] =>
    (converted(text).config as { instances: { vmac?: unknown }[] }).instances.map((i) => i.vmac);

  it("keeps keepalived's macvlan name when use_vmac has none, and says why", () => {
    const text = v4(['  use_vmac']);
    expect(vmacs(text)).toEqual(['vrrp.51']);
    expect(notesAt(text, 4)).toEqual([
      expect.stringMatching(
        /^use_vmac: vmac "vrrp.51", the name keepalived gives this macvlan, rather than vipd's own vrrp4-51 \(vmac: true\), so the scripts, firewall rules and monitoring that name it keep working/,
      ),
    ]);
    expect(parseConfig(convertKeepalived(text).config).instances[0]?.vmac).toEqual({
      name: 'vrrp.51',
      mac: '00:00:5e:00:01:33',
    });
  });

  it('converts a named use_vmac as it stands, without a note', () => {
    const text = v6(['  use_vmac vmac51']);
    expect(vmacs(text)).toEqual(['vmac51']);
    expect(notesAt(text, 4)).toEqual([]);
    expect(parseConfig(convertKeepalived(text).config).instances[0]?.vmac).toEqual({
      name: 'vmac51',
      mac: '00:00:5e:00:02:33',
    });
  });

  it("follows keepalived's fallback names: vrrp6.VRID for IPv6, then vrrp1.VRID; vmac_prefix; taken names", () => {
    const text = conf(
      'global_defs {',
      '  vmac_prefix averyveryverylongprefix',
      '}',
      v4(['  use_vmac'], 'A'),
      v6(['  use_vmac'], 'B'),
      v4(['  use_vmac'], 'C', 52),
      v4(['  use_vmac averyveryver.52'], 'D', 53),
      instance(
        [
          '  interface eth1',
          '  virtual_router_id 51',
          '  use_vmac',
          '  virtual_ipaddress {',
          '    10.1.0.1/24',
          '  }',
        ],
        [],
        'E',
      ),
    );
    // Cut to the kernel's 15 bytes; a name an instance gives itself is taken before any default.
    expect(vmacs(text)).toEqual([
      'averyveryver.51',
      'averyveryve6.51',
      'averyveryve1.52',
      'averyveryver.52',
      'averyveryve1.51',
    ]);
  });

  it('notes the MAC keepalived was given, and the name another instance already took', () => {
    const text = conf(
      v4(['  use_vmac shared 02:00:00:00:00']), // 1-8
      v4(['  use_vmac shared'], 'VI_5', 52), // 9-16
    );
    expect(vmacs(text)).toEqual(['shared', 'vrrp.52']);
    expect(notesAt(text, 4)).toEqual([
      "use_vmac 02:00:00:00:00: vipd gives the macvlan 00:00:5e:00:01:33, not this MAC: not converted; hosts learn the change from the master's gratuitous ARP or unsolicited NA",
    ]);
    expect(notesAt(text, 12)).toEqual([
      'use_vmac shared: another instance already uses this name; keepalived ignores it and names the macvlan itself',
      expect.stringMatching(/^use_vmac: vmac "vrrp.52", the name keepalived gives/),
    ]);
  });

  it('notes vmac_xmit_base (vipd sends from the macvlan), also where keepalived sets it for unicast', () => {
    const text = v4(['  use_vmac vrrp51', '  vmac_xmit_base', '  use_vmac_addr']);
    expect(vmacs(text)).toEqual(['vrrp51']);
    expect(notesAt(text, 5)).toEqual([
      "vmac_xmit_base: vipd sends the master's adverts from the macvlan, with the virtual MAC as source (keepalived sends them from eth0 with its own MAC): not converted; peers hear them either way",
    ]);
    expect(notesAt(text, 6)).toEqual([expect.stringMatching(/^use_vmac_addr: .* not converted$/)]);
    const unicast = v4(['  use_vmac vrrp51', '  unicast_peer {', '    10.99.0.2', '  }']);
    expect(notesAt(unicast, 4)).toEqual([
      'use_vmac with unicast_peer: keepalived sends the adverts from eth0 (it sets vmac_xmit_base itself); vipd sends them from the macvlan',
    ]);
    expect(notesAt(v4(['  vmac_xmit_base']), 4)).toEqual([
      'vmac_xmit_base: does nothing without use_vmac',
    ]);
    expect(notesAt(v4(['  use_ipvlan']), 4)).toEqual([
      'use_ipvlan: vipd has no ipvlan mode (vmac makes a macvlan with the virtual MAC)',
    ]);
  });
});

/** `text` as a keepalived.conf in a fresh temp dir; its path. */
function file(text: string): string {
  const path = join(tempDir('vipd-import-'), 'keepalived.conf');
  writeFileSync(path, text);
  return path;
}

/** What importKeepalived throws for the file `path`. */
function importError(path: string): unknown {
  try {
    importKeepalived([path], () => undefined);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('vipd import keepalived', () => {
  it('prints the config as JSON and every note as FILE:LINE: why', () => {
    const path = file(minimal(['  use_vmac']));
    const warnings: string[] = [];
    const out = importKeepalived([path, '--node', 'fw9'], (l) => warnings.push(l));
    expect(JSON.parse(out)).toMatchObject({ node: { name: 'fw9' }, instances: [{ vrid: 51 }] });
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`^${path}:4: use_vmac: `))]);
  });

  it('refuses a result vipd would not run, with the ConfigError naming the key', () => {
    const path = file(
      conf(
        'vrrp_instance VI_1 {',
        '  interface eth0',
        '  virtual_ipaddress {',
        '    10.0.0.1',
        '  }',
        '}',
      ),
    );
    const error = importError(path);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.key)).toEqual(['instances[0].vrid']);
  });
});

describe('keepalived input bounds: refused with FILE:LINE, never a stack overflow', () => {
  const tooDeep = `blocks nested more than ${MAX_BLOCK_DEPTH} deep (keepalived's deepest is 4): is a "}" missing above?`;

  it('refuses 100,000 nested "{" (was: Maximum call stack size exceeded), naming file and line', () => {
    const path = file(`global_defs {\n${'{'.repeat(100_000)}`);
    const error = importError(path);
    // A ConfigError, so the CLI prints its message and exits 2.
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toBeInstanceOf(KeepalivedInputError);
    expect((error as Error).message).toBe(`${path}:2: ${tooDeep}`);
  });

  it(`reads ${MAX_BLOCK_DEPTH} nested blocks and keepalived's deepest; refuses one more at its line`, () => {
    const nest = (depth: number): string => `${'a {\n'.repeat(depth)}${'}\n'.repeat(depth)}`;
    expect(() => parseKeepalived(nest(MAX_BLOCK_DEPTH))).not.toThrow();
    expect(() => parseKeepalived(nest(MAX_BLOCK_DEPTH + 1), 'k.conf')).toThrow(
      new KeepalivedInputError('k.conf', MAX_BLOCK_DEPTH + 1, tooDeep),
    );
    const lvs = conf(
      'virtual_server 10.0.0.1 80 {',
      '  real_server 10.0.0.2 80 {',
      '    HTTP_GET {',
      '      url {',
      '        path /',
      '      }',
      '    }',
      '  }',
      '}',
      minimal([]),
    );
    expect(instances(lvs)).toHaveLength(1);
  });

  it('reports 200,000 stray "}" and converts 130,000 VIP lines (both overflowed a spread before)', () => {
    expect(convertKeepalived('}'.repeat(200_000)).notes).toHaveLength(200_000);
    const vips = conf(
      'vrrp_instance VI_1 {',
      '  interface eth0',
      '  virtual_router_id 51',
      '  virtual_ipaddress {',
      '1.0.0.1\n'.repeat(130_000),
      '  }',
      '}',
    );
    expect(vips.length).toBeLessThan(MAX_INPUT_BYTES);
    expect(instances(vips)[0]?.vips).toHaveLength(130_000);
  });

  it(`refuses a file over ${MAX_INPUT_BYTES} bytes, or an endless device, before reading it whole`, () => {
    const big = file(`${'#'.repeat(MAX_INPUT_BYTES)}\n`);
    for (const path of [big, '/dev/zero']) {
      const error = importError(path);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).issues).toEqual([
        {
          key: '(file)',
          reason: expect.stringMatching(
            new RegExp(
              `^larger than ${MAX_INPUT_BYTES} bytes, not read further: is it a keepalived.conf\\?`,
            ),
          ),
        },
      ]);
    }
  });
});
