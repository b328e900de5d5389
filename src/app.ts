// Wires the parts and owns the start/stop order; nothing else lives here.
// Start: store -> HTTP -> receivers (so the first push can be scraped).
// Stop: receivers -> HTTP, each given what is left of one deadline.
// The poller starts after the HTTP server and stops first (in-flight polls
// aborted); fan-out routes are registered with the other routes.

import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from './config/config.js';
import { ProxyError } from './errors.js';
import { Store, type Update } from './store/store.js';
import { RenderCache } from './store/render_cache.js';
import { Telemetry, OWN_PREFIX } from './telemetry.js';
import { buildHttpServer, type FastPathGuard } from './http/server.js';
import { MetricsAnswers, rawMetricsRoute } from './http/metrics_route.js';
import { createReceiver } from './receivers/sockets.js';
import { listenError, listenTcp, listenUnix } from './receivers/listen.js';
import type { StreamServer } from './receivers/stream.js';
import type { Logger } from './log.js';
import type { FastifyInstance } from 'fastify';
import { HttpFetcher } from './poller/fetch.js';
import { Poller, type PollEvent } from './poller/poller.js';
import { connectionProbe } from './probes/connection.js';
import { pingProbe } from './probes/ping.js';
import { socketStatsProbe } from './probes/socket_stats.js';
import { pushgatewayOutput } from './outputs/pushgateway.js';
import { remoteWriteOutput } from './outputs/remote_write.js';
import { Sender, type OutputKind, type OutputSettings } from './outputs/sender.js';
import { PROBE_RECEIVER, Prober, probeRoundGauge, type ProbeKind } from './probes/prober.js';
import { FanoutGroups } from './fanout/groups.js';
import { registerFanoutRoutes } from './fanout/routes.js';
import { loadConfig } from './config/config.js';
import { ConfigError } from './errors.js';
import { Persistence } from './store/persistence.js';
import { serverFactory, installProtection, applyTimeouts, applyTls, requestAllowed } from './http/protection.js';
import { registerReloadRoute, type ReloadOutcome } from './http/reload_route.js';
import { planReload } from './reload.js';
import { cidrMatcher } from './net/cidr.js';
import { decoderFactory } from './receivers/sockets.js';
import { PushService, RECEIVER as PUSH_RECEIVER } from './push/service.js';
import { registerPushRoutes } from './push/routes.js';
import { rawPushRoute } from './push/raw_route.js';
import { PreparePool, TOO_BIG_FOR_WORKER, workerCount } from './workers/prepare_pool.js';

export interface ProxyOptions {
  config: Config;
  logger: Logger;
  now?: () => number;
  /** Collect prom-client's process/nodejs metrics (off in most tests). */
  defaultMetrics?: boolean;
  /** Called after every poll of a [poll_external] target (tests, benchmark). */
  onPoll?: (e: PollEvent) => void;
  /** The file the config came from; SIGHUP and POST /-/reload re-read it. */
  configPath?: string;
  /** How long the store must see no update before it renders what it keeps as sent (ms; tests). */
  quietRenderMs?: number;
}

export interface Addresses {
  http: { host: string; port: number };
  tcp?: { host: string; port: number };
  unix?: string;
}

const STOP_GRACE_MS = 15_000;
/** Socket messages shorter than this are parsed on the main thread while no worker job waits. */
const INLINE_MAX_CHARS = 2048;

