// Worker threads that parse and render socket payloads (prepareEntry) so the
// main thread keeps only framing and the store's bookkeeping.
//
// Contract: every submitted update is delivered exactly once, with its
// PreparedEntry or the ProxyError that rejected it, in submission order
// (so the last write per app still wins as it arrived), on the main thread.
// Jobs submitted in one tick go to a worker as one message. When the text
// waiting for workers passes a high-water mark, onPressure(true) asks the
// sources to stop reading until it falls to half (onPressure(false)).

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { ProxyError, errorFromWire, type WireError } from '../errors.js';
import type { Label } from '../exposition/model.js';
import type { PreparedEntry, Update } from '../store/store.js';

export interface PrepareJob {
  id: number;
  app: string;
  text: string;
  /** The store's prepareOptions(update).labels. */
  labels: readonly Label[];
  defaultLabels?: readonly Label[];
  maxSeries?: number;
  /** Sent again on its own after a worker died holding it with others. */
  alone?: boolean;
}

export interface PrepareResult {
  id: number;
  prepared?: PreparedEntry;
  error?: WireError;
}

export interface PreparePoolOptions {
  /** Number of worker threads (at least 1). */
  size: number;
  /** Must not throw. `TOO_BIG_FOR_WORKER`: parse it on the main thread (its parse ran a worker out of memory). */
  deliver: (update: Update, result: PreparedEntry | ProxyError | typeof TOO_BIG_FOR_WORKER) => void;
  onPressure?: (high: boolean) => void;
  /** Text waiting for workers, in UTF-16 code units, above which onPressure(true). */
  highWaterMark?: number;
  /** Each worker's V8 young generation, MB (its garbage is all short-lived parse data). */
  youngGenerationMb?: number;
  /** Each worker's V8 old generation limit, MB (default 64): a payload whose parse needs more is handed back. */
  oldGenerationMb?: number;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, PrepareJob>;
  batch: PrepareJob[];
}

/** The result of a job whose parse ran its worker out of memory: the main thread, with its larger heap, parses it. */
export const TOO_BIG_FOR_WORKER = Symbol('too big for a worker');

type Result = PreparedEntry | ProxyError | typeof TOO_BIG_FOR_WORKER;

interface Waiting {
  update: Update;
  size: number;
  result?: Result;
}

const DEFAULT_HIGH_WATER = 32 * 2 ** 20;

/**
 * How many prepare workers `exporter.worker_threads` asks for. Like the Rust
 * proxy's runtime threads it counts every thread, the main one included: N
 * threads are N - 1 workers. 0 (auto) is one thread per core from 4 cores
 * up (at most 8 workers) and the main thread alone below: on 2 cores
 * shared with the senders one worker was no clear gain (bench rows from 28%
 * slower to 39% faster) and costs ~9 MB of resident memory.
 */
export function workerCount(workerThreads: number, cores = os.availableParallelism()): number {
  if (workerThreads > 0) return workerThreads - 1;
  return cores >= 4 ? Math.min(cores - 1, 8) : 0;
}

export class PreparePool {
  private readonly slots: Slot[] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 0;
  private nextDelivery = 0;
  private waitingSize = 0;
  private pressured = false;
  private flushQueued = false;
  private closing = false;
  private idleWaiters: (() => void)[] = [];
  private readonly highWaterMark: number;

  constructor(private readonly opts: PreparePoolOptions) {
    this.highWaterMark = opts.highWaterMark ?? DEFAULT_HIGH_WATER;
    for (let i = 0; i < Math.max(1, opts.size); i++) this.slots.push(this.spawn());
  }

  /** No job waiting: an update applied inline now cannot overtake one. */
  get idle(): boolean {
    return this.waiting.size === 0;
  }

  get threads(): number {
    return this.slots.length;
  }

