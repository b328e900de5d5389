// A prepare worker: parses and renders payloads for the store off the main
// thread (see prepare_pool.ts). It holds no state between batches; every
// result's buffer is transferred, not copied.

import { parentPort } from 'node:worker_threads';
import { ProxyError, errorToWire } from '../errors.js';
import { parseLimited, prepareEntry } from '../store/store.js';
import type { PrepareJob, PrepareResult } from './prepare_pool.js';

function prepare(job: PrepareJob): PrepareResult {
  try {
    const prepared = prepareEntry(job.app, parseLimited(job.app, job.text, job.maxSeries), job.labels, job.defaultLabels);
    return { id: job.id, prepared };
  } catch (err) {
    // A bug here must not take the worker down: it is this payload's rejection.
    const e = err instanceof ProxyError ? err : new ProxyError(`internal error while parsing: ${(err as Error)?.message ?? String(err)}`);
    return { id: job.id, error: errorToWire(e) };
  }
}

parentPort!.on('message', (jobs: PrepareJob[]) => {
  const results = jobs.map(prepare);
  const transfer: ArrayBuffer[] = [];
  for (const r of results) {
    const p = r.prepared;
    if (p?.data) transfer.push(p.data.buffer as ArrayBuffer);
    if (p?.asSent) transfer.push(p.asSent.bytes.buffer as ArrayBuffer); // its line table is a view of the same buffer
  }
  parentPort!.postMessage(results, transfer);
});
