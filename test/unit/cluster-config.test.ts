/**
 * Load sharing of IPv6 VIPs in the config: a cluster section or an instance's loadSharing takes
 * them (canonical text reaches the backend), a set is one address family, CLUSTERIP is refused
 * for IPv6 and so is the all-nodes MAC, each problem on its own key.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.js';

const cluster6 = {
  boxes: ['fw1', 'fw2'],
  totalNodes: 4,
  vridBase: 100,
  clusterMac: '33:33:ff:00:00:10',
  interface: 'eth0',
  vips: ['2001:DB8:0::10/64', '2001:db8::11/64'],
};

const withCluster = (section: Record<string, unknown>): unknown => ({
  node: { name: 'fw1' },
  cluster: { ...cluster6, ...section },
});

const withInstance = (instance: Record<string, unknown>): unknown => ({
  node: { name: 'fw1' },
  instances: [
    {
      name: 'V6',
      interface: 'eth0',
      vrid: 51,
      vips: ['2001:db8::10/64'],
      loadSharing: { clusterMac: '33:33:ff:00:00:10', totalNodes: 2, localNode: 1 },
      ...instance,
    },
  ],
});

describe('load sharing of IPv6 VIPs in the config', () => {
  it('a cluster of IPv6 VIPs parses; the backend gets them in canonical text', () => {
    const c = parseConfig(withCluster({})).cluster;
    expect(c?.sharing).toMatchObject({
      backend: 'auto',
      vips: ['2001:db8::10', '2001:db8::11'],
      clusterMac: '33:33:ff:00:00:10',
    });
    expect(parseConfig(withInstance({})).instances[0]?.loadSharing?.vips).toEqual(['2001:db8::10']);
  });

  it.each([
    {
      what: 'a cluster mixing families',
      doc: withCluster({ vips: ['2001:db8::10/64', '10.99.0.10/24'] }),
      key: 'cluster.vips',
      reason:
        '10.99.0.10 is IPv4 and 2001:db8::10 is IPv6: a load-sharing set is one address family (its rules, hash and ARP or neighbour discovery are per family); keep one family here',
    },
    {
      what: 'CLUSTERIP for IPv6 VIPs',
      doc: withCluster({ backend: 'clusterip' }),
      key: 'cluster.backend',
      reason: 'CLUSTERIP is IPv4-only (ipt_CLUSTERIP); use xt_cluster or nft',
    },
    {
      what: 'the all-nodes MAC',
      doc: withCluster({ clusterMac: '33:33:00:00:00:01' }),
      key: 'cluster.clusterMac',
      reason:
        '33:33:00:00:00:01 is the all-nodes MAC (ff02::1): it would deliver VIP traffic to every IPv6 host of the segment; use a multicast MAC such as 33:33:ff:00:00:10 (the solicited-node MAC of 2001:db8::10)',
    },
    {
      what: "CLUSTERIP in an instance's loadSharing for its IPv6 VIPs",
      doc: withInstance({
        loadSharing: {
          backend: 'clusterip',
          clusterMac: '33:33:ff:00:00:10',
          totalNodes: 2,
          localNode: 1,
        },
      }),
      key: 'instances[0].loadSharing.backend',
      reason: 'CLUSTERIP is IPv4-only (ipt_CLUSTERIP); use xt_cluster or nft',
    },
    {
      what: 'an instance with load sharing whose excluded VIPs are of the other family',
      doc: withInstance({ excludedVips: ['10.99.0.10/24'] }),
      key: 'instances[0].vips',
      reason: expect.stringContaining('a load-sharing set is one address family') as string,
    },
  ])('refuses $what, on its key', ({ doc, key, reason }) => {
    expect(() => parseConfig(doc)).toThrow(
      expect.objectContaining({ issues: expect.arrayContaining([{ key, reason }]) as unknown }),
    );
  });
});
