// The same pushes to a real prometheus-pushgateway (Debian's binary) and to
// the proxy: the same status codes, then the same families when both are
// scraped, and the same /api/v1/metrics. Ignored: our exporter_proxy_*
// metrics, its go_*/process_*/pushgateway_*/promhttp_* metrics, and the
// values of push_time_seconds / push_failure_time_seconds (only whether they
// are set). The documented differences are exercised explicitly at the end.
// A missing binary fails the test with the package to install.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseText } from '../../src/exposition/text_parse.js';
import { goFloat } from '../../src/push/api_json.js';
import { startProxy, waitFor } from '../helpers.js';
import { PROTOBUF_CT, gzip, protobufFixture } from '../push/push_helpers.js';
import { startPushgateway } from './pushgateway_process.js';

interface Step {
  method: 'PUT' | 'POST' | 'DELETE';
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  status: number;
}

const COUNTER_BODY = '# TYPE other_metric counter\nother_metric{label="val1"} 42\n# TYPE another_metric gauge\n# HELP another_metric Just an example.\nanother_metric 2398.283\n';
const RICH_BODY = `# HELP req_seconds Request latency.
# TYPE req_seconds histogram
req_seconds_bucket{job="ignored",le="0.5"} 1
req_seconds_bucket{job="ignored",le="+Inf"} 2
req_seconds_sum{job="ignored"} 1.5
req_seconds_count{job="ignored"} 2
# TYPE rpc summary
rpc{quantile="0.9"} NaN
rpc_sum 3
rpc_count 4
esc{a="x\\"y\\\\z\\nw"} +Inf
big 1e+06
`;

const STEPS: Step[] = [
  { method: 'PUT', path: '/metrics/job/some_job', body: 'some_metric 3.14\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/other_job/instance/some_instance', body: COUNTER_BODY, status: 200 },
  { method: 'POST', path: '/metrics/job/other_job/instance/some_instance', body: 'yet_another{a="1"} 1\n', status: 200 },
  { method: 'POST', path: '/metrics/job/other_job/instance/some_instance', body: '# TYPE another_metric gauge\n# HELP another_metric Just an example.\nanother_metric 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA', body: 'some_metric{foo="bar"} 3.14\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/example/first_label@base64/=/second_label/foobar', body: 'ex 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/titan/name@base64/zqDPgc6_zrzOt864zrXPjc-C', body: 'titan_up 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/titan2/name/%CE%A0%CF%81%CE%BF', body: 'titan_up 2\n', status: 200 },
  { method: 'PUT', path: '/metrics/job@base64/L3Zhci90bXA/a@base64/YQ', body: 'b64job 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/gz', body: gzip('gz_metric 1\n'), headers: { 'content-encoding': 'gzip' }, status: 200 },
  { method: 'PUT', path: '/metrics/job/pb', body: protobufFixture('multi.bin'), headers: { 'content-type': PROTOBUF_CT }, status: 200 },
  { method: 'PUT', path: '/metrics/job/pbh', body: protobufFixture('histogram.bin'), headers: { 'content-type': PROTOBUF_CT }, status: 200 },
  { method: 'PUT', path: '/metrics/job/rich/instance/h1', body: RICH_BODY, status: 200 },
  { method: 'PUT', path: '/metrics/job/slash/', body: 'ts1 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/x2/inst/', body: 'ts2 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/dup/l/1/l/2', body: 'dupm 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/jobpath/job/other', body: 'jp 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/pt', body: 'push_time_seconds 5\npt 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/empty', body: 'gone 1\n', status: 200 },
  { method: 'PUT', path: '/metrics/job/empty', body: '', status: 200 },
  { method: 'POST', path: '/metrics/job/empty2', body: '', status: 200 },
  { method: 'PUT', path: '/metrics/job/deleted', body: 'del 1\n', status: 200 },
  { method: 'DELETE', path: '/metrics/job/deleted', status: 202 },
  { method: 'DELETE', path: '/metrics/job/never_pushed', status: 202 },
  // Inconsistent with another group: rejected, and the existing group gets push_failure_time_seconds.
  { method: 'PUT', path: '/metrics/job/some_job', body: '# TYPE other_metric gauge\nother_metric 1\n', status: 400 },
  // Malformed paths and bodies.
  { method: 'PUT', path: '/metrics/job/x/inst', body: 'a 1\n', status: 400 },
  { method: 'PUT', path: '/metrics/job/x/__a/1', body: 'a 1\n', status: 400 },
  { method: 'PUT', path: '/metrics/job/x/1a/1', body: 'a 1\n', status: 400 },
  { method: 'PUT', path: '/metrics/job/x/l@base64/!!', body: 'a 1\n', status: 400 },
  { method: 'PUT', path: '/metrics/job/x/l@base64/Y', body: 'a 1\n', status: 400 },
  { method: 'PUT', path: '/metrics/job/x/inst/a%2Fb', body: 'a 1\n', status: 400 },
  { method: 'PUT', path: '/metrics/job/x', body: 'a{ 1\n', status: 400 },
  // Duplicate series count as inconsistent (failure time set), not as malformed.
  { method: 'POST', path: '/metrics/job/some_job', body: 'a 1\na 2\n', status: 400 },
];

