import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { ExporterProxy } from '../../src/app.js';
import { configFromText } from '../../src/config/config.js';
import { memoryLogger } from '../../src/log.js';
import { OWN_METRICS_MAX_AGE_MS, acceptsGzip } from '../../src/http/metrics_route.js';

function proxy(toml = '') {
  return new ExporterProxy({ config: configFromText(toml), logger: memoryLogger(), defaultMetrics: false, now: () => Date.UTC(2026, 10, 24, 1, 2, 3, 456) });
}

async function scrape(p: ExporterProxy, gzip: boolean): Promise<{ body: string; headers: Record<string, unknown> }> {
  const res = await p.http.inject({ method: 'GET', url: '/metrics', headers: gzip ? { 'accept-encoding': 'gzip' } : {} });
  assert.equal(res.statusCode, 200);
  const body = gzip ? gunzipSync(res.rawPayload).toString() : res.body;
  assert.equal(res.headers['content-encoding'], gzip ? 'gzip' : undefined);
  return { body, headers: res.headers };
}

for (const gzip of [false, true]) {
  const mode = gzip ? 'gzip' : 'plain';

  test(`/metrics (${mode}): merged families then the proxy's own, text format 0.0.4`, async () => {
    const p = proxy();
    p.ingest({ app: 'a', text: '# TYPE m counter\nm{x="1"} 1\n', source: 's', receiver: 'tcp' });
    p.ingest({ app: 'b', text: '# TYPE m counter\nm{x="2"} 2\n', source: 's', receiver: 'tcp' });
    const { body, headers } = await scrape(p, gzip);
    assert.equal(headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.ok(body.startsWith('# TYPE m counter\nm{x="1"} 1\nm{x="2"} 2\n'), body.slice(0, 200));
    assert.match(body, /^exporter_proxy_apps 2$/m);
    assert.match(body, /^exporter_proxy_series 2$/m);
    assert.match(body, /^exporter_proxy_received_total\{receiver="tcp"\} 2$/m);
    assert.equal(body.match(/^# TYPE m /gm)?.length, 1);
  });

  test(`/metrics (${mode}): an empty store still answers valid text`, async () => {
    const { body } = await scrape(proxy(), gzip);
    assert.match(body, /^# TYPE exporter_proxy_apps gauge$/m);
  });

  test(`/metrics (${mode}): a rejected push is counted by reason and the output is unchanged`, async () => {
    const p = proxy();
    p.ingest({ app: 'a', text: 'ok 1\n', source: 's', receiver: 'unix' });
    assert.equal(p.ingest({ app: 'b', text: 'exporter_proxy_apps 99\n', source: 's', receiver: 'unix' }), false);
    const { body } = await scrape(p, gzip);
    assert.match(body, /^exporter_proxy_rejected_total\{receiver="unix",reason="reserved_name"\} 1$/m);
    assert.match(body, /^exporter_proxy_apps 1$/m);
    assert.doesNotMatch(body, /^exporter_proxy_apps 99$/m);
  });

  test(`/metrics (${mode}): the stored part is always current; the own metrics appended are at most ${OWN_METRICS_MAX_AGE_MS} ms old`, async () => {
    const p = proxy();
    p.ingest({ app: 'a', text: 'm 1\n', source: 's', receiver: 'tcp' });
    assert.match((await scrape(p, gzip)).body, /^exporter_proxy_received_total\{receiver="tcp"\} 1$/m);
    p.ingest({ app: 'b', text: 'n 2\n', source: 's', receiver: 'tcp' });
    const soon = (await scrape(p, gzip)).body;
    assert.match(soon, /^n 2$/m, 'the new app at once');
    assert.match(soon, /^exporter_proxy_received_total\{receiver="tcp"\} [12]$/m);
    await new Promise((r) => setTimeout(r, OWN_METRICS_MAX_AGE_MS + 20));
    assert.match((await scrape(p, gzip)).body, /^exporter_proxy_received_total\{receiver="tcp"\} 2$/m);
    assert.match((await p.http.inject('/-/metrics')).body, /^exporter_proxy_received_total\{receiver="tcp"\} 2$/m, '/-/metrics at once');
  });
}

test('/-/metrics serves only the proxy\'s own metrics', async () => {
  const p = proxy();
  p.ingest({ app: 'a', text: 'stored_family 1\n', source: 's', receiver: 'tcp' });
  const res = await p.http.inject('/-/metrics');
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(res.body, /^exporter_proxy_series 1$/m);
  assert.doesNotMatch(res.body, /stored_family/);
});

test('a path with a malformed percent-encoding is a plain-text 400 naming the path', async () => {
  const p = proxy();
  for (const url of ['/metrics/job/x/l/%ZZ', '/apps%E0%A4%A']) {
    const res = await p.http.inject({ method: url.startsWith('/metrics') ? 'PUT' : 'GET', url, payload: url.startsWith('/metrics') ? 'm 1\n' : undefined });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.body, `E_BAD_URL: request path ${JSON.stringify(url)} has a malformed percent-encoding\n`);
  }
  assert.equal(p.store.appCount, 0);
});

test('acceptsGzip honours q=0 and wildcards', () => {
  assert.equal(acceptsGzip('gzip'), true);
  assert.equal(acceptsGzip('deflate, gzip;q=0.5'), true);
  assert.equal(acceptsGzip('gzip;q=0'), false);
  assert.equal(acceptsGzip('*'), true);
  assert.equal(acceptsGzip('identity'), false);
  assert.equal(acceptsGzip(undefined), false);
});

test('/apps as the Rust proxy table with Series, Expires and Last Error', async () => {
  const p = proxy('[store]\nttl = 60');
  p.ingest({ app: 'foo_bar_app0_metrics', text: 'a 1\nb 2\n', source: '127.0.0.1:6554', receiver: 'tcp' });
  p.ingest({ app: 'broken', text: 'a{ 1', source: '/tmp/s.sock', receiver: 'unix' });
  const res = await p.http.inject('/apps');
  assert.equal(res.statusCode, 200);
  const t = res.body;
  assert.match(t, /Current time: 2026-11-24 01:02:03\.456 UTC/);
  for (const h of ['App Name', 'Last Update Time (UTC)', 'Source', 'Series', 'Expires (UTC)', 'Last Error']) assert.ok(t.includes(h), h);
  assert.match(t, /│ foo_bar_app0_metrics +│ 2026-11-24 01:02:03\.456 UTC │ 127\.0\.0\.1:6554 +│ 2 +│ 2026-11-24 01:03:03\.456 UTC │/);
  assert.match(t, /│ broken +│ never +│ \/tmp\/s\.sock +│ 0 +│ never +│ E_PARSE: line 1: /);
});

test('/apps JSON by Accept header or ?format=json', async () => {
  const p = proxy();
  p.ingest({ app: 'a', text: 'x 1\n', source: 'src', receiver: 'tcp' });
  for (const req of [{ url: '/apps', headers: { accept: 'application/json' } }, { url: '/apps?format=json' }]) {
    const res = await p.http.inject(req);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.deepEqual(res.json(), [
      { app: 'a', source: 'src', receiver: 'tcp', last_update: '2026-11-24T01:02:03.456Z', expires: null, series: 1, last_error: null },
    ]);
  }
});

test('a hostile app name cannot forge a table line or cell', async () => {
  const p = proxy();
  p.ingest({ app: 'evil\n│ forged │\u001b[31m', text: 'x 1\n', source: 's', receiver: 'tcp' });
  const { body } = await p.http.inject('/apps');
  const line = body.split('\n').find((l) => l.includes('evil'))!;
  assert.ok(line.includes('evil\\n\\u2502 forged \\u2502\\u001b[31m'), line);
  assert.ok(!body.includes('\u001b'));
});

test('health and readiness', async () => {
  const p = proxy();
  assert.equal((await p.http.inject('/-/healthy')).statusCode, 200);
  assert.equal((await p.http.inject('/-/ready')).statusCode, 503, 'not ready before start');
});
