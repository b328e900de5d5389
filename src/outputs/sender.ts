// The loop both outputs run in ([push_out], [remote_write]): every interval
// the store's text is turned into one request by the output's `build`, and
// sent; the next interval sends the store as it is then (nothing queues).
// A failure is logged when failing starts and when it stops (not every
// interval) and counted by result: ok, status (a non-2xx answer), network,
// timeout, invalid (`build` threw: the store's text did not convert).
// Series left out of a send because another app holds the same one (no
// app_label) are a gauge, logged when that starts and when it stops.

import { request } from 'undici';
import { Counter, Gauge, type Registry } from 'prom-client';
import { Every } from '../every.js';
import type { Logger } from '../log.js';
import { OWN_PREFIX } from '../telemetry.js';
import type { DroppedSeries } from '../exposition/model.js';

export interface OutputSettings {
  /** '' = off. */
  url: string;
  intervalMs: number;
  timeoutMs: number;
}

export interface Outbound {
  url: string;
  method: 'PUT' | 'POST';
  headers: Record<string, string>;
  body: string | Buffer;
  /** Called once the receiver has accepted the request (a 2xx). */
  sent?: () => void;
  /** Copies of a series two apps hold, left out of `body`. */
  dropped?: DroppedSeries;
}

/**
 * The store's rendered exposition as one send reads it: `body` stays valid
 * until `release()` (the render cache reuses a body's memory for a later
 * render once nothing holds it).
 */
export interface StoreBody {
  body: Buffer;
  /** Families two or more apps hold without app_label keeping them apart (Store.overlappingFamilies): 0 means no series is in `body` twice. */
  overlappingFamilies: number;
  release(): void;
}

/** What one output sends. */
export interface OutputKind<C extends OutputSettings> {
  /** Config section, metric prefix (`exporter_proxy_<name>_...`). */
  name: string;
  /** For logs: "push to the Pushgateway". */
  what: string;
  /** The request for the store's rendered exposition text (built in slices; the body stays valid until the request is sent); rejects when it cannot be converted. */
  build(config: C, store: Omit<StoreBody, 'release'>): Promise<Outbound>;
}

export class Sender<C extends OutputSettings> {
  private config: C;
  private readonly loop: Every;
  private failing = false;
  private dropping = false;
  private readonly m?: { sends: Counter<'result'>; lastSuccess: Gauge; duration: Gauge; dropped: Gauge };

  constructor(private readonly opts: { kind: OutputKind<C>; config: C; storeBody: () => StoreBody; logger: Logger; registry?: Registry }) {
    this.config = opts.config;
    this.loop = new Every((signal) => this.send(signal), () => this.config.intervalMs);
    const registers = opts.registry ? [opts.registry] : undefined;
    const prefix = `${OWN_PREFIX}${opts.kind.name}`;
    if (registers) {
      this.m = {
        sends: new Counter({ name: `${prefix}_total`, help: `Sends of the store ([${opts.kind.name}]), by result (ok, status, network, timeout, invalid).`, labelNames: ['result'], registers }),
        lastSuccess: new Gauge({ name: `${prefix}_last_success_timestamp_seconds`, help: `When the store was last sent ([${opts.kind.name}]) successfully.`, registers }),
        duration: new Gauge({ name: `${prefix}_duration_seconds`, help: `Duration of the last send ([${opts.kind.name}]).`, registers }),
        dropped: new Gauge({ name: `${prefix}_duplicate_series`, help: `Series left out of the last send ([${opts.kind.name}]) because another app holds the same series (set [store] app_label to keep apps apart).`, registers }),
      };
    }
  }

  start(): void {
    this.loop.start();
  }

  /** Reload: the next send uses `config` (url '' pauses sending until set again). */
  update(config: C): void {
    this.config = config;
    this.loop.reload();
  }

  /** No further sends; one in flight is aborted. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async send(signal: AbortSignal): Promise<void> {
    const { kind, logger } = this.opts;
    const config = this.config;
    if (!config.url) return;
    const started = performance.now();
    let result: string;
    let detail = '';
    let out: Outbound | undefined;
    // Held through the build and the request: push_out may send these very bytes.
    const store = this.opts.storeBody();
    try {
      out = await kind.build(config, store);
      this.noteDropped(out.dropped ?? { series: 0 }, out.url);
      const res = await request(out.url, { method: out.method, body: out.body, headers: out.headers, signal: AbortSignal.any([signal, AbortSignal.timeout(config.timeoutMs)]) });
      const answer = await res.body.text();
      result = res.statusCode >= 200 && res.statusCode < 300 ? 'ok' : 'status';
      if (result === 'ok') out.sent?.();
      if (result === 'status') detail = `HTTP ${res.statusCode}: ${answer.trim().slice(0, 500)}`;
    } catch (err) {
      if (signal.aborted) return; // stopping
      const e = err as Error;
      result = out === undefined ? 'invalid' : e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timeout' : 'network';
      detail = e.message;
    } finally {
      store.release();
    }
    this.m?.sends.inc({ result });
    this.m?.duration.set((performance.now() - started) / 1000);
    const url = out?.url ?? config.url;
    if (result === 'ok') {
      this.m?.lastSuccess.set(Date.now() / 1000);
      if (this.failing) logger.info(`${kind.what} works again`, { url });
      this.failing = false;
    } else if (!this.failing) {
      this.failing = true;
      logger.warn(`${kind.what} failed; retrying every interval`, { url, reason: result, err: detail });
    }
  }

  private noteDropped(dropped: DroppedSeries, url: string): void {
    const { kind, logger } = this.opts;
    this.m?.dropped.set(dropped.series);
    if (dropped.series > 0 && !this.dropping) {
      logger.warn(`${kind.what} leaves out series that two apps hold; set [store] app_label to keep apps apart`, { url, series: dropped.series, first: dropped.first });
    } else if (dropped.series === 0 && this.dropping) {
      logger.info(`${kind.what} sends every stored series again`, { url });
    }
    this.dropping = dropped.series > 0;
  }
}
