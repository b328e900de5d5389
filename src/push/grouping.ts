// The Pushgateway's grouping key, from a push path:
//
//   /metrics/job/<job>{/<label>/<value>}
//   /metrics/job@base64/<b64>{/<label>@base64/<b64>}
//
// Parsed the way the Pushgateway (handler/push.go, splitLabels) does it, so
// the same URL names the same group in both:
//  * the path is percent-decoded *before* it is split, so `%2F` separates
//    components like a plain `/` (a value containing `/` needs `@base64`);
//  * everything after the job is split on `/`; a lone `/` (trailing slash
//    after the job) means no labels, an odd number of components is an
//    error, so `/label/` means label="" and `/a/1/` is rejected;
//  * label names must match `[a-zA-Z_][a-zA-Z0-9_]*` and not start with `__`;
//  * `@base64` values use the URL-safe alphabet; trailing `=` are ignored
//    (so `=` alone is the empty value); anything else that is not base64 is
//    an error. Unlike the Pushgateway, a decoded value must be valid UTF-8
//    (it accepts it, and the group then fails every scrape);
//  * a label repeated in the path keeps its last value; a `job` label in the
//    path is overridden by the job; an empty job is an error.
//
// The app name in the store is the grouping key written as label pairs:
// `job="<job>"` first, then the other labels sorted by name
// (`job="batch",instance="h1"`), values escaped as in the text format, so it
// is deterministic, unique per group, and readable in /apps.

import { isUtf8 } from 'node:buffer';
import { GroupingKeyError, quote } from '../errors.js';
import type { Label } from '../exposition/model.js';
import { escapeLabelValue, isValidLabelName } from '../exposition/text_parse.js';

export const BASE64_SUFFIX = '@base64';
export const PUSH_PREFIX = '/metrics/job';
/** The starts of every push path: fastify's push routes and the fast path (raw_route.ts) take exactly these. */
export const PUSH_PATH_PREFIXES: readonly string[] = [PUSH_PREFIX + '/', PUSH_PREFIX + BASE64_SUFFIX + '/'];

/** Read-only: one key may serve many pushes (GroupingKeyCache). */
export interface GroupingKey {
  /** Raw (unescaped) label values; `job` first, the rest sorted by name. */
  readonly labels: readonly (readonly [name: string, value: string])[];
  /** The store's app name for this group. */
  readonly app: string;
  /** The grouping labels with escaped values, for Update.labels. */
  readonly storeLabels: readonly Label[];
  /** The grouping label names. */
  readonly names: ReadonlySet<string>;
  /** Whether the grouping key has an `instance` label. */
  readonly hasInstance: boolean;
}

/**
 * Decode a URL-safe base64 value as the Pushgateway does (Go's
 * base64.RawURLEncoding after trimming trailing `=`). Throws a
 * GroupingKeyError naming `what` on invalid input or invalid UTF-8.
 */
export function decodeBase64Value(s: string, what: string): string {
  const trimmed = s.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(trimmed) || trimmed.length % 4 === 1) {
    const bad = trimmed.search(/[^A-Za-z0-9_-]/);
    const where = bad >= 0 ? `illegal character at position ${bad}` : `truncated input (${trimmed.length} characters)`;
    throw new GroupingKeyError(`invalid base64 encoding for ${what} ${quote(s)}: ${where}`);
  }
  const bytes = Buffer.from(trimmed, 'base64url');
  if (!isUtf8(bytes)) throw new GroupingKeyError(`${what} ${quote(s)} is not valid UTF-8 after base64 decoding`);
  return bytes.toString('utf8');
}

/**
 * Parse the request path (raw, as sent: percent-encoded, query string
 * allowed). `path` must start with `/metrics/job/` or `/metrics/job@base64/`.
 */
