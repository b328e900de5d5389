// A task run now and then again every interval: the loop of the probes and
// of the push to a Pushgateway. Runs never overlap (the next is scheduled
// when one ends, so a slow run delays the next instead of piling up), and
// stopping aborts the run in flight.

export class Every {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private readonly stopping = new AbortController();
  /** The interval the pending timer waits out (0 before the first run). */
  private waitingMs = 0;

  /** `task` must not reject; `signal` aborts when stop() is called. `intervalMs` is read after every run. */
  constructor(
    private readonly task: (signal: AbortSignal) => Promise<void>,
    private readonly intervalMs: () => number,
  ) {}

  /** The first run now (on the next turn of the event loop). */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /**
   * After a reload: when `intervalMs()` no longer gives the interval being
   * waited out, run now instead (a run in flight goes on, and the wait after
   * it is the new interval anyway).
   */
  reload(): void {
    if (!this.running && !this.stopped && this.intervalMs() !== this.waitingMs) this.schedule(0);
  }

  /** No further runs; the one in flight is aborted and awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopping.abort();
    await this.running;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.waitingMs = delayMs;
    this.timer = setTimeout(() => {
      this.running = this.task(this.stopping.signal).finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.intervalMs());
      });
    }, delayMs).unref();
  }
}