export class ExporterProxy {
  readonly store: Store;
  readonly telemetry: Telemetry;
  readonly cache: RenderCache;
  readonly http: FastifyInstance;
  private readonly receivers: { server: StreamServer; kind: 'tcp' | 'unix' }[] = [];
  private expiryTimer?: NodeJS.Timeout;
  private quietRenderTimer?: NodeJS.Timeout;
  private started = false;
  private readonly now: () => number;
  /** Outbound HTTP for the poller and fan-out: pooled connections, shared. */
  private readonly fetcher: HttpFetcher;
  readonly fanout: FanoutGroups;
  /** The Pushgateway API ([http_push]); undefined when disabled. */
  readonly push?: PushService;
  /** The push routes' fast path (before fastify), when http_push is enabled. */
  private readonly rawPush?: (req: IncomingMessage, res: ServerResponse) => boolean;
  private readonly fastPathGuard: FastPathGuard;
  private poller?: Poller;
  /**
   * Built-in probes (by app name) and outputs (by config section), created
   * when their config first asks for them; each takes every later config
   * whole and picks its own section.
   */
  private readonly loops = new Map<string, { reload(config: Config): void; stop(): Promise<void> }>();
  private readonly probeRoundSeconds: ReturnType<typeof probeRoundGauge>;
  /** Store snapshots on disk ([store] persistence_file); undefined when off. */
  readonly persistence?: Persistence;
  /** The config in effect for everything reloadable (opts.config is what the listeners were opened with). */
  private live: Config;
  /** Worker threads that parse socket payloads (exporter.worker_threads); undefined: the main thread parses. */
  readonly pool?: PreparePool;

  constructor(private readonly opts: ProxyOptions) {
    const { config, logger } = opts;
    this.now = opts.now ?? Date.now;
    this.live = config;
    this.store = new Store({
      ttlMs: config.store.ttlMs,
      maxSeriesPerApp: config.store.maxSeriesPerApp,
      maxApps: config.store.maxApps,
      appLabel: config.store.appLabel,
      reservedPrefix: OWN_PREFIX,
      exclusiveReceivers: new Set([PROBE_RECEIVER]),
      now: this.now,
      onAccept: (u) => this.telemetry.received.inc({ receiver: u.receiver }),
      onReject: (u, err) => {
        this.telemetry.rejected.inc({ receiver: u.receiver, reason: err.reason });
        if (!u.logsRefusal) logger.warn('payload rejected', { app: u.app, source: u.source, code: err.code, err: err.message });
      },
    });
    this.telemetry = new Telemetry(() => this.store, { defaultMetrics: opts.defaultMetrics });
    this.probeRoundSeconds = probeRoundGauge(this.telemetry.registry);
    this.cache = new RenderCache(this.store, {
      onRender: (seconds, bytes) => {
        this.telemetry.renderSeconds.observe(seconds);
        this.telemetry.renderBytes.set(bytes);
      },
    });
    const metrics = new MetricsAnswers({ cache: this.cache, ownMetrics: () => this.ownMetrics() });
    // The fast paths (GET /metrics, plain pushes) take a request only where fastify would let it through.
    this.fastPathGuard = {
      allowed: (req) => requestAllowed(req.method ?? '', req.url ?? '', req.headers.authorization, this.live.http),
      closing: () => !this.started,
    };
    const rawMetrics = rawMetricsRoute(metrics, this.fastPathGuard);
    this.http = buildHttpServer({
      metrics,
      listApps: () => this.store.listApps(),
      now: this.now,
      ready: () => this.started,
      bodyLimit: config.http.maxBodyBytes,
      serverFactory: serverFactory(config.http),
      fastPath: (req, res) => rawMetrics(req, res) || (this.rawPush?.(req, res) ?? false),
      beforeRoutes: (app) =>
        installProtection(app, {
          config: () => this.live.http,
          onReject: (reason, detail) => {
            this.telemetry.rejected.inc({ receiver: 'http', reason });
            logger.warn('http request refused', { reason, detail });
          },
        }),
    });
    registerReloadRoute(this.http, () => this.reloadFromFile());
    if (config.store.persistenceFile) {
      this.persistence = new Persistence(this.store, {
        file: config.store.persistenceFile,
        intervalMs: config.store.persistenceIntervalMs,
        appLabel: config.store.appLabel,
        logger,
        registry: this.telemetry.registry,
        now: this.now,
      });
    }
    const workers = workerCount(config.exporter.workerThreads);
    if (workers > 0) {
      this.pool = new PreparePool({
        size: workers,
        deliver: (update, result) => {
          if (result === TOO_BIG_FOR_WORKER) this.ingest(update);
          else if (result instanceof ProxyError) this.store.reject(update, result);
          else this.ingest({ ...update, text: undefined, prepared: result });
        },
        onPressure: (high) => {
          for (const r of this.receivers) r.server.setPaused(high);
        },
      });
    }
    this.fetcher = new HttpFetcher({ dnsServers: config.dns.servers });
    this.fanout = new FanoutGroups(config.fanout, { fetcher: this.fetcher, logger, registry: this.telemetry.registry, dnsServers: config.dns.servers });
    registerFanoutRoutes(this.http, { fanout: this.fanout, now: this.now });
    if (config.httpPush.enabled) {
      this.push = new PushService({ store: this.store, now: this.now, ttlMs: config.httpPush.ttlMs });
      const pushes = registerPushRoutes(this.http, {
        push: this.push,
        store: this.store,
        maxBodyBytes: config.httpPush.maxBodyBytes,
        flags: { 'web.listen-address': `${config.exporter.listen.host}:${config.exporter.listen.port}`, 'persistence.file': config.store.persistenceFile },
        onReject: (err, ctx) => {
          this.telemetry.rejected.inc({ receiver: PUSH_RECEIVER, reason: err.reason });
          logger.warn('push rejected', { app: ctx.app, source: ctx.source, method: ctx.method, code: err.code, err: err.message });
        },
      });
      this.rawPush = rawPushRoute(pushes, { ...this.fastPathGuard, maxBodyBytes: config.httpPush.maxBodyBytes });
    }
  }

