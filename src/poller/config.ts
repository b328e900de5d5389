// [poll_external] targets: the Rust proxy's `other_scrape_endpoints` plus
// `[[poll_external.targets]]` tables, resolved into one list with every
// default applied. Validated in the style of config/schema.ts: every problem
// is one line naming the full key (`poll_external.targets[2].url: ...`).

import { isValidLabelName } from '../exposition/text_parse.js';
import { isTable, readSection, type Rules } from '../config/schema.js';

export interface PollTarget {
  /** The URL fetched, without user info (credentials move to `headers`). */
  url: string;
  /** Store app name. */
  app: string;
  /** Shown as the app's source in /apps. */
  source: string;
  /** Added to every sample; values raw (escaped by the poller). */
  labels: { name: string; value: string }[];
  intervalMs: number;
  timeoutMs: number;
  /** Lower-case names; includes `authorization` when auth is configured. */
  headers: Record<string, string>;
  tlsSkipVerify: boolean;
  /** Intervals without a successful poll after which the app is removed. */
  staleAfter: number;
}

export interface PollerConfig {
  /** `poll_other_scrape_endpoints`: nothing is polled unless true. */
  enabled: boolean;
  maxBodyBytes: number;
  targets: PollTarget[];
}

export interface PollDefaults {
  intervalS: number;
  timeoutS: number;
  tlsSkipVerify: boolean;
}

function targetRules(d: PollDefaults) {
  return {
    url: { kind: 'string', default: '', check: urlProblem },
    app: { kind: 'string', default: '', check: (v: string) => (v.length > 1024 ? 'must be at most 1024 characters' : undefined) },
    interval: { kind: 'number', default: d.intervalS, min: 0.05 },
    timeout: { kind: 'number', default: d.timeoutS, min: 0.01 },
    tls_skip_verify: { kind: 'bool', default: d.tlsSkipVerify },
    stale_after: { kind: 'number', default: 3, min: 1 },
    bearer_token: { kind: 'string', default: '', check: headerValueProblem },
  } satisfies Rules;
}

const basicAuthRules = {
  username: { kind: 'string', default: '' },
  password: { kind: 'string', default: '' },
} satisfies Rules;

const TABLE_KEYS = ['labels', 'headers', 'basic_auth'] as const;
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'accept-encoding', 'keep-alive', 'upgrade']);

/** `external_poll: host:port`, the Rust proxy's app name for an endpoint (default port when the URL has none). */
export function externalPollName(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `external_poll: ${url.hostname}:${port}`; // hostname keeps IPv6 brackets
}

/**
 * Resolve the Rust endpoints list and `targets` tables into PollTargets.
 * Problems are appended to `problems`; bad entries are left out.
 */
