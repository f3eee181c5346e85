/**
 * The encoded adverts of one router. A master sends the same bytes every interval until its
 * config, priority or source address changes, so they are built once per destination and the
 * same Buffer is handed out again: no encoding or checksum per send, and the transport can keep
 * the frame it built around them (src/net/transport-raw.ts). Any change of the three starts
 * afresh. The Buffers handed out must not be written to.
 */
import type { InstanceConfig } from '../config/instance.js';
import { VRRP_GROUP, encodeAdvert } from '../vrrp/packet.js';
import { advertOf } from './advert.js';

export class AdvertBytes {
  private key: { cfg: InstanceConfig; priority: number; source: string } | undefined;
  private readonly payloads = new Map<string, Buffer>();

  /**
   * `checkedDst`: whether the receiver checks the checksum against the real destination (raw
   * transport, or unicast peers); a udp receiver cannot see it and expects the group.
   */
  constructor(private readonly checkedDst: boolean) {}

  get(cfg: InstanceConfig, priority: number, source: string, dst: string): Buffer {
    const k = this.key;
    if (k === undefined || k.cfg !== cfg || k.priority !== priority || k.source !== source) {
      this.key = { cfg, priority, source };
      this.payloads.clear();
    }
    let payload = this.payloads.get(dst);
    if (payload === undefined) {
      payload = encodeAdvert(advertOf(cfg, priority), {
        src: source,
        dst: this.checkedDst || cfg.unicastPeers.length > 0 ? dst : VRRP_GROUP,
        checksum: cfg.checksum,
      });
      this.payloads.set(dst, payload);
    }
    return payload;
  }
}