export function parseGroupingPath(rawUrl: string): GroupingKey {
  const path = decodedPath(rawUrl);
  if (path === undefined) throw new GroupingKeyError(`invalid percent-encoding in path ${quote(rawPath(rawUrl))}`);
  let rest: string;
  let jobBase64 = false;
  if (path.startsWith(PUSH_PREFIX + BASE64_SUFFIX + '/')) {
    rest = path.slice(PUSH_PREFIX.length + BASE64_SUFFIX.length + 1);
    jobBase64 = true;
  } else if (path.startsWith(PUSH_PREFIX + '/')) {
    rest = path.slice(PUSH_PREFIX.length + 1);
  } else {
    throw new GroupingKeyError(`path must start with ${PUSH_PREFIX}/ or ${PUSH_PREFIX}${BASE64_SUFFIX}/, got ${quote(path)}`);
  }
  const slash = rest.indexOf('/');
  let job = slash >= 0 ? rest.slice(0, slash) : rest;
  const labelString = slash >= 0 ? rest.slice(slash) : '';
  if (jobBase64) job = decodeBase64Value(job, 'job name');

  const labels = new Map<string, string>();
  if (labelString.length > 1) {
    const parts = labelString.slice(1).split('/');
    if (parts.length % 2 !== 0) throw new GroupingKeyError(`odd number of components in label string ${quote(labelString)}`);
    for (let i = 0; i < parts.length; i += 2) {
      const given = parts[i]!;
      const b64 = given.endsWith(BASE64_SUFFIX);
      const name = b64 ? given.slice(0, -BASE64_SUFFIX.length) : given;
      if (!isValidLabelName(name) || name.startsWith('__')) throw new GroupingKeyError(`improper label name ${quote(name)}`);
      const value = b64 ? decodeBase64Value(parts[i + 1]!, `label ${name}`) : parts[i + 1]!;
      labels.delete(name); // a repeated label keeps its last value
      labels.set(name, value);
    }
  }
  if (job === '') throw new GroupingKeyError('job name is required');
  labels.delete('job');
  const sorted: [string, string][] = [['job', job], ...[...labels].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))];
  return groupingKey(sorted);
}

function rawPath(rawUrl: string): string {
  const q = rawUrl.indexOf('?');
  return q >= 0 ? rawUrl.slice(0, q) : rawUrl;
}

/** The URL's path, percent-decoded; undefined when its percent-encoding is malformed (or not UTF-8). */
export function decodedPath(rawUrl: string): string | undefined {
  const path = rawPath(rawUrl);
  if (!path.includes('%')) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

/** Build the key from label pairs already in order (`job` first, rest sorted). */
export function groupingKey(labels: [string, string][]): GroupingKey {
  const storeLabels = labels.map(([name, value]) => ({ name, value: escapeLabelValue(value) }));
  const app = storeLabels.map((l) => `${l.name}="${l.value}"`).join(',');
  const names = new Set(labels.map(([n]) => n));
  return { labels, app, storeLabels, names, hasInstance: names.has('instance') };
}

/**
 * parseGroupingPath, remembering the keys of the last `size` distinct paths
 * (a client pushes to the same few groups again and again). A hit also
 * hands the store the same app name string as before, whose hash V8 has
 * already computed. Paths that do not parse are not remembered.
 */
export class GroupingKeyCache {
  private readonly keys = new Map<string, GroupingKey>();

  constructor(private readonly size = 4096) {}

  /** Whether the URL's path decodes (see decodedPath); a remembered path does. */
  pathDecodes(rawUrl: string): boolean {
    return this.keys.has(rawUrl) || decodedPath(rawUrl) !== undefined;
  }

  parse(rawUrl: string): GroupingKey {
    let key = this.keys.get(rawUrl);
    if (key !== undefined) return key;
    key = parseGroupingPath(rawUrl);
    if (this.keys.size >= this.size) this.keys.delete(this.keys.keys().next().value!); // the oldest
    this.keys.set(rawUrl, key);
    return key;
  }
}

/**
 * The grouping labels back from an app name written by `groupingKey`, or
 * undefined when the name is not one (an app from another receiver).
 */
export function labelsFromApp(app: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
  let at = 0;
  while (at < app.length) {
    re.lastIndex = at;
    const m = re.exec(app);
    if (!m) return undefined;
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    at = re.lastIndex;
    if (m[3] === '' && at < app.length) return undefined;
  }
  return 'job' in out ? out : undefined;
}