export function readPollTargets(endpoints: string[], rawTargets: unknown, d: PollDefaults, problems: string[]): PollTarget[] {
  const out: PollTarget[] = [];
  const appOwner = new Map<string, string>();
  const seenUrls = new Set<string>();
  endpoints.forEach((raw, i) => {
    const u = new URL(raw); // already validated by the section rules
    const headers = userInfoAuth(u);
    const url = stripUserInfo(u);
    if (seenUrls.has(url)) return; // the same URL twice would only poll it twice into one app
    seenUrls.add(url);
    const app = externalPollName(u);
    // Two endpoints on one host:port share an app, as in the Rust proxy (keyed by peer address).
    if (!appOwner.has(app)) appOwner.set(app, `poll_external.other_scrape_endpoints[${i}]`);
    out.push({ url, app, source: app, labels: [], intervalMs: ms(d.intervalS), timeoutMs: ms(d.timeoutS), headers, tlsSkipVerify: d.tlsSkipVerify, staleAfter: 3 });
  });
  if (rawTargets === undefined) return out;
  if (!Array.isArray(rawTargets)) {
    problems.push('poll_external.targets: must be an array of tables ([[poll_external.targets]])');
    return out;
  }
  rawTargets.forEach((t, i) => {
    const key = `poll_external.targets[${i}]`;
    const before = problems.length;
    const v = readSection(key, t, targetRules(d), problems, { allowExtra: TABLE_KEYS });
    const table = (isTable(t) ? t : {}) as Record<string, unknown>;
    if (isTable(t) && t.url === undefined) problems.push(`${key}.url: required`);
    const labels = readStringTable(`${key}.labels`, table.labels, problems, labelNameProblem);
    const lowerHeaders = readHeaders(`${key}.headers`, table.headers, problems);
    let auth: string | undefined;
    if (table.basic_auth !== undefined) {
      const b = readSection(`${key}.basic_auth`, table.basic_auth, basicAuthRules, problems);
      if (isTable(table.basic_auth) && table.basic_auth.username === undefined) problems.push(`${key}.basic_auth.username: required`);
      auth = 'Basic ' + Buffer.from(`${b.username}:${b.password}`).toString('base64');
    }
    if (v.bearer_token) {
      if (auth) problems.push(`${key}: set basic_auth or bearer_token, not both`);
      auth = `Bearer ${v.bearer_token}`;
    }
    if (auth && 'authorization' in lowerHeaders) problems.push(`${key}.headers.Authorization: conflicts with basic_auth/bearer_token`);
    if (problems.length > before || !v.url) return;
    const u = new URL(v.url);
    const fromUrl = userInfoAuth(u);
    if (auth && fromUrl.authorization) {
      problems.push(`${key}.url: has user info and basic_auth/bearer_token is set too; use one`);
      return;
    }
    const url = stripUserInfo(u);
    const app = v.app || externalPollName(u);
    const owner = appOwner.get(app);
    if (owner) {
      problems.push(`${key}.app: ${JSON.stringify(app)} is already used by ${owner}; set app to tell them apart`);
      return;
    }
    appOwner.set(app, key);
    out.push({
      url,
      app,
      source: url,
      labels: Object.entries(labels).map(([name, value]) => ({ name, value })),
      intervalMs: ms(v.interval),
      timeoutMs: ms(v.timeout),
      headers: { ...fromUrl, ...lowerHeaders, ...(auth ? { authorization: auth } : {}) },
      tlsSkipVerify: v.tls_skip_verify,
      staleAfter: v.stale_after,
    });
  });
  return out;
}

function ms(seconds: number): number {
  return Math.max(1, Math.round(seconds * 1000));
}

/** A TOML table of string values; `nameProblem` checks each key. */
export function readStringTable(key: string, raw: unknown, problems: string[], nameProblem?: (name: string) => string | undefined): Record<string, string> {
  if (raw === undefined) return {};
  if (!isTable(raw)) {
    problems.push(`${key}: must be a table of strings`);
    return {};
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const why = nameProblem?.(name);
    if (why) problems.push(`${key}.${name}: ${why}`);
    else if (typeof value !== 'string') problems.push(`${key}.${name}: must be a string, got ${Array.isArray(value) ? 'an array' : isTable(value) ? 'a table' : JSON.stringify(value)}`);
    else out[name] = value;
  }
  return out;
}

export function labelNameProblem(name: string): string | undefined {
  if (!isValidLabelName(name)) return `invalid label name ${JSON.stringify(name)} (must match [a-zA-Z_][a-zA-Z0-9_]*)`;
  if (name.startsWith('__')) return `label names starting with "__" are reserved`;
  if (name === 'le' || name === 'quantile') return `label ${name} is reserved for histogram and summary samples`;
  return undefined;
}

/** A `headers` table (name = "value"): names lower-cased; names the proxy sets itself and values with CR, LF or NUL are problems. */
export function readHeaders(key: string, raw: unknown, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(readStringTable(key, raw, problems, headerNameProblem))) {
    const why = headerValueProblem(value);
    if (why) problems.push(`${key}.${name}: ${why}`);
    out[name.toLowerCase()] = value;
  }
  return out;
}

function headerNameProblem(name: string): string | undefined {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return `invalid header name ${JSON.stringify(name)}`;
  if (FORBIDDEN_HEADERS.has(name.toLowerCase())) return `header ${name} is set by the proxy and cannot be configured`;
  return undefined;
}

function headerValueProblem(v: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  return /[\r\n\u0000]/.test(v) ? 'must not contain CR, LF or NUL' : undefined;
}

export function urlProblem(v: string): string | undefined {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : `must be an http or https URL, got ${JSON.stringify(v)}`;
  } catch {
    return `must be a URL, got ${JSON.stringify(v)}`;
  }
}

/** Credentials in the URL become a Basic Authorization header (as reqwest does). */
function userInfoAuth(u: URL): Record<string, string> {
  if (!u.username && !u.password) return {};
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  return { authorization: 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64') };
}

function stripUserInfo(u: URL): string {
  if (!u.username && !u.password) return u.href;
  const c = new URL(u.href);
  c.username = '';
  c.password = '';
  return c.href;
}
