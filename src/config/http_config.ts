// [http]: timeouts, body size, TLS and access control for the scrape port.
// Secrets may come from files (bearer_token_file, password_file); files are
// read when the config is loaded, so a reload picks up a rotated secret, and
// a file that cannot be read is a problem naming the key, like any other.

import fs from 'node:fs';
import tls from 'node:tls';
import { isTable, readSection, type Rules } from './schema.js';

const httpRules = {
  // A request (headers and body) must arrive completely within this many seconds.
  read_timeout: { kind: 'number', default: 30, min: 0.01, max: 3600 },
  // The request headers must arrive within this many seconds (<= read_timeout).
  headers_timeout: { kind: 'number', default: 10, min: 0.01, max: 3600 },
  // An idle keep-alive connection is closed after this many seconds.
  keep_alive_timeout: { kind: 'number', default: 65, min: 0.01, max: 3600 },
  // A connection with no traffic at all is closed after this many seconds (0 = never).
  idle_timeout: { kind: 'number', default: 300, min: 0 },
  max_body_bytes: { kind: 'int', default: 16 * 1024 * 1024, min: 1024, max: 1024 * 1024 * 1024 },
  tls_cert_file: { kind: 'string', default: '' },
  tls_key_file: { kind: 'string', default: '' },
} as const satisfies Rules;

export type AuthConfig = { kind: 'basic'; username: string; password: string } | { kind: 'bearer'; token: string };

export interface HttpConfig {
  readTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** 0 = never. */
  idleTimeoutMs: number;
  maxBodyBytes: number;
  /** GET routes (/metrics, /apps, ...); undefined = open. /-/healthy and /-/ready are always open. */
  scrapeAuth?: AuthConfig;
  /** Every route that changes something (push, delete, /-/reload, admin); undefined = open. */
  adminAuth?: AuthConfig;
  /** HTTPS on the scrape port; the PEM contents as read at load. */
  tls?: { certFile: string; keyFile: string; cert: string; key: string };
}

export function readHttp(table: unknown, problems: string[]): HttpConfig {
  const given = isTable(table) ? table : {};
  const h = readSection('http', table, httpRules, problems, { allowExtra: ['scrape_auth', 'admin_auth'] });
  if (h.headers_timeout > h.read_timeout) problems.push(`http.headers_timeout: must be at most http.read_timeout (${h.read_timeout}), got ${h.headers_timeout}`);
  const out: HttpConfig = {
    readTimeoutMs: Math.round(h.read_timeout * 1000),
    headersTimeoutMs: Math.round(h.headers_timeout * 1000),
    keepAliveTimeoutMs: Math.round(h.keep_alive_timeout * 1000),
    idleTimeoutMs: Math.round(h.idle_timeout * 1000),
    maxBodyBytes: h.max_body_bytes,
    scrapeAuth: readAuth('http.scrape_auth', given.scrape_auth, problems),
    adminAuth: readAuth('http.admin_auth', given.admin_auth, problems),
  };
  if ((h.tls_cert_file === '') !== (h.tls_key_file === '')) {
    problems.push(`http.${h.tls_cert_file === '' ? 'tls_cert_file' : 'tls_key_file'}: must be set together with http.${h.tls_cert_file === '' ? 'tls_key_file' : 'tls_cert_file'}`);
  } else if (h.tls_cert_file !== '') {
    const cert = readSecretFile('http.tls_cert_file', h.tls_cert_file, problems, false);
    const key = readSecretFile('http.tls_key_file', h.tls_key_file, problems, false);
    if (cert !== undefined && key !== undefined) {
      try {
        tls.createSecureContext({ cert, key });
        out.tls = { certFile: h.tls_cert_file, keyFile: h.tls_key_file, cert, key };
      } catch (err) {
        problems.push(`http.tls_cert_file: certificate and key do not load together: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

/**
 * `{ basic = { username = "u", password = "p" } }` (or `password_file`),
 * `{ bearer_token = "t" }` or `{ bearer_token_file = "f" }`; absent = open.
 */
function readAuth(key: string, v: unknown, problems: string[]): AuthConfig | undefined {
  if (v === undefined) return undefined;
  if (!isTable(v)) {
    problems.push(`${key}: must be a table like { basic = { username = "u", password = "p" } } or { bearer_token = "..." }`);
    return undefined;
  }
  const kinds = ['basic', 'bearer_token', 'bearer_token_file'].filter((k) => v[k] !== undefined);
  for (const k of Object.keys(v)) if (!['basic', 'bearer_token', 'bearer_token_file'].includes(k)) problems.push(`${key}.${k}: unknown key`);
  if (kinds.length !== 1) {
    problems.push(`${key}: needs exactly one of basic, bearer_token, bearer_token_file${kinds.length ? `; got ${kinds.join(' and ')}` : ''}`);
    return undefined;
  }
  if (kinds[0] === 'basic') {
    const b = v.basic;
    if (!isTable(b)) {
      problems.push(`${key}.basic: must be a table { username = "...", password = "..." }`);
      return undefined;
    }
    for (const k of Object.keys(b)) if (!['username', 'password', 'password_file'].includes(k)) problems.push(`${key}.basic.${k}: unknown key`);
    const username = b.username;
    if (typeof username !== 'string' || username === '' || username.includes(':')) {
      problems.push(`${key}.basic.username: must be a non-empty string without ":"`);
      return undefined;
    }
    if ((b.password === undefined) === (b.password_file === undefined)) {
      problems.push(`${key}.basic: needs exactly one of password, password_file`);
      return undefined;
    }
    const password = b.password !== undefined ? nonEmptyString(`${key}.basic.password`, b.password, problems) : fileSecret(`${key}.basic.password_file`, b.password_file, problems);
    return password === undefined ? undefined : { kind: 'basic', username, password };
  }
  const token = kinds[0] === 'bearer_token' ? nonEmptyString(`${key}.bearer_token`, v.bearer_token, problems) : fileSecret(`${key}.bearer_token_file`, v.bearer_token_file, problems);
  return token === undefined ? undefined : { kind: 'bearer', token };
}

function nonEmptyString(key: string, v: unknown, problems: string[]): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  problems.push(`${key}: must be a non-empty string`);
  return undefined;
}

function fileSecret(key: string, v: unknown, problems: string[]): string | undefined {
  const path = nonEmptyString(key, v, problems);
  return path === undefined ? undefined : readSecretFile(key, path, problems, true);
}

/** Read a file named by `key`; secrets are trimmed of surrounding whitespace (a trailing newline). */
function readSecretFile(key: string, path: string, problems: string[], trim: boolean): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`${key}: cannot read ${JSON.stringify(path)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  const v = trim ? text.trim() : text;
  if (v === '') {
    problems.push(`${key}: ${JSON.stringify(path)} is empty`);
    return undefined;
  }
  return v;
}
