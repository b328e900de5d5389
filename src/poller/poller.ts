// Polls HTTP targets into the store, like a small Prometheus scrape loop.
//
// Scheduling: each target polls on its own grid, `k * interval + offset`
// in wall-clock time, where the offset is a stable hash of URL and app, so
// targets are spread over the interval and keep their phase across
// restarts. The next poll is only scheduled once the current one finished:
// a poll never overlaps the previous poll of the same target; grid slots
// passed meanwhile are skipped (and counted), not queued.
//
// Every body goes through the sink's `put` (the store: same validation as
// pushed data). A failed poll keeps the last good data; once a target's app
// has had no success for `stale_after` intervals, the app is removed.

import { setMaxListeners } from 'node:events';
import { Counter, Gauge, type Registry } from 'prom-client';
import { FetchError, ProxyError } from '../errors.js';
import type { Label } from '../exposition/model.js';
import { escapeLabelValue } from '../exposition/text_parse.js';
import type { Update } from '../store/store.js';
import type { Logger } from '../log.js';
import type { HttpFetcher } from './fetch.js';
import type { PollTarget } from './config.js';

/** Where polled bodies go (the store). `put` throws a ProxyError for a body it refuses. */
export interface PollSink {
  put(update: Update): unknown;
  remove(app: string): boolean;
}

export interface PollEvent {
  target: PollTarget;
  ok: boolean;
  reason?: string;
  error?: string;
  /** ms since epoch the poll was planned for, and when it started. */
  plannedAt: number;
  startedAt: number;
  durationMs: number;
  /** Grid slots skipped because this poll ran past them. */
  skipped: number;
}

export interface PollerOptions {
  targets: PollTarget[];
  maxBodyBytes: number;
  fetcher: HttpFetcher;
  sink: PollSink;
  logger: Logger;
  /** Per-target metrics are registered here when given. */
  registry?: Registry;
  /** Called after every poll (tests, benchmark). */
  onPoll?: (e: PollEvent) => void;
}

interface TargetState {
  t: PollTarget;
  labels: Label[];
  offsetMs: number;
  staleMs: number;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
  /** The grid slot the pending/current poll belongs to. */
  planned: number;
  up?: boolean;
  lastReason?: string;
  /** Removed by a reload: no further polls, and an in-flight one stores nothing. */
  retired?: boolean;
}

const PREFIX = 'exporter_proxy_poll_';

export class Poller {
  private states: TargetState[];
  /** Last success per app (several Rust endpoints on one host:port share an app). */
  private readonly lastSuccess = new Map<string, number>();
  private readonly stopping = new AbortController();
  private started = false;
  private readonly m?: {
    up: Gauge<'target'>;
    duration: Gauge<'target'>;
    lastSuccess: Gauge<'target'>;
    failures: Counter<'target' | 'reason'>;
    skipped: Counter<'target'>;
  };

  constructor(private opts: PollerOptions) {
    // Every in-flight fetch listens on the one stop signal.
    setMaxListeners(0, this.stopping.signal);
    this.states = opts.targets.map(newState);
    const registers = opts.registry ? [opts.registry] : undefined;
    if (registers) {
      this.m = {
        up: new Gauge({ name: `${PREFIX}up`, help: '1 if the last poll of the target succeeded and its body was accepted, 0 otherwise.', labelNames: ['target'], registers }),
        duration: new Gauge({ name: `${PREFIX}duration_seconds`, help: 'Duration of the last poll of the target.', labelNames: ['target'], registers }),
        lastSuccess: new Gauge({ name: `${PREFIX}last_success_timestamp_seconds`, help: 'When the target was last polled successfully (Unix time).', labelNames: ['target'], registers }),
        failures: new Counter({ name: `${PREFIX}failures_total`, help: 'Failed polls, by target and reason (refused, dns, tls, network, timeout, status, too_large, invalid).', labelNames: ['target', 'reason'], registers }),
        skipped: new Counter({ name: `${PREFIX}skipped_total`, help: 'Scheduled polls skipped because the previous poll of the target was still running.', labelNames: ['target'], registers }),
      };
    }
  }

  get targetCount(): number {
    return this.states.length;
  }

  /**
   * Reload: targets whose settings are unchanged keep their schedule and
   * state; removed or changed ones stop (an in-flight poll finishes but
   * stores nothing), and the apps no remaining target feeds are removed at
   * once, as Prometheus drops a target's series when the target goes away.
   */
  update(targets: PollTarget[], maxBodyBytes: number): void {
    this.opts.maxBodyBytes = maxBodyBytes;
    const keep = new Map(this.states.map((s) => [JSON.stringify(s.t), s]));
    const next = targets.map((t) => {
      const key = JSON.stringify(t);
      const old = keep.get(key);
      keep.delete(key);
      return old ?? newState(t);
    });
    const apps = new Set(next.map((s) => s.t.app));
    for (const gone of keep.values()) {
      gone.retired = true;
      clearTimeout(gone.timer);
      if (!apps.has(gone.t.app)) {
        this.lastSuccess.delete(gone.t.app);
        this.opts.sink.remove(gone.t.app);
      }
    }
    const added = next.filter((s) => s.planned === 0 && !s.timer && !s.running);
    this.states = next;
    if (this.started) {
      const now = Date.now();
      for (const s of added) this.schedule(s, nextSlot(now, s.t.intervalMs, s.offsetMs));
    }
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const now = Date.now();
    for (const s of this.states) this.schedule(s, nextSlot(now, s.t.intervalMs, s.offsetMs));
  }

