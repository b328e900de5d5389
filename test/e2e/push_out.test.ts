// [push_out] with a real prometheus-pushgateway: the proxy, holding groups
// pushed to it with the Pushgateway API (so series with job and instance
// labels), pushes its store to the gateway every interval; the gateway
// accepts it (nothing collapses) and serves it, the store's job and
// instance kept as exported_job and exported_instance.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, getText } from '../helpers.js';
import { startCli } from './e2e_helpers.js';
import { startPushgateway } from './pushgateway_process.js';

test('the store pushed to a real Pushgateway: accepted, served with exported_job/exported_instance, follows a DELETE', async () => {
  const pg = await startPushgateway();
  const p = await startCli(`[push_out]\nurl = "${pg.url}"\ninterval = 1\ngrouping = { instance = "gw-1" }\n`);
  try {
    for (const [path, body] of [['/metrics/job/a/instance/1', 'm 1\n'], ['/metrics/job/a/instance/2', 'm 2\n'], ['/metrics/job/b', 'm 3\n']]) {
      const res = await fetch(`${p.http}${path!}`, { method: 'PUT', body });
      assert.equal(res.status, 200, await res.text());
    }
    const series = async () => (await getText(`${pg.url}/metrics`)).body.split('\n').filter((l) => l.startsWith('m{')).sort();
    const want = [
      'm{exported_instance="",exported_job="b",instance="gw-1",job="exporter-proxy"} 3',
      'm{exported_instance="1",exported_job="a",instance="gw-1",job="exporter-proxy"} 1',
      'm{exported_instance="2",exported_job="a",instance="gw-1",job="exporter-proxy"} 2',
    ];
    await waitFor(async () => JSON.stringify(await series()) === JSON.stringify(want), 10_000, `the gateway serving ${want.join(' ')}`);
    // The gateway's group follows the store: a DELETE here is gone there at the next push.
    assert.equal((await fetch(`${p.http}/metrics/job/b`, { method: 'DELETE' })).status, 202);
    await waitFor(async () => ((await series()).length === 2 ? true : undefined), 10_000, 'the deleted group gone from the gateway');
    assert.doesNotMatch((await getText(`${pg.url}/metrics`)).body, /push_failure_time_seconds\{[^}]*job="exporter-proxy"\} [1-9]/, 'no push failed');
  } finally {
    await p.stop();
    await pg.stop();
  }
});
