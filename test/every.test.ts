// Every: runs never overlap; a reload that changes the interval runs now,
// one that does not waits the interval out; stop aborts the run in flight.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Every } from '../src/every.js';
import { waitFor } from './helpers.js';

test('Every.reload runs now only when the interval changed; stop aborts the run in flight', async () => {
  let intervalMs = 60_000;
  let runs = 0;
  let aborted = false;
  let hang = false;
  const loop = new Every(async (signal) => {
    runs++;
    if (hang) await new Promise<void>((r) => signal.addEventListener('abort', () => ((aborted = true), r())));
  }, () => intervalMs);
  loop.start();
  await waitFor(() => runs === 1, 2000, 'the first run');
  loop.reload(); // the same interval: the minute is waited out
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(runs, 1);
  hang = true;
  intervalMs = 30_000;
  loop.reload(); // changed: now
  await waitFor(() => runs === 2, 2000, 'a run after the interval changed');
  await loop.stop();
  assert.equal(aborted, true);
});
