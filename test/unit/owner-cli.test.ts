import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ownerNode } from '../../src/cluster/hash.js';
import { clusterOwner } from '../../src/cluster/owner-cli.js';

function configFile(loadSharing: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'vipd-owner-')), 'vipd.json');
  writeFileSync(
    file,
    JSON.stringify({
      node: { name: 'fw1' },
      instances: [
        { name: 'EXT', interface: 'eth0', vrid: 51, vips: ['192.0.2.10/24'], loadSharing },
      ],
    }),
  );
  return file;
}

describe('vipd cluster owner', () => {
  it('names the node the kernel hash gives, and whether it is this box', async () => {
    const file = configFile({
      backend: 'nft',
      clusterMac: '01:00:5e:00:01:0a',
      totalNodes: 3,
      localNode: 2,
      hashInit: 7,
    });
    for (const client of ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4']) {
      const node = ownerNode('nft', 'sourceip', { saddr: client }, 3, 7);
      const line = await clusterOwner([client, '--config', file]);
      expect(line).toContain(
        `${client} -> node ${node} of 3${node === 2 ? ' (this box, fw1)' : ''}`,
      );
    }
  });

  it('port hash modes need the ports; bad input is a usage error', async () => {
    const file = configFile({
      backend: 'nft',
      hashmode: 'sourceip-sourceport-destport',
      clusterMac: '01:00:5e:00:01:0a',
      totalNodes: 4,
      localNode: 1,
    });
    const node = ownerNode(
      'nft',
      'sourceip-sourceport-destport',
      { saddr: '198.51.100.9', sport: 40000, dport: 443 },
      4,
      0,
    );
    expect(
      await clusterOwner(['198.51.100.9', '--sport', '40000', '--dport', '443', '--config', file]),
    ).toContain(`node ${node} of 4`);
    await expect(clusterOwner(['198.51.100.9', '--config', file])).rejects.toThrow(/source port/);
    await expect(clusterOwner(['not-an-ip', '--config', file])).rejects.toThrow(
      /client IPv4 address/,
    );
    await expect(
      clusterOwner(['198.51.100.9', '--sport', '70000', '--config', file]),
    ).rejects.toThrow(/--sport/);
  });
});
