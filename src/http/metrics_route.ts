// GET /metrics: the cached merged exposition plus the proxy's own metrics,
// written straight to the socket (no copy of the cached body per scrape).

import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { gzipWithTail, type RenderCache } from '../store/render_cache.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface MetricsRouteDeps {
  cache: RenderCache;
  /** The proxy's own metrics, appended after the stored families. */
  ownMetrics: () => Promise<string>;
}

/**
 * How old the own metrics appended to /metrics may be. Rendering them costs
 * about as much as sending a cached gzip answer (~0.1 ms); Prometheus
 * scrapes every few seconds, so a 100 ms old counter is as good as a new
 * one. /-/metrics is always current.
 */
export const OWN_METRICS_MAX_AGE_MS = 100;

/** True when the Accept-Encoding header allows gzip (q > 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().split(';');
    if (coding.trim().toLowerCase() !== 'gzip' && coding.trim() !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

export function registerMetricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  let tailMemo = { at: -Infinity, tail: Promise.resolve(Buffer.alloc(0)) };
  const ownTail = (): Promise<Buffer> => {
    const now = performance.now();
    if (now - tailMemo.at >= OWN_METRICS_MAX_AGE_MS) {
      const tail = deps.ownMetrics().then((t) => Buffer.from(t));
      tailMemo = { at: now, tail };
      tail.catch(() => {
        if (tailMemo.tail === tail) tailMemo.at = -Infinity; // a failure is not remembered
      });
    }
    return tailMemo.tail;
  };
  app.get('/metrics', async (request, reply) => {
    const gzip = acceptsGzip(request.headers['accept-encoding']);
    const compressed = gzip ? await deps.cache.compressedCurrent() : undefined;
    // The render buffer is reused by a later render once released: held until the response is done.
    const held = compressed ? undefined : deps.cache.currentHeld();
    try {
      const tail = await ownTail();
      const parts = compressed ? gzipWithTail(compressed, tail) : [held!.body, tail];
      reply.hijack();
      if (held) reply.raw.once('close', held.release);
      writeParts(reply.raw, parts, gzip);
    } catch (err) {
      held?.release();
      throw err;
    }
  });
  // The proxy's own metrics alone: cheap to scrape often (health dashboards,
  // benchmarks), where /metrics would re-render every stored app after a change.
  app.get('/-/metrics', async (_request, reply) => reply.type(TEXT_CONTENT_TYPE).send(await deps.ownMetrics()));
}

function writeParts(res: ServerResponse, parts: Buffer[], gzip: boolean): void {
  let length = 0;
  for (const p of parts) length += p.length;
  const headers: Record<string, string | number> = { 'content-type': TEXT_CONTENT_TYPE, 'content-length': length, vary: 'Accept-Encoding' };
  if (gzip) headers['content-encoding'] = 'gzip';
  res.writeHead(200, headers);
  for (let i = 0; i < parts.length - 1; i++) res.write(parts[i]);
  res.end(parts[parts.length - 1]);
}
