import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
      '  use_vmac', // 4
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
    expect(notes[0]?.text).toMatch(/^use_vmac: vipd keeps the interface MAC/);
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

/** `text` as a keepalived.conf in a fresh temp dir; its path. */
function file(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'vipd-import-')), 'keepalived.conf');
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
