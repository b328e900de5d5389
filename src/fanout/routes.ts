// GET /targets (groups and their instances, as a table or JSON, like /apps)
// and GET /targets/<group>/metrics (the group's merged exposition).

import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { DiscoveryError } from '../errors.js';
import { formatUtc, renderFramedTable, wantsJson } from '../http/apps_route.js';
import { acceptsGzip, TEXT_CONTENT_TYPE } from '../http/metrics_route.js';
import type { FanoutApi, GroupListing } from './groups.js';

const gzip = promisify(zlib.gzip);

export function registerFanoutRoutes(app: FastifyInstance, deps: { fanout: FanoutApi; now: () => number }): void {
  app.get('/targets', async (request, reply) => {
    const groups = await deps.fanout.list();
    if (wantsJson(request)) return reply.send(targetsJson(groups));
    return reply.type('text/plain; charset=utf-8').send(targetsTable(groups, deps.now()));
  });

  app.get<{ Params: { group: string } }>('/targets/:group/metrics', async (request, reply) => {
    const { group } = request.params;
    let answer;
    try {
      answer = await deps.fanout.fetch(group);
    } catch (err) {
      if (err instanceof DiscoveryError) return reply.code(503).type('text/plain; charset=utf-8').send(`fan-out group ${JSON.stringify(group)}: ${err.message}\n`);
      throw err;
    }
    if (!answer) {
      const known = deps.fanout.names();
      return reply.code(404).type('text/plain; charset=utf-8').send(`no fan-out group named ${JSON.stringify(group)}; configured: ${known.length ? known.join(', ') : 'none'}\n`);
    }
    reply.header('content-type', TEXT_CONTENT_TYPE).header('vary', 'Accept-Encoding');
    if (acceptsGzip(request.headers['accept-encoding'])) return reply.header('content-encoding', 'gzip').send(await gzip(answer.text));
    return reply.send(answer.text);
  });
}

function labelText(labels: { name: string; value: string }[]): string {
  return labels.map((l) => `${l.name}=${JSON.stringify(l.value)}`).join(',');
}

export function targetsTable(groups: GroupListing[], now: number): string {
  const rows: string[][] = [];
  for (const g of groups) {
    if (g.instances.length === 0) rows.push([g.group, g.discovery, '', '', '', '', g.error ?? 'no instances']);
    for (const i of g.instances) {
      const f = i.lastFetch;
      rows.push([
        g.group,
        g.discovery,
        String(i.index),
        i.instance,
        i.url,
        f ? `${formatUtc(f.at)} (${f.ok ? 'up' : 'down'}, ${Math.round(f.durationMs)} ms)` : 'never',
        [f?.error, g.error && `discovery: ${g.error}`, labelText([...g.labels, ...i.labels])].filter(Boolean).join('; '),
      ]);
    }
  }
  return renderFramedTable({ head: ['Group', 'Discovery', 'Index', 'Instance', 'URL', 'Last Fetch (UTC)', 'Error / Labels'], rows, now });
}

export function targetsJson(groups: GroupListing[]) {
  return groups.map((g) => ({
    group: g.group,
    discovery: g.discovery,
    labels: Object.fromEntries(g.labels.map((l) => [l.name, l.value])),
    error: g.error ?? null,
    instances: g.instances.map((i) => ({
      index: i.index,
      instance: i.instance,
      url: i.url,
      labels: Object.fromEntries(i.labels.map((l) => [l.name, l.value])),
      last_fetch: i.lastFetch ? { at: new Date(i.lastFetch.at).toISOString(), up: i.lastFetch.ok, duration_ms: Math.round(i.lastFetch.durationMs), error: i.lastFetch.error ?? null } : null,
    })),
  }));
}
