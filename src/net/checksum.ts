// Internet checksum (RFC 1071) over the concatenation of several byte ranges, so callers can sum
// a pseudo-header and a message without copying them into one buffer. Pure: never mutates its
// inputs, never throws, and treats a part boundary at an odd offset exactly as if the parts were
// one contiguous buffer.

/** The value to store in a checksum field (already complemented), computed with that field zero. */
export function internetChecksum(...parts: Uint8Array[]): number {
  return ~onesComplementSum(parts) & 0xffff;
}

/** True when the parts, checksum field included, sum to all ones (the RFC 1071 receive check). */
export function checksumIsValid(...parts: Uint8Array[]): boolean {
  return internetChecksum(...parts) === 0;
}

function onesComplementSum(parts: Uint8Array[]): number {
  let sum = 0;
  // A byte left over from an odd-length part is the high half of a word finished by the next part.
  let pendingHigh: number | undefined;
  for (const part of parts) {
    let i = 0;
    if (pendingHigh !== undefined && part.length > 0) {
      sum += (pendingHigh << 8) | (part[0] ?? 0);
      pendingHigh = undefined;
      i = 1;
    }
    for (; i + 1 < part.length; i += 2) {
      sum += ((part[i] ?? 0) << 8) | (part[i + 1] ?? 0);
    }
    if (i < part.length) pendingHigh = part[i];
    // Folding per part keeps the running sum far below 2^53 whatever the total length.
    sum = fold(sum);
  }
  if (pendingHigh !== undefined) sum += pendingHigh << 8;
  return fold(sum);
}

function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}
