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
import { GroupingKeyCache, PUSH_PATH_PREFIXES, type GroupingKey } from './grouping.js';
import { bodyText, decodeContent } from './body.js';
import { parseText } from '../exposition/text_parse.js';
import { parseProtobufDelimited } from '../exposition/protobuf_parse.js';
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
export function peerOf(request: IncomingMessage): string {
  const s = request.socket;
  const host = s?.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${s?.remotePort ?? 0}`;
}

/** What a push request is answered: the status, and a plain-text body for a refusal. */
export interface PushAnswer {
  status: number;
  text?: string;
}

const OK: PushAnswer = { status: 200 };
const ACCEPTED: PushAnswer = { status: 202 };

function refusal(err: ProxyError): PushAnswer {
  return { status: err instanceof TooLargeError ? 413 : 400, text: `${err.code}: ${err.message}\n` };
}

/** A push request, as far as the answer depends on more than its body. */
export interface PushRequest {
  method: string;
  /** The raw request URL (path and query), as the client sent it. */
  url: string;
  /** The Content-Type as sent (it chooses the format). */
  contentType: string | undefined;
  /** The client, for the store's `source` and the logs. */
  source: string;
}

/**
 * PUT, POST and DELETE on a grouping-key path, whichever way the request
 * came in (fastify's route, or rawPushRoute's fast path): parse, apply,
 * and the answer. Refusals are ProxyErrors turned into answers, reported
 * through onReject; anything else thrown is a bug and propagates.
 * Synchronous unless the body has a Content-Encoding to undo.
 */
export class PushHandler {
  private readonly groupingKeys = new GroupingKeyCache();

  constructor(private readonly deps: Pick<PushRouteDeps, 'push' | 'maxBodyBytes' | 'onReject'>) {}

  /**
   * Whether the URL's path decodes. One that does not is fastify's router's
   * to refuse (E_BAD_URL), before any route: rawPushRoute leaves it to it.
   */
  pathDecodes(url: string): boolean {
    return this.groupingKeys.pathDecodes(url);
  }

  /** The answer to `req` with its body as read, `contentEncoding` (if any) not undone yet. */
  answer(req: PushRequest, body: Buffer, contentEncoding: string | undefined): PushAnswer | Promise<PushAnswer> {
    if (contentEncoding === undefined || req.method === 'DELETE') return this.answerDecoded(req, body);
    let key: GroupingKey;
    try {
      key = this.groupingKeys.parse(req.url); // a bad path is the error to report, before the body's
    } catch (err) {
      return this.refused(err, undefined, req);
    }
    return decodeContent(body, contentEncoding, this.deps.maxBodyBytes).then(
      (body) => this.answerDecoded(req, body),
      (err: unknown) => this.refused(err, key, req),
    );
  }

  /** answer() of a request whose body is `body`, decoded already (or without a Content-Encoding). */
  answerDecoded(req: PushRequest, body: Buffer): PushAnswer {
    let key: GroupingKey | undefined;
    try {
      key = this.groupingKeys.parse(req.url);
      if (req.method === 'DELETE') {
        this.deps.push.delete(key);
        return ACCEPTED;
      }
      const text = bodyText(body, req.contentType);
      const tail = this.deps.push.timeFamilies(key);
      // A push of the series the group holds, new values only (the usual), is stored without a parse.
      if (text !== undefined && this.deps.push.pushRepeat(key, text, req.source, tail)) return OK;
      let payload;
      try {
        payload = text === undefined ? parseProtobufDelimited(body) : parseText(text);
      } catch (err) {
        // Inconsistent rather than malformed: the Pushgateway sets the failure time for these.
        if (err instanceof DuplicateSeriesError || err instanceof LimitError) this.deps.push.recordFailure(key, req.source);
        throw err;
      }
      this.deps.push.push(key, payload, req.method === 'PUT', req.source, tail);
      return OK;
    } catch (err) {
      return this.refused(err, key, req);
    }
  }

  private refused(err: unknown, key: GroupingKey | undefined, req: PushRequest): PushAnswer {
    if (!(err instanceof ProxyError)) throw err;
    if (!this.deps.push.isStoreRejection(err)) this.deps.onReject?.(err, { source: req.source, app: key?.app, method: req.method });
    return refusal(err);
  }
}

function sendAnswer(reply: FastifyReply, answer: PushAnswer): FastifyReply {
  reply.code(answer.status);
  return answer.text === undefined ? reply.send() : reply.type(TEXT).send(answer.text);
}

/**
 * Register the push API on `app`. Returns the PushHandler its push routes
 * use, for rawPushRoute to serve the same requests without fastify.
 */
export function registerPushRoutes(app: FastifyInstance, deps: PushRouteDeps): PushHandler {
  const startTime = deps.startTime ?? new Date();
  const pushes = new PushHandler(deps);
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
      deps.onReject?.(err, { source: peerOf(request.raw), method: request.method });
      return sendAnswer(reply, refusal(err));
    });

    const handler = (request: FastifyRequest, reply: FastifyReply) => {
      const answer = pushes.answer(
        { method: request.method, url: request.raw.url ?? '', contentType: ORIGINAL_CONTENT_TYPE.get(request.raw), source: peerOf(request.raw) },
        (request.body as Buffer | undefined) ?? EMPTY,
        request.headers['content-encoding'],
      );
      return answer instanceof Promise ? answer.then((a) => sendAnswer(reply, a)) : sendAnswer(reply, answer);
    };
    for (const prefix of PUSH_PATH_PREFIXES) {
      scope.route({ method: ['PUT', 'POST', 'DELETE'], url: `${prefix}*`, bodyLimit: deps.maxBodyBytes, handler });
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
  return pushes;
}
