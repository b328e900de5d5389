// TOML -> one typed, validated Config. The Rust proxy's config.toml
// ([exporter], [receiver], [poll_external]) loads unchanged and means the
// same; everything else is an addition with a default.

import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import TOML from '@iarna/toml';
import { ConfigError } from '../errors.js';
import { isTable, nonEmpty, parseHostPort, readSection, type Rules } from './schema.js';
import { readPollTargets, urlProblem, type PollerConfig } from '../poller/config.js';
import { readDns, readFanout, type DnsConfig, type FanoutGroupConfig } from '../fanout/config.js';
import { readHttp, type HttpConfig } from './http_config.js';
import { cidrProblem } from '../net/cidr.js';
import { readPushOut, readRemoteWrite, type PushOutConfig, type RemoteWriteConfig } from '../outputs/config.js';
import { readConnectionStatus, readPing, readSocketStats, type ConnectionStatusConfig, type PingConfig, type SocketStatsConfig } from '../probes/config.js';

const exporterRules = {
  // Threads in all (workers = N - 1; 0 = auto): see workerCount in workers/prepare_pool.ts.
  worker_threads: { kind: 'int', default: 0, min: 0, max: 1024 },
  concurrent_requests: { kind: 'int', default: 2048, min: 1, max: 65534 },
  scrape_expose_endpoint: { kind: 'string', default: '0.0.0.0:6555', check: hostPortProblem },
} as const satisfies Rules;

const receiverRules = {
  format: { kind: 'string', default: 'json', oneOf: ['json', 'capnp', 'capnp_packed', 'auto'] },
  receive_on_unix_socket: { kind: 'bool', default: true },
  receiver_unix_socket: { kind: 'string', default: '/tmp/exporter-proxy-receiver.sock', check: nonEmpty },
  unix_socket_user: { kind: 'string', default: 'current_user', check: nonEmpty },
  unix_socket_group: { kind: 'string', default: 'current_group', check: nonEmpty },
  unix_socket_mode: { kind: 'string', default: '0660', check: (v) => (/^0?[0-7]{3}$/.test(v) ? undefined : `must be an octal mode like "0660", got ${JSON.stringify(v)}`) },
  receive_on_tcp_socket: { kind: 'bool', default: true },
  receiver_tcp_socket: { kind: 'string', default: '127.0.0.1:6554', check: hostPortProblem },
  max_payload_bytes: { kind: 'int', default: 16 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024 },
  idle_timeout: { kind: 'number', default: 300, min: 0 },
  // new: a message must be complete within this many seconds of its first byte (slow senders are closed).
  read_timeout: { kind: 'number', default: 30, min: 0.01 },
  // new: expiry for apps pushed over the sockets; when absent, [store] ttl applies.
  ttl: { kind: 'number', default: 0, min: 0 },
  // new: TCP peers allowed to connect (empty = everyone).
  allowed_cidrs: { kind: 'strings', default: [], check: cidrProblem },
} as const satisfies Rules;

const pollExternalRules = {
  poll_other_scrape_endpoints: { kind: 'bool', default: false },
  other_scrape_endpoints: { kind: 'strings', default: [], check: urlProblem },
  allow_invalid_certs: { kind: 'bool', default: false },
  poll_interval: { kind: 'number', default: 5, min: 0.1 },
  client_timeout: { kind: 'number', default: 2, min: 0.01 },
  // new: largest poll body (after gzip decompression), enforced while reading.
  max_body_bytes: { kind: 'int', default: 16 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024 },
} as const satisfies Rules;

const storeRules = {
  ttl: { kind: 'number', default: 0, min: 0 },
  app_label: { kind: 'string', default: '', check: (v) => (v === '' || /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(v) ? undefined : `must be a valid label name, got ${JSON.stringify(v)}`) },
  max_series_per_app: { kind: 'int', default: 0, min: 0 },
  max_apps: { kind: 'int', default: 0, min: 0 },
  persistence_file: { kind: 'string', default: '', check: persistenceFileProblem },
  persistence_interval: { kind: 'number', default: 5, min: 0.05, max: 86400 },
} as const satisfies Rules;

