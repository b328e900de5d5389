// Push the store to a Pushgateway ([push_out]): every interval, what
// /metrics serves from the store (not the proxy's own exporter_proxy_*
// metrics) is PUT as one group, /metrics/job/<job>{/<label>/<value>}, so
// the Pushgateway's group always equals the store, apps gone included.
//
// The Pushgateway sets the grouping labels on every pushed series and
// refuses a push in which two series become one that way (a store holding
// Pushgateway pushes has `job` and `instance` on their series). As
// Prometheus does with honor_labels: false, such labels are kept as
// `exported_<name>`. A store without them is sent as rendered, unparsed.
//
// A push that fails is logged when the failing starts and stops (not every
// interval) and counted; the next interval tries again with the store as
// it is then.

import { request } from 'undici';
import { Counter, Gauge, type Registry } from 'prom-client';
import { parseText } from '../exposition/text_parse.js';
import { renderHeader, renderSamples } from '../exposition/text_render.js';
import { renameColliding } from '../fanout/merge.js';
import { Every } from '../every.js';
import type { Logger } from '../log.js';
import { OWN_PREFIX } from '../telemetry.js';
import type { PushOutConfig } from './config.js';

/** A path segment of a grouping key: base64url (`<name>@base64/...`) when the value has a `/` (or is empty), as the Pushgateway reads it. */
function keySegment(name: string, value: string): string {
  if (value === '' || value.includes('/')) return `${name}@base64/${Buffer.from(value).toString('base64url') || '='}`;
  return `${name}/${encodeURIComponent(value)}`;
}

/** The group's URL: base, then job and the grouping labels. */
export function groupUrl(config: Pick<PushOutConfig, 'url' | 'job' | 'grouping'>): string {
  return `${config.url}/metrics/${[keySegment('job', config.job), ...config.grouping.map((l) => keySegment(l.name, l.value))].join('/')}`;
}

/**
 * The body to push for the store's exposition `text`: as it is unless a
 * series has a label the grouping key sets; then those labels become
 * `exported_<name>`.
 */
export function pushBody(text: string, groupingNames: readonly string[]): string {
  const names = ['job', ...groupingNames];
  const collides = new RegExp(`[{,](?:${names.join('|')})="`);
  if (!collides.test(text)) return text;
  const taken = new Set(names);
  let out = '';
  for (const f of parseText(text).families) {
    out += renderHeader(f.name, f.type, f.help) + renderSamples(renameColliding(f, taken), []);
  }
  return out;
}

export interface PushOutOptions {
  config: PushOutConfig;
  /** The store's exposition text now (the render cache's). */
  storeText: () => string;
  logger: Logger;
  registry?: Registry;
}

export class PushOut {
  private config: PushOutConfig;
  private readonly loop: Every;
  private failing = false;
  private readonly m?: { pushes: Counter<'result'>; lastSuccess: Gauge; duration: Gauge };

  constructor(private readonly opts: PushOutOptions) {
    this.config = opts.config;
    this.loop = new Every((signal) => this.push(signal), () => this.config.intervalMs);
    const registers = opts.registry ? [opts.registry] : undefined;
    if (registers) {
      this.m = {
        pushes: new Counter({ name: `${OWN_PREFIX}push_out_total`, help: 'Pushes of the store to the Pushgateway ([push_out]), by result (ok, status, network, timeout, invalid).', labelNames: ['result'], registers }),
        lastSuccess: new Gauge({ name: `${OWN_PREFIX}push_out_last_success_timestamp_seconds`, help: 'When the store was last pushed to the Pushgateway successfully.', registers }),
        duration: new Gauge({ name: `${OWN_PREFIX}push_out_duration_seconds`, help: 'Duration of the last push to the Pushgateway.', registers }),
      };
    }
  }

  start(): void {
    this.loop.start();
  }

  /** Reload: the next push goes where `config` says (url '' stops pushing until set again). */
  update(config: PushOutConfig): void {
    const intervalChanged = config.intervalMs !== this.config.intervalMs;
    this.config = config;
    if (intervalChanged) this.loop.runSoon();
  }

  /** No further pushes; one in flight is aborted. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async push(signal: AbortSignal): Promise<void> {
    const config = this.config;
    if (!config.url) return;
    const url = groupUrl(config);
    const started = performance.now();
    let result: string;
    let detail = '';
    let body: string | undefined;
    try {
      body = pushBody(this.opts.storeText(), config.grouping.map((l) => l.name));
      const res = await request(url, {
        method: 'PUT',
        body,
        headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
        signal: AbortSignal.any([signal, AbortSignal.timeout(config.timeoutMs)]),
      });
      const answer = await res.body.text();
      result = res.statusCode >= 200 && res.statusCode < 300 ? 'ok' : 'status';
      if (result === 'status') detail = `HTTP ${res.statusCode}: ${answer.trim().slice(0, 500)}`;
    } catch (err) {
      if (signal.aborted) return; // stopping
      const e = err as Error;
      // No body: the store's text did not parse back (two apps holding the same series without app_label, say).
      result = body === undefined ? 'invalid' : e.name === 'TimeoutError' || e.name === 'AbortError' ? 'timeout' : 'network';
      detail = e.message;
    }
    this.m?.pushes.inc({ result });
    this.m?.duration.set((performance.now() - started) / 1000);
    if (result === 'ok') {
      this.m?.lastSuccess.set(Date.now() / 1000);
      if (this.failing) this.opts.logger.info('push to the Pushgateway works again', { url });
      this.failing = false;
    } else if (!this.failing) {
      this.failing = true;
      this.opts.logger.warn('push to the Pushgateway failed; retrying every interval', { url, reason: result, err: detail });
    }
  }
}
