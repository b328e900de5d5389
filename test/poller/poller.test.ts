// The poller against real local HTTP/HTTPS targets: what lands in the store,
// failure reasons, staleness, no overlap, spreading, shutdown.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { ExporterProxy } from '../../src/app.js';
import { memoryLogger } from '../../src/log.js';
import { parseText } from '../../src/exposition/text_parse.js';
import type { PollEvent } from '../../src/poller/poller.js';
import { getText, refusedPort, tempDir, testConfig, waitFor } from '../helpers.js';
import { body, endless, gzipped, ok, sampleValue, selfSignedCert, slow, startHttpsTarget, startTarget, status, type Target } from './targets.js';

interface Harness {
  proxy: ExporterProxy;
  url: string;
  events: PollEvent[];
  logs: string[];
  metrics(): Promise<string>;
  metric(series: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

async function start(pollToml: string): Promise<Harness> {
  const dir = tempDir();
  const config = testConfig(dir, pollToml);
  const logger = memoryLogger();
  const events: PollEvent[] = [];
  const proxy = new ExporterProxy({ config, logger, defaultMetrics: false, onPoll: (e) => events.push(e) });
  const addr = await proxy.start();
  const url = `http://127.0.0.1:${addr.http.port}`;
  const metrics = async () => (await getText(`${url}/metrics`)).body;
  return {
    proxy,
    url,
    events,
    logs: logger.lines,
    metrics,
    metric: async (series) => sampleValue(await metrics(), series),
    async stop() {
      await proxy.stop(1000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const section = (interval: number, timeout: number, extra = '') => `
[poll_external]
poll_other_scrape_endpoints = true
poll_interval = ${interval}
client_timeout = ${timeout}
${extra}
`;

const targetToml = (url: string, extra = '') => `\n[[poll_external.targets]]\nurl = "${url}"\n${extra}\n`;

test('other_scrape_endpoints: app named "external_poll: host:port" (also the source), gzip and text 0.0.4 asked for', async (t) => {
  const target = await startTarget(gzipped(body(3, 'legacy_gauge')));
  const h = await start(section(0.1, 1, `other_scrape_endpoints = ["${target.url}"]`));
  t.after(async () => {
    await h.stop();
    await target.close();
  });
  const app = `external_poll: ${target.hostPort}`;
  await waitFor(() => h.proxy.store.listApps().find((a) => a.app === app), 3000, 'the app');
  const info = h.proxy.store.listApps().find((a) => a.app === app)!;
  assert.equal(info.source, app);
  assert.equal(info.receiver, 'poll');
  assert.equal(info.series, 3);
  const text = await h.metrics();
  assert.match(text, /^legacy_gauge\{series="2"\} 1$/m);
  assert.equal(target.requests[0]!['accept'], 'text/plain;version=0.0.4');
  assert.equal(target.requests[0]!['accept-encoding'], 'gzip');
  assert.equal(await h.metric(`exporter_proxy_poll_up{target="${target.url}"}`), 1);
  assert.ok((await h.metric(`exporter_proxy_poll_last_success_timestamp_seconds{target="${target.url}"}`))! > Date.now() / 1000 - 5);
  assert.ok((await h.metric(`exporter_proxy_poll_duration_seconds{target="${target.url}"}`))! < 1);
  assert.match(text, /^exporter_proxy_received_total\{receiver="poll"\} \d+$/m);
});

test('[[poll_external.targets]]: app, escaped labels, headers and bearer token; the merged /metrics still parses', async (t) => {
  const target = await startTarget(ok(body(2, 'rich_gauge')));
  const h = await start(
    section(0.1, 1) +
      targetToml(target.url, `app = "rich"\nlabels = { env = "prod \\"eu\\"", path = 'C:\\tmp' }\nheaders = { X-Tenant = "t1" }\nbearer_token = "s3cret"`),
  );
  t.after(async () => {
    await h.stop();
    await target.close();
  });
  await waitFor(() => h.proxy.store.listApps().find((a) => a.app === 'rich'), 3000, 'the app');
  const text = await h.metrics();
  assert.match(text, /^rich_gauge\{series="0",env="prod \\"eu\\"",path="C:\\\\tmp"\} 1$/m);
  assert.equal(target.requests[0]!['authorization'], 'Bearer s3cret');
  assert.equal(target.requests[0]!['x-tenant'], 't1');
  assert.equal(h.proxy.store.listApps().find((a) => a.app === 'rich')!.source, target.url);
  parseText(text);
});

test('failed polls are counted by reason: refused, timeout, status, invalid, too_large (streamed and gzip bomb)', async (t) => {
  const down = await refusedPort();
  const slowT = await startTarget(slow(2000));
  const status503 = await startTarget(status(503));
  const garbage = await startTarget(ok('this is { not metrics\n'));
  const sent = { max: 0, closedEarly: false };
  const huge = await startTarget(endless(256 * 1024 * 1024, sent));
  const bomb = await startTarget((_req, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip' });
    res.end(zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024, '#')));
  });
  const targets: Target[] = [slowT, status503, garbage, huge, bomb];
  let started: Harness | undefined;
  t.after(async () => {
    await started?.stop();
    await Promise.all(targets.map((x) => x.close())); // also when the proxy did not start
  });
  const downUrl = `http://127.0.0.1:${down}/metrics`;
  const h = (started = await start(
    section(0.2, 0.3, 'max_body_bytes = 65536') + [downUrl, ...targets.map((x) => x.url)].map((u) => targetToml(u, `app = "${u}"`)).join(''),
  ));
  const expect: [string, string][] = [
    [downUrl, 'refused'],
    [slowT.url, 'timeout'],
    [status503.url, 'status'],
    [garbage.url, 'invalid'],
    [huge.url, 'too_large'],
    [bomb.url, 'too_large'],
  ];
  for (const [url, reason] of expect) {
    const n = await waitFor(async () => h.metric(`exporter_proxy_poll_failures_total{target="${url}",reason="${reason}"}`), 5000, `${reason} for ${url}`);
    assert.ok(n >= 1);
    assert.equal(await h.metric(`exporter_proxy_poll_up{target="${url}"}`), 0, url);
  }
  // The limit is enforced while streaming: each connection closed long before 256 MiB.
  await waitFor(() => sent.closedEarly, 3000, 'the huge body connection to close');
  assert.ok(sent.max < 32 * 1024 * 1024, `sent up to ${sent.max} bytes on one response`);
  assert.equal(h.proxy.store.appCount, 0);
  // The reason and message reach the log once per target going down.
  assert.ok(h.logs.some((l) => l.includes('reason=status') && l.includes('503')));
  assert.ok(h.logs.some((l) => l.includes('payload rejected') && l.includes('E_PARSE')));
});

test('https: tls_skip_verify = true polls a self-signed target; false fails with reason tls', async (t) => {
  const dir = tempDir();
  const cert = selfSignedCert(dir);
  const target = await startHttpsTarget(ok(body(1, 'tls_gauge')), cert);
  const verifyUrl = target.url.replace('/metrics', '/verify');
  const h = await start(section(0.1, 1) + targetToml(target.url, 'app = "skip"\ntls_skip_verify = true') + targetToml(verifyUrl, 'app = "verify"\ntls_skip_verify = false'));
  t.after(async () => {
    await h.stop();
    await target.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await waitFor(() => h.proxy.store.listApps().find((a) => a.app === 'skip'), 3000, 'the skip-verify app');
  const failure = await waitFor(() => h.events.find((e) => e.target.app === 'verify' && !e.ok), 3000, 'the verifying poll to fail');
  assert.equal(failure.reason, 'tls');
  assert.match(failure.error!, /TLS: .*(self[- ]signed|certificate)/i);
  assert.equal(h.proxy.store.listApps().find((a) => a.app === 'verify'), undefined);
  assert.ok((await h.metric(`exporter_proxy_poll_failures_total{target="${verifyUrl}",reason="tls"}`))! >= 1);
});

test('a failing target keeps its last good data until stale_after intervals without success, then its app is removed', async (t) => {
  const target = await startTarget(ok(body(2, 'stale_gauge')));
  const h = await start(section(0.1, 0.5) + targetToml(target.url, 'app = "flaky"\nstale_after = 4'));
  t.after(async () => {
    await h.stop();
    await target.close();
  });
  await waitFor(() => h.proxy.store.listApps().find((a) => a.app === 'flaky'), 3000, 'the first success');
  target.behaviour = ok('garbage {{{\n');
  const firstFailure = await waitFor(() => h.events.find((e) => !e.ok), 3000, 'a failed poll');
  const lastSuccess = Math.max(...h.events.filter((e) => e.ok).map((e) => e.startedAt + e.durationMs));
  // Still there after a failure, with the old samples.
  assert.equal(firstFailure.reason, 'invalid');
  assert.match(await h.metrics(), /^stale_gauge\{series="1"\} 1$/m);
  await waitFor(() => !h.proxy.store.listApps().some((a) => a.app === 'flaky' && a.series > 0), 3000, 'the app to be removed');
  const removedAt = Date.now();
  assert.ok(removedAt - lastSuccess >= 4 * 100 - 20, `removed ${removedAt - lastSuccess} ms after the last success`);
  assert.doesNotMatch(await h.metrics(), /^stale_gauge/m);
  assert.ok(h.logs.some((l) => l.includes('stale')));
  // Recovery brings it back.
  target.behaviour = ok(body(2, 'stale_gauge'));
  await waitFor(() => h.proxy.store.listApps().find((a) => a.app === 'flaky' && a.series === 2), 3000, 'recovery');
});

test('a target slower than its interval is never polled twice at once; skipped slots are counted', async (t) => {
  const target = await startTarget(slow(250));
  const h = await start(section(0.1, 1) + targetToml(target.url, 'app = "slow"'));
  t.after(async () => {
    await h.stop();
    await target.close();
  });
  await waitFor(() => h.events.filter((e) => e.ok).length >= 4, 5000, 'four polls');
  assert.equal(target.maxActive, 1);
  const starts = h.events.map((e) => e.startedAt);
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 250, `polls ${i - 1} and ${i} overlap`);
  assert.ok((await h.metric(`exporter_proxy_poll_skipped_total{target="${target.url}"}`))! >= 4);
});

test('first polls of many targets are spread over the interval, each on a stable offset', async (t) => {
  const target = await startTarget(ok(body(1)));
  const n = 20;
  const urls = Array.from({ length: n }, (_, i) => `${target.url}?t=${i}`);
  const started = Date.now();
  const h = await start(section(0.4, 0.3) + urls.map((u, i) => targetToml(u, `app = "t${i}"`)).join(''));
  t.after(async () => {
    await h.stop();
    await target.close();
  });
  await waitFor(() => new Set(h.events.map((e) => e.target.app)).size === n, 3000, 'every target polled');
  await waitFor(() => h.events.length >= 3 * n, 5000, 'three rounds');
  const first = new Map<string, PollEvent>();
  for (const e of h.events) if (!first.has(e.target.app)) first.set(e.target.app, e);
  const times = [...first.values()].map((e) => e.startedAt - started);
  assert.ok(Math.max(...times) - Math.min(...times) >= 150, `first polls within ${Math.max(...times) - Math.min(...times)} ms`);
  assert.ok(new Set([...first.values()].map((e) => e.plannedAt)).size >= n / 2, 'distinct slots');
  // Each target keeps its phase: planned times advance by exactly the interval.
  for (const app of first.keys()) {
    const planned = h.events.filter((e) => e.target.app === app).map((e) => e.plannedAt);
    for (let i = 1; i < planned.length; i++) assert.equal(planned[i]! - planned[i - 1]!, 400, app);
  }
  assert.ok(target.maxActive < n, 'not fired all at once');
});

test('stop aborts in-flight polls promptly and leaves the stored data', async (t) => {
  const target = await startTarget(ok(body(1, 'kept_gauge')));
  const h = await start(section(0.1, 10) + targetToml(target.url, 'app = "kept"'));
  t.after(() => target.close());
  await waitFor(() => h.proxy.store.listApps().find((a) => a.app === 'kept'), 3000, 'a success');
  target.behaviour = slow(10_000);
  await waitFor(() => target.active === 1, 3000, 'a poll in flight');
  const t0 = Date.now();
  await h.stop();
  assert.ok(Date.now() - t0 < 1000, `stop took ${Date.now() - t0} ms`);
  await waitFor(() => target.active === 0, 1000, 'the in-flight request to be closed');
  assert.ok(h.proxy.store.listApps().find((a) => a.app === 'kept'));
  const failures = h.events.filter((e) => !e.ok);
  assert.deepEqual(failures, [], 'an aborted poll is not a failure');
});

test('poll_other_scrape_endpoints = false polls nothing, targets included', async (t) => {
  const target = await startTarget(ok(body(1)));
  const h = await start(section(0.1, 1).replace('= true', '= false') + `other_scrape_endpoints = ["${target.url}"]` + targetToml(target.url, 'app = "x"'));
  t.after(async () => {
    await h.stop();
    await target.close();
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(target.requests.length, 0);
  assert.equal(h.events.length, 0);
});
