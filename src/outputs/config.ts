// [push_out]: push the store to a Pushgateway, for when the Prometheus that
// should have the data cannot reach this proxy but both reach a Pushgateway.
// Validated in the style of config/schema.ts: every problem names its key.

import { isTable, readSection, type Rules } from '../config/schema.js';
import { isValidLabelName } from '../exposition/text_parse.js';
import { urlProblem } from '../poller/config.js';

export interface PushOutConfig {
  /** Base URL of the Pushgateway, without a trailing slash; '' = off. */
  url: string;
  job: string;
  /** Grouping labels after `job`, in the order given. */
  grouping: { name: string; value: string }[];
  intervalMs: number;
  timeoutMs: number;
}

const rules = {
  url: { kind: 'string', default: '', check: (v: string) => (v === '' ? undefined : urlProblem(v)) },
  job: { kind: 'string', default: 'exporter-proxy', check: (v: string) => (v === '' ? 'must not be empty' : undefined) },
  interval: { kind: 'number', default: 15, min: 1 },
  timeout: { kind: 'number', default: 10, min: 0.1 },
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
  return { url: sec.url.replace(/\/+$/, ''), job: sec.job, grouping, intervalMs: Math.round(sec.interval * 1000), timeoutMs: Math.round(sec.timeout * 1000) };
}