  /** Queue `update` (which has `text`) for a worker; it is delivered in submission order. */
  submit(update: Update & { text: string }, labels: readonly Label[], maxSeries: number | undefined): void {
    if (this.closing) throw new ProxyError('the prepare pool is closed');
    const id = this.nextId++;
    const size = update.text.length;
    this.waiting.set(id, { update, size });
    this.waitingSize += size;
    const slot = this.leastLoaded();
    slot.batch.push({ id, app: update.app, text: update.text, labels, defaultLabels: update.defaultLabels, maxSeries });
    // A worker with jobs keeps the process alive (until they are delivered); an idle one does not.
    if (slot.inFlight.size === 0) slot.worker.ref();
    slot.inFlight.set(id, slot.batch[slot.batch.length - 1]!);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    if (!this.pressured && this.waitingSize > this.highWaterMark) {
      this.pressured = true;
      this.opts.onPressure?.(true);
    }
  }

  /** Resolves once every job submitted so far was delivered. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Deliver what is in flight, then stop the workers. */
  async close(): Promise<void> {
    this.closing = true;
    await this.whenIdle();
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    // Small heaps: a worker's garbage is short-lived parse data, and every
    // MB it may grow to is resident memory the store does not use.
    const worker = new Worker(new URL('./prepare_worker.js', import.meta.url), {
      resourceLimits: { maxYoungGenerationSizeMb: this.opts.youngGenerationMb ?? 3, maxOldGenerationSizeMb: this.opts.oldGenerationMb ?? 64 },
    });
    const slot: Slot = { worker, inFlight: new Map(), batch: [] };
    worker.on('message', (results: PrepareResult[]) => {
      for (const r of results) {
        slot.inFlight.delete(r.id);
        this.settle(r.id, r.prepared ?? errorFromWire(r.error!));
      }
      if (slot.inFlight.size === 0) worker.unref();
      this.deliverReady();
    });
    // A worker that dies (out of memory, a bug in the runtime) is replaced.
    // It handles its messages in the order sent (inFlight's order), so it
    // died on the oldest one it still held: when that was a job sent alone,
    // that job is handed back (out of memory) or fails; every other job is
    // sent again, alone.
    const lost = (why: string, code?: string) => {
      const i = this.slots.indexOf(slot);
      if (i < 0 || (this.closing && slot.inFlight.size === 0)) return;
      const jobs = [...slot.inFlight.values()];
      slot.inFlight.clear();
      this.slots[i] = this.spawn();
      if (jobs[0]?.alone) {
        const culprit = jobs.shift()!;
        this.settle(culprit.id, code === 'ERR_WORKER_OUT_OF_MEMORY' ? TOO_BIG_FOR_WORKER : new ProxyError(`worker thread ended while parsing this payload: ${why}`));
      }
      for (const job of jobs) this.sendAlone({ ...job, alone: true });
      this.deliverReady();
    };
    worker.on('error', (err: Error & { code?: string }) => lost(err.message, err.code));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    worker.unref();
    return slot;
  }

  private sendAlone(job: PrepareJob): void {
    const slot = this.leastLoaded();
    if (slot.inFlight.size === 0) slot.worker.ref();
    slot.inFlight.set(job.id, job);
    slot.worker.postMessage([job]);
  }

  private leastLoaded(): Slot {
    let best = this.slots[0]!;
    for (const s of this.slots) if (s.inFlight.size < best.inFlight.size) best = s;
    return best;
  }

  private flush(): void {
    this.flushQueued = false;
    for (const s of this.slots) {
      if (s.batch.length === 0) continue;
      s.worker.postMessage(s.batch);
      s.batch = [];
    }
  }

  private settle(id: number, result: Result): void {
    const w = this.waiting.get(id);
    if (w) w.result = result;
  }

  private deliverReady(): void {
    for (let w = this.waiting.get(this.nextDelivery); w?.result !== undefined; w = this.waiting.get(this.nextDelivery)) {
      this.waiting.delete(this.nextDelivery++);
      this.waitingSize -= w.size;
      this.opts.deliver(w.update, w.result);
    }
    if (this.pressured && this.waitingSize <= this.highWaterMark / 2) {
      this.pressured = false;
      this.opts.onPressure?.(false);
    }
    if (this.idle && this.idleWaiters.length) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
