// [connection_status]: the sockets the connection probe tries, with the
// fields of the connection-status-exporter's `sockets:` list (name, host,
// port, protocol, timeout). Validated in the style of config/schema.ts:
// every problem is one line naming the full key.

import { isTable, readSection, type Rules } from '../config/schema.js';

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

const sectionRules = {
  interval: { kind: 'number', default: 15, min: 0.1 },
  timeout: { kind: 'number', default: 5, min: 0.01 },
} as const satisfies Rules;

const PROTOCOLS = ['tcp', 'tcp4', 'tcp6', 'unix'] as const;

function socketRules(timeoutS: number) {
  return {
    name: { kind: 'string', default: '', check: (v: string) => (v === '' ? 'must not be empty' : undefined) },
    host: { kind: 'string', default: '', check: (v: string) => (v === '' ? 'must not be empty' : undefined) },
    port: { kind: 'int', default: 0, min: 0, max: 65535 },
    protocol: { kind: 'string', default: 'tcp', oneOf: PROTOCOLS },
    timeout: { kind: 'number', default: timeoutS, min: 0.01 },
  } as const satisfies Rules;
}

/** Read [connection_status]; problems are appended, bad sockets left out. */
export function readConnectionStatus(table: unknown, problems: string[]): ConnectionStatusConfig {
  const sec = readSection('connection_status', table, sectionRules, problems, { allowExtra: ['sockets'] });
  const raw = isTable(table) ? table.sockets : undefined;
  const sockets: ConnectionSocket[] = [];
  if (raw !== undefined && !(Array.isArray(raw) && raw.every(isTable))) {
    problems.push('connection_status.sockets: must be an array of tables ([[connection_status.sockets]])');
    return { intervalMs: Math.round(sec.interval * 1000), sockets };
  }
  const seen = new Map<string, number>();
  (raw ?? []).forEach((t, i) => {
    const key = `connection_status.sockets[${i}]`;
    const before = problems.length;
    const s = readSection(key, t, socketRules(sec.timeout), problems);
    const given = (k: string) => (t as Record<string, unknown>)[k] !== undefined;
    for (const k of ['name', 'host']) if (!given(k)) problems.push(`${key}.${k}: must be set`);
    const portReported = problems.slice(before).some((p) => p.startsWith(`${key}.port:`));
    if (s.protocol === 'unix' && given('port')) problems.push(`${key}.port: a unix socket has no port (its path goes in host)`);
    else if (s.protocol !== 'unix' && s.port === 0 && !portReported) problems.push(`${key}.port: must be 1 to 65535 for ${s.protocol}`);
    // The same labels twice would be one series twice: the store refuses the whole round.
    const series = JSON.stringify([s.name, s.host, s.port, s.protocol]);
    const first = seen.get(series);
    if (first !== undefined) problems.push(`${key}: the same name, host, port and protocol as connection_status.sockets[${first}]`);
    seen.set(series, i);
    if (problems.length > before) return;
    sockets.push({ name: s.name, host: s.host, port: s.port, protocol: s.protocol as ConnectionProtocol, timeoutMs: Math.round(s.timeout * 1000) });
  });
  return { intervalMs: Math.round(sec.interval * 1000), sockets };
}
