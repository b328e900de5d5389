// `format = "auto"`: pick the codec for a connection from its first byte.
// A JSON object stream starts with `{`, possibly after JSON whitespace; a
// Cap'n Proto stream starts with the segment table (segment count - 1 as a
// little-endian u32, so 0x00 for the usual single segment) or, packed, with a
// tag byte. None of those collide with the JSON bytes for real traffic.

export function detectFormat(firstByte: number): 'json' | 'capnp' {
  switch (firstByte) {
    case 0x7b: // {
    case 0x20: // space
    case 0x09: // tab
    case 0x0a: // LF
    case 0x0d: // CR
      return 'json';
    default:
      return 'capnp';
  }
}
