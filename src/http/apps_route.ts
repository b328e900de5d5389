// GET /apps: what the store holds, as the Rust proxy's text table (with
// Series, Expires and Last Error added) or as JSON when asked.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import Table from 'cli-table3';
import type { AppInfo } from '../store/store.js';

/** YYYY-MM-DD HH:MM:SS.mmm UTC, the Rust proxy's layout at millisecond precision. */
export function formatUtc(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');
}

const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Make any string safe for one table cell: control characters (ANSI escapes
 * included), line separators, bidi overrides and box-drawing characters (which
 * could fake the table's borders) become visible escapes.
 */
export function cellText(s: string, max = 200): string {
  // eslint-disable-next-line no-control-regex
  const safe = s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\u2500-\u257f]/g, (c) => NAMED_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return safe.length > max ? safe.slice(0, max) + '…' : safe;
}

export function wantsJson(request: FastifyRequest): boolean {
  const q = request.query as Record<string, string | undefined>;
  if (q?.format) return q.format === 'json';
  return (request.headers.accept ?? '').includes('application/json');
}

export interface TableOptions {
  head: string[];
  rows: string[][];
  now: number;
}

/** A table inside a "Current time" frame, as the Rust proxy prints it; shared by /apps and /targets. */
export function renderFramedTable({ head, rows, now }: TableOptions): string {
  const style = { head: [] as string[], border: [] as string[] };
  const inner = new Table({ head, style });
  for (const r of rows) inner.push(r.map((c) => cellText(c)));
  const outer = new Table({ style });
  outer.push([`Current time: ${formatUtc(now)}`]);
  outer.push([inner.toString()]);
  return outer.toString() + '\n';
}

export function appsTable(apps: AppInfo[], now: number): string {
  const rows = apps.map((a) => [
    a.app,
    a.updatedAt === undefined ? 'never' : formatUtc(a.updatedAt),
    a.source,
    String(a.series),
    a.expiresAt === undefined ? 'never' : formatUtc(a.expiresAt),
    a.lastError ? `${a.lastError.code}: ${a.lastError.message}` : '',
  ]);
  return renderFramedTable({ head: ['App Name', 'Last Update Time (UTC)', 'Source', 'Series', 'Expires (UTC)', 'Last Error'], rows, now });
}

export function appsJson(apps: AppInfo[]) {
  return apps.map((a) => ({
    app: a.app,
    source: a.source,
    receiver: a.receiver,
    last_update: a.updatedAt === undefined ? null : new Date(a.updatedAt).toISOString(),
    expires: a.expiresAt === undefined ? null : new Date(a.expiresAt).toISOString(),
    series: a.series,
    last_error: a.lastError ? { code: a.lastError.code, message: a.lastError.message, at: new Date(a.lastError.at).toISOString() } : null,
  }));
}

export function registerAppsRoute(app: FastifyInstance, deps: { listApps: () => AppInfo[]; now: () => number }): void {
  app.get('/apps', async (request, reply) => {
    const apps = deps.listApps().sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0));
    if (wantsJson(request)) return reply.send(appsJson(apps));
    return reply.type('text/plain; charset=utf-8').send(appsTable(apps, deps.now()));
  });
}
