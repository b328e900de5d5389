// The scrape fast path (rawMetricsRoute): which requests it takes, on a real
// server on port 0, and that over real sockets the proxy's /metrics answers
// as fastify's route does (compared with inject), with access control kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { MetricsAnswers, rawMetricsRoute } from '../../src/http/metrics_route.js';
import { RenderCache } from '../../src/store/render_cache.js';
import { Store } from '../../src/store/store.js';
import { basic } from '../durability_helpers.js';
import { startProxy, tempDir, testConfig } from '../helpers.js';
import { ExporterProxy } from '../../src/app.js';
import { memoryLogger } from '../../src/log.js';

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function get(base: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('scrape fast path: takes a plain GET /metrics (query allowed), hands on everything else', async () => {
  const store = new Store({ ttlMs: 0, appLabel: '' });
  store.put({ app: 'a', text: '# TYPE m counter\nm{x="1"} 1\n', source: 's', receiver: 'tcp' });
  const answers = new MetricsAnswers({ cache: new RenderCache(store), ownMetrics: async () => '# TYPE own gauge\nown 1\n' });
  let allowed = true;
  let closing = false;
  const route = rawMetricsRoute(answers, { allowed: () => allowed, closing: () => closing });
  const handedOn: string[] = [];
  const server = http.createServer((req, res) => {
    if (route(req, res)) return;
    handedOn.push(`${req.method} ${req.url}`);
    res.end('handed on');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const taken = [{ path: '/metrics' }, { path: '/metrics?x=1' }, { path: '/metrics', headers: { 'content-length': '0' } }];
    for (const r of taken) {
      const got = await get(base, r.path, { headers: r.headers });
      assert.equal(got.body.toString(), '# TYPE m counter\nm{x="1"} 1\n# TYPE own gauge\nown 1\n', r.path);
    }
    const gz = await get(base, '/metrics', { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), '# TYPE m counter\nm{x="1"} 1\n# TYPE own gauge\nown 1\n');
    assert.deepEqual(handedOn, []);

    await get(base, '/metrics', { method: 'HEAD' });
    await get(base, '/metrics', { method: 'POST', headers: { 'content-length': '1' }, body: 'x' });
    await get(base, '/metrics/', {});
    await get(base, '/metricsx', {});
    await get(base, '/metrics', { headers: { 'content-length': '6' }, body: 'a body' });
    allowed = false;
    await get(base, '/metrics', {});
    allowed = true;
    closing = true;
    await get(base, '/metrics?closing', {});
    assert.deepEqual(handedOn, ['HEAD /metrics', 'POST /metrics', 'GET /metrics/', 'GET /metricsx', 'GET /metrics', 'GET /metrics', 'GET /metrics?closing']);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('scrape fast path: a failure before the answer is a plain-text 500 naming it, and the next scrape is served', async () => {
  const store = new Store({ ttlMs: 0, appLabel: '' });
  let fail = true;
  const answers = new MetricsAnswers({
    cache: new RenderCache(store),
    ownMetrics: async () => {
      if (fail) throw new Error('collect failed: gauge x');
      return 'own 1\n';
    },
  });
  const route = rawMetricsRoute(answers, { allowed: () => true, closing: () => false });
  const server = http.createServer((req, res) => void route(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const bad = await get(base, '/metrics');
    assert.equal(bad.status, 500);
    assert.equal(bad.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(bad.body.toString(), 'collect failed: gauge x\n');
    fail = false;
    const good = await get(base, '/metrics');
    assert.equal(good.status, 200);
    assert.equal(good.body.toString(), 'own 1\n');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('a scrape whose client left while its answer was made holds nothing: the render buffer is reused two renders later', async () => {
  const store = new Store({ ttlMs: 0, appLabel: '' });
  const put = (app: string) => store.put({ app, text: `m_${app} 1\n`, source: 's', receiver: 'tcp' });
  put('a');
  const cache = new RenderCache(store);
  let asked!: () => void;
  const wasAsked = new Promise<void>((r) => (asked = r));
  let answer!: (text: string) => void;
  const answers = new MetricsAnswers({
    cache,
    ownMetrics: () => {
      asked();
      return new Promise<string>((r) => (answer = r));
    },
  });
  const route = rawMetricsRoute(answers, { allowed: () => true, closing: () => false });
  const server = http.createServer((req, res) => void route(req, res));
  const serverSide = new Promise<net.Socket>((r) => server.once('connection', r));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const first = cache.current().body.buffer;
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    client.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await wasAsked;
    const closed = new Promise((r) => serverSide.then((s) => s.once('close', r)));
    client.destroy();
    await closed;
    answer('own 1\n');
    await new Promise((r) => setImmediate(r));
    put('b');
    assert.notEqual(cache.current().body.buffer, first, 'a new render takes a new buffer while the first is current');
    put('c');
    assert.equal(cache.current().body.buffer, first, 'the first render buffer, released, is reused');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

for (const gzip of [false, true]) {
  test(`proxy /metrics over a socket (${gzip ? 'gzip' : 'plain'}) answers as fastify's route does, access control kept`, async () => {
    const p = await startProxy({ extra: `[http]\nscrape_auth = { basic = { username = "prom", password = "pw" } }\n` });
    try {
      p.proxy.ingest({ app: 'a', text: '# TYPE m counter\nm{x="1"} 1\n', source: 's', receiver: 'tcp' });
      const auth = { authorization: basic('prom', 'pw'), ...(gzip ? { 'accept-encoding': 'gzip' } : {}) };
      const refused = await get(p.url, '/metrics', { headers: gzip ? { 'accept-encoding': 'gzip' } : {} });
      assert.equal(refused.status, 401);
      const viaSocket = await get(p.url, '/metrics', { headers: auth });
      const viaInject = await p.proxy.http.inject({ method: 'GET', url: '/metrics', headers: auth });
      assert.equal(viaSocket.status, 200);
      for (const h of ['content-type', 'content-encoding', 'vary']) assert.equal(viaSocket.headers[h], viaInject.headers[h], h);
      assert.equal(Number(viaSocket.headers['content-length']), viaSocket.body.length);
      const text = (b: Buffer) => (gzip ? gunzipSync(b) : b).toString();
      // The stored part is the same bytes; the own metrics after it may be newer by a request.
      const stored = (t: string) => t.slice(0, t.indexOf('# HELP exporter_proxy_'));
      assert.ok(stored(text(viaSocket.body)).startsWith('# TYPE m counter\nm{x="1"} 1\n'));
      assert.equal(stored(text(viaSocket.body)), stored(text(viaInject.rawPayload)));
      assert.match(text(viaSocket.body), /^exporter_proxy_rejected_total\{receiver="http",reason="unauthorized"\} 1$/m);
    } finally {
      await p.stop();
    }
  });
}

test('the proxy serves plain scrapes and pushes before fastify, and hands it the rest', async () => {
  const proxy = new ExporterProxy({ config: testConfig(tempDir()), logger: memoryLogger(), defaultMetrics: false });
  const reachedFastify: string[] = [];
  proxy.http.addHook('onRequest', (request, _reply, done) => {
    reachedFastify.push(`${request.method} ${request.url}`);
    done();
  });
  const addr = await proxy.start();
  const base = `http://127.0.0.1:${addr.http.port}`;
  try {
    const push = await get(base, '/metrics/job/j', { method: 'PUT', headers: { 'content-length': '4' }, body: 'm 1\n' });
    assert.equal(push.status, 200);
    const scrape = await get(base, '/metrics');
    assert.match(scrape.body.toString(), /^m\{instance="",job="j"\} 1$/m);
    assert.equal((await get(base, '/metrics', { method: 'HEAD' })).status, 200);
    assert.equal((await get(base, '/apps')).status, 200);
    assert.deepEqual(reachedFastify, ['HEAD /metrics', 'GET /apps']);
  } finally {
    await proxy.stop(1000);
  }
});
