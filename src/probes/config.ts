// The built-in probes' config sections, validated in the style of
// config/schema.ts (every problem is one line naming the full key):
//   [connection_status]: sockets to connect to, with the fields of the
//     connection-status-exporter's `sockets:` list (name, host, port,
//     protocol, timeout);
//   [ping]: hosts to ping (name, host), with a count and a timeout;
//   [socket_stats]: which established TCP flows to report (ports, peers),
//     and at most how many.

import { isTable, nonEmpty, readSection, type Rules } from '../config/schema.js';
import { cidrProblem } from '../net/cidr.js';

export type ConnectionProtocol = 'tcp' | 'tcp4' | 'tcp6' | 'unix';

export interface ConnectionSocket {
  name: string;
  /** Host name or address; for `unix`, the socket's path. */
  host: string;
  /** 0 for `unix`. */
  port: number;
  protocol: ConnectionProtocol;
  timeoutMs: number;
}

export interface ConnectionStatusConfig {
  intervalMs: number;
  sockets: ConnectionSocket[];
}

export interface PingTarget {
  name: string;
  host: string;
}

export interface PingConfig {
  intervalMs: number;
  /** Seconds ping waits for the last reply (its -W). */
  timeoutS: number;
  /** Echo requests per target per round (its -c). */
  count: number;
  targets: PingTarget[];
}

const connectionRules = {
  interval: { kind: 'number', default: 15, min: 0.1 },
  timeout: { kind: 'number', default: 5, min: 0.01 },
} as const satisfies Rules;

const PROTOCOLS = ['tcp', 'tcp4', 'tcp6', 'unix'] as const;

function socketRules(timeoutS: number) {
  return {
    name: { kind: 'string', default: '', check: nonEmpty },
    host: { kind: 'string', default: '', check: nonEmpty },
    port: { kind: 'int', default: 0, min: 0, max: 65535 },
    protocol: { kind: 'string', default: 'tcp', oneOf: PROTOCOLS },
    timeout: { kind: 'number', default: timeoutS, min: 0.01 },
  } as const satisfies Rules;
}

const pingRules = {
  interval: { kind: 'number', default: 15, min: 1 },
  timeout: { kind: 'int', default: 1, min: 1, max: 60 },
  count: { kind: 'int', default: 1, min: 1, max: 10 },
} as const satisfies Rules;

const pingTargetRules = {
  name: { kind: 'string', default: '', check: nonEmpty },
  // ping would take a leading "-" for an option.
  host: { kind: 'string', default: '', check: (v: string) => nonEmpty(v) ?? (v.startsWith('-') ? `must be a host name or address, got ${JSON.stringify(v)}` : undefined) },
} as const satisfies Rules;

/**
 * The `[[<key>]]` tables of a section: each read by `read`, which appends
 * its problems; `name` and `host` must be set; two entries with the same
 * labels (`identity`) would be one series twice, which the store refuses
 * for the whole round. Entries with problems are left out.
 */
function readEntries<T>(key: string, raw: unknown, read: (itemKey: string, t: Record<string, unknown>) => T, identity: (v: T) => string, problems: string[]): T[] {
  if (raw === undefined) return [];
  if (!(Array.isArray(raw) && raw.every(isTable))) {
    problems.push(`${key}: must be an array of tables ([[${key}]])`);
    return [];
  }
  const out: T[] = [];
  const seen = new Map<string, number>();
  raw.forEach((t, i) => {
    const itemKey = `${key}[${i}]`;
    const before = problems.length;
    const v = read(itemKey, t);
    for (const k of ['name', 'host']) if (t[k] === undefined) problems.push(`${itemKey}.${k}: must be set`);
    const first = seen.get(identity(v));
    if (first !== undefined) problems.push(`${itemKey}: the same labels as ${key}[${first}]`);
    seen.set(identity(v), i);
    if (problems.length === before) out.push(v);
  });
  return out;
}

/** Read [connection_status]; problems are appended, bad sockets left out. */
export function readConnectionStatus(table: unknown, problems: string[]): ConnectionStatusConfig {
  const sec = readSection('connection_status', table, connectionRules, problems, { allowExtra: ['sockets'] });
  const readSocket = (key: string, t: Record<string, unknown>): ConnectionSocket => {
    const before = problems.length;
    const s = readSection(key, t, socketRules(sec.timeout), problems);
    const portReported = problems.slice(before).some((p) => p.startsWith(`${key}.port:`));
    if (s.protocol === 'unix' && t.port !== undefined) problems.push(`${key}.port: a unix socket has no port (its path goes in host)`);
    else if (s.protocol !== 'unix' && s.port === 0 && !portReported) problems.push(`${key}.port: must be 1 to 65535 for ${s.protocol}`);
    return { name: s.name, host: s.host, port: s.port, protocol: s.protocol as ConnectionProtocol, timeoutMs: Math.round(s.timeout * 1000) };
  };
  const raw = isTable(table) ? table.sockets : undefined;
  const sockets = readEntries('connection_status.sockets', raw, readSocket, (s) => JSON.stringify([s.name, s.host, s.port, s.protocol]), problems);
  return { intervalMs: Math.round(sec.interval * 1000), sockets };
}

/** Read [ping]; problems are appended, bad targets left out. */
export function readPing(table: unknown, problems: string[]): PingConfig {
  const sec = readSection('ping', table, pingRules, problems, { allowExtra: ['targets'] });
  const raw = isTable(table) ? table.targets : undefined;
  const targets = readEntries('ping.targets', raw, (key, t) => readSection(key, t, pingTargetRules, problems), (t) => JSON.stringify([t.name, t.host]), problems);
  return { intervalMs: Math.round(sec.interval * 1000), timeoutS: sec.timeout, count: sec.count, targets };
}

export interface SocketStatsConfig {
  enabled: boolean;
  intervalMs: number;
  /** Flows whose local or peer port is one of these; empty: any port. */
  ports: number[];
  /** Flows whose peer address is in one of these prefixes; empty: any peer. */
  peers: string[];
  /** Per-flow series for at most this many selected flows (0: none, only the totals). */
  maxFlows: number;
}

const socketStatsRules = {
  enabled: { kind: 'bool', default: false },
  interval: { kind: 'number', default: 15, min: 1 },
  ports: { kind: 'ints', default: [], min: 1, max: 65535 },
  peers: { kind: 'strings', default: [], check: cidrProblem },
  max_flows: { kind: 'int', default: 100, min: 0, max: 100_000 },
} as const satisfies Rules;

/** Read [socket_stats]; problems are appended. */
export function readSocketStats(table: unknown, problems: string[]): SocketStatsConfig {
  const sec = readSection('socket_stats', table, socketStatsRules, problems);
  return { enabled: sec.enabled, intervalMs: Math.round(sec.interval * 1000), ports: sec.ports, peers: sec.peers, maxFlows: sec.max_flows };
}
