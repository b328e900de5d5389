// Bounded fuzz runs (a few seconds in all) of every property in
// properties.ts; bench/fuzz.ts runs the same properties for as long as asked.
// Inputs the fuzzer found are replayed from tables in the unit test files
// (test/store/store.test.ts "found by fuzzing") and below.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TARGETS, checkCapnp, checkJson, checkStore, checkText, cut, type TargetName } from './properties.js';
import { capnpEncode } from '../capnp_ts.js';

/** Per-target time budget in npm test; the seed varies per run so CI covers new ground, and is printed on failure. */
const BUDGET_MS = 700;
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);

for (const name of Object.keys(TARGETS) as TargetName[]) {
  test(`fuzz ${name}: ${BUDGET_MS} ms of random inputs (seed ${SEED}; replay: FUZZ_SEED=${SEED})`, () => {
    const r = fc.check(TARGETS[name](), { seed: SEED, numRuns: 1_000_000, interruptAfterTimeLimit: BUDGET_MS, markInterruptAsFailure: false });
    assert.ok(!r.failed, fc.defaultReportMessage(r) ?? 'failed');
    assert.ok(r.numRuns > 20, `only ${r.numRuns} cases ran`);
  });
}

// Hand-picked edges the generators reach only rarely, replayed every run.
test('fuzz properties hold on hand-picked edges', () => {
  for (const t of ['', '\n', '#', 'm', 'm 1', 'm{} 1', 'm{a="\\\\"} 1', '# TYPE m histogram\nm_bucket{le="+Inf"} 1\nm_sum 1\nm_count 1', '\ud800', 'm 1\r\n']) checkText(t);
  checkStore([
    [0, 'm 0\nm{app=""} 0', false],
    [1, '# TYPE m counter\nm 1', false],
    [1, '# TYPE m gauge\nm 1', true],
  ]);
  const msg = Buffer.from(JSON.stringify({ a: 'x 1\n', b: ['y 1'] }));
  checkJson(msg, [1, 5, 9], 1024);
  checkJson(Buffer.concat([msg, Buffer.from('}{')]), [msg.length], 1024);
  checkJson(Buffer.from('{"a":"' + 'x'.repeat(100) + '"}'), [3, 50], 40);
  const c = capnpEncode('app', 'm 1\n');
  checkCapnp(Buffer.concat([c, c.subarray(0, 9)]), [4, 8, 12], 1 << 20, false);
  checkCapnp(capnpEncode('app', 'm 1\n'.repeat(50)), [1], 64, false);
  checkCapnp(capnpEncode('a', 'm 1\n', true), [2, 3], 1 << 20, true);
  assert.deepEqual(cut(new Uint8Array([1, 2, 3]), [0, 2, 2, 9]).map((x) => [...x]), [[1], [2], [3]]);
});
