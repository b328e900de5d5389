// Wires the parts and owns the start/stop order; nothing else lives here.
// Start: store -> HTTP -> receivers (so the first push can be scraped).
// Stop: receivers -> HTTP, each given what is left of one deadline.
// The poller starts after the HTTP server and stops first (in-flight polls
// aborted); fan-out routes are registered with the other routes.

import fs from 'node:fs';
import type { Config } from './config/config.js';
import { ProxyError } from './errors.js';
import { Store, type Update } from './store/store.js';
import { RenderCache } from './store/render_cache.js';
import { Telemetry, OWN_PREFIX } from './telemetry.js';
import { buildHttpServer } from './http/server.js';
import { createReceiver } from './receivers/sockets.js';
import { listenTcp, listenUnix } from './receivers/listen.js';
import type { StreamServer } from './receivers/stream.js';
import type { Logger } from './log.js';
import type { FastifyInstance } from 'fastify';
import { HttpFetcher } from './poller/fetch.js';
import { Poller, type PollEvent } from './poller/poller.js';
import { FanoutGroups } from './fanout/groups.js';
import { registerFanoutRoutes } from './fanout/routes.js';

export interface ProxyOptions {
  config: Config;
  logger: Logger;
  now?: () => number;
  /** Collect prom-client's process/nodejs metrics (off in most tests). */
  defaultMetrics?: boolean;
  /** Called after every poll of a [poll_external] target (tests, benchmark). */
  onPoll?: (e: PollEvent) => void;
}

export interface Addresses {
  http: { host: string; port: number };
  tcp?: { host: string; port: number };
  unix?: string;
}

const STOP_GRACE_MS = 15_000;

export class ExporterProxy {
  readonly store: Store;
  readonly telemetry: Telemetry;
  readonly cache: RenderCache;
  readonly http: FastifyInstance;
  private readonly receivers: { server: StreamServer; kind: 'tcp' | 'unix' }[] = [];
  private expiryTimer?: NodeJS.Timeout;
  private started = false;
  private readonly now: () => number;
  /** Outbound HTTP for the poller and fan-out: pooled connections, shared. */
  private readonly fetcher: HttpFetcher;
  readonly fanout: FanoutGroups;
  private poller?: Poller;

  constructor(private readonly opts: ProxyOptions) {
    const { config, logger } = opts;
    this.now = opts.now ?? Date.now;
    this.store = new Store({
      ttlMs: config.store.ttlMs,
      appLabel: config.store.appLabel,
      reservedPrefix: OWN_PREFIX,
      now: this.now,
      onAccept: (u) => this.telemetry.received.inc({ receiver: u.receiver }),
      onReject: (u, err) => {
        this.telemetry.rejected.inc({ receiver: u.receiver, reason: err.reason });
        logger.warn('payload rejected', { app: u.app, source: u.source, code: err.code, err: err.message });
      },
    });
    this.telemetry = new Telemetry(() => this.store, { defaultMetrics: opts.defaultMetrics });
    this.cache = new RenderCache(this.store, {
      onRender: (seconds, bytes) => {
        this.telemetry.renderSeconds.observe(seconds);
        this.telemetry.renderBytes.set(bytes);
      },
    });
    this.http = buildHttpServer({
      cache: this.cache,
      ownMetrics: () => this.ownMetrics(),
      listApps: () => this.store.listApps(),
      now: this.now,
      ready: () => this.started,
    });
    this.fetcher = new HttpFetcher({ dnsServers: config.dns.servers });
    this.fanout = new FanoutGroups(config.fanout, { fetcher: this.fetcher, logger, registry: this.telemetry.registry, dnsServers: config.dns.servers });
    registerFanoutRoutes(this.http, { fanout: this.fanout, now: this.now });
  }

  private async ownMetrics(): Promise<string> {
    for (const r of this.receivers) this.telemetry.connections.set({ receiver: r.kind }, r.server.connections);
    return this.telemetry.text();
  }

