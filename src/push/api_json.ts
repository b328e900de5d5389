// GET /api/v1/metrics in the Pushgateway's JSON shape, built from what the
// store holds for each pushed group:
//
//   {"status":"success","data":[{"labels":{...},"last_push_successful":true,
//     "<family>":{"time_stamp":"<RFC 3339>","type":"COUNTER","help":"...",
//       "metrics":[{"labels":{...},"value":"1"}]}, ...}]}
//
// Histograms carry "buckets" (upper bound -> cumulative count), "count" and
// "sum"; summaries "quantiles", "count" and "sum". Floats are written as Go
// writes them (`1.234567e+06`), counts as integers, as the Pushgateway does.

import type { MetricType } from '../exposition/model.js';
import { parseText, unescapeHelp, unescapeLabelValue } from '../exposition/text_parse.js';
import { renderHeader } from '../exposition/text_render.js';
import { formatGoFloat } from '../exposition/protobuf_parse.js';
import type { Store } from '../store/store.js';
import { labelsFromApp } from './grouping.js';
import { PUSH_FAILURE_TIME, PUSH_TIME, RECEIVER, lastValue } from './service.js';

type JsonMetric = Record<string, unknown> & { labels: Record<string, string> };

export interface JsonFamily {
  time_stamp: string;
  type: string;
  help?: string;
  metrics: JsonMetric[];
}

/** A Go ParseFloat-compatible string (as the parser validated it) -> number. */
export function goFloat(s: string): number {
  const t = s.toLowerCase().replace(/^\+/, '');
  if (t === 'nan') return NaN;
  if (t === 'inf' || t === 'infinity') return Infinity;
  if (t === '-inf' || t === '-infinity') return -Infinity;
  return Number(s);
}

function goCount(s: string): string {
  const v = goFloat(s);
  return Number.isInteger(v) && Math.abs(v) <= Number.MAX_SAFE_INTEGER ? String(v) : formatGoFloat(v);
}

/** One family's samples (pre-rendered text) as the Pushgateway's JSON metrics. */
export function familyMetrics(name: string, type: MetricType, text: string): JsonMetric[] {
  const parsed = parseText(renderHeader(name, type) + text).families.find((f) => f.name === name);
  if (!parsed) return [];
  const out: JsonMetric[] = [];
  const byLabels = new Map<string, JsonMetric>();
  for (const s of parsed.samples) {
    const labels: Record<string, string> = {};
    let bound: string | undefined;
    for (const l of s.labels) {
      if ((type === 'histogram' && l.name === 'le' && s.name === name + '_bucket') || (type === 'summary' && l.name === 'quantile' && s.name === name)) bound = l.value;
      else labels[l.name] = unescapeLabelValue(l.value);
    }
    const sorted = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (type !== 'histogram' && type !== 'summary') {
      out.push({ labels: sorted, value: formatGoFloat(goFloat(s.value)) });
      continue;
    }
    const key = JSON.stringify(sorted);
    let m = byLabels.get(key);
    if (!m) {
      m = type === 'histogram' ? { labels: sorted, buckets: {} as Record<string, string>, count: '0', sum: '0' } : { labels: sorted, quantiles: {} as Record<string, string>, count: '0', sum: '0' };
      byLabels.set(key, m);
      out.push(m);
    }
    if (s.name === name + '_sum') m.sum = formatGoFloat(goFloat(s.value));
    else if (s.name === name + '_count') m.count = goCount(s.value);
    else if (type === 'histogram' && bound !== undefined) (m.buckets as Record<string, string>)[formatGoFloat(goFloat(bound))] = goCount(s.value);
    else if (bound !== undefined) (m.quantiles as Record<string, string>)[formatGoFloat(goFloat(bound))] = formatGoFloat(goFloat(s.value));
  }
  return out;
}

/** The `data` array of GET /api/v1/metrics. */
export function metricsJson(store: Store): Record<string, unknown>[] {
  const data: Record<string, unknown>[] = [];
  const apps = store
    .listApps()
    .filter((a) => a.receiver === RECEIVER && a.updatedAt !== undefined)
    .sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0));
  for (const info of apps) {
    const held = store.getApp(info.app);
    if (!held) continue;
    const group: Record<string, unknown> = { labels: labelsFromApp(info.app) ?? {} };
    const pushed = goFloat(lastValue(store.familyText(info.app, PUSH_TIME)) ?? '0');
    const failed = goFloat(lastValue(store.familyText(info.app, PUSH_FAILURE_TIME)) ?? '0');
    group.last_push_successful = !(failed > pushed);
    for (const f of held.families) {
      const fam: JsonFamily = { time_stamp: new Date(f.writtenAt).toISOString(), type: f.type.toUpperCase(), metrics: familyMetrics(f.name, f.type, f.text) };
      if (f.help !== undefined && f.help !== '') fam.help = unescapeHelp(f.help);
      group[f.name] = fam;
    }
    data.push(group);
  }
  return data;
}
