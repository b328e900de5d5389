// [http_push] in config.toml, and the push API inside the whole proxy.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromText } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';
import { startProxy, waitFor } from '../helpers.js';

test('[http_push] defaults and values', () => {
  assert.deepEqual(configFromText('').httpPush, { enabled: true, maxBodyBytes: 16 * 1024 * 1024, ttlMs: undefined });
  assert.deepEqual(configFromText('[http_push]\nenabled = false\nmax_body_bytes = 2048\nttl = 1.5\n').httpPush, { enabled: false, maxBodyBytes: 2048, ttlMs: 1500 });
  assert.equal(configFromText('[http_push]\nttl = 0\n[store]\nttl = 30\n').httpPush.ttlMs, 0);
});

test('[http_push] problems name the key', () => {
  assert.throws(
    () => configFromText('[http_push]\nenabled = "yes"\nmax_body_bytes = 10\nttl = -1\nport = 9091\n'),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.problems.includes('http_push.port: unknown key') &&
      e.problems.includes('http_push.enabled: must be true or false, got "yes"') &&
      e.problems.includes('http_push.max_body_bytes: must be at least 1024, got 10') &&
      e.problems.includes('http_push.ttl: must be at least 0, got -1'),
  );
});

test('disabled: the push and API routes answer like a plain scrape endpoint', async () => {
  const p = await startProxy({ extra: '[http_push]\nenabled = false\n' });
  try {
    for (const [method, path] of [
      ['PUT', '/metrics/job/x'],
      ['POST', '/metrics/job/x'],
      ['DELETE', '/metrics/job/x'],
      ['GET', '/api/v1/metrics'],
      ['GET', '/api/v1/status'],
      ['PUT', '/api/v1/admin/wipe'],
    ] as const) {
      const res = await fetch(p.url + path, { method, body: method === 'GET' || method === 'DELETE' ? undefined : 'a 1\n' });
      assert.ok(res.status === 404 || res.status === 405, `${method} ${path}: ${res.status}`);
      await res.arrayBuffer();
    }
    assert.equal((await fetch(p.url + '/metrics')).status, 200);
    assert.equal(p.proxy.store.appCount, 0);
  } finally {
    await p.stop();
  }
});

test('inside the proxy: pushes show in /metrics and /apps, body limit and ttl come from the config', async () => {
  const p = await startProxy({ extra: '[http_push]\nmax_body_bytes = 1024\nttl = 60\n' });
  try {
    const res = await fetch(p.url + '/metrics/job/some_job/instance/some_instance', { method: 'PUT', body: '# TYPE some_metric counter\nsome_metric{label="val1"} 42\n' });
    assert.equal(res.status, 200);
    const metrics = await (await fetch(p.url + '/metrics')).text();
    assert.match(metrics, /^some_metric\{label="val1",job="some_job",instance="some_instance"\} 42$/m);
    assert.match(await (await fetch(p.url + '/-/metrics')).text(), /^exporter_proxy_received_total\{receiver="http_push"\} 1$/m);
    const apps = (await (await fetch(p.url + '/apps?format=json')).json()) as { app: string; receiver: string; source: string; expires: string | null; last_update: string }[];
    assert.equal(apps.length, 1);
    assert.equal(apps[0]!.app, 'job="some_job",instance="some_instance"');
    assert.equal(apps[0]!.receiver, 'http_push');
    assert.match(apps[0]!.source, /^127\.0\.0\.1:\d+$/);
    assert.equal(Date.parse(apps[0]!.expires!) - Date.parse(apps[0]!.last_update), 60_000);
    const big = await fetch(p.url + '/metrics/job/big', { method: 'PUT', body: 'a 1\n'.repeat(500) });
    assert.equal(big.status, 413);
    assert.match(await big.text(), /^E_TOO_LARGE: /);
    const bad = await fetch(p.url + '/metrics/job/bad', { method: 'POST', body: 'a{ 1\n' });
    assert.equal(bad.status, 400);
    assert.match(await (await fetch(p.url + '/-/metrics')).text(), /^exporter_proxy_rejected_total\{receiver="http_push",reason="parse"\} 1$/m);
    assert.ok(p.logs.some((l) => l.includes('push rejected') && l.includes('E_PARSE')), p.logs.join('\n'));
    // Over a real socket too, a path that does not decode is the router's plain-text 400 (push/raw_route.ts leaves it to fastify).
    const badPath = await fetch(p.url + '/metrics/job/x/l/%ZZ', { method: 'PUT', body: 'm 1\n' });
    assert.equal(badPath.status, 400);
    assert.equal(await badPath.text(), 'E_BAD_URL: request path "/metrics/job/x/l/%ZZ" has a malformed percent-encoding\n');
  } finally {
    await p.stop();
  }
});

test('inside the proxy: a push kept as sent is rendered once updates pause, before any scrape asks', async () => {
  const p = await startProxy({ quietRenderMs: 200 }); // no render sooner than one full tick after the push
  try {
    const res = await fetch(p.url + '/metrics/job/j/instance/i', { method: 'PUT', body: 'some_metric{label="v"} 1\nother 2\n' });
    assert.equal(res.status, 200);
    assert.equal(p.proxy.store.pendingCount, 1, 'kept as sent right after the push');
    await waitFor(() => p.proxy.store.pendingCount === 0, 3000, 'the quiet-time render');
    const metrics = await (await fetch(p.url + '/metrics')).text();
    assert.match(metrics, /^some_metric\{label="v",job="j",instance="i"\} 1$/m);
    assert.match(metrics, /^other\{job="j",instance="i"\} 2$/m);
  } finally {
    await p.stop();
  }
});