  private async ownMetrics(): Promise<string> {
    for (const r of this.receivers) this.telemetry.connections.set({ receiver: r.kind }, r.server.connections);
    return this.telemetry.text();
  }

  /**
   * Apply a message from a socket receiver: parsed by a worker thread when
   * there are workers, except, while none is waiting (so nothing can be
   * overtaken), a small one (the round trip would cost more than the
   * parse) or one that repeats what its app holds (the store takes it
   * without a parse: Store.repeatPrepared).
   */
  private ingestMessage(update: Update & { text: string }): void {
    const pool = this.pool;
    if (!pool || (pool.idle && update.text.length < INLINE_MAX_CHARS)) {
      this.ingest(update);
      return;
    }
    const prepared = pool.idle ? this.store.repeatPrepared(update, update.text, []) : undefined;
    if (prepared) {
      this.ingest({ ...update, text: undefined, prepared });
      return;
    }
    const { labels, maxSeries } = this.store.prepareOptions(update);
    pool.submit(update, labels, maxSeries);
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
    // Restored before any listener opens: the first scrape already sees it.
    this.persistence?.restore();
    try {
      await this.http.listen({ host: config.exporter.listen.host, port: config.exporter.listen.port });
    } catch (err) {
      throw listenError(`http ${config.exporter.listen.host}:${config.exporter.listen.port}`, err as NodeJS.ErrnoException);
    }
    addresses.http.port = (this.http.server.address() as { port: number }).port;
    try {
      await this.startReceivers(addresses);
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.applyPollTargets(config);
    this.applyProbesAndOutputs(config);
    this.scheduleExpiry();
    this.scheduleQuietRender();
    this.persistence?.start();
    this.started = true;
    logger.info('exporter-proxy started', { http: `${addresses.http.host}:${addresses.http.port}`, tcp: addresses.tcp && `${addresses.tcp.host}:${addresses.tcp.port}`, unix: addresses.unix });
    return addresses;
  }

  private async startReceivers(addresses: Addresses): Promise<void> {
    const { config, logger } = this.opts;
    const rc = config.receiver;
    const settings = { format: rc.format, maxPayloadBytes: rc.maxPayloadBytes, maxConnections: config.exporter.concurrentRequests, idleTimeoutMs: rc.idleTimeoutMs, readTimeoutMs: rc.readTimeoutMs };
    const hooks = {
      onMessage: (msg: { app: string; text: string }, receiver: string, source: string) => this.ingestMessage({ app: msg.app, text: msg.text, source, receiver, ttlMs: this.live.receiver.ttlMs }),
      onError: (err: ProxyError, receiver: string, peer: string) => {
        this.telemetry.rejected.inc({ receiver, reason: err.reason });
        logger.warn('connection closed', { receiver, peer, code: err.code, err: err.message });
      },
    };
    if (rc.tcp.enabled) {
      const provisional = `${rc.tcp.host}:${rc.tcp.port}`;
      const server = createReceiver('tcp', provisional, { ...settings, allowPeer: cidrMatcher(rc.allowedCidrs) }, hooks);
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
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
    this.loops.clear();
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    if (this.quietRenderTimer) clearInterval(this.quietRenderTimer);
    const ownsSocket = this.receivers.some((r) => r.kind === 'unix' && r.server.server.listening);
    await Promise.all(this.receivers.map((r) => (r.server.server.listening ? r.server.stop(deadline) : undefined)));
    if (ownsSocket) fs.rmSync(this.opts.config.receiver.unix.path, { force: true });
    await this.pool?.close(); // what the receivers handed over is applied
    await this.http.close();
    // Everything received is in the store now: the final snapshot.
    await this.persistence?.stop();
    await this.fetcher.close();
  }

  /**
   * Start polling the configured targets, or hand a reloaded list to the
   * running poller (one Poller per process: its metrics are registered once).
   */
  private applyPollTargets(config: Config): void {
    const targets = config.poller.enabled ? config.poller.targets : [];
    if (this.poller) return this.poller.update(targets, config.poller.maxBodyBytes);
    if (!targets.length) return;
    this.poller = new Poller({
      targets,
      maxBodyBytes: config.poller.maxBodyBytes,
      fetcher: this.fetcher,
      sink: { put: (u) => this.store.put(u), remove: (app) => this.store.remove(app) },
      logger: this.opts.logger,
      registry: this.telemetry.registry,
      onPoll: this.opts.onPoll,
    });
    this.poller.start();
  }

  /** Start the built-in probes and outputs the config asks for, or hand reloaded settings to the running ones. */
  private applyProbesAndOutputs(config: Config): void {
    this.applyProbe(connectionProbe, config, (c) => c.connectionStatus);
    this.applyProbe(pingProbe, config, (c) => c.ping);
    this.applyProbe(socketStatsProbe, config, (c) => c.socketStats);
    this.applyOutput(pushgatewayOutput, config, (c) => c.pushOut);
    this.applyOutput(remoteWriteOutput(), config, (c) => c.remoteWrite);
  }

  private applyOutput<C extends OutputSettings>(kind: OutputKind<C>, config: Config, section: (c: Config) => C): void {
    const running = this.loops.get(`output ${kind.name}`);
    if (running) return running.reload(config);
    if (!section(config).url) return;
    const sender = new Sender({ kind, config: section(config), storeBody: () => this.cache.currentHeld(), logger: this.opts.logger, registry: this.telemetry.registry });
    this.loops.set(`output ${kind.name}`, { reload: (c) => sender.update(section(c)), stop: () => sender.stop() });
    sender.start();
  }

  private applyProbe<C extends { intervalMs: number }>(kind: ProbeKind<C>, config: Config, section: (c: Config) => C): void {
    const running = this.loops.get(`probe ${kind.app}`);
    if (running) return running.reload(config);
    const probeConfig = section(config);
    if (kind.isEmpty(probeConfig)) {
      // Not configured: results of an earlier run, restored from a snapshot, would never be replaced (nor expire).
      if (this.store.receiverOf(kind.app) === PROBE_RECEIVER) this.store.remove(kind.app);
      return;
    }
    const sink = { put: (u: Update) => this.store.put(u), remove: (app: string) => this.store.remove(app) };
    const prober = new Prober({ kind, config: probeConfig, sink, logger: this.opts.logger, roundSeconds: this.probeRoundSeconds });
    this.loops.set(`probe ${kind.app}`, { reload: (c) => prober.update(section(c)), stop: () => prober.stop() });
    prober.start();
  }

  /** Expiry runs always (restored entries and per-source ttls expire too), at most 1 s late. */
  private scheduleExpiry(): void {
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    const ttls = [this.live.store.ttlMs, this.live.receiver.ttlMs ?? 0, this.live.httpPush.ttlMs ?? 0].filter((t) => t > 0);
    this.expiryTimer = setInterval(() => this.store.expire(), Math.max(10, Math.min(1000, ...ttls))).unref();
  }

  /**
   * Pushes with added labels are kept as sent and rendered when first read
   * (Store.renderPending). Once the store has seen no update for a tick,
   * render them now, so the next scrape does not wait for it; under a
   * steady stream of updates this never runs, and a group pushed again
   * before the scrape costs no render.
   */
  private scheduleQuietRender(): void {
    let seen = -1;
    this.quietRenderTimer = setInterval(() => {
      const version = this.store.version;
      if (version === seen && this.store.pendingCount > 0) this.store.renderPending();
      seen = version;
    }, this.opts.quietRenderMs ?? 1000).unref();
  }

  /** Re-read the config file and apply it (SIGHUP, POST /-/reload). */
  reloadFromFile(): ReloadOutcome {
    const path = this.opts.configPath;
    if (!path) return { ok: false, problems: ['the proxy was not started from a config file (--config); nothing to re-read'] };
    try {
      return this.reload(loadConfig(path));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.opts.logger.error('config reload refused; the running config stays', { file: path, problems: err.problems.join('; ') });
      return { ok: false, problems: err.problems };
    }
  }

  /**
   * Apply what can change without a restart (TTLs, limits, timeouts, auth,
   * allow-list, certificate, snapshot interval); keys that need a restart
   * (listen addresses, receiver format, socket path, ...) are reported and
   * keep their running values.
   */
  reload(next: Config): ReloadOutcome {
    const plan = planReload(this.opts.config, this.live, next);
    const rc = next.receiver;
    // Restart-only values stay as running; the rest comes from `next`.
    this.live = { ...next, exporter: { ...next.exporter, listen: this.opts.config.exporter.listen }, receiver: { ...rc, format: this.opts.config.receiver.format, unix: this.opts.config.receiver.unix, tcp: this.opts.config.receiver.tcp } };
    this.store.configure({ ttlMs: next.store.ttlMs, maxSeriesPerApp: next.store.maxSeriesPerApp, maxApps: next.store.maxApps });
    for (const r of this.receivers) {
      r.server.configure({
        newDecoder: decoderFactory(this.opts.config.receiver.format, rc.maxPayloadBytes),
        maxConnections: next.exporter.concurrentRequests,
        idleTimeoutMs: rc.idleTimeoutMs,
        readTimeoutMs: rc.readTimeoutMs,
        allowPeer: r.kind === 'tcp' ? cidrMatcher(rc.allowedCidrs) : undefined,
      });
    }
    applyTimeouts(this.http.server, next.http);
    if (this.opts.config.http.tls && next.http.tls) applyTls(this.http.server, next.http.tls);
    else this.live = { ...this.live, http: { ...this.live.http, tls: this.opts.config.http.tls } };
    this.persistence?.configure({ intervalMs: next.store.persistenceIntervalMs });
    if (this.push) this.push.ttlMs = next.httpPush.ttlMs;
    this.scheduleExpiry();
    if (this.started) {
      this.applyPollTargets(next);
      this.applyProbesAndOutputs(next);
    }
    this.fanout.update(next.fanout, this.opts.config.dns.servers);
    this.opts.logger.info('config reloaded', { applied: plan.applied.join(',') || 'nothing', needs_restart: plan.needsRestart.join(',') || undefined });
    if (plan.needsRestart.length) this.opts.logger.warn('config keys changed that need a restart; ignored until then', { keys: plan.needsRestart.join(',') });
    return { ok: true, ...plan };
  }
}
