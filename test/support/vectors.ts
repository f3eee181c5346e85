/**
 * The test vectors captured from real keepalived 2.2.7 and ucarp (test/vectors, copied from the captures): each hex
 * line with the `# IP (...)` tcpdump comment before it, parsed into the bytes and the values
 * tcpdump decoded, which the tests compare against. Never throws: a missing folder or file
 * becomes a listed problem, so the test that needs it fails with the reason.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPPROTO_VRRP, type Ipv4Header } from '../../src/net/ipv4.js';
import type { VrrpAdvert } from '../../src/vrrp/packet.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const VECTOR_DIR = resolve(REPO_ROOT, 'test/vectors');
const REQUIRED_FILES = [
  'keepalived-v2.txt',
  'keepalived-v2-auth.txt',
  'keepalived-v3.txt',
  'ucarp.txt',
];

export interface Vector {
  name: string;
  bytes: Buffer;
  ip: Ipv4Header & { totalLength: number };
  /** Absent for CARP packets. */
  vrrp?: { advert: VrrpAdvert; length: number };
}

const IP_COMMENT =
  /^# IP \(tos (0x[0-9a-f]+), ttl (\d+), id (\d+), offset 0, flags \[([^\]]*)\], proto VRRP \(112\), length (\d+)\) (\S+) > (\S+): (.*)$/;
const VRRP_SUMMARY =
  /^VRRPv([23]), Advertisement, vrid (\d+), prio (\d+), (?:authtype (none|simple), )?intvl (\d+)(s|cs), length (\d+), addrs(?:\(\d+\))?: ([\d.,]+)(?: auth "(.*)")?$/;
const CARP_SUMMARY = /^CARPv2-advertise /;

function parseComment(comment: string): Omit<Vector, 'name' | 'bytes'> {
  const m = IP_COMMENT.exec(comment);
  if (!m) throw new Error(`unparsable '# IP' comment: ${comment}`);
  const [, tos, ttl, id, flags, totalLength, src, dst, summary] = m as unknown as string[];
  const ip = {
    tos: Number(tos),
    ttl: Number(ttl),
    id: Number(id),
    dontFragment: flags === 'DF',
    protocol: IPPROTO_VRRP,
    src: src ?? '',
    dst: dst ?? '',
    totalLength: Number(totalLength),
  };
  if (CARP_SUMMARY.test(summary ?? '')) return { ip };
  const v = VRRP_SUMMARY.exec(summary ?? '');
  if (!v) throw new Error(`unparsable VRRP summary: ${summary}`);
  const [, version, vrid, prio, authtype, intvl, unit, length, addrs, password] =
    v as unknown as string[];
  const advert: VrrpAdvert = {
    version: version === '2' ? 2 : 3,
    vrid: Number(vrid),
    priority: Number(prio),
    intervalCs: Number(intvl) * (unit === 's' ? 100 : 1),
    addresses: (addrs ?? '').split(','),
  };
  if (authtype !== undefined) {
    advert.auth = authtype === 'simple' ? { type: 1, password: password ?? '' } : { type: 0 };
  }
  return { ip, vrrp: { advert, length: Number(length) } };
}

/** Never throws, so a missing folder or file becomes a failing test instead of a load error. */
export function loadVectors(): { vectors: Vector[]; problems: string[] } {
  const vectors: Vector[] = [];
  const problems: string[] = [];
  if (!existsSync(VECTOR_DIR)) {
    return { vectors, problems: [`vector folder ${VECTOR_DIR} is missing`] };
  }
  const present = readdirSync(VECTOR_DIR).filter((f) => f.endsWith('.txt'));
  for (const file of REQUIRED_FILES.filter((f) => !present.includes(f))) {
    problems.push(`vector file ${resolve(VECTOR_DIR, file)} is missing`);
  }
  for (const file of present) {
    let comment: string | undefined;
    let found = 0;
    readFileSync(resolve(VECTOR_DIR, file), 'utf8')
      .split('\n')
      .forEach((raw, index) => {
        const line = raw.trim();
        const where = `${file}:${index + 1}`;
        if (line.startsWith('# IP (')) comment = line;
        if (line === '' || line.startsWith('#')) return;
        if (comment === undefined || !/^([0-9a-f]{2})+$/i.test(line)) {
          problems.push(`${where}: hex line without a preceding '# IP' comment, or not hex`);
          return;
        }
        try {
          vectors.push({ name: where, bytes: Buffer.from(line, 'hex'), ...parseComment(comment) });
          found++;
        } catch (err) {
          problems.push(`${where}: ${(err as Error).message}`);
        }
        comment = undefined;
      });
    if (found === 0) problems.push(`vector file ${file} holds no packets`);
  }
  return { vectors, problems };
}
