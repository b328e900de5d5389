// Long work on the event loop in slices: between units of work, `pause()`
// gives the loop a turn (setImmediate) once `sliceMs` have passed since the
// last one, so scrapes and pushes wait at most about a slice. It records
// the longest stretch and the sum of the work, for the callers' metrics.

export class Slices {
  private sliceStart = performance.now();
  /** The longest synchronous stretch so far, ms. */
  maxBlockMs = 0;
  /** All synchronous time so far, ms. */
  cpuMs = 0;

  constructor(private readonly sliceMs = 4) {}

  /** Yield to the event loop if this slice is used up. */
  async pause(): Promise<void> {
    if (performance.now() - this.sliceStart < this.sliceMs) return;
    this.end();
    await new Promise<void>((r) => setImmediate(r));
    this.sliceStart = performance.now();
  }

  /** Close the current stretch (the work is done). */
  end(): void {
    const d = performance.now() - this.sliceStart;
    this.maxBlockMs = Math.max(this.maxBlockMs, d);
    this.cpuMs += d;
  }
}