  /** Stop scheduling, abort in-flight polls and wait for them to settle. Stored data is left alone. */
  async stop(): Promise<void> {
    this.stopping.abort();
    for (const s of this.states) clearTimeout(s.timer);
    await Promise.allSettled(this.states.map((s) => s.running));
  }

  private schedule(s: TargetState, at: number): void {
    if (this.stopping.signal.aborted || s.retired) return;
    s.planned = at;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      s.running = this.poll(s).finally(() => {
        s.running = undefined;
        const end = Date.now();
        // Never the same slot twice, even if the timer fired a little early.
        const next = Math.max(nextSlot(end, s.t.intervalMs, s.offsetMs), s.planned + s.t.intervalMs);
        const skipped = Math.round((next - s.planned) / s.t.intervalMs) - 1;
        if (skipped > 0) this.m?.skipped.inc({ target: s.t.url }, skipped);
        this.schedule(s, next);
      });
    }, Math.max(0, at - Date.now()));
  }

  private async poll(s: TargetState): Promise<void> {
    const { t } = s;
    const startedAt = Date.now();
    const t0 = performance.now();
    this.dropIfStale(s, startedAt);
    let failure: { reason: string; message: string } | undefined;
    try {
      const res = await this.opts.fetcher.fetchText({
        url: t.url,
        timeoutMs: t.timeoutMs,
        maxBodyBytes: this.opts.maxBodyBytes,
        tlsSkipVerify: t.tlsSkipVerify,
        headers: t.headers,
        signal: this.stopping.signal,
      });
      if (this.stopping.signal.aborted || s.retired) return;
      this.opts.sink.put({ app: t.app, source: t.source, receiver: 'poll', text: res.text, labels: s.labels, ttlMs: s.staleMs });
    } catch (err) {
      if (this.stopping.signal.aborted) return;
      if (err instanceof FetchError) failure = { reason: err.reason, message: err.message };
      else if (err instanceof ProxyError) failure = { reason: 'invalid', message: `${err.code}: ${err.message}` };
      else failure = { reason: 'error', message: String((err as Error)?.message ?? err) };
    }
    const end = Date.now();
    const durationMs = performance.now() - t0;
    const target = t.url;
    this.m?.duration.set({ target }, durationMs / 1000);
    if (!failure) {
      this.lastSuccess.set(t.app, end);
      this.m?.up.set({ target }, 1);
      this.m?.lastSuccess.set({ target }, end / 1000);
      if (s.up === false) this.opts.logger.info('poll target recovered', { target, app: t.app });
      s.up = true;
    } else {
      this.m?.up.set({ target }, 0);
      this.m?.failures.inc({ target, reason: failure.reason });
      // Logged when the target goes down or fails for another reason, not on every poll.
      if (s.up !== false || s.lastReason !== failure.reason) this.opts.logger.warn('poll failed', { target, app: t.app, reason: failure.reason, err: failure.message });
      s.up = false;
      s.lastReason = failure.reason;
      this.dropIfStale(s, end);
    }
    const skipped = Math.max(0, Math.floor((end - s.planned) / t.intervalMs));
    this.opts.onPoll?.({ target: t, ok: !failure, reason: failure?.reason, error: failure?.message, plannedAt: s.planned, startedAt, durationMs, skipped });
  }

  /** Remove the app once it had no success for stale_after intervals. */
  private dropIfStale(s: TargetState, now: number): void {
    const last = this.lastSuccess.get(s.t.app);
    if (last === undefined || now - last < s.staleMs) return;
    this.lastSuccess.delete(s.t.app);
    if (this.opts.sink.remove(s.t.app)) {
      this.opts.logger.warn('poll target stale, its data was removed', { target: s.t.url, app: s.t.app, since: new Date(last).toISOString() });
    }
  }
}

function newState(t: PollTarget): TargetState {
  return {
    t,
    labels: t.labels.map((l) => ({ name: l.name, value: escapeLabelValue(l.value) })),
    offsetMs: fnv1a(`${t.url}\u0000${t.app}`) % t.intervalMs,
    staleMs: Math.round(t.staleAfter * t.intervalMs),
    planned: 0,
  };
}

/** The first grid time `k * interval + offset` strictly after `now`. */
export function nextSlot(now: number, interval: number, offset: number): number {
  const k = Math.floor((now - offset) / interval) + 1;
  return k * interval + offset;
}

/** 32-bit FNV-1a of a string's UTF-16 code units; stable across runs. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
