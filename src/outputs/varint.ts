// Base-128 varints, as protobuf and snappy's length preamble write them.

/** Bytes of `v` as a protobuf varint (a negative int64 takes 10). */
export function varintSize(v: number): number {
  if (v < 0) return 10;
  let n = 1;
  while (v > 0x7f) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** Write `v` (0 <= v <= 2^53) as a varint at `at`; returns the offset after it. */
export function putVarint(dst: Uint8Array, at: number, v: number): number {
  while (v > 0x7f) {
    dst[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  dst[at++] = v;
  return at;
}
