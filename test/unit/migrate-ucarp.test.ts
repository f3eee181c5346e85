import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';
import { ucarpToConfig, wantsUcarpHelp } from '../../src/migrate/ucarp.js';
import { UsageError } from '../../src/usage.js';

const REQUIRED = ['-i', 'eth0', '-s', '10.99.0.1', '-v', '10', '-a', '10.99.0.100', '-p', 'secret'];

type Instance = Record<string, unknown> & { hooks: Record<string, unknown> };

function instance(argv: string[]): Instance {
  const { config } = ucarpToConfig(argv, { cwd: '/srv' });
  return (config as { instances: Instance[] }).instances[0] as Instance;
}

function notes(argv: string[]): string[] {
  return ucarpToConfig(argv).notes;
}

function usageError(argv: string[], opts = {}): string {
  try {
    ucarpToConfig(argv, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('vipd ucarp: the mapping', () => {
  it('maps the command line of the integration test to one CARP instance with ucarp hooks', () => {
    const argv = [
      ...REQUIRED,
      '-P',
      '-k',
      '10',
      '-u',
      '/etc/up.sh',
      '-d',
      '/etc/down.sh',
      '-x',
      'extra',
    ];
    const { config, srcip } = ucarpToConfig(argv, { nodeName: 'fw1' });
    expect(srcip).toBe('10.99.0.1');
    expect(config).toEqual({
      node: { name: 'fw1' },
      log: { level: 'info' },
      control: { socket: null },
      metrics: { listen: null },
      instances: [
        {
          name: 'ucarp-vhid-10',
          interface: 'eth0',
          vrid: 10,
          protocol: 'carp',
          carp: { password: 'secret', advbase: 1, advskew: 10, deadRatio: 3 },
          preempt: true,
          vips: ['10.99.0.100/32'],
          hooks: {
            up: '/etc/up.sh',
            down: '/etc/down.sh',
            extra: 'extra',
            perVip: true,
            onFailure: 'ignore',
          },
        },
      ],
    });
    const parsed = parseConfig(config).instances[0];
    expect(parsed).toMatchObject({ protocol: 'carp', vrid: 10, preempt: true });
    expect(parsed?.carp).toEqual({
      password: Buffer.from('secret'),
      advbase: 1,
      advskew: 10,
      deadRatio: 3,
    });
    expect(parsed?.hooks).toMatchObject({ perVip: true, extra: 'extra', onFailure: 'ignore' });
  });

  it('--vipd-vrrp maps the same command line to a VRRPv2 instance, as before CARP', () => {
    const argv = [...REQUIRED, '-P', '-k', '10', '-u', '/etc/up.sh', '--vipd-vrrp'];
    const { config } = ucarpToConfig(argv, { nodeName: 'fw1' });
    const only = (config as { instances: Instance[] }).instances[0];
    expect(only).toEqual({
      name: 'ucarp-vhid-10',
      interface: 'eth0',
      vrid: 10,
      priority: 245,
      version: 2,
      advertInterval: 1,
      authPassword: 'secret',
      preempt: true,
      vips: ['10.99.0.100/32'],
      hooks: { up: '/etc/up.sh', down: null, extra: null, perVip: true, onFailure: 'ignore' },
    });
    const parsed = parseConfig(config).instances[0];
    expect(parsed).toMatchObject({
      protocol: 'vrrp',
      carp: null,
      priority: 245,
      advertIntervalCs: 100,
      preempt: true,
    });
  });

  it('reads every spelling getopt_long accepts: long, --x=v, unique prefixes, -xVALUE, grouped flags', () => {
    const argv = [
      '--interface=eth1',
      '--srcip',
      '10.0.0.2',
      '--vh=7',
      '--addr=10.0.0.100',
      '--pass',
      'pw',
      '--advbase=3',
      '--advskew',
      '100',
      '--dead=5',
      '--upscript=/u',
      '--down=/d',
      '--xparam=x',
      '-DPzk50', // flags, then -k's value in the same word: the last -k wins, as in getopt
    ];
    expect(instance(argv)).toMatchObject({
      interface: 'eth1',
      vrid: 7,
      carp: { password: 'pw', advbase: 3, advskew: 50, deadRatio: 5 },
      preempt: true,
      vips: ['10.0.0.100/32'],
      hooks: { up: '/u', down: '/d', extra: 'x' },
    });
    expect(ucarpToConfig(argv).config).toMatchObject({ log: { level: 'debug' } });
    expect(instance(['-ieth0', '-s10.99.0.1', '-v1', '-a10.99.0.100', '-pq'])).toMatchObject({
      interface: 'eth0',
      vrid: 1,
      preempt: false,
      carp: { password: 'q', advbase: 1, advskew: 0, deadRatio: 3 },
      hooks: { up: null, down: null, extra: null },
    });
    expect(instance([...REQUIRED, '--vipd-v'])).toHaveProperty('priority', 254);
  });

  it("keeps ucarp's CARP numbers: -b, -k and -r as given, -k 255 as 254 with a note", () => {
    const carp = (argv: string[]): unknown => instance([...REQUIRED, ...argv]).carp;
    expect(carp(['-b', '2', '-k', '100', '-r', '4'])).toEqual({
      password: 'secret',
      advbase: 2,
      advskew: 100,
      deadRatio: 4,
    });
    expect(carp(['-b', '255', '-k', '254', '-r', '255'])).toMatchObject({
      advbase: 255,
      advskew: 254,
      deadRatio: 255,
    });
    expect(carp(['-k', '255'])).toMatchObject({ advskew: 254 });
    expect(notes([...REQUIRED, '-k', '255'])).toContainEqual(
      expect.stringMatching(/^-k 255: vipd advertises with advskew 254 .* ties with a -k 254 box/),
    );
    expect(notes([...REQUIRED, '-k', '254', '-r', '5'])).not.toContainEqual(
      expect.stringMatching(/^-k |deadratio/),
    );
    for (const argv of [
      ['-b', '2', '-r', '7'],
      ['-k', '254'],
    ])
      expect(() => parseConfig(ucarpToConfig([...REQUIRED, ...argv]).config)).not.toThrow();
  });

  it('--vipd-vrrp ranks like CARP: lower advskew, higher priority, clamped to 1..254 and saying so', () => {
    const VRRP = [...REQUIRED, '--vipd-vrrp'];
    const priority = (k: number): unknown => instance([...VRRP, '-k', String(k)]).priority;
    expect([0, 1, 10, 128, 254, 255].map(priority)).toEqual([254, 254, 245, 127, 1, 1]);
    expect(notes([...VRRP, '-k', '0'])).toContainEqual(
      expect.stringMatching(/^-k 0: priority clamped to 254 .* ties with -k 1/),
    );
    expect(notes([...VRRP, '-k', '255'])).toContainEqual(
      expect.stringMatching(/^-k 255: priority clamped to 1 .* ties with -k 254/),
    );
    expect(notes([...VRRP, '-k', '10'])).not.toContainEqual(expect.stringMatching(/clamped/));
    expect(notes([...VRRP, '-b', '2', '-k', '10'])).toContainEqual(
      expect.stringMatching(
        /^-b 2 -k 10: CARP advertises every 2 \+ 10\/256 s .* adverts every 2 s, priority 245/,
      ),
    );
    expect(instance([...VRRP, '-b', '2'])).toMatchObject({ advertInterval: 2 });
    expect(instance([...VRRP, '-b', '2'])).not.toHaveProperty('carp');
  });

  it('names each missing required flag', () => {
    const without = (flag: string): string[] => {
      const i = REQUIRED.indexOf(flag);
      return [...REQUIRED.slice(0, i), ...REQUIRED.slice(i + 2)];
    };
    expect(usageError(without('-i'))).toMatch(/-i\/--interface is required/);
    expect(usageError(without('-s'))).toMatch(/-s\/--srcip is required/);
    expect(usageError(without('-v'))).toMatch(/-v\/--vhid is required/);
    expect(usageError(without('-a'))).toMatch(/-a\/--addr is required/);
    expect(usageError(without('-p'))).toMatch(/-p\/--pass or -o\/--passfile is required/);
    expect(usageError([])).toMatch(
      /-i\/--interface is required .*; -s\/--srcip is required .*; -v\/--vhid .*; -a\/--addr .*; -p\/--pass/,
    );
  });

  it('refuses values and combinations vipd cannot run, naming the flag', () => {
    expect(usageError([...REQUIRED, '-v', '0'])).toMatch(
      /-v\/--vhid must be an integer from 1 to 255, got "0"/,
    );
    expect(usageError([...REQUIRED, '-b', '0', '-k', '20'])).toMatch(
      /-b\/--advbase must be an integer from 1 to 255 \(vipd's CARP advertises in whole seconds/,
    );
    expect(usageError([...REQUIRED, '-b', '0', '-k', '20', '--vipd-vrrp'])).toMatch(
      /-b\/--advbase must be an integer from 1 to 255 \(VRRPv2 adverts carry whole seconds/,
    );
    expect(usageError([...REQUIRED, '-k', '256'])).toMatch(/-k\/--advskew must be .* 0 to 255/);
    expect(usageError([...REQUIRED, '-r', '0'])).toMatch(
      /-r\/--deadratio must be an integer from 1 to 255, got "0"/,
    );
    expect(usageError([...REQUIRED, '-r', '256'])).toMatch(/-r\/--deadratio must be .* 1 to 255/);
    expect(usageError([...REQUIRED, '-a', '10.99.0.101'])).toMatch(/-a\/--addr given 2 times/);
    expect(usageError([...REQUIRED, '-s', 'fw1'])).toMatch(
      /-s\/--srcip must be an IPv4 address, got "fw1"/,
    );
    expect(usageError([...REQUIRED, '-B'])).toMatch(/-B\/--daemonize is not supported/);
    expect(usageError([...REQUIRED, '-o', '/etc/pw'])).toMatch(
      /-p\/--pass or -o\/--passfile, not both/,
    );
    expect(usageError([...REQUIRED, '-q'])).toMatch(/unknown option -q/);
    expect(usageError([...REQUIRED, '--pa=x'])).toMatch(/--pa is ambiguous: --pass, --passfile/);
    expect(usageError([...REQUIRED, 'eth1'])).toMatch(/unexpected argument "eth1"/);
    expect(usageError([...REQUIRED, '-u'])).toMatch(/-u\/--upscript needs a value/);
    expect(usageError([...REQUIRED, '--preempt=yes'])).toMatch(/-P\/--preempt takes no value/);
    expect(usageError([...REQUIRED, '--vipd-vrrp=yes'])).toMatch(/--vipd-vrrp takes no value/);
  });

  it('refuses a CARP group other than 224.0.0.18: a ucarp box would not hear vipd', () => {
    expect(usageError([...REQUIRED, '-m', '239.1.1.1'])).toMatch(
      /-m\/--mcastip 239.1.1.1 is not supported: vipd joins and sends to 224.0.0.18 only, .* use --vipd-vrrp/,
    );
    expect(instance([...REQUIRED, '-m', '224.0.0.18'])).toHaveProperty('protocol', 'carp');
    expect(notes([...REQUIRED, '-m', '224.0.0.18'])).not.toContainEqual(
      expect.stringMatching(/mcastip/),
    );
  });

  it('takes the password as the CARP key, up to the 19 bytes ucarp takes', () => {
    const withPassword = (pw: string): string[] => [...REQUIRED.slice(0, -1), pw];
    expect(instance(withPassword('x'.repeat(19))).carp).toMatchObject({
      password: 'x'.repeat(19),
    });
    expect(usageError(withPassword('x'.repeat(20)))).toMatch(
      /the password is 20 bytes; ucarp takes at most 19 \(it says "Password too long"/,
    );
    // Bytes, not characters: ucarp's key is the password's bytes.
    expect(usageError(withPassword('é'.repeat(10)))).toMatch(/the password is 20 bytes/);
    expect(usageError(withPassword(''))).toMatch(/the password is empty/);
    expect(notes(REQUIRED)).not.toContainEqual(expect.stringMatching(/^password/));
  });

  it('--vipd-vrrp uses a 1..8-byte password as the VRRPv2 password, and none rather than part of a longer one', () => {
    const VRRP = [...REQUIRED, '--vipd-vrrp'];
    expect(instance(VRRP).authPassword).toBe('secret');
    expect(notes(VRRP)).toContainEqual(expect.stringMatching(/^password: .* clear text/));
    const long = [...REQUIRED.slice(0, -1), 'ninechars', '--vipd-vrrp'];
    expect(instance(long)).not.toHaveProperty('authPassword');
    expect(notes(long)).toContainEqual(
      expect.stringMatching(/^password: 9 bytes, .* vipd sends none/),
    );
    expect(usageError([...long.slice(0, -2), 'x'.repeat(20), '--vipd-vrrp'])).toMatch(
      /the password is 20 bytes/,
    );
  });

  it('reads the first line of -o/--passfile through the reader it is given', () => {
    const argv = [...REQUIRED.slice(0, -2), '--passfile', '/etc/ucarp.pw'];
    const read: string[] = [];
    const { config } = ucarpToConfig(argv, {
      readPassFile: (path) => {
        read.push(path);
        return 'pw-file\nsecond line\n';
      },
    });
    expect(read).toEqual(['/etc/ucarp.pw']);
    expect((config as { instances: Instance[] }).instances[0]?.carp).toMatchObject({
      password: 'pw-file',
    });
    expect(usageError(argv)).toMatch(/-o\/--passfile cannot be read here/);
    const missing = (): string => {
      throw new Error('ENOENT: no such file or directory');
    };
    expect(usageError(argv, { readPassFile: missing })).toMatch(
      /-o\/--passfile \/etc\/ucarp.pw: cannot read it: ENOENT/,
    );
  });

  it('resolves relative scripts against the working directory, as ucarp would run them', () => {
    expect(instance([...REQUIRED, '-u', 'up.sh', '-d', './bin/down.sh']).hooks).toMatchObject({
      up: '/srv/up.sh',
      down: '/srv/bin/down.sh',
    });
  });

  it('explains every flag it only approximates or ignores', () => {
    const all = notes([...REQUIRED, '-u', '/u', '-n', '-r', '5', '-M', '-S', '-f', 'local0']);
    expect(all).toEqual([
      expect.stringMatching(
        /^-M\/--nomcast: ucarp sent its adverts to the Ethernet broadcast address .* vipd hears such adverts but sends its own to the multicast group/,
      ),
      expect.stringMatching(
        /^scripts: .* their exit status is logged but does not fail a transition/,
      ),
      expect.stringMatching(
        /^no -z\/--shutdown: ucarp would leave the VIP up .* \(advert with advbase 255\/advskew 255, down script, VIP removed\)/,
      ),
      expect.stringMatching(/^-n\/--neutral: not supported/),
      expect.stringMatching(/^-S\/--ignoreifstate: no vipd equivalent/),
      expect.stringMatching(/^-f\/--facility local0: .* ignored/),
      expect.stringMatching(/^no control socket/),
    ]);
    expect(notes([...REQUIRED, '-z'])).toContainEqual(
      expect.stringMatching(
        /^-z\/--shutdown: vipd runs the down script when it stops as master, as ucarp does \(and sends an advert with advbase 255\/advskew 255 first/,
      ),
    );
  });

  it('--vipd-vrrp explains what VRRP cannot carry over', () => {
    const VRRP = [...REQUIRED, '--vipd-vrrp'];
    const all = notes([...VRRP, '-r', '5', '-m', '239.1.1.1', '-M']);
    for (const re of [
      /^--vipd-vrrp: VRRP is not CARP: ucarp boxes will not hear this one/,
      /^-r\/--deadratio 5: not supported with --vipd-vrrp/,
      /^-m\/--mcastip 239.1.1.1: not supported/,
      /^-M\/--nomcast: not supported/,
      /^no -z\/--shutdown: .* \(priority-0 advert, down script, VIP removed\)/,
    ])
      expect(all).toContainEqual(expect.stringMatching(re));
    expect(notes([...VRRP, '-m', '224.0.0.18'])).not.toContainEqual(
      expect.stringMatching(/mcastip/),
    );
  });

  it("takes vipd's own control socket and metrics address, off by default", () => {
    const { config, notes: said } = ucarpToConfig([
      ...REQUIRED,
      '--vipd-socket=/run/vipd/ucarp-10.sock',
      '--vipd-metrics',
      '127.0.0.1:9660',
    ]);
    expect(config).toMatchObject({
      control: { socket: '/run/vipd/ucarp-10.sock' },
      metrics: { listen: '127.0.0.1:9660' },
    });
    expect(said).not.toContainEqual(expect.stringMatching(/off unless asked for/));
    expect(notes(REQUIRED)).toContainEqual(
      'no control socket (--vipd-socket PATH, for vipd status), no metrics (--vipd-metrics ADDR:PORT): off unless asked for, as several vipd ucarp on one box would share one default socket and port',
    );
    expect(() => parseConfig(config)).not.toThrow();
    expect(usageError([...REQUIRED, '--vipd-socket', 'ucarp.sock'])).toMatch(
      /--vipd-socket must be an absolute path, got "ucarp.sock"/,
    );
    expect(usageError([...REQUIRED, '--vipd-metrics', '9660'])).toMatch(
      /--vipd-metrics must be ADDRESS:PORT/,
    );
  });

  it('knows a request for help wherever it stands', () => {
    expect(wantsUcarpHelp(['-i', 'eth0', '--help'])).toBe(true);
    expect(wantsUcarpHelp(['-h'])).toBe(true);
    expect(wantsUcarpHelp(['-p', '-h'])).toBe(false); // -h is -p's value here, as in getopt
    expect(wantsUcarpHelp(REQUIRED)).toBe(false);
  });
});
