// `[[fanout]]` groups and the `[dns]` section, validated in the style of
// config/schema.ts (one problem per line, naming `fanout[2].dns_type`).

import net from 'node:net';
import { isTable, readSection, type Rules } from '../config/schema.js';
import { labelNameProblem, readStringTable, urlProblem } from '../poller/config.js';

export type Discovery =
  | { kind: 'static'; instances: string[] }
  | { kind: 'dns'; name: string; type: 'A' | 'AAAA' | 'SRV'; port: number; scheme: 'http' | 'https' }
  | { kind: 'file_sd'; path: string; scheme: 'http' | 'https' };

export interface FanoutGroupConfig {
  name: string;
  discovery: Discovery;
  /** Path used for discovered instances and static ones given without a path. */
  path: string;
  /** Added to every sample; raw values. */
  labels: { name: string; value: string }[];
  timeoutMs: number;
  tlsSkipVerify: boolean;
  maxBodyBytes: number;
}

export interface DnsConfig {
  /** `ip` or `ip:port` / `[ip6]:port`; empty = system resolver. */
  servers: string[];
}

const groupRules = {
  name: { kind: 'string', default: '', check: (v: string) => (/^[a-zA-Z0-9_-]+$/.test(v) ? undefined : `must match [a-zA-Z0-9_-]+, got ${JSON.stringify(v)}`) },
  instances: { kind: 'strings', default: [], check: urlProblem },
  dns: { kind: 'string', default: '', check: (v: string) => (/^[a-zA-Z0-9_.-]+$/.test(v) ? undefined : `must be a DNS name, got ${JSON.stringify(v)}`) },
  dns_type: { kind: 'string', default: 'SRV', oneOf: ['A', 'AAAA', 'SRV'] },
  port: { kind: 'int', default: 0, min: 1, max: 65535 },
  scheme: { kind: 'string', default: 'http', oneOf: ['http', 'https'] },
  file_sd: { kind: 'string', default: '' },
  path: { kind: 'string', default: '/metrics', check: (v: string) => (v.startsWith('/') ? undefined : `must start with "/", got ${JSON.stringify(v)}`) },
  timeout: { kind: 'number', default: 5, min: 0.01 },
  tls_skip_verify: { kind: 'bool', default: false },
  max_body_bytes: { kind: 'int', default: 16 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024 },
} satisfies Rules;

const dnsRules = {
  servers: { kind: 'strings', default: [], check: dnsServerProblem },
} satisfies Rules;

const RESERVED_LABELS = new Set(['instance', 'index']);

export function readFanout(raw: unknown, problems: string[]): FanoutGroupConfig[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    problems.push('fanout: must be an array of tables ([[fanout]])');
    return [];
  }
  const out: FanoutGroupConfig[] = [];
  const names = new Map<string, string>();
  raw.forEach((g, i) => {
    const key = `fanout[${i}]`;
    const before = problems.length;
    const v = readSection(key, g, groupRules, problems, { allowExtra: ['labels'] });
    const table = (isTable(g) ? g : {}) as Record<string, unknown>;
    if (isTable(g) && g.name === undefined) problems.push(`${key}.name: required`);
    const given = (['instances', 'dns', 'file_sd'] as const).filter((k) => table[k] !== undefined);
    if (isTable(g) && given.length !== 1) problems.push(`${key}: set exactly one of instances, dns, file_sd${given.length ? ` (got ${given.join(', ')})` : ''}`);
    if (table.dns !== undefined && v.dns_type !== 'SRV' && table.port === undefined) problems.push(`${key}.port: required with dns_type = "${v.dns_type}"`);
    if (table.dns === undefined) for (const k of ['dns_type', 'port'] as const) if (table[k] !== undefined) problems.push(`${key}.${k}: only used with dns`);
    if (table.instances !== undefined && table.scheme !== undefined) problems.push(`${key}.scheme: instances carry their own scheme`);
    if (table.instances !== undefined && v.instances.length === 0) problems.push(`${key}.instances: must not be empty`);
    const labels = readStringTable(`${key}.labels`, table.labels, problems, (n) => labelNameProblem(n) ?? (RESERVED_LABELS.has(n) ? `label ${n} is set per instance by the proxy` : undefined));
    if (v.name) {
      const owner = names.get(v.name);
      if (owner) problems.push(`${key}.name: ${JSON.stringify(v.name)} is already used by ${owner}`);
      else names.set(v.name, key);
    }
    if (problems.length > before) return;
    const scheme = v.scheme as 'http' | 'https';
    const discovery: Discovery = table.instances !== undefined
      ? { kind: 'static', instances: v.instances }
      : table.dns !== undefined
        ? { kind: 'dns', name: v.dns, type: v.dns_type as 'A' | 'AAAA' | 'SRV', port: v.port, scheme }
        : { kind: 'file_sd', path: v.file_sd, scheme };
    out.push({
      name: v.name,
      discovery,
      path: v.path,
      labels: Object.entries(labels).map(([name, value]) => ({ name, value })),
      timeoutMs: Math.max(1, Math.round(v.timeout * 1000)),
      tlsSkipVerify: v.tls_skip_verify,
      maxBodyBytes: v.max_body_bytes,
    });
  });
  return out;
}

export function readDns(raw: unknown, problems: string[]): DnsConfig {
  const v = readSection('dns', raw, dnsRules, problems);
  return { servers: v.servers };
}

function dnsServerProblem(s: string): string | undefined {
  if (net.isIP(s)) return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
  const host = m && (m[1] ?? m[2]);
  if (!m || !host || !net.isIP(host) || Number(m[3]) > 65535 || Number(m[3]) < 1) return `must be an IP address with an optional port ("1.2.3.4", "1.2.3.4:53", "[::1]:53"), got ${JSON.stringify(s)}`;
  return undefined;
}
