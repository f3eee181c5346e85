/**
 * Debian's tshark (Wireshark) as an independent decoder: a pcap file read back with `-V`, one
 * text block per frame. A decoder that did not run fails the test with the reason.
 */
import { execa } from 'execa';

/** tshark -V's text, one entry per frame; `prefs` are `-o name:value` preferences. */
export async function tsharkFrames(file: string, prefs: string[] = []): Promise<string[]> {
  const args = ['-r', file, '-V', ...prefs.flatMap((p) => ['-o', p])];
  const r = await execa('tshark', args, { reject: false });
  if (r.failed && (r.exitCode === undefined || r.exitCode === 127)) {
    throw new Error(`tshark did not run (${r.message}); install it: apt-get install tshark`);
  }
  if (r.exitCode !== 0) throw new Error(`tshark -r ${file} failed: ${r.stderr}`);
  return r.stdout.split(/^(?=Frame \d+:)/m).filter((f) => f.startsWith('Frame '));
}
