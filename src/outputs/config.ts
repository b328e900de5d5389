// The outputs' config sections, validated in the style of config/schema.ts
// (every problem names its key):
//   [push_out]: push the store to a Pushgateway;
//   [remote_write]: send it with Prometheus remote_write.

import { isTable, readSection, type Rules } from '../config/schema.js';
import { isValidLabelName } from '../exposition/text_parse.js';
import { readHeaders, urlProblem } from '../poller/config.js';
import type { OutputSettings } from './sender.js';

export interface PushOutConfig {
  /** Base URL of the Pushgateway, without a trailing slash; '' = off. */
  url: string;
  job: string;
  /** Grouping labels after `job`, in the order given. */
  grouping: { name: string; value: string }[];
  intervalMs: number;
  timeoutMs: number;
}

/** The keys every output has (Sender's OutputSettings). */
const senderRules = {
  url: { kind: 'string', default: '', check: (v: string) => (v === '' ? undefined : urlProblem(v)) },
  interval: { kind: 'number', default: 15, min: 1 },
  timeout: { kind: 'number', default: 10, min: 0.1 },
} as const satisfies Rules;

/** The OutputSettings of a section read with senderRules (seconds to ms). */
function senderSettings(sec: { url: string; interval: number; timeout: number }): OutputSettings {
  return { url: sec.url, intervalMs: Math.round(sec.interval * 1000), timeoutMs: Math.round(sec.timeout * 1000) };
}

const rules = {
  ...senderRules,
  job: { kind: 'string', default: 'exporter-proxy', check: (v: string) => (v === '' ? 'must not be empty' : undefined) },
} as const satisfies Rules;

/** Read [push_out]; problems are appended. */
export function readPushOut(table: unknown, problems: string[]): PushOutConfig {
  const sec = readSection('push_out', table, rules, problems, { allowExtra: ['grouping'] });
  const grouping: PushOutConfig['grouping'] = [];
  const raw = isTable(table) ? table.grouping : undefined;
  if (raw !== undefined && !isTable(raw)) problems.push('push_out.grouping: must be a table of label = "value"');
  for (const [name, value] of Object.entries(isTable(raw) ? raw : {})) {
    const key = `push_out.grouping.${name}`;
    if (!isValidLabelName(name) || name.startsWith('__')) problems.push(`${key}: not a valid label name`);
    else if (name === 'job') problems.push(`${key}: job is set by push_out.job`);
    else if (typeof value !== 'string' || value === '') problems.push(`${key}: must be a non-empty string`);
    else grouping.push({ name, value });
  }
  return { ...senderSettings(sec), url: sec.url.replace(/\/+$/, ''), job: sec.job, grouping };
}

export interface RemoteWriteConfig {
  /** The receiver's write URL ('' = off), e.g. http://prometheus:9090/api/v1/write. */
  url: string;
  intervalMs: number;
  timeoutMs: number;
  /** Extra request headers, names lower-cased (Authorization, X-Scope-OrgID for Mimir, ...). */
  headers: Record<string, string>;
}

/** Read [remote_write]; problems are appended. */
export function readRemoteWrite(table: unknown, problems: string[]): RemoteWriteConfig {
  const sec = readSection('remote_write', table, senderRules, problems, { allowExtra: ['headers'] });
  const headers = readHeaders('remote_write.headers', isTable(table) ? table.headers : undefined, problems);
  for (const name of ['content-type', 'content-encoding', 'x-prometheus-remote-write-version']) {
    if (name in headers) problems.push(`remote_write.headers.${name}: set by the proxy`);
  }
  return { ...senderSettings(sec), headers };
}