async function send(base: string, s: Pick<Step, 'method' | 'path' | 'body' | 'headers'>): Promise<{ status: number; body: string }> {
  const body = s.body === undefined || typeof s.body === 'string' ? s.body : new Uint8Array(s.body);
  const res = await fetch(base + s.path, { method: s.method, body, headers: s.headers, redirect: 'manual' });
  return { status: res.status, body: await res.text() };
}

type Families = Map<string, { type: string; help?: string; samples: Map<string, string> }>;

const FOREIGN = /^(go_|process_|pushgateway_|promhttp_|exporter_proxy_)/;

/** The pushed families of a scrape, samples keyed by name and sorted labels; push times only as set/unset. */
function families(text: string): Families {
  const out: Families = new Map();
  for (const f of parseText(text).families) {
    if (FOREIGN.test(f.name)) continue;
    const samples = new Map<string, string>();
    for (const s of f.samples) {
      const labels = [...s.labels].sort((a, b) => (a.name < b.name ? -1 : 1)).map((l) => `${l.name}="${l.value}"`);
      const v = goFloat(s.value);
      const value = f.name === 'push_time_seconds' || f.name === 'push_failure_time_seconds' ? (v > 0 ? 'set' : '0') : Number.isNaN(v) ? 'NaN' : String(v);
      samples.set(`${s.name}{${labels.join(',')}}`, value);
    }
    out.set(f.name, { type: f.type, help: f.help, samples });
  }
  return out;
}

function plain(f: Families): Record<string, unknown> {
  return Object.fromEntries([...f].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, v]) => [name, { type: v.type, help: v.help, samples: Object.fromEntries([...v.samples].sort()) }]));
}

async function scrape(base: string): Promise<Record<string, unknown>> {
  return plain(families(await (await fetch(base + '/metrics')).text()));
}

/** /api/v1/metrics keyed by grouping labels, without time stamps and push time values, metrics sorted. */
async function apiGroups(base: string): Promise<Record<string, unknown>> {
  const body = (await (await fetch(base + '/api/v1/metrics')).json()) as { status: string; data: Record<string, any>[] };
  assert.equal(body.status, 'success');
  const out: Record<string, unknown> = {};
  for (const g of body.data) {
    const key = JSON.stringify(Object.entries(g.labels as Record<string, string>).sort());
    const group: Record<string, unknown> = { last_push_successful: g.last_push_successful };
    for (const [name, fam] of Object.entries(g)) {
      if (name === 'labels' || name === 'last_push_successful') continue;
      const f = fam as { type: string; help?: string; metrics: Record<string, unknown>[] };
      const metrics = f.metrics
        .map((m) => {
          const copy: Record<string, unknown> = { ...m, labels: Object.fromEntries(Object.entries(m.labels as Record<string, string>).sort()) };
          if (name === 'push_time_seconds' || name === 'push_failure_time_seconds') copy.value = Number(m.value) > 0 ? 'set' : '0';
          // A protobuf histogram pushed without a +Inf bucket: the Pushgateway's JSON shows the buckets as
          // pushed, ours the +Inf bucket its scrape output (and ours) adds. Equal to `count` either way.
          const buckets = copy.buckets as Record<string, string> | undefined;
          if (buckets && buckets['+Inf'] === copy.count) copy.buckets = Object.fromEntries(Object.entries(buckets).filter(([le]) => le !== '+Inf'));
          return copy;
        })
        .sort((a, b) => (JSON.stringify(a.labels) < JSON.stringify(b.labels) ? -1 : 1));
      group[name] = { type: f.type, help: f.help, metrics };
    }
    out[key] = group;
  }
  return out;
}

