// The Pushgateway HTTP API on the scrape port:
//
//   PUT|POST|DELETE /metrics/job/<job>{/<label>/<value>}   (and the @base64 forms)
//   GET /api/v1/metrics, GET /api/v1/status, PUT /api/v1/admin/wipe
//
// Registered as one encapsulated fastify plugin, so its body handling (every
// content type read as a raw Buffer, up to http_push.max_body_bytes) and its
// plain-text error replies apply to these routes only.
//
// Status codes follow the Pushgateway: 200 for an accepted PUT/POST, 202 for
// DELETE and wipe, 400 with `<code>: <message>` for a malformed or
// inconsistent push (nothing changes), 413 for a body over the limit.

import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DuplicateSeriesError, LimitError, ProxyError, TooLargeError } from '../errors.js';
import type { Store } from '../store/store.js';
import { GroupingKeyCache, type GroupingKey } from './grouping.js';
import { decodeContent, parseBody } from './body.js';
import type { PushService } from './service.js';
import { metricsJson } from './api_json.js';

export interface PushRouteDeps {
  push: PushService;
  store: Store;
  /** Largest request body, before and after gzip decompression. */
  maxBodyBytes: number;
  /** For GET /api/v1/status `flags` (Pushgateway flag names where one fits). */
  flags?: Record<string, string>;
  startTime?: Date;
  /**
   * A push rejected before it reached the store (path, encoding, syntax, size);
   * store rejections are reported by the store's own hook.
   */
  onReject?: (err: ProxyError, ctx: { source: string; app?: string; method: string }) => void;
}

const TEXT = 'text/plain; charset=utf-8';
const EMPTY = Buffer.alloc(0);
const ORIGINAL_CONTENT_TYPE = new WeakMap<IncomingMessage, string | undefined>();

let cachedVersion: string | undefined;
function version(): string {
  if (cachedVersion === undefined) {
    try {
      cachedVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      cachedVersion = 'unknown';
    }
  }
  return cachedVersion;
}

/** `host:port` of the client, `[v6]:port` for IPv6. */
export function peerOf(request: FastifyRequest): string {
  const s = request.raw.socket;
  const host = s?.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${s?.remotePort ?? 0}`;
}

function sendError(reply: FastifyReply, err: ProxyError): FastifyReply {
  return reply
    .code(err instanceof TooLargeError ? 413 : 400)
    .type(TEXT)
    .send(`${err.code}: ${err.message}\n`);
}

export function registerPushRoutes(app: FastifyInstance, deps: PushRouteDeps): void {
  const startTime = deps.startTime ?? new Date();
  const groupingKeys = new GroupingKeyCache();
  app.register(async (scope) => {
    // Any Content-Type (or none) is the push body as bytes; the format is
    // chosen from the original header, as the Pushgateway does. The header
    // is replaced for fastify so a media type it cannot parse is not a 415.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.maxBodyBytes }, (_req, body, done) => done(null, body));
    // (A callback hook, not an async one: no promise per push.)
    scope.addHook('onRequest', (request, _reply, done) => {
      const headers = request.raw.headers;
      ORIGINAL_CONTENT_TYPE.set(request.raw, headers['content-type']);
      if (headers['content-type'] !== undefined) headers['content-type'] = 'application/octet-stream';
      done();
    });
    scope.setErrorHandler(async (error: Error & { code?: string; statusCode?: number }, request, reply) => {
      const err =
        error instanceof ProxyError
          ? error
          : error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? new TooLargeError(`request body is larger than http_push.max_body_bytes (${deps.maxBodyBytes} bytes)`)
            : undefined;
      if (!err) return reply.code(error.statusCode && error.statusCode >= 400 ? error.statusCode : 500).type(TEXT).send(`${error.message}\n`);
      deps.onReject?.(err, { source: peerOf(request), method: request.method });
      return sendError(reply, err);
    });

    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const source = peerOf(request);
      let key: GroupingKey | undefined;
      try {
        key = groupingKeys.parse(request.raw.url ?? '');
        if (request.method === 'DELETE') {
          deps.push.delete(key);
          return reply.code(202).send();
        }
        const raw = (request.body as Buffer | undefined) ?? EMPTY;
        const encoding = request.headers['content-encoding'];
        const body = encoding === undefined ? raw : await decodeContent(raw, encoding, deps.maxBodyBytes);
        let payload;
        try {
          payload = parseBody(body, ORIGINAL_CONTENT_TYPE.get(request.raw));
        } catch (err) {
          // Inconsistent rather than malformed: the Pushgateway sets the failure time for these.
          if (err instanceof DuplicateSeriesError || err instanceof LimitError) deps.push.recordFailure(key, source);
          throw err;
        }
        deps.push.push(key, payload, request.method === 'PUT', source);
        return reply.code(200).send();
      } catch (err) {
        if (!(err instanceof ProxyError)) throw err;
        if (!deps.push.isStoreRejection(err)) deps.onReject?.(err, { source, app: key?.app, method: request.method });
        return sendError(reply, err);
      }
    };
    for (const url of ['/metrics/job/*', '/metrics/job@base64/*']) {
      scope.route({ method: ['PUT', 'POST', 'DELETE'], url, bodyLimit: deps.maxBodyBytes, handler });
    }

    scope.get('/api/v1/metrics', async (_request, reply) => reply.type('application/json').send({ status: 'success', data: metricsJson(deps.store) }));
    scope.get('/api/v1/status', async (_request, reply) =>
      reply.type('application/json').send({
        status: 'success',
        data: {
          build_information: { version: version(), revision: '', branch: '', buildUser: '', buildDate: '', goVersion: `node ${process.version}` },
          flags: { 'push.disable-consistency-check': 'false', 'web.enable-admin-api': 'true', 'web.telemetry-path': '/metrics', ...deps.flags },
          start_time: startTime.toISOString(),
        },
      }),
    );
    scope.put('/api/v1/admin/wipe', async (_request, reply) => {
      deps.push.wipe();
      return reply.code(202).send();
    });
  });
}
