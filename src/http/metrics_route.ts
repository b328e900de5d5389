// GET /metrics: the cached merged exposition plus the proxy's own metrics,
// written straight to the socket (no copy of the cached body per scrape).

import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipWithTail, type RenderCache } from '../store/render_cache.js';
import type { FastPathGuard } from './server.js';

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

/**
 * GET /metrics answered on node's request and response: the fastify route
 * and the fast path (rawMetricsRoute) both run this, so they answer alike.
 * Owns the memo of the own-metrics tail.
 */
export class MetricsAnswers {
  private tailMemo = { at: -Infinity, tail: Promise.resolve(Buffer.alloc(0)) };

  constructor(private readonly deps: MetricsRouteDeps) {}

  /** Answers `res`; a failure before anything is written is a plain-text 500. Never rejects. */
  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    try {
      const compressed = gzip ? await this.deps.cache.compressedCurrent() : undefined;
      const tail = await this.ownTail();
      // A client gone during the awaits: its 'close' has fired, and a hold taken now would never be released.
      if (res.destroyed) return;
      if (compressed) return writeParts(res, gzipWithTail(compressed, tail), true);
      // The render buffer is reused by a later render once released: held until the response is done.
      const held = this.deps.cache.currentHeld();
      res.once('close', held.release);
      writeParts(res, [held.body, tail], false);
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      const text = `${(err as Error).message}\n`;
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    }
  }

  /** The proxy's own metrics as they are now (/-/metrics); the copy appended to /metrics may be older. */
  ownMetrics(): Promise<string> {
    return this.deps.ownMetrics();
  }

  private ownTail(): Promise<Buffer> {
    const now = performance.now();
    if (now - this.tailMemo.at >= OWN_METRICS_MAX_AGE_MS) {
      const tail = this.deps.ownMetrics().then((t) => Buffer.from(t));
      this.tailMemo = { at: now, tail };
      tail.catch(() => {
        if (this.tailMemo.tail === tail) this.tailMemo.at = -Infinity; // a failure is not remembered
      });
    }
    return this.tailMemo.tail;
  }
}

export function registerMetricsRoute(app: FastifyInstance, answers: MetricsAnswers): void {
  app.get('/metrics', (request, reply) => {
    reply.hijack();
    return answers.serve(request.raw, reply.raw);
  });
  // The proxy's own metrics alone: cheap to scrape often (health dashboards,
  // benchmarks), where /metrics would re-render every stored app after a change.
  app.get('/-/metrics', async (_request, reply) => reply.type(TEXT_CONTENT_TYPE).send(await answers.ownMetrics()));
}

/**
 * A request listener to run before fastify's (as push/raw_route.ts): takes a
 * plain GET /metrics that fastify would let through to its route, and
 * answers it without fastify's per-request objects and hooks (12 µs of
 * the 104 µs of CPU a gzip scrape took at 100,000 series, A/B). Returns false to hand the
 * request on untouched: HEAD, a body, access refused, the server closing.
 */
export function rawMetricsRoute(answers: MetricsAnswers, guard: FastPathGuard): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '';
    if (!(url === '/metrics' || url.startsWith('/metrics?'))) return false;
    const headers = req.headers;
    if (headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0')) return false;
    if (guard.closing() || !guard.allowed(req)) return false;
    void answers.serve(req, res);
    return true;
  };
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