const httpPushRules = {
  // The Pushgateway API (PUT/POST/DELETE /metrics/job/..., /api/v1/...) on the scrape port.
  enabled: { kind: 'bool', default: true },
  // Largest push body, before and after gzip decompression.
  max_body_bytes: { kind: 'int', default: 16 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024 },
  // Expiry of a pushed group in seconds (0 = never); when absent, [store] ttl applies.
  ttl: { kind: 'number', default: 0, min: 0 },
} as const satisfies Rules;

export type ReceiverFormat = 'json' | 'capnp' | 'capnp_packed' | 'auto';

export interface Config {
  exporter: { workerThreads: number; concurrentRequests: number; listen: { host: string; port: number } };
  receiver: {
    format: ReceiverFormat;
    unix: { enabled: boolean; path: string; user: string; group: string; mode: number };
    tcp: { enabled: boolean; host: string; port: number };
    maxPayloadBytes: number;
    /** 0 = never. */
    idleTimeoutMs: number;
    readTimeoutMs: number;
    /** Expiry for socket pushes; undefined = the store's ttl. */
    ttlMs?: number;
    /** TCP peer allow-list; empty = everyone. */
    allowedCidrs: string[];
  };
  pollExternal: { enabled: boolean; endpoints: string[]; allowInvalidCerts: boolean; intervalMs: number; timeoutMs: number };
  /** Every poll target (other_scrape_endpoints and [[poll_external.targets]]) with defaults applied. */
  poller: PollerConfig;
  /** [[fanout]] groups served at /targets/<name>/metrics. */
  fanout: FanoutGroupConfig[];
  /** [connection_status]: sockets probed into the app `connection_status`. */
  connectionStatus: ConnectionStatusConfig;
  /** [ping]: hosts pinged into the app `ping`. */
  ping: PingConfig;
  /** [socket_stats]: established TCP flows into the app `socket_stats`. */
  socketStats: SocketStatsConfig;
  /** [push_out]: the store pushed to a Pushgateway (url '' = off). */
  pushOut: PushOutConfig;
  /** [remote_write]: the store sent with Prometheus remote_write (url '' = off). */
  remoteWrite: RemoteWriteConfig;
  dns: DnsConfig;
  store: {
    ttlMs: number;
    appLabel: string;
    /** 0 = unlimited. */
    maxSeriesPerApp: number;
    /** 0 = unlimited. */
    maxApps: number;
    /** '' = no persistence. */
    persistenceFile: string;
    persistenceIntervalMs: number;
  };
  http: HttpConfig;
  /** [http_push]: the Pushgateway API. */
  httpPush: {
    enabled: boolean;
    maxBodyBytes: number;
    /** Expiry of pushed groups; undefined = the store's ttl. */
    ttlMs?: number;
  };
}

const topLevel = ['exporter', 'receiver', 'poll_external', 'store', 'fanout', 'dns', 'http', 'http_push', 'connection_status', 'ping', 'socket_stats', 'push_out', 'remote_write'];

