// [remote_write] into a real Prometheus (--web.enable-remote-write-receiver):
// it decodes our snappy and protobuf, and its query API returns every
// sample with its labels unescaped, its special values, and the timestamp
// the sample was pushed with; a group deleted from the store is marked stale;
// a series two apps hold (no app_label) is written once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { waitFor, tempDir } from '../helpers.js';
import { requireCommand, startCli, startPrometheus, sh } from './e2e_helpers.js';

interface Result {
  metric: Record<string, string>;
  value: [number, string];
}

test('a real Prometheus receives the store over remote_write: labels, escapes, +Inf and NaN, own timestamps', async () => {
  requireCommand('prometheus', 'prometheus');
  requireCommand('nc', 'netcat-openbsd');
  const dir = tempDir();
  const prom = await startPrometheus(dir, 'global:\n  scrape_interval: 1m\n', ['--web.enable-remote-write-receiver']);
  const api = `${prom.url}/api/v1`;
  const stopProm = async () => {
    await prom.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const p = await startCli(`[store]\napp_label = "app"\n[remote_write]\nurl = "${api}/write"\ninterval = 1\nheaders = { "X-Scope-OrgID" = "tenant-1" }\n`).catch(async (err: unknown) => {
    await stopProm();
    throw err;
  });
  try {
    const stamped = Date.now() - 60_000;
    const payload = `# TYPE rw_requests_total counter\nrw_requests_total{code="200",path="/a\\"b\\\\c"} 5\n# TYPE rw_temp gauge\nrw_temp{room="x"} +Inf\nrw_temp{room="y"} NaN\nrw_old 7 ${stamped}\n`;
    // 3,000 more series make the request span several 64 KiB snappy blocks, each compressed on its own.
    const many = Array.from({ length: 3000 }, (_, i) => `rw_many{i="${i}",pad="${'x'.repeat(20)}"} ${i}`).join('\n') + '\n';
    sh(`nc -q 0 127.0.0.1 ${p.tcpPort}`, { input: JSON.stringify({ edge: payload, bulk: many }) });
    const query = async (q: string): Promise<Result[]> => {
      try {
        return ((await (await fetch(`${api}/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: Result[] } }).data.result;
      } catch {
        return []; // Prometheus still starting
      }
    };
    const requests = await waitFor(async () => ((await query('rw_requests_total')).length ? query('rw_requests_total') : undefined), 30_000, 'the first remote write');
    assert.deepEqual(requests.map((r) => [r.metric, r.value[1]]), [[{ __name__: 'rw_requests_total', app: 'edge', code: '200', path: '/a"b\\c' }, '5']]);
    const temps = (await query('rw_temp')).map((r) => [r.metric.room, r.value[1]]).sort();
    assert.deepEqual(temps, [['x', '+Inf'], ['y', 'NaN']]);
    // A sample pushed with a timestamp keeps it: found at that time, not later than its 5-minute lookback.
    const old = await query(`rw_old @ ${(stamped / 1000).toFixed(3)}`);
    assert.deepEqual(old.map((r) => r.value[1]), ['7']);
    assert.deepEqual((await query('count(rw_many)')).map((r) => r.value[1]), ['3000']);
    assert.deepEqual((await query('sum(rw_many)')).map((r) => r.value[1]), [String((2999 * 3000) / 2)]);

    // A group that goes away is marked stale by the next send: Prometheus stops
    // returning it at once, not after its 5-minute lookback.
    const group = `${p.http}/metrics/job/rw_gone`;
    assert.equal((await fetch(group, { method: 'PUT', body: 'rw_gone_total 1\n' })).status, 200);
    await waitFor(async () => (await query('rw_gone_total')).length === 1, 30_000, 'the pushed group in Prometheus');
    assert.equal((await fetch(group, { method: 'DELETE' })).status, 202);
    await waitFor(async () => (await query('rw_gone_total')).length === 0, 10_000, 'the deleted group marked stale');
    assert.deepEqual((await query('count(rw_many)')).map((r) => r.value[1]), ['3000'], 'the rest stays');

    // Without app_label two apps can hold the same series: written once, the first, not refused as a whole.
    const bare = await startCli(`[remote_write]\nurl = "${api}/write"\ninterval = 1\n`);
    try {
      sh(`nc -q 0 127.0.0.1 ${bare.tcpPort}`, { input: JSON.stringify({ one: 'rw_shared 1\nrw_one 1\n' }) });
      sh(`nc -q 0 127.0.0.1 ${bare.tcpPort}`, { input: JSON.stringify({ two: 'rw_shared 2\nrw_two 2\n' }) });
      await waitFor(async () => (await query('rw_two')).length === 1, 30_000, 'the second app in Prometheus');
      assert.deepEqual((await query('rw_shared')).map((r) => r.value[1]), ['1']);
      const own = await (await fetch(`${bare.http}/-/metrics`)).text();
      assert.match(own, /^exporter_proxy_remote_write_duplicate_series 1$/m);
      assert.doesNotMatch(own, /^exporter_proxy_remote_write_total\{result="invalid"\}/m);
    } finally {
      await bare.stop();
    }
  } finally {
    await p.stop();
    await stopProm();
  }
});
