// remote_write's encoding details as tables (the end-to-end test has a real
// Prometheus decode whole requests) and its config's problems.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeRequest } from '../../src/outputs/remote_write.js';
import { configFromText } from '../../src/config/config.js';
import { Slices } from '../../src/slices.js';
import { assertConfigProblems } from '../helpers.js';

// Protobuf pieces of a WriteRequest, written out by hand (field tag, length, bytes).
const label = (name: string, value: string) => [0x0a, 2 + name.length + 2 + value.length, 0x0a, name.length, ...Buffer.from(name), 0x12, value.length, ...Buffer.from(value)];
const double = (v: number) => [...new Uint8Array(new Float64Array([v]).buffer)];
/** A TimeSeries with one sample at `ts` < 128 (one varint byte). */
const series = (labels: number[], value: number[], ts: number) => [0x0a, labels.length + 2 + 11, ...labels, 0x12, 11, 0x09, ...value, 0x10, ts];
/** A MetricMetadata: type, family name, HELP if any (all shorter than 128 bytes). */
const meta = (type: number, name: string, help = '') => {
  const fields = [0x08, type, 0x12, name.length, ...Buffer.from(name), ...(help ? [0x22, Buffer.byteLength(help), ...Buffer.from(help)] : [])];
  return [0x1a, fields.length, ...fields];
};

test('writeRequest: labels sorted with __name__, values unescaped, the sample with its own timestamp', async () => {
  const got = (await writeRequest(Buffer.from('m{b="x\\"y",a="1"} 3 1000\n'), 5)).body;
  const sample = [0x12, 12, 0x09, ...double(3), 0x10, 0xe8, 0x07];
  const ts = [...label('__name__', 'm'), ...label('a', '1'), ...label('b', 'x"y'), ...sample];
  assert.deepEqual([...got], [...meta(0, 'm'), 0x0a, ts.length, ...ts]);
});

test('writeRequest: each family\'s type and HELP (unescaped) as metadata', async () => {
  const got = (await writeRequest(Buffer.from('# HELP c_total Requests\\nmade, \\\\ counted.\n# TYPE c_total counter\nc_total 1 5\n# TYPE h histogram\nh_bucket{le="+Inf"} 1 5\nh_sum 2 5\nh_count 1 5\n# TYPE s summary\ns_sum 1 5\ns_count 1 5\n# TYPE g gauge\ng 1 5\n'), 9)).body;
  const one = double(1);
  assert.deepEqual([...got], [
    ...meta(1, 'c_total', 'Requests\nmade, \\ counted.'),
    ...series(label('__name__', 'c_total'), one, 5),
    ...meta(3, 'h'),
    ...series([...label('__name__', 'h_bucket'), ...label('le', '+Inf')], one, 5),
    ...series(label('__name__', 'h_sum'), double(2), 5),
    ...series(label('__name__', 'h_count'), one, 5),
    ...meta(5, 's'),
    ...series(label('__name__', 's_sum'), one, 5),
    ...series(label('__name__', 's_count'), one, 5),
    ...meta(2, 'g'),
    ...series(label('__name__', 'g'), one, 5),
  ]);
});

test('writeRequest: a timestamp before 1970 is a negative int64, ten varint bytes', async () => {
  const got = (await writeRequest(Buffer.from('m 1 -1000\n'), 5)).body.subarray(meta(0, 'm').length);
  // The sample: value 1.0, then field 2 with -1000 as two's complement.
  assert.deepEqual([...got.subarray(got.length - 11)], [0x10, 0x98, 0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.equal(got[1], got.length - 2, 'the series length counts the ten bytes');
});

test('writeRequest: a series of the last request that is gone gets a staleness marker at the send time', async () => {
  const first = await writeRequest(Buffer.from('a 1\nb{x="1"} 2\n'), 5);
  assert.equal(first.series.size, 2);
  const staleNaN = [0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f];
  const second = await writeRequest(Buffer.from('a 3\n'), 7, undefined, first.series);
  assert.deepEqual([...second.body], [...meta(0, 'a'), ...series(label('__name__', 'a'), double(3), 7), ...series([...label('__name__', 'b'), ...label('x', '1')], staleNaN, 7)]);
  assert.equal(second.series.size, 1, 'the marked series is not carried on');
  // Back again: no marker; and nothing before, nothing marked.
  const third = await writeRequest(Buffer.from('a 4\nb{x="1"} 5\n'), 9, undefined, second.series);
  assert.deepEqual([...third.body], [...meta(0, 'a'), ...series(label('__name__', 'a'), double(4), 9), ...meta(0, 'b'), ...series([...label('__name__', 'b'), ...label('x', '1')], double(5), 9)]);
});

test('writeRequest: a series two apps hold (no app_label) is written once, the first; the copies are counted', async () => {
  const got = await writeRequest(Buffer.from('# TYPE m gauge\nm{a="1"} 1\nm{a="2"} 2\nm{a="1"} 3\nm{a="1"} 4\n'), 5);
  assert.deepEqual([...got.body], [...(await writeRequest(Buffer.from('# TYPE m gauge\nm{a="1"} 1\nm{a="2"} 2\n'), 5)).body]);
  assert.deepEqual(got.dropped, { series: 2, first: 'm{a="1"}' });
  assert.equal(got.series.size, 2);
  assert.deepEqual((await writeRequest(Buffer.from('m 1\n'), 5)).dropped, { series: 0 });
});

test('[remote_write] config: every problem names its key', () => {
  const cases: [string, RegExp[]][] = [
    ['[remote_write]\nurl = "prometheus:9090"\n', [/remote_write\.url: must be an http or https URL/]],
    ['[remote_write]\nurl = "http://p/api/v1/write"\nheaders = { "Content-Encoding" = "gzip", "X-Bad" = "a\\nb" }\n', [/remote_write\.headers\.X-Bad: must not contain CR, LF or NUL/, /remote_write\.headers\.content-encoding: set by the proxy/]],
    ['[remote_write]\nurl = "http://p/api/v1/write"\nqueue = 5\n', [/remote_write\.queue: unknown key/]],
  ];
  assertConfigProblems(cases);
  assert.deepEqual(configFromText('[remote_write]\nurl = "http://mimir/api/v1/push"\nheaders = { "X-Scope-OrgID" = "t1" }\n').remoteWrite, {
    url: 'http://mimir/api/v1/push',
    intervalMs: 15000,
    timeoutMs: 10000,
    headers: { 'x-scope-orgid': 't1' },
  });
});

test('writeRequest gives the event loop turns while it builds a large request', async () => {
  const text = Array.from({ length: 2000 }, (_, i) => `m{i="${i}"} ${i}`).join('\n') + '\n';
  let turns = 0;
  const tick = () => {
    turns++;
    if (!done) setImmediate(tick);
  };
  let done = false;
  setImmediate(tick);
  await writeRequest(Buffer.from(text), 0, new Slices(0)); // a zero slice: a turn every 256 samples
  done = true;
  assert.ok(turns >= 2000 / 256 - 1, `${turns} turns`);
});