test('the same pushes to prometheus-pushgateway and to the proxy give the same results', async () => {
  const pg = await startPushgateway();
  const p = await startProxy();
  try {
    for (const step of STEPS) {
      const theirs = await send(pg.url, step);
      const ours = await send(p.url, step);
      const what = `${step.method} ${step.path}: pushgateway ${theirs.status} ${JSON.stringify(theirs.body)}, proxy ${ours.status} ${JSON.stringify(ours.body)}`;
      assert.equal(theirs.status, step.status, what);
      assert.equal(ours.status, step.status, what);
      if (step.status === 400) assert.match(ours.body, /^E_[A-Z_]+: .+\n$/s, what);
    }
    // DELETE is queued in the Pushgateway: wait until both agree, then compare exactly.
    let last: [Record<string, unknown>, Record<string, unknown>] | undefined;
    await waitFor(
      async () => {
        last = [await scrape(pg.url), await scrape(p.url)];
        return JSON.stringify(last[0]) === JSON.stringify(last[1]);
      },
      3000,
      'the scrapes to agree',
    ).catch(() => undefined);
    assert.deepEqual(last![1], last![0], 'scraped families: proxy (actual) vs pushgateway (expected)');
    const expectedFamilies = Object.keys(last![0]);
    assert.ok(expectedFamilies.includes('req_seconds') && expectedFamilies.includes('c_latency_seconds') && expectedFamilies.length > 20, expectedFamilies.join(' '));
    // The failed push set push_failure_time_seconds of the existing group in both.
    const failure = (last![1].push_failure_time_seconds as { samples: Record<string, string> }).samples;
    assert.equal(failure['push_failure_time_seconds{instance="",job="some_job"}'], 'set');
    assert.deepEqual(await apiGroups(p.url), await apiGroups(pg.url), '/api/v1/metrics: proxy (actual) vs pushgateway (expected)');

    // Documented differences, each shown on both and then removed from both.
    const diff = async (step: Omit<Step, 'status'>, pgStatus: number, ourStatus: number, pgMessage: RegExp) => {
      const theirs = await send(pg.url, step);
      const ours = await send(p.url, step);
      assert.equal(theirs.status, pgStatus, `pushgateway ${step.path}: ${theirs.body}`);
      assert.match(theirs.body, pgMessage);
      assert.equal(ours.status, ourStatus, `proxy ${step.path}: ${ours.body}`);
      return { theirs, ours };
    };
    // 1. Samples with timestamps: rejected there, kept as sent here.
    await diff({ method: 'PUT', path: '/metrics/job/ts', body: 'with_ts 1 1700000000000\n' }, 400, 200, /must not have timestamps/);
    assert.match(await (await fetch(p.url + '/metrics')).text(), /^with_ts\{instance="",job="ts"\} 1 1700000000000$/m);
    // 2. Samples without TYPE fit under another group's counter here; there, untyped != counter.
    await diff({ method: 'PUT', path: '/metrics/job/loose', body: 'other_metric 5\n' }, 400, 200, /is not a (UNTYPED|COUNTER)/);
    // 3. A failed push to a group that does not exist creates it there (push_time_seconds 0), not here.
    await diff({ method: 'PUT', path: '/metrics/job/newfail', body: '# TYPE other_metric gauge\nother_metric 1\n' }, 400, 400, /inconsistent/);
    assert.match(await (await fetch(pg.url + '/metrics')).text(), /^push_failure_time_seconds\{instance="",job="newfail"\} [1-9]/m);
    assert.doesNotMatch(await (await fetch(p.url + '/metrics')).text(), /job="newfail"/);
    // 4. An empty job: a redirect there, a 400 naming the problem here.
    const emptyJob = await diff({ method: 'PUT', path: '/metrics/job/', body: 'a 1\n' }, 307, 400, /^/);
    assert.equal(emptyJob.ours.body, 'E_GROUPING_KEY: job name is required\n');
    for (const path of ['/metrics/job/ts', '/metrics/job/loose', '/metrics/job/newfail']) {
      assert.equal((await send(pg.url, { method: 'DELETE', path })).status, 202);
      assert.equal((await send(p.url, { method: 'DELETE', path })).status, 202);
    }
    await waitFor(async () => JSON.stringify(await scrape(pg.url)) === JSON.stringify(await scrape(p.url)), 3000, 'the scrapes to agree after the cleanup');
  } finally {
    await p.stop();
    await pg.stop();
  }
});
