// The loop every built-in probe runs in: a round now, then one every
// `intervalMs`, each round's exposition text stored as one app. A round
// never overlaps the previous one; a reload hands over a new config for the
// next round (results of a round that started with the old one are
// dropped); a config with nothing to probe removes the app. The app never
// expires on its own: a failed target reads as failed, it does not vanish.
// A round that yields nothing to store (the tool cannot run, the store
// refuses the results) is logged when that starts or its reason changes, and
// when rounds are stored again, not every interval.

import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../log.js';
import type { Update } from '../store/store.js';
import { OWN_PREFIX } from '../telemetry.js';
import { ToolError } from './command.js';
import { Every } from '../every.js';

/** The store receiver of every probe's results; the store keeps their app names for them (StoreOptions.exclusiveReceivers). */
export const PROBE_RECEIVER = 'probe';

/** Where a round's results go (the store). */
export interface ProbeSink {
  put(update: Update): unknown;
  remove(app: string): boolean;
}

/** What one kind of probe (connection, ping, socket statistics) does in a round. */
export interface ProbeKind<C extends { intervalMs: number }> {
  /** Store app name of the results. */
  app: string;
  /** True when `config` has nothing to probe. */
  isEmpty(config: C): boolean;
  /**
   * Probe everything in `config`: the round's exposition text. Rejects only
   * with ToolError; ends soon after `signal` aborts (the proxy is
   * stopping: the result is not used).
   */
  round(config: C, signal: AbortSignal): Promise<string>;
}

/** How long each probe's last round took: one gauge per registry, shared by every Prober. */
export function probeRoundGauge(registry: Registry): Gauge<'probe'> {
  return new Gauge({ name: `${OWN_PREFIX}probe_round_duration_seconds`, help: 'How long the last round of a built-in probe took, by probe (connection_status, ping, socket_stats).', labelNames: ['probe'], registers: [registry] });
}

export class Prober<C extends { intervalMs: number }> {
  private config: C;
  private readonly loop: Every;
  /** Why the last round stored nothing, as logged; undefined while rounds are stored. */
  private failing: string | undefined;

  constructor(private readonly opts: { kind: ProbeKind<C>; config: C; sink: ProbeSink; logger: Logger; roundSeconds?: Gauge<'probe'> }) {
    this.config = opts.config;
    this.loop = new Every((signal) => this.round(signal), () => this.config.intervalMs);
  }

  /** Probe now, then every interval. */
  start(): void {
    this.loop.start();
  }

  /** Reload: the next round uses `config`; nothing left to probe removes the app at once. */
  update(config: C): void {
    this.config = config;
    if (this.opts.kind.isEmpty(config)) this.opts.sink.remove(this.opts.kind.app);
    this.loop.reload();
  }

  /** No further rounds; the one in flight is cut short (its connections closed, its pings killed). */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async round(signal: AbortSignal): Promise<void> {
    const { kind, sink, logger } = this.opts;
    const config = this.config;
    if (kind.isEmpty(config)) return;
    const started = performance.now();
    let text: string;
    try {
      text = await kind.round(config, signal);
    } catch (err) {
      // Nothing measured is not everything down: no results, and an error until the tool works.
      if (err instanceof ToolError) this.failed('error', `${kind.app} probes cannot run`, err.message);
      else this.failed('error', `${kind.app} probe round failed`, String((err as Error)?.stack ?? err)); // a bug: the loop goes on
      return;
    }
    this.opts.roundSeconds?.set({ probe: kind.app }, (performance.now() - started) / 1000);
    if (signal.aborted || config !== this.config) return; // stopping, or reloaded meanwhile: these results answer the old list
    try {
      // Refused rounds are logged here, once per reason (failed()), not by the store's hook every round.
      sink.put({ app: kind.app, source: `${kind.app} probes`, receiver: PROBE_RECEIVER, text, ttlMs: 0, logsRefusal: true });
    } catch (err) {
      // Another app holding one of the families with another type, say (the store counts it): retried next round.
      this.failed('warn', 'probe results not stored', (err as Error).message);
      return;
    }
    if (this.failing !== undefined) logger.info(`${kind.app} probe results stored again`, { app: kind.app });
    this.failing = undefined;
  }

  /** Log a round that stored nothing, unless the last round failed the same way. */
  private failed(level: 'error' | 'warn', what: string, err: string): void {
    const reason = `${what}: ${err}`;
    if (reason === this.failing) return;
    this.failing = reason;
    this.opts.logger[level](`${what}; retrying every interval`, { app: this.opts.kind.app, err });
  }
}
