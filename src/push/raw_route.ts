// The push routes' fast path: PUT, POST and DELETE on a grouping-key path
// served straight from node:http, before fastify sees the request.
//
// Fastify's per-request machinery (request and reply objects, hooks, the
// content-type parser, promises) cost ~15 µs of the ~165 µs main-thread time
// of a 100-series push: measured A/B in alternating turns, ~10% more pushes/s.
// The push itself is PushHandler's, the same code fastify's route runs.
//
// Only requests the fast path answers exactly as fastify's route would are
// taken: a path that decodes, a plain body (no Content-Encoding, no chunked
// transfer) within the body limit, access allowed, the server not closing. Everything else, and so
// every refusal before the push is parsed (401, 413, 503, 404), goes to
// fastify, which answers and counts it as before.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastPathGuard } from '../http/server.js';
import { PUSH_PATH_PREFIXES } from './grouping.js';
import { peerOf, type PushAnswer, type PushHandler } from './routes.js';

export interface RawPushRouteOptions extends FastPathGuard {
  /** http_push.max_body_bytes: a longer body is left to fastify (its 413). */
  maxBodyBytes: number;
}

const TEXT = 'text/plain; charset=utf-8';
const EMPTY = Buffer.alloc(0);

/** A push path of the Pushgateway API (what fastify's push routes match). */
function isPushPath(url: string): boolean {
  for (const prefix of PUSH_PATH_PREFIXES) if (url.startsWith(prefix)) return true;
  return false;
}

/**
 * A request listener to run before fastify's: true when it has taken the
 * request (it answers it), false to hand it on untouched.
 */
export function rawPushRoute(pushes: PushHandler, opts: RawPushRouteOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const method = req.method;
    if (method !== 'PUT' && method !== 'POST' && method !== 'DELETE') return false;
    const url = req.url ?? '';
    if (!isPushPath(url) || !pushes.pathDecodes(url)) return false;
    const headers = req.headers;
    if (headers['content-encoding'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
    // Without Content-Length or Transfer-Encoding, HTTP/1.1 says the body is empty.
    const length = headers['content-length'] === undefined ? 0 : Number(headers['content-length']);
    if (!(length <= opts.maxBodyBytes) || opts.closing() || !opts.allowed(req)) return false;

    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A client gone mid-body (the request errors or is aborted): nothing is stored, no one to answer.
    req.on('error', () => {});
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? EMPTY : Buffer.concat(chunks);
      let answer: PushAnswer;
      try {
        answer = pushes.answerDecoded({ method, url, contentType: headers['content-type'], source: peerOf(req) }, body);
      } catch (err) {
        answer = { status: 500, text: `${(err as Error).message}\n` }; // a bug, as fastify would answer it
      }
      send(res, answer);
    });
    return true;
  };
}

/** The answer with the headers fastify's route sends for it. */
function send(res: ServerResponse, answer: PushAnswer): void {
  if (answer.text === undefined) {
    res.writeHead(answer.status, { 'content-length': 0 });
    res.end();
    return;
  }
  res.writeHead(answer.status, { 'content-type': TEXT, 'content-length': Buffer.byteLength(answer.text) });
  res.end(answer.text);
}
