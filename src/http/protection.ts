// Protection for the scrape port: the HTTP(S) server with its timeouts,
// access control (scrape_auth / admin_auth), and counting of what is refused
// (exporter_proxy_rejected_total{receiver="http",reason}).
//
// Access classes, by method and path (so routes added later, like the
// Pushgateway API, are covered without registering anything):
//   open   /-/healthy, /-/ready (probes; they reveal nothing)
//   scrape GET and HEAD (/metrics, /apps, /targets/..., Pushgateway reads)
//   admin  every other method (push, delete, POST /-/reload, /api/v1/admin/...)
// Admin credentials also open scrape routes.

import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthConfig, HttpConfig } from '../config/http_config.js';
import { BadRequestError, ReadTimeoutError, TooLargeError, type ProxyError } from '../errors.js';

type AnyServer = http.Server | https.Server;

/** Node checks header/request timeouts on this period; short enough for small configured timeouts. */
function checkingInterval(cfg: HttpConfig): number {
  return Math.max(50, Math.min(1000, Math.floor(Math.min(cfg.readTimeoutMs, cfg.headersTimeoutMs) / 4)));
}

/**
 * A fastify `serverFactory` for the configured server: HTTPS when
 * tls_cert_file/tls_key_file are set, with every timeout applied.
 */
export function serverFactory(cfg: HttpConfig): (handler: http.RequestListener) => http.Server {
  return (handler) => {
    const opts = { connectionsCheckingInterval: checkingInterval(cfg), requestTimeout: cfg.readTimeoutMs, headersTimeout: cfg.headersTimeoutMs, keepAliveTimeout: cfg.keepAliveTimeoutMs };
    const server: AnyServer = cfg.tls ? https.createServer({ ...opts, cert: cfg.tls.cert, key: cfg.tls.key }, handler) : http.createServer(opts, handler);
    applyTimeouts(server, cfg);
    // fastify types its raw server as http.Server; an https.Server has the same surface it uses.
    return server as http.Server;
  };
}

/** Set the reloadable timeouts on a running server (new requests use them). */
export function applyTimeouts(server: AnyServer, cfg: HttpConfig): void {
  server.requestTimeout = cfg.readTimeoutMs;
  server.headersTimeout = cfg.headersTimeoutMs;
  server.keepAliveTimeout = cfg.keepAliveTimeoutMs;
  server.setTimeout(cfg.idleTimeoutMs);
}

/** Swap the certificate of a running HTTPS server (reload after rotation). */
export function applyTls(server: AnyServer, tls: HttpConfig['tls']): boolean {
  if (!tls || !(server instanceof https.Server)) return false;
  server.setSecureContext({ cert: tls.cert, key: tls.key });
  return true;
}

export type AccessClass = 'open' | 'scrape' | 'admin';

export function accessClass(method: string, url: string): AccessClass {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === '/-/healthy' || path === '/-/ready') return 'open';
  if ((method === 'GET' || method === 'HEAD') && !path.startsWith('/api/v1/admin')) return 'scrape';
  return 'admin';
}

const digest = (s: string | Buffer) => createHash('sha256').update(s).digest();

/**
 * Does the Authorization header carry these credentials? Compared as
 * SHA-256 digests with timingSafeEqual, so neither the content nor the
 * length of the secret shows in the timing.
 */
export function credentialsMatch(header: string | undefined, auth: AuthConfig): boolean {
  if (!header) return false;
  const sp = header.indexOf(' ');
  if (sp < 0) return false;
  const scheme = header.slice(0, sp).toLowerCase();
  const value = header.slice(sp + 1).trim();
  if (auth.kind === 'basic') {
    if (scheme !== 'basic') return false;
    const given = Buffer.from(value, 'base64');
    return timingSafeEqual(digest(given), digest(`${auth.username}:${auth.password}`));
  }
  if (scheme !== 'bearer') return false;
  return timingSafeEqual(digest(value), digest(auth.token));
}

export interface AccessDeps {
  /** The current [http] config (changes on reload). */
  config: () => HttpConfig;
  /** Count a refusal (`unauthorized`, `too_large`, `read_timeout`, `bad_request`). */
  onReject: (reason: string, detail: string) => void;
}