  /** Apply one update; rejections are counted and logged by the store hooks, never thrown here. */
  ingest(update: Update): boolean {
    try {
      this.store.put(update);
      return true;
    } catch (err) {
      if (err instanceof ProxyError) return false;
      throw err;
    }
  }

  async start(): Promise<Addresses> {
    const { config, logger } = this.opts;
    const addresses: Addresses = { http: { host: config.exporter.listen.host, port: 0 } };
    try {
      await this.http.listen({ host: config.exporter.listen.host, port: config.exporter.listen.port });
    } catch (err) {
      const { listenError } = await import('./receivers/listen.js');
      throw listenError(`http ${config.exporter.listen.host}:${config.exporter.listen.port}`, err as NodeJS.ErrnoException);
    }
    addresses.http.port = (this.http.server.address() as { port: number }).port;
    try {
      await this.startReceivers(addresses);
    } catch (err) {
      await this.stop();
      throw err;
    }
    if (config.poller.enabled && config.poller.targets.length) {
      this.poller = new Poller({
        targets: config.poller.targets,
        maxBodyBytes: config.poller.maxBodyBytes,
        fetcher: this.fetcher,
        sink: { put: (u) => this.store.put(u), remove: (app) => this.store.remove(app) },
        logger,
        registry: this.telemetry.registry,
        onPoll: this.opts.onPoll,
      });
      this.poller.start();
    }
    if (config.store.ttlMs > 0) this.expiryTimer = setInterval(() => this.store.expire(), Math.min(1000, config.store.ttlMs)).unref();
    this.started = true;
    logger.info('exporter-proxy started', { http: `${addresses.http.host}:${addresses.http.port}`, tcp: addresses.tcp && `${addresses.tcp.host}:${addresses.tcp.port}`, unix: addresses.unix });
    return addresses;
  }

  private async startReceivers(addresses: Addresses): Promise<void> {
    const { config, logger } = this.opts;
    const rc = config.receiver;
    const settings = { format: rc.format, maxPayloadBytes: rc.maxPayloadBytes, maxConnections: config.exporter.concurrentRequests, idleTimeoutMs: rc.idleTimeoutMs };
    const hooks = {
      onMessage: (msg: { app: string; text: string }, receiver: string, source: string) => void this.ingest({ app: msg.app, text: msg.text, source, receiver }),
      onError: (err: ProxyError, receiver: string, peer: string) => {
        this.telemetry.rejected.inc({ receiver, reason: err.reason });
        logger.warn('connection closed', { receiver, peer, code: err.code, err: err.message });
      },
    };
    if (rc.tcp.enabled) {
      const provisional = `${rc.tcp.host}:${rc.tcp.port}`;
      const server = createReceiver('tcp', provisional, settings, hooks);
      this.receivers.push({ server, kind: 'tcp' });
      const port = await listenTcp(server.server, rc.tcp.host, rc.tcp.port);
      addresses.tcp = { host: rc.tcp.host, port };
    }
    if (rc.unix.enabled) {
      const server = createReceiver('unix', rc.unix.path, settings, hooks);
      this.receivers.push({ server, kind: 'unix' });
      await listenUnix(server.server, rc.unix);
      addresses.unix = rc.unix.path;
    }
  }

  /** Stop listeners, let in-flight work finish (bounded), remove the unix socket file. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    const deadline = Date.now() + graceMs;
    this.started = false;
    await this.poller?.stop();
    this.poller = undefined;
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    const ownsSocket = this.receivers.some((r) => r.kind === 'unix' && r.server.server.listening);
    await Promise.all(this.receivers.map((r) => (r.server.server.listening ? r.server.stop(deadline) : undefined)));
    if (ownsSocket) fs.rmSync(this.opts.config.receiver.unix.path, { force: true });
    await this.http.close();
    await this.fetcher.close();
  }
}
