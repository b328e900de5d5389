// The proxy's own metrics, in a Registry of their own (never prom-client's
// global one). Every name starts with `exporter_proxy_`, a prefix the store
// refuses for pushed families, so the two never collide in /metrics.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const OWN_PREFIX = 'exporter_proxy_';

const PROCESS_METRICS_MAX_AGE_MS = 1000;
const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface StoreStats {
  appCount: number;
  seriesCount: number;
}

export class Telemetry {
  readonly registry = new Registry();
  readonly received: Counter<'receiver'>;
  readonly rejected: Counter<'receiver' | 'reason'>;
  readonly renderSeconds: Histogram;
  readonly renderBytes: Gauge;
  readonly connections: Gauge<'receiver'>;

  constructor(stats: () => StoreStats, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.received = new Counter({ name: `${OWN_PREFIX}received_total`, help: 'Payloads accepted into the store, by receiver.', labelNames: ['receiver'], registers });
    this.rejected = new Counter({
      name: `${OWN_PREFIX}rejected_total`,
      help: 'Payloads or connections rejected, by receiver and reason (the error code without E_).',
      labelNames: ['receiver', 'reason'],
      registers,
    });
    new Gauge({ name: `${OWN_PREFIX}apps`, help: 'Apps currently held in the store.', registers, collect() { this.set(stats().appCount); } });
    new Gauge({ name: `${OWN_PREFIX}series`, help: 'Series currently held in the store.', registers, collect() { this.set(stats().seriesCount); } });
    this.renderSeconds = new Histogram({
      name: `${OWN_PREFIX}render_seconds`,
      help: 'Time to rebuild the merged exposition after a change.',
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    });
    this.renderBytes = new Gauge({ name: `${OWN_PREFIX}render_bytes`, help: 'Size of the last merged exposition, uncompressed.', registers });
    this.connections = new Gauge({ name: `${OWN_PREFIX}connections`, help: 'Open receiver connections.', labelNames: ['receiver'], registers });
    if (opts.defaultMetrics !== false) {
      this.processRegistry = new Registry();
      collectDefaultMetrics({ register: this.processRegistry, prefix: OWN_PREFIX });
      // prom-client names these gauges *_total, which `promtool check metrics`
      // flags; our own metrics must lint clean, and the plain counts remain.
      for (const name of LINT_FAILING_DEFAULTS) this.processRegistry.removeSingleMetric(OWN_PREFIX + name);
    }
  }

  private processRegistry?: Registry;
  private processText = { at: -Infinity, text: Promise.resolve('') };

  /**
   * The own metrics in text format 0.0.4. Process/runtime metrics cost ~1 ms
   * to collect (they read /proc), 30x our counters, so they are collected at
   * most once per second; the proxy's counters are always current.
   */
  async text(): Promise<string> {
    if (this.processRegistry && performance.now() - this.processText.at >= PROCESS_METRICS_MAX_AGE_MS) {
      this.processText = { at: performance.now(), text: this.processRegistry.metrics() };
    }
    const [own, proc] = await Promise.all([this.registry.metrics(), this.processText.text]);
    return own + proc;
  }
}