/** Whether a request may go on: the credentials its access class needs, if any (admin credentials also open scrape routes). */
export function requestAllowed(method: string, url: string, authorization: string | undefined, cfg: HttpConfig): boolean {
  const cls = accessClass(method, url);
  if (cls === 'open') return true;
  const admin = cfg.adminAuth;
  if (cls === 'scrape') return !cfg.scrapeAuth || credentialsMatch(authorization, cfg.scrapeAuth) || (admin !== undefined && credentialsMatch(authorization, admin));
  return !admin || credentialsMatch(authorization, admin);
}

/**
 * Access control and refusal counting on a fastify instance; call before
 * routes are registered so every route gets the hook.
 */
export function installProtection(app: FastifyInstance, deps: AccessDeps): void {
  // (A callback hook, not an async one: no promise per request.)
  app.addHook('onRequest', (request, reply, done) => {
    const cfg = deps.config();
    if (requestAllowed(request.method, request.url, request.headers.authorization, cfg)) return done();
    // Refused: answered here, so the request goes no further (done is not called).
    if (accessClass(request.method, request.url) === 'scrape') refuse(reply, cfg.scrapeAuth!, 'http.scrape_auth', request, deps);
    else refuse(reply, cfg.adminAuth!, 'http.admin_auth', request, deps);
  });
  // Bodies over http.max_body_bytes on routes without an error handler of
  // their own (the push API answers and counts its own, as receiver
  // http_push). Other errors go on to fastify's default handler.
  app.setErrorHandler(async (error: Error & { code?: string }, request, reply) => {
    if (error.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') throw error;
    const detail = `request body is larger than http.max_body_bytes (${request.routeOptions.bodyLimit} bytes)`;
    deps.onReject('too_large', `${request.method} ${request.url.split('?')[0].slice(0, 100)}: ${detail}`);
    return reply.code(413).type('text/plain; charset=utf-8').send(`E_TOO_LARGE: ${detail}\n`);
  });
  app.server.on('clientError', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return;
    deps.onReject(clientErrorAnswer(err).error.reason, err.code ?? err.message);
  });
}

/** How a request node's HTTP parser refused (before any route) is answered, and counted (`error.reason`). */
export function clientErrorAnswer(err: NodeJS.ErrnoException): { status: number; error: ProxyError } {
  // (Node reports both timeouts with this one code.)
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, error: new ReadTimeoutError('request not received in time (http.headers_timeout for its headers, http.read_timeout for all of it); connection closed') };
  if (err.code === 'HPE_HEADER_OVERFLOW') return { status: 431, error: new TooLargeError(`request headers are larger than ${http.maxHeaderSize} bytes (node's --max-http-header-size); connection closed`) };
  return { status: 400, error: new BadRequestError(`malformed HTTP request (${err.code ?? err.message}); connection closed`) };
}

/**
 * fastify's clientErrorHandler: the plain-text `<code>: <message>` every
 * other refusal on this port gets (fastify's default answers JSON that
 * names no setting), then the connection closes, as node's own does.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // (As node's own handler: no answer into a response already under way.)
  const inProgress = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (socket.writable && !inProgress?.headersSent) {
    const { status, error } = clientErrorAnswer(err);
    const body = `${error.code}: ${error.message}\n`;
    socket.write(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

function refuse(reply: FastifyReply, auth: AuthConfig, key: string, request: FastifyRequest, deps: AccessDeps): FastifyReply {
  deps.onReject('unauthorized', `${request.method} ${request.url.split('?')[0]} without valid ${key} credentials`);
  return reply
    .code(401)
    .header('www-authenticate', auth.kind === 'basic' ? 'Basic realm="exporter-proxy", charset="UTF-8"' : 'Bearer realm="exporter-proxy"')
    .type('text/plain; charset=utf-8')
    .send(`401 Unauthorized: ${request.method} ${request.url.split('?')[0].slice(0, 100)} needs ${key} credentials (${auth.kind === 'basic' ? 'HTTP basic' : 'bearer token'})\n`);
}
