// A small CIDR allow-list for peer addresses: IPv4, IPv6 and IPv4-mapped
// IPv6 (`::ffff:127.0.0.1`, what a dual-stack socket reports for an IPv4
// peer). Every address and prefix is held as 16 bytes; IPv4 is mapped into
// ::ffff:0:0/96, so `127.0.0.0/8` matches both `127.0.0.1` and
// `::ffff:127.0.0.1`, and `::ffff:0:0/96` matches every IPv4 peer.

import net from 'node:net';

export interface Cidr {
  /** The network address, 16 bytes, host bits cleared. */
  bytes: Uint8Array;
  /** Prefix length in the 128-bit space. */
  bits: number;
  /** As written in the config, for messages. */
  text: string;
}

/** 16 bytes for an IPv4 or IPv6 address (IPv4 mapped); undefined if not an address. */
export function addressBytes(address: string): Uint8Array | undefined {
  // Zone ids (`fe80::1%eth0`) never match a configured prefix's zone; drop them.
  const addr = address.includes('%') ? address.slice(0, address.indexOf('%')) : address;
  const kind = net.isIP(addr);
  if (kind === 4) {
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    addr.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  if (kind === 6) return ipv6Bytes(addr);
  return undefined;
}

function ipv6Bytes(addr: string): Uint8Array | undefined {
  let s = addr;
  // A trailing dotted quad (::ffff:1.2.3.4) is the last two 16-bit words.
  const colon = s.lastIndexOf(':');
  if (s.includes('.', colon)) {
    const q = s.slice(colon + 1).split('.').map(Number);
    s = s.slice(0, colon + 1) + ((q[0] << 8) | q[1]).toString(16) + ':' + ((q[2] << 8) | q[3]).toString(16);
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => (/^[0-9a-fA-F]{1,4}$/.test(h) ? parseInt(h, 16) : NaN)));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const gap = 8 - head.length - rest.length;
  if (halves.length === 2 ? gap < 1 : gap !== 0) return undefined;
  const words = [...head, ...new Array<number>(halves.length === 2 ? gap : 0).fill(0), ...rest];
  if (words.some((w) => Number.isNaN(w))) return undefined;
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** Parse `a.b.c.d/n`, `v6/n` or a bare address (a single host); returns a problem string on failure. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const kind = net.isIP(addr);
  if (kind === 0) return `must be an IPv4 or IPv6 address or prefix like "10.0.0.0/8" or "::1/128", got ${JSON.stringify(text)}`;
  const max = kind === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return `prefix length must be 0 to ${max}, got ${JSON.stringify(text)}`;
    len = Number(p);
  }
  const bytes = addressBytes(addr)!;
  const bits = kind === 4 ? len + 96 : len;
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    bytes[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return { bytes, bits, text };
}

export function cidrContains(cidr: Cidr, addr: Uint8Array): boolean {
  const full = cidr.bits >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== cidr.bytes[i]) return false;
  const rem = cidr.bits & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (addr[full] & mask) === cidr.bytes[full];
}

/**
 * A matcher for a list of prefixes. An empty list allows every peer (the
 * default); an address that cannot be parsed is refused.
 */
export function cidrMatcher(list: readonly string[]): (address: string) => boolean {
  if (list.length === 0) return () => true;
  const cidrs = list.map((t) => {
    const c = parseCidr(t);
    if (typeof c === 'string') throw new Error(c);
    return c;
  });
  return (address) => {
    const a = addressBytes(address);
    return a !== undefined && cidrs.some((c) => cidrContains(c, a));
  };
}

/** Config check for one list entry. */
export function cidrProblem(text: string): string | undefined {
  const c = parseCidr(text);
  return typeof c === 'string' ? c : undefined;
}
