// What a config reload (SIGHUP, POST /-/reload) can apply to a running
// proxy. Both configs are flattened to leaf keys and compared; each changed
// key is either applied live or reported as "needs restart" and ignored
// (the running value stays). Keys this file does not know need a restart:
// the safe default for keys added later.

import type { Config } from './config/config.js';

export interface ReloadPlan {
  /** TOML keys whose new value is applied now. */
  applied: string[];
  /** TOML keys that changed but only take effect after a restart (ignored now). */
  needsRestart: string[];
}

/** Internal config path prefix -> TOML key, and whether it applies live. Longest prefix wins. */
const KEYS: [prefix: string, key: string, live: boolean][] = [
  ['exporter.workerThreads', 'exporter.worker_threads', false],
  ['exporter.concurrentRequests', 'exporter.concurrent_requests', true],
  ['exporter.listen', 'exporter.scrape_expose_endpoint', false],
  ['receiver.format', 'receiver.format', false],
  ['receiver.unix.enabled', 'receiver.receive_on_unix_socket', false],
  ['receiver.unix.path', 'receiver.receiver_unix_socket', false],
  ['receiver.unix.user', 'receiver.unix_socket_user', false],
  ['receiver.unix.group', 'receiver.unix_socket_group', false],
  ['receiver.unix.mode', 'receiver.unix_socket_mode', false],
  ['receiver.tcp.enabled', 'receiver.receive_on_tcp_socket', false],
  ['receiver.tcp', 'receiver.receiver_tcp_socket', false],
  ['receiver.maxPayloadBytes', 'receiver.max_payload_bytes', true],
  ['receiver.idleTimeoutMs', 'receiver.idle_timeout', true],
  ['receiver.readTimeoutMs', 'receiver.read_timeout', true],
  ['receiver.ttlMs', 'receiver.ttl', true],
  ['receiver.allowedCidrs', 'receiver.allowed_cidrs', true],
  ['store.ttlMs', 'store.ttl', true],
  ['store.appLabel', 'store.app_label', false],
  ['store.maxSeriesPerApp', 'store.max_series_per_app', true],
  ['store.maxApps', 'store.max_apps', true],
  ['store.persistenceFile', 'store.persistence_file', false],
  ['store.persistenceIntervalMs', 'store.persistence_interval', true],
  ['http.readTimeoutMs', 'http.read_timeout', true],
  ['http.headersTimeoutMs', 'http.headers_timeout', true],
  ['http.keepAliveTimeoutMs', 'http.keep_alive_timeout', true],
  ['http.idleTimeoutMs', 'http.idle_timeout', true],
  ['http.maxBodyBytes', 'http.max_body_bytes', false],
  ['http.scrapeAuth', 'http.scrape_auth', true],
  ['http.adminAuth', 'http.admin_auth', true],
  ['httpPush.ttlMs', 'http_push.ttl', true],
  ['httpPush.enabled', 'http_push.enabled', false],
  ['httpPush.maxBodyBytes', 'http_push.max_body_bytes', false],
  // TLS on/off needs a restart; a new certificate/key for a running HTTPS server does not (see planReload).
  ['http.tls', 'http.tls_cert_file/tls_key_file', false],
  ['pollExternal', 'poll_external', true],
  ['poller', 'poll_external', true],
  ['fanout', 'fanout', true],
  ['connectionStatus', 'connection_status', true],
  ['ping', 'ping', true],
  ['socketStats', 'socket_stats', true],
  ['pushOut', 'push_out', true],
  ['remoteWrite', 'remote_write', true],
  // The shared fetcher resolves poll and fan-out hosts through these servers; it is built once.
  ['dns', 'dns', false],
];

/** Leaf values by dotted path; arrays and secrets-bearing objects compare as JSON. */
export function flatten(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) out.set(prefix, '{}');
    for (const [k, x] of entries) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, JSON.stringify(v) ?? 'undefined');
  }
  return out;
}

function classify(path: string): { key: string; live: boolean } {
  let best: (typeof KEYS)[number] | undefined;
  for (const k of KEYS) if ((path === k[0] || path.startsWith(k[0] + '.')) && (!best || k[0].length > best[0].length)) best = k;
  if (best) return { key: best[1], live: best[2] };
  const snake = path.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()).replace(/_ms$/, '');
  return { key: snake, live: false };
}

function changedPaths(a: Config, b: Config): string[] {
  const fa = flatten(a);
  const fb = flatten(b);
  const out: string[] = [];
  for (const k of new Set([...fa.keys(), ...fb.keys()])) if (fa.get(k) !== fb.get(k)) out.push(k);
  return out;
}

/**
 * `current` is what runs now (the last applied config), `boot` what the
 * listeners were opened with: restart-only keys are compared against `boot`,
 * so a change that needs a restart is reported on every reload until then.
 */
export function planReload(boot: Config, current: Config, next: Config): ReloadPlan {
  const applied = new Set<string>();
  const needsRestart = new Set<string>();
  for (const p of changedPaths(current, next)) {
    const c = classify(p);
    if (c.live) applied.add(c.key);
  }
  for (const p of changedPaths(boot, next)) {
    const c = classify(p);
    if (c.live) continue;
    // A new certificate for a server that already speaks HTTPS is applied live.
    if (p.startsWith('http.tls.') && boot.http.tls && next.http.tls) {
      if (changedPaths(current, next).includes(p)) applied.add('http.tls_cert_file/tls_key_file');
      continue;
    }
    needsRestart.add(c.key);
  }
  return { applied: [...applied].sort(), needsRestart: [...needsRestart].sort() };
}
