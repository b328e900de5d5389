// The push routes through fastify inject: methods, bodies, errors, the
// push_time_seconds / push_failure_time_seconds gauges and the JSON API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOBUF_CT, gzip, protobufFixture, pushRig, watchRepeats } from './push_helpers.js';

const T0 = 1_700_000_000; // the rig's clock, seconds

test('PUT text: 200, grouping labels on every sample, instance="" added, push times', async () => {
  const r = pushRig();
  const res = await r.app.inject({ method: 'PUT', url: '/metrics/job/some_job', payload: 'some_metric 3.14\n' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, '');
  assert.deepEqual(r.lines(), [
    'push_failure_time_seconds{instance="",job="some_job"} 0',
    `push_time_seconds{instance="",job="some_job"} ${T0 / 1e9}e+09`,
    'some_metric{instance="",job="some_job"} 3.14',
  ]);
  assert.match(r.metrics(), /# HELP push_time_seconds Last Unix time when changing this group in the Pushgateway succeeded\.\n# TYPE push_time_seconds gauge\n/);
  assert.match(r.metrics(), /# HELP push_failure_time_seconds Last Unix time when changing this group in the Pushgateway failed\.\n# TYPE push_failure_time_seconds gauge\n/);
  const apps = r.store.listApps();
  assert.equal(apps.length, 1);
  assert.equal(apps[0]!.app, 'job="some_job"');
  assert.equal(apps[0]!.receiver, 'http_push');
  assert.match(apps[0]!.source, /^127\.0\.0\.1:\d+$/); // inject's fake socket
  await r.close();
});

test('grouping labels override the same labels in the body; a pushed instance is kept when the key has none', async () => {
  const r = pushRig();
  const body = 'm{job="other",instance="i1",x="1"} 1\nm{job="other",x="2"} 2\n';
  const collapsed = await r.app.inject({ method: 'PUT', url: '/metrics/job/j/x/9', payload: 'm{x="1"} 1\nm{x="2"} 2\n' });
  assert.equal(collapsed.statusCode, 400); // x="1" and x="2" both become x="9"
  assert.equal(collapsed.body, 'E_DUPLICATE_SERIES: app "job=\\"j\\",x=\\"9\\"": series "m{x=\\"1\\"}" and "m{x=\\"2\\"}" become one once the proxy sets x="9"\n');
  assert.equal((await r.app.inject({ method: 'PUT', url: '/metrics/job/j', payload: body })).statusCode, 200);
  assert.deepEqual(
    r.lines().filter((l) => l.startsWith('m{')),
    ['m{instance="",job="j",x="2"} 2', 'm{instance="i1",job="j",x="1"} 1'],
  );
  await r.close();
});

test('PUT replaces the whole group, POST only families of the same name, DELETE removes it', async () => {
  const r = pushRig();
  const put = (url: string, payload: string) => r.app.inject({ method: 'PUT', url, payload });
  const post = (url: string, payload: string) => r.app.inject({ method: 'POST', url, payload });
  await put('/metrics/job/j/instance/i', 'a 1\nb 1\n');
  await put('/metrics/job/j', 'a 7\n'); // another group, untouched by what follows
  assert.equal((await post('/metrics/job/j/instance/i', 'b 2\nc 2\n')).statusCode, 200);
  const ours = () => r.lines().filter((l) => /^[abc]\{/.test(l));
  assert.deepEqual(ours(), ['a{instance="",job="j"} 7', 'a{instance="i",job="j"} 1', 'b{instance="i",job="j"} 2', 'c{instance="i",job="j"} 2']);
  assert.equal((await put('/metrics/job/j/instance/i', 'c 3\n')).statusCode, 200);
  assert.deepEqual(ours(), ['a{instance="",job="j"} 7', 'c{instance="i",job="j"} 3']);
  const del = await r.app.inject({ method: 'DELETE', url: '/metrics/job/j/instance/i' });
  assert.equal(del.statusCode, 202);
  assert.deepEqual(ours(), ['a{instance="",job="j"} 7']);
  assert.ok(!r.lines().some((l) => l.includes('instance="i"')), 'the push times go with the group');
  // Deleting a group that does not exist is a no-op, still 202.
  assert.equal((await r.app.inject({ method: 'DELETE', url: '/metrics/job/nope' })).statusCode, 202);
  assert.deepEqual(r.store.listApps().map((a) => a.app), ['job="j"']);
  await r.close();
});

test('empty PUT deletes the metrics but keeps (and updates) push_time_seconds; empty POST only updates it', async () => {
  const r = pushRig();
  await r.app.inject({ method: 'PUT', url: '/metrics/job/j', payload: 'a 1\n' });
  r.clock.now += 5000;
  assert.equal((await r.app.inject({ method: 'POST', url: '/metrics/job/j', payload: '' })).statusCode, 200);
  assert.deepEqual(r.lines(), ['a{instance="",job="j"} 1', 'push_failure_time_seconds{instance="",job="j"} 0', `push_time_seconds{instance="",job="j"} 1.700000005e+09`]);
  r.clock.now += 5000;
  assert.equal((await r.app.inject({ method: 'PUT', url: '/metrics/job/j' })).statusCode, 200);
  assert.deepEqual(r.lines(), ['push_failure_time_seconds{instance="",job="j"} 0', `push_time_seconds{instance="",job="j"} 1.70000001e+09`]);
  await r.close();
});

test('every path form reaches the right group', async () => {
  const r = pushRig();
  const cases: [string, string][] = [
    ['/metrics/job/plain', 'job="plain"'],
    ['/metrics/job/plain/', 'job="plain"'],
    ['/metrics/job@base64/L3Zhci90bXA', 'job="/var/tmp"'],
    ['/metrics/job/dc/path@base64/L3Zhci90bXA', 'job="dc",path="/var/tmp"'],
    ['/metrics/job/e/first_label@base64/=/second_label/foobar', 'job="e",first_label="",second_label="foobar"'],
    ['/metrics/job/t/name/%CE%A0%CF%81%CE%BF', 'job="t",name="Προ"'],
    ['/metrics/job/t/name@base64/zqDPgc6_zrzOt864zrXPjc-C', 'job="t",name="Προμηθεύς"'],
    ['/metrics/job/q/a/1?ignored=yes', 'job="q",a="1"'],
  ];
  for (const [url, app] of cases) {
    const res = await r.app.inject({ method: 'PUT', url, payload: 'x 1\n' });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    assert.ok(r.store.getApp(app), `${url} -> ${app}; have ${r.store.listApps().map((a) => a.app).join(' ')}`);
    assert.equal((await r.app.inject({ method: 'DELETE', url })).statusCode, 202);
    assert.equal(r.store.getApp(app), undefined, `DELETE ${url}`);
  }
  await r.close();
});

test('bad paths are 400 with the code and reason, and change nothing', async () => {
  const r = pushRig();
  await r.app.inject({ method: 'PUT', url: '/metrics/job/x', payload: 'a 1\n' });
  const before = r.store.version;
  const cases: [string, RegExp][] = [
    ['/metrics/job/', /^E_GROUPING_KEY: job name is required\n$/],
    ['/metrics/job@base64/=', /^E_GROUPING_KEY: job name is required\n$/],
    ['/metrics/job/x/l@base64/!!', /^E_GROUPING_KEY: invalid base64 encoding for label l "!!"/],
    ['/metrics/job@base64/!!', /^E_GROUPING_KEY: invalid base64 encoding for job name/],
    ['/metrics/job/x/inst', /^E_GROUPING_KEY: odd number of components in label string "\/inst"/],
    ['/metrics/job/x/__x/1', /^E_GROUPING_KEY: improper label name "__x"/],
  ];
  for (const [url, message] of cases) {
    for (const method of ['PUT', 'POST', 'DELETE'] as const) {
      const res = await r.app.inject({ method, url, payload: method === 'DELETE' ? undefined : 'a 2\n' });
      assert.equal(res.statusCode, 400, `${method} ${url}`);
      assert.match(res.headers['content-type'] as string, /^text\/plain/);
      assert.match(res.body, message, `${method} ${url}`);
    }
  }
  // Invalid percent-encoding never reaches the route: fastify answers 400 itself (JSON body).
  assert.equal((await r.app.inject({ method: 'PUT', url: '/metrics/job/x/l/%E0%A4%A', payload: 'a 2\n' })).statusCode, 400);
  assert.equal(r.store.version, before);
  assert.ok(r.rejected.every((e) => e.code === 'E_GROUPING_KEY'));
  // /metrics/job without a slash is not a push route at all.
  assert.equal((await r.app.inject({ method: 'PUT', url: '/metrics/job', payload: 'a 1\n' })).statusCode, 404);
  await r.close();
});

test('gzip bodies; corrupt gzip, unknown encodings and gzip bombs are rejected', async () => {
  const r = pushRig({ maxBodyBytes: 64 * 1024 });
  const ok = await r.app.inject({ method: 'PUT', url: '/metrics/job/gz', payload: gzip('# TYPE g gauge\ng 42\n'), headers: { 'content-encoding': 'gzip' } });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.ok(r.lines().includes('g{instance="",job="gz"} 42'));
  const corrupt = await r.app.inject({ method: 'PUT', url: '/metrics/job/gz', payload: Buffer.from('not gzip at all'), headers: { 'content-encoding': 'gzip' } });
  assert.equal(corrupt.statusCode, 400);
  assert.match(corrupt.body, /^E_CONTENT_ENCODING: gzip body cannot be decompressed/);
  const br = await r.app.inject({ method: 'PUT', url: '/metrics/job/gz', payload: 'g 1\n', headers: { 'content-encoding': 'br' } });
  assert.equal(br.statusCode, 400);
  assert.match(br.body, /^E_CONTENT_ENCODING: unsupported Content-Encoding "br"/);
  const bomb = await r.app.inject({ method: 'PUT', url: '/metrics/job/gz', payload: gzip(Buffer.alloc(1024 * 1024, '#')), headers: { 'content-encoding': 'gzip' } });
  assert.equal(bomb.statusCode, 413);
  assert.match(bomb.body, /^E_TOO_LARGE: gzip body decompresses to more than 65536 bytes/);
  assert.ok(r.lines().includes('g{instance="",job="gz"} 42'), 'failed pushes left the group as it was');
  await r.close();
});

test('a body over max_body_bytes is 413 and changes nothing', async () => {
  const r = pushRig({ maxBodyBytes: 2048 });
  const res = await r.app.inject({ method: 'PUT', url: '/metrics/job/big', payload: 'a 1\n'.repeat(1000) });
  assert.equal(res.statusCode, 413);
  assert.match(res.body, /^E_TOO_LARGE: request body is larger than http_push.max_body_bytes \(2048 bytes\)/);
  assert.deepEqual(r.store.listApps(), []);
  assert.deepEqual(r.rejected.map((e) => e.code), ['E_TOO_LARGE']);
  await r.close();
});

test('delimited protobuf bodies (protoc-encoded fixtures), selected only by the exact Content-Type', async () => {
  const r = pushRig();
  const res = await r.app.inject({ method: 'PUT', url: '/metrics/job/pb', payload: protobufFixture('multi.bin'), headers: { 'content-type': PROTOBUF_CT } });
  assert.equal(res.statusCode, 200, res.body);
  const lines = r.lines().filter((l) => !l.startsWith('push_'));
  assert.deepEqual(lines, [
    'a_queue_length{instance="",job="pb",queue="q1"} 4',
    'a_queue_length{instance="",job="pb",queue="q2"} 0',
    'b_events_total{instance="",job="pb"} 10',
    'c_latency_seconds_count{instance="",job="pb"} 2',
    'c_latency_seconds_sum{instance="",job="pb"} 0.5',
    'c_latency_seconds{instance="",job="pb",quantile="0.5"} 0.2',
    'd_size_bytes_bucket{instance="",job="pb",le="+Inf"} 1',
    'd_size_bytes_bucket{instance="",job="pb",le="10"} 1',
    'd_size_bytes_count{instance="",job="pb"} 1',
    'd_size_bytes_sum{instance="",job="pb"} 3',
    'e_misc{instance="",job="pb"} 7',
  ]);
  // Gzipped protobuf.
  const gz = await r.app.inject({ method: 'PUT', url: '/metrics/job/pbgz', payload: gzip(protobufFixture('gauge.bin')), headers: { 'content-type': PROTOBUF_CT, 'content-encoding': 'gzip' } });
  assert.equal(gz.statusCode, 200, gz.body);
  // Without encoding=delimited the body is read as text, as the Pushgateway does.
  const asText = await r.app.inject({ method: 'PUT', url: '/metrics/job/pb2', payload: protobufFixture('multi.bin'), headers: { 'content-type': 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily' } });
  assert.equal(asText.statusCode, 400);
  assert.match(asText.body, /^E_PARSE: /);
  const bad = await r.app.inject({ method: 'PUT', url: '/metrics/job/pb3', payload: protobufFixture('err_metric_name.bin'), headers: { 'content-type': PROTOBUF_CT } });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.body, /^E_PROTOBUF: family 1, /);
  await r.close();
});

test('any Content-Type (or none) is read as text; other routes keep their JSON parser', async () => {
  const r = pushRig();
  r.app.post('/echo', async (req) => ({ got: req.body }));
  for (const ct of [undefined, 'text/plain; version=0.0.4; charset=utf-8', 'application/x-www-form-urlencoded', 'application/json', 'garbage;;==', 'application/octet-stream']) {
    const headers: Record<string, string> = ct === undefined ? {} : { 'content-type': ct };
    const res = await r.app.inject({ method: 'PUT', url: '/metrics/job/ct', payload: 'a 1\n', headers });
    assert.equal(res.statusCode, 200, `${ct}: ${res.body}`);
  }
  const echo = await r.app.inject({ method: 'POST', url: '/echo', payload: '{"a":1}', headers: { 'content-type': 'application/json' } });
  assert.deepEqual(echo.json(), { got: { a: 1 } });
  await r.close();
});

test('malformed text is 400 E_PARSE with the line; nothing changes and no failure time is set', async () => {
  const r = pushRig();
  await r.app.inject({ method: 'PUT', url: '/metrics/job/j', payload: 'a 1\n' });
  const before = r.metrics();
  for (const [body, message] of [
    ['a{ 1\n', /^E_PARSE: line 1: /],
    ['a 1\nb x\n', /^E_PARSE: line 2: /],
    [Buffer.from([0x61, 0x20, 0x31, 0x0a, 0x62, 0xff, 0x20, 0x31, 0x0a]), /^E_PARSE: line 2: invalid UTF-8 at byte 5/],
  ] as const) {
    const res = await r.app.inject({ method: 'POST', url: '/metrics/job/j', payload: body });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, message);
  }
  assert.equal(r.metrics(), before);
  await r.close();
});

test('an inconsistent push is 400, changes nothing but push_failure_time_seconds of an existing group', async () => {
  const r = pushRig();
  await r.app.inject({ method: 'PUT', url: '/metrics/job/a', payload: '# TYPE shared counter\nshared 1\n' });
  await r.app.inject({ method: 'PUT', url: '/metrics/job/b', payload: 'mine 1\n' });
  const appsBefore = r.store.listApps().find((a) => a.app === 'job="b"')!;
  r.clock.now += 10_000;
  const res = await r.app.inject({ method: 'PUT', url: '/metrics/job/b', payload: '# TYPE shared gauge\nshared 2\nmine 2\n' });
  assert.equal(res.statusCode, 400);
  assert.match(res.body, /^E_TYPE_CONFLICT: family "shared" is declared gauge but app "job=\\"a\\"" holds it as counter\n$/);
  assert.deepEqual(
    r.lines().filter((l) => l.includes('job="b"')),
    ['mine{instance="",job="b"} 1', 'push_failure_time_seconds{instance="",job="b"} 1.70000001e+09', 'push_time_seconds{instance="",job="b"} 1.7e+09'],
  );
  const after = r.store.listApps().find((a) => a.app === 'job="b"')!;
  assert.equal(after.updatedAt, appsBefore.updatedAt, 'the failure time is bookkeeping: last update unchanged');
  assert.equal(after.lastError?.code, 'E_TYPE_CONFLICT', '/apps shows why the push failed');
  // Reserved names, and a push to a group that does not exist: nothing is created.
  const reserved = await r.app.inject({ method: 'PUT', url: '/metrics/job/c', payload: 'exporter_proxy_x 1\n' });
  assert.equal(reserved.statusCode, 400);
  assert.match(reserved.body, /^E_RESERVED_NAME: /);
  assert.equal(r.store.getApp('job="c"'), undefined);
  // Duplicate series in one body.
  const dup = await r.app.inject({ method: 'POST', url: '/metrics/job/b', payload: 'mine 1\nmine 2\n' });
  assert.equal(dup.statusCode, 400);
  assert.match(dup.body, /^E_DUPLICATE_SERIES: /);
  // A good push afterwards keeps the failure time, as the Pushgateway does.
  r.clock.now += 10_000;
  assert.equal((await r.app.inject({ method: 'PUT', url: '/metrics/job/b', payload: 'mine 3\n' })).statusCode, 200);
  assert.deepEqual(
    r.lines().filter((l) => l.includes('job="b"')),
    ['mine{instance="",job="b"} 3', 'push_failure_time_seconds{instance="",job="b"} 1.70000001e+09', 'push_time_seconds{instance="",job="b"} 1.70000002e+09'],
  );
  assert.equal(r.store.listApps().find((a) => a.app === 'job="b"')!.lastError, undefined);
  await r.close();
});

test('a pushed push_time_seconds family is overridden; timestamps are accepted and kept (the Pushgateway rejects them)', async () => {
  const r = pushRig();
  const res = await r.app.inject({ method: 'PUT', url: '/metrics/job/j', payload: '# TYPE push_time_seconds counter\npush_time_seconds 5\nts_metric 1 1700000000000\n' });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(r.lines(), ['push_failure_time_seconds{instance="",job="j"} 0', 'push_time_seconds{instance="",job="j"} 1.7e+09', 'ts_metric{instance="",job="j"} 1 1700000000000']);
  await r.close();
});

test('grouping labels le/quantile cannot be applied to histograms/summaries', async () => {
  const r = pushRig();
  const res = await r.app.inject({ method: 'PUT', url: '/metrics/job/j/le/1', payload: '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n' });
  assert.equal(res.statusCode, 400);
  assert.match(res.body, /^E_GROUPING_KEY: grouping label "le" cannot be applied to histogram "h"/);
  assert.equal((await r.app.inject({ method: 'PUT', url: '/metrics/job/j/le/1', payload: 'plain 1\n' })).statusCode, 200);
  await r.close();
});

test('groups expire after http_push ttl (default: the store ttl; 0 = never)', async () => {
  for (const [ttlMs, storeTtlMs, expect] of [
    [60_000, 0, 60_000],
    [undefined, 30_000, 30_000],
    [0, 30_000, undefined],
  ] as const) {
    const r = pushRig({ ttlMs, storeTtlMs });
    await r.app.inject({ method: 'PUT', url: '/metrics/job/j', payload: 'a 1\n' });
    const info = r.store.listApps()[0]!;
    assert.equal(info.expiresAt === undefined ? undefined : info.expiresAt - r.clock.now, expect);
    if (expect !== undefined) {
      r.clock.now += expect;
      assert.deepEqual(r.store.expire(), ['job="j"']);
    }
    await r.close();
  }
});

test('GET /api/v1/metrics in the Pushgateway shape', async () => {
  const r = pushRig();
  await r.app.inject({
    method: 'PUT',
    url: '/metrics/job/j/instance/i',
    payload: '# HELP h_seconds Help "quoted" \\\\ back.\n# TYPE h_seconds histogram\nh_seconds_bucket{le="0.1"} 1\nh_seconds_bucket{le="+Inf"} 3\nh_seconds_sum 2.5\nh_seconds_count 3\n# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 4\ns_count 2\n# TYPE c_total counter\nc_total{x="1"} 5\nu 1000000\n',
  });
  r.clock.now += 1000;
  await r.app.inject({ method: 'POST', url: '/metrics/job/j/instance/i', payload: 'u 1234567\n' });
  const res = await r.app.inject({ method: 'GET', url: '/api/v1/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^application\/json/);
  const body = res.json() as { status: string; data: Record<string, any>[] };
  assert.equal(body.status, 'success');
  assert.equal(body.data.length, 1);
  const g = body.data[0]!;
  const t0 = new Date(1_700_000_000_000).toISOString();
  const t1 = new Date(1_700_000_001_000).toISOString();
  assert.deepEqual(g.labels, { job: 'j', instance: 'i' });
  assert.equal(g.last_push_successful, true);
  const L = { instance: 'i', job: 'j' };
  assert.deepEqual(g.h_seconds, { time_stamp: t0, type: 'HISTOGRAM', help: 'Help "quoted" \\ back.', metrics: [{ labels: L, buckets: { '0.1': '1', '+Inf': '3' }, count: '3', sum: '2.5' }] });
  assert.deepEqual(g.s, { time_stamp: t0, type: 'SUMMARY', metrics: [{ labels: L, quantiles: { '0.5': '1' }, count: '2', sum: '4' }] });
  assert.deepEqual(g.c_total, { time_stamp: t0, type: 'COUNTER', metrics: [{ labels: { ...L, x: '1' }, value: '5' }] });
  assert.deepEqual(g.u, { time_stamp: t1, type: 'UNTYPED', metrics: [{ labels: L, value: '1.234567e+06' }] });
  assert.deepEqual(g.push_time_seconds, {
    time_stamp: t1,
    type: 'GAUGE',
    help: 'Last Unix time when changing this group in the Pushgateway succeeded.',
    metrics: [{ labels: L, value: '1.700000001e+09' }],
  });
  assert.equal(g.push_failure_time_seconds.metrics[0].value, '0');
  // A failed push flips last_push_successful.
  r.clock.now += 1000;
  await r.app.inject({ method: 'PUT', url: '/metrics/job/j/instance/i', payload: '# TYPE c_total gauge\nc_total 1\nc_total 2\n' });
  const after = (await r.app.inject({ method: 'GET', url: '/api/v1/metrics' })).json() as { data: Record<string, any>[] };
  assert.equal(after.data[0]!.last_push_successful, false);
  await r.close();
});

test('GET /api/v1/status and PUT /api/v1/admin/wipe', async () => {
  const r = pushRig();
  const status = (await r.app.inject({ method: 'GET', url: '/api/v1/status' })).json() as { status: string; data: Record<string, any> };
  assert.equal(status.status, 'success');
  assert.deepEqual(Object.keys(status.data).sort(), ['build_information', 'flags', 'start_time']);
  assert.match(status.data.build_information.version, /^\d+\.\d+\.\d+/);
  assert.equal(status.data.flags['push.disable-consistency-check'], 'false');
  await r.app.inject({ method: 'PUT', url: '/metrics/job/a', payload: 'a 1\n' });
  await r.app.inject({ method: 'PUT', url: '/metrics/job/b', payload: 'b 1\n' });
  r.store.put({ app: 'tcp_app', source: 'x', receiver: 'tcp', text: 'other 1\n' });
  const wipe = await r.app.inject({ method: 'PUT', url: '/api/v1/admin/wipe' });
  assert.equal(wipe.statusCode, 202);
  assert.deepEqual(r.store.listApps().map((a) => a.app), ['tcp_app'], 'only pushed groups are wiped');
  assert.deepEqual((await r.app.inject({ method: 'GET', url: '/api/v1/metrics' })).json(), { status: 'success', data: [] });
  await r.close();
});

test('a PUT that repeats the group (same families and series, new values) is stored without a parse, as a parse would store it', async () => {
  const r = pushRig();
  const taken = watchRepeats(r.push);
  const body = (v: string) => `# HELP req Requests.\n# TYPE req counter\nreq{code="200"} ${v}\nreq{code="500"} 1\n`;
  const put = async (payload: string) => (await r.app.inject({ method: 'PUT', url: '/metrics/job/j', payload })).statusCode;
  assert.equal(await put(body('1')), 200);
  r.clock.now += 10_000;
  assert.equal(await put(body('2')), 200);
  const expected = (v: string, pushed: string, failed = '0') => [`push_failure_time_seconds{instance="",job="j"} ${failed}`, `push_time_seconds{instance="",job="j"} ${pushed}`, `req{code="200",instance="",job="j"} ${v}`, 'req{code="500",instance="",job="j"} 1'];
  assert.deepEqual(r.lines(), expected('2', '1.70000001e+09'));
  assert.match(r.metrics(), /# HELP req Requests\.\n# TYPE req counter\n/);
  // r.lines() rendered the group (as a scrape does): the next repeat is compared with the rendered lines.
  r.clock.now += 10_000;
  assert.equal(await put(body('3')), 200);
  assert.deepEqual(r.lines(), expected('3', '1.70000002e+09'));
  assert.deepEqual(taken, [false, true, true], 'the first PUT was parsed, the repeats were not');

  // A repeat with a bad value is parsed, and refused with the parser's error.
  const bad = await r.app.inject({ method: 'PUT', url: '/metrics/job/j', payload: body('x') });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.body, /^E_PARSE: line 3: /);
  assert.deepEqual(r.lines(), expected('3', '1.70000002e+09'));
  // After that miss the store parses the group's next push without trying (it backs off).
  r.clock.now += 10_000;
  assert.equal(await put(body('4')), 200);
  assert.deepEqual(r.lines(), expected('4', '1.70000003e+09'));
  // A repeat the store refuses (a limit lowered since): refused as a parsed push is. (Its failure time
  // is not stored either: the group is over the new limit, so its bookkeeping update is refused too.)
  r.store.configure({ maxSeriesPerApp: 3 });
  r.clock.now += 10_000;
  const over = await r.app.inject({ method: 'PUT', url: '/metrics/job/j', payload: body('5') });
  assert.equal(over.statusCode, 400);
  assert.match(over.body, /^E_LIMIT: app "job=\\"j\\"" sent 4 series; the limit per app is 3/);
  assert.deepEqual(r.lines(), expected('4', '1.70000003e+09'));
  assert.deepEqual(taken.slice(3), [false, false, true], 'the bad value was not taken as a repeat, nor tried after it; the one over the limit was taken');
  await r.close();
});

test('a POST naming every family the group holds is stored without a parse too; one naming some of them merges as before', async () => {
  const r = pushRig();
  const taken = watchRepeats(r.push);
  const post = async (payload: string) => (await r.app.inject({ method: 'POST', url: '/metrics/job/j', payload })).statusCode;
  assert.equal(await post('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n'), 200);
  r.clock.now += 10_000;
  assert.equal(await post('# TYPE a gauge\na 2\n# TYPE b gauge\nb 2\n'), 200);
  assert.equal(await post('# TYPE b gauge\nb 3\n'), 200);
  assert.deepEqual(taken, [false, true, false]);
  assert.deepEqual(r.lines(), ['a{instance="",job="j"} 2', 'b{instance="",job="j"} 3', 'push_failure_time_seconds{instance="",job="j"} 0', 'push_time_seconds{instance="",job="j"} 1.70000001e+09']);
  await r.close();
});
