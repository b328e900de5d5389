// A minimal authoritative DNS responder on 127.0.0.1 UDP (port 0) for tests:
// answers A, AAAA and SRV questions from an in-memory zone that the test can
// change, NXDOMAIN for unknown names, and counts the queries it saw.

import dgram from 'node:dgram';
import net from 'node:net';

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface Zone {
  A?: Record<string, string[]>;
  AAAA?: Record<string, string[]>;
  SRV?: Record<string, SrvRecord[]>;
}

export interface DnsServer {
  address: string;
  port: number;
  zone: Zone;
  queries: { name: string; type: string }[];
  close(): Promise<void>;
}

const TYPES: Record<number, 'A' | 'AAAA' | 'SRV'> = { 1: 'A', 28: 'AAAA', 33: 'SRV' };
const CODES = { A: 1, AAAA: 28, SRV: 33 } as const;

export async function startDnsServer(zone: Zone): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  let closed = false;
  const server: DnsServer = {
    address: '127.0.0.1',
    port: 0,
    zone,
    queries: [],
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => socket.close(() => resolve()));
    },
  };
  socket.on('message', (msg, rinfo) => {
    const reply = answer(msg, server);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  server.port = socket.address().port;
  return server;
}

function answer(msg: Buffer, server: DnsServer): Buffer | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000 || msg.readUInt16BE(4) !== 1) return undefined; // a response, or not exactly one question
  // Question: labels, then type and class.
  let at = 12;
  const labels: string[] = [];
  while (at < msg.length && msg[at] !== 0) {
    const len = msg[at]!;
    labels.push(msg.subarray(at + 1, at + 1 + len).toString('ascii'));
    at += 1 + len;
  }
  at += 1;
  const qtype = msg.readUInt16BE(at);
  const question = msg.subarray(12, at + 4);
  const name = labels.join('.').toLowerCase();
  const type = TYPES[qtype];
  server.queries.push({ name, type: type ?? String(qtype) });

  const known = Object.values(server.zone).some((records) => records && name in records);
  const answers: Buffer[] = [];
  if (type) {
    const records = (server.zone[type] as Record<string, unknown[]> | undefined)?.[name] ?? [];
    for (const r of records) answers.push(record(type, r));
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR, opcode 0, AA, RD copied, RA; rcode NXDOMAIN (3) for unknown names.
  header.writeUInt16BE(0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

function record(type: 'A' | 'AAAA' | 'SRV', r: unknown): Buffer {
  let rdata: Buffer;
  if (type === 'A') rdata = Buffer.from((r as string).split('.').map(Number));
  else if (type === 'AAAA') rdata = ipv6Bytes(r as string);
  else {
    const s = r as SrvRecord;
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(s.priority, 0);
    fixed.writeUInt16BE(s.weight, 2);
    fixed.writeUInt16BE(s.port, 4);
    rdata = Buffer.concat([fixed, encodeName(s.target)]);
  }
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // pointer to the question name
  head.writeUInt16BE(CODES[type], 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(5, 6); // TTL
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'ascii')])), Buffer.from([0])]);
}

function ipv6Bytes(ip: string): Buffer {
  if (net.isIPv6(ip) === false) throw new Error(`not IPv6: ${ip}`);
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