/** Validate a parsed TOML document; throws ConfigError listing every problem. */
export function configFromToml(doc: Record<string, unknown>): Config {
  const problems: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!topLevel.includes(key)) problems.push(`${key}: unknown ${isTable(doc[key]) ? 'section' : 'key'}`);
  }
  const ex = readSection('exporter', doc.exporter, exporterRules, problems);
  const rc = readSection('receiver', doc.receiver, receiverRules, problems);
  const pe = readSection('poll_external', doc.poll_external, pollExternalRules, problems, { allowExtra: ['targets'] });
  const pollDefaults = { intervalS: pe.poll_interval, timeoutS: pe.client_timeout, tlsSkipVerify: pe.allow_invalid_certs };
  const pollTargets = readPollTargets(pe.other_scrape_endpoints, isTable(doc.poll_external) ? doc.poll_external.targets : undefined, pollDefaults, problems);
  const fanout = readFanout(doc.fanout, problems);
  const dns = readDns(doc.dns, problems);
  const st = readSection('store', doc.store, storeRules, problems);
  const http = readHttp(doc.http, problems);
  const hp = readSection('http_push', doc.http_push, httpPushRules, problems);
  const connectionStatus = readConnectionStatus(doc.connection_status, problems);
  const ping = readPing(doc.ping, problems);
  const socketStats = readSocketStats(doc.socket_stats, problems);
  const pushOut = readPushOut(doc.push_out, problems);
  const remoteWrite = readRemoteWrite(doc.remote_write, problems);
  if (problems.length) throw new ConfigError(problems);
  const listen = parseHostPort(ex.scrape_expose_endpoint) as { host: string; port: number };
  const tcp = parseHostPort(rc.receiver_tcp_socket) as { host: string; port: number };
  return {
    exporter: { workerThreads: ex.worker_threads, concurrentRequests: ex.concurrent_requests, listen },
    receiver: {
      format: rc.format as ReceiverFormat,
      unix: { enabled: rc.receive_on_unix_socket, path: rc.receiver_unix_socket, user: rc.unix_socket_user, group: rc.unix_socket_group, mode: parseInt(rc.unix_socket_mode, 8) },
      tcp: { enabled: rc.receive_on_tcp_socket, ...tcp },
      maxPayloadBytes: rc.max_payload_bytes,
      idleTimeoutMs: Math.round(rc.idle_timeout * 1000),
      readTimeoutMs: Math.round(rc.read_timeout * 1000),
      ttlMs: isTable(doc.receiver) && doc.receiver.ttl !== undefined ? Math.round(rc.ttl * 1000) : undefined,
      allowedCidrs: rc.allowed_cidrs,
    },
    pollExternal: {
      enabled: pe.poll_other_scrape_endpoints,
      endpoints: pe.other_scrape_endpoints,
      allowInvalidCerts: pe.allow_invalid_certs,
      intervalMs: Math.round(pe.poll_interval * 1000),
      timeoutMs: Math.round(pe.client_timeout * 1000),
    },
    store: {
      ttlMs: Math.round(st.ttl * 1000),
      appLabel: st.app_label,
      maxSeriesPerApp: st.max_series_per_app,
      maxApps: st.max_apps,
      persistenceFile: st.persistence_file,
      persistenceIntervalMs: Math.round(st.persistence_interval * 1000),
    },
    http,
    httpPush: {
      enabled: hp.enabled,
      maxBodyBytes: hp.max_body_bytes,
      ttlMs: isTable(doc.http_push) && doc.http_push.ttl !== undefined ? Math.round(hp.ttl * 1000) : undefined,
    },
    poller: { enabled: pe.poll_other_scrape_endpoints, maxBodyBytes: pe.max_body_bytes, targets: pollTargets },
    fanout,
    dns,
    connectionStatus,
    ping,
    socketStats,
    pushOut,
    remoteWrite,
  };
}

/** Parse TOML text; syntax errors become a ConfigError naming the line. */
export function configFromText(text: string, origin = 'config'): Config {
  let doc: Record<string, unknown>;
  try {
    doc = TOML.parse(text) as Record<string, unknown>;
  } catch (err) {
    const e = err as { line?: number; col?: number; message: string };
    const where = e.line !== undefined ? ` line ${e.line + 1}, column ${(e.col ?? 0) + 1}` : '';
    throw new ConfigError([`${origin}:${where}: invalid TOML: ${e.message.split('\n')[0]}`]);
  }
  return configFromToml(doc);
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${path}: cannot read config file: ${(err as Error).message}`]);
  }
  return configFromText(text, path);
}

function hostPortProblem(v: string): string | undefined {
  const r = parseHostPort(v);
  return typeof r === 'string' ? r : undefined;
}

/** The snapshot's directory must exist (the file itself is created). */
function persistenceFileProblem(v: string): string | undefined {
  if (v === '') return undefined;
  const dir = dirname(v);
  try {
    if (!statSync(dir).isDirectory()) return `directory ${JSON.stringify(dir)} is not a directory`;
  } catch {
    return `directory ${JSON.stringify(dir)} does not exist`;
  }
  return undefined;
}

