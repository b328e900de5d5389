// The fastify instance on scrape_expose_endpoint. Routes know only the small
// interfaces they are handed (a render cache, an app lister), never sources.

import type http from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { registerMetricsRoute, type MetricsAnswers } from './metrics_route.js';
import { registerAppsRoute } from './apps_route.js';
import type { AppInfo } from '../store/store.js';
import { BadUrlError, ProxyError, quote } from '../errors.js';
import { answerClientError } from './protection.js';

export interface HttpDeps {
  /** GET /metrics (shared with its fast path) and /-/metrics: http/metrics_route.ts. */
  metrics: MetricsAnswers;
  listApps: () => AppInfo[];
  now: () => number;
  /** False until every listener is up. */
  ready: () => boolean;
  bodyLimit?: number;
  /** Socket idle timeout for HTTP connections, ms. */
  connectionTimeoutMs?: number;
  /** Builds the raw server (HTTPS, timeouts); see http/protection.ts. */
  serverFactory?: (handler: http.RequestListener) => http.Server;
  /** Runs before any route is registered (hooks that must cover every route: access control). */
  beforeRoutes?: (app: FastifyInstance) => void;
  /**
   * Sees each request before fastify (with serverFactory only): true when it
   * has taken the request and answers it itself (the fast paths for pushes,
   * push/raw_route.ts, and scrapes, rawMetricsRoute), false to leave it to fastify.
   */
  fastPath?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}

/**
 * When a fast path may take a request, as fastify would decide it before any
 * route: the access check of its onRequest hook (http/protection.ts), and
 * not while closing (fastify answers 503 then).
 */
export interface FastPathGuard {
  allowed: (req: http.IncomingMessage) => boolean;
  closing: () => boolean;
}

function withFastPath(factory: HttpDeps['serverFactory'], fastPath: HttpDeps['fastPath']): HttpDeps['serverFactory'] {
  if (!factory || !fastPath) return factory;
  return (handler) =>
    factory((req, res) => {
      if (!fastPath(req, res)) handler(req, res);
    });
}

export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimit ?? 16 * 1024 * 1024,
    connectionTimeout: deps.connectionTimeoutMs ?? 0,
    requestTimeout: 60_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    serverFactory: withFastPath(deps.serverFactory, deps.fastPath),
    clientErrorHandler: answerClientError,
    // A path the router cannot decode gets the plain-text 400 every other
    // refusal here gets (fastify's default is JSON).
    frameworkErrors: (error, req, reply) => {
      const err = error.code === 'FST_ERR_BAD_URL' ? new BadUrlError(`request path ${quote(req.url)} has a malformed percent-encoding`) : new ProxyError(error.message);
      (reply as FastifyReply).code(400).type('text/plain; charset=utf-8').send(`${err.code}: ${err.message}\n`);
    },
  });
  deps.beforeRoutes?.(app);
  registerMetricsRoute(app, deps.metrics);
  registerAppsRoute(app, deps);
  app.get('/-/healthy', async (_req, reply) => reply.type('text/plain').send('OK\n'));
  app.get('/-/ready', async (_req, reply) => (deps.ready() ? reply.type('text/plain').send('OK\n') : reply.code(503).type('text/plain').send('starting\n')));
  app.get('/', async (_req, reply) =>
    reply.type('text/html').send('<html><head><title>exporter-proxy</title></head><body><h1>exporter-proxy</h1><p><a href="/metrics">/metrics</a> <a href="/apps">/apps</a></p></body></html>\n'),
  );
  return app;
}
