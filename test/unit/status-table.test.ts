import { describe, expect, it } from 'vitest';
import { formatAge, formatStatus } from '../../src/control/status-table.js';
import type { DaemonStatus, RouterStatus } from '../../src/router/status.js';

const NOW = new Date('2025-01-01T12:00:00.000Z');

function instance(over: Partial<RouterStatus>): RouterStatus {
  return {
    name: 'VI_1',
    interface: 'eth0',
    vrid: 51,
    protocol: 'vrrp',
    family: 4,
    mac: '02:99:00:00:00:01',
    vmac: undefined,
    state: 'master',
    priority: 150,
    effectivePriority: 150,
    master: '10.99.0.1',
    vips: ['10.99.0.100/24'],
    faults: [],
    lastTransition: {
      from: 'backup',
      to: 'master',
      reason: 'master-down',
      at: '2025-01-01T11:59:48.000Z',
    },
    timerLateness: { lastMs: 0.071, maxMs: 0.32, fired: 120 },
    counters: {
      advertsSent: 12,
      advertsReceived: 3,
      splitBrains: 0,
      oneWayLosses: 0,
      quorumDenied: 0,
      quorumLost: 0,
      stalls: 0,
      vipsRestored: 0,
      sendFailures: {},
      rejected: {},
    },
    ...over,
  };
}

describe('formatAge', () => {
  it.each([
    [0, '0s'],
    [-5_000, '0s'],
    [59_999, '59s'],
    [60_000, '1m00s'],
    [185_000, '3m05s'],
    [3_600_000, '1h00m'],
    [7_620_000, '2h07m'],
    [86_400_000 * 4 + 3 * 3_600_000, '4d03h'],
  ])('%i ms -> %s', (ms, text) => expect(formatAge(ms)).toBe(text));
});

describe('formatStatus', () => {
  it('renders one aligned row per instance, a troubled link and monitor, then the counters', () => {
    const status: DaemonStatus = {
      node: 'fw1',
      foreignVrids: 0,
      links: [
        {
          interface: 'eth0',
          family: 4,
          transport: 'raw',
          source: '10.99.0.1',
          state: 'open',
          errors: {},
          reopens: 0,
        },
        {
          interface: 'eth1',
          family: 6,
          transport: 'raw',
          source: '::',
          state: 'interface eth1 does not exist',
          errors: { EIO: 2, ENETDOWN: 1 },
          reopens: 3,
        },
      ],
      monitor: { overruns: 1, resyncs: 1, errors: 0, malformed: 0 },
      instances: [
        instance({}),
        instance({
          name: 'VI_LONGER',
          vrid: 52,
          state: 'backup',
          priority: 100,
          effectivePriority: 100,
          master: '10.99.0.2',
          family: 6,
          vmac: 'vrrp6-52',
          mac: '00:00:5e:00:02:34',
          vips: ['10.99.1.100/24', '10.99.1.101/24', '10.99.1.102/24', '10.99.1.103/24'],
          lastTransition: {
            from: 'initialize',
            to: 'backup',
            reason: 'startup',
            at: NOW.toISOString(),
          },
          counters: {
            advertsSent: 0,
            advertsReceived: 40,
            splitBrains: 1,
            oneWayLosses: 2,
            quorumDenied: 3,
            quorumLost: 4,
            stalls: 1,
            vipsRestored: 0,
            sendFailures: { 'send-error': 1 },
            rejected: { 'bad-ttl': 1, 'bad-checksum': 5, 'never-shown': 0 },
          },
        }),
      ],
    };
    expect(formatStatus(status, NOW)).toBe(
      [
        'node fw1',
        'INSTANCE   STATE   PRIO     LINK                             MASTER            VIPS                                   LAST TRANSITION                   FAULTS',
        'VI_1       MASTER  150/150  eth0 IPv4 02:99:00:00:00:01      10.99.0.1 (self)  10.99.0.100/24                         master-down from backup, 12s ago  -',
        'VI_LONGER  BACKUP  100/100  vrrp6-52 IPv6 00:00:5e:00:02:34  10.99.0.2         10.99.1.100/24,10.99.1.101/24 +2 more  startup from initialize, 0s ago   -',
        'link eth1 (IPv6, raw) from ::: interface eth1 does not exist; socket errors 3 (EIO 2, ENETDOWN 1), reopened 3 times',
        'kernel monitor: 1 overruns, 0 errors, 0 malformed messages, 1 re-reads',
        'counters:',
        '  VI_1       adverts sent 12, received 3; rejected 0; send failures 0; split brains 0; one-way losses 0; quorum denied 0, lost 0; stalls 0; VIPs put back 0',
        '  VI_LONGER  adverts sent 0, received 40; rejected 6 (bad-checksum 5, bad-ttl 1); send failures 1 (send-error 1); split brains 1; one-way losses 2; quorum denied 3, lost 4; stalls 1; VIPs put back 0',
        '',
      ].join('\n'),
    );
  });

  it('shows a demoted instance: FAULT, priority 0 advertised, no master, its fault causes', () => {
    const status: DaemonStatus = {
      node: 'fw1',
      foreignVrids: 0,
      links: [],
      monitor: { overruns: 0, resyncs: 0, errors: 0, malformed: 0 },
      instances: [
        instance({
          state: 'fault',
          effectivePriority: 0,
          master: undefined,
          faults: ['demoted: demoted by the operator for 5 s', 'plan: master plan failed'],
          lastTransition: {
            from: 'master',
            to: 'fault',
            reason: 'fault',
            at: '2025-01-01T11:58:00.000Z',
          },
        }),
      ],
    };
    const row = formatStatus(status, NOW).split('\n')[2];
    expect(row).toBe(
      'VI_1      FAULT  0/150  eth0 IPv4 02:99:00:00:00:01  -       10.99.0.100/24  fault from master, 2m00s ago  demoted: demoted by the operator for 5 s; plan: master plan failed',
    );
  });

  it('adds the cluster line and the foreign-VRID count when there are any', () => {
    const text = formatStatus(
      {
        node: 'fw2',
        foreignVrids: 7,
        links: [],
        monitor: { overruns: 0, resyncs: 0, errors: 0, malformed: 0 },
        instances: [instance({ lastTransition: undefined, vips: [] })],
        cluster: { name: 'edge', box: 'fw2', owned: [2, 5] },
      },
      NOW,
    );
    expect(text).toContain('node fw2 (7 packets for VRIDs it does not run, ignored)\n');
    expect(text).toContain('cluster edge: this box is fw2, answering node numbers 2, 5\n');
    expect(text.split('\n')[2]).toMatch(/ - +- +-$/);
    const none = formatStatus(
      {
        node: 'fw3',
        foreignVrids: 0,
        links: [],
        monitor: { overruns: 0, resyncs: 0, errors: 0, malformed: 0 },
        instances: [],
        cluster: { name: 'edge', box: 'fw3', owned: [] },
      },
      NOW,
    );
    expect(none).toBe(
      'node fw3\n(no instances)\ncluster edge: this box is fw3, answering no node number\n',
    );
  });
});
