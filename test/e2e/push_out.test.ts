// [push_out] with a real prometheus-pushgateway: the proxy, holding groups
// pushed to it with the Pushgateway API (so series with job and instance
// labels), pushes its store to the gateway every interval; the gateway
// accepts it (nothing collapses) and serves it, the store's job and
// instance kept as exported_job and exported_instance. Two apps holding the
// same series (no app_label) would have the gateway refuse the whole push:
// the copy is left out, counted and logged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, getText, send } from '../helpers.js';
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

test('two apps holding the same series (no app_label): the real Pushgateway accepts the push with the first, the copy is counted and logged once', async () => {
  const pg = await startPushgateway();
  const p = await startCli(`[push_out]\nurl = "${pg.url}"\ninterval = 1\n`);
  try {
    await send({ port: p.tcpPort }, JSON.stringify({ a: '# TYPE shared_total counter\nshared_total 1\nonly_a 1\n' }));
    await send({ port: p.tcpPort }, JSON.stringify({ b: '# TYPE shared_total counter\nshared_total 2\nonly_b 2\n' }));
    const served = async () => (await getText(`${pg.url}/metrics`)).body.split('\n').filter((l) => /^(shared_total|only_)/.test(l)).sort();
    const want = ['only_a{instance="",job="exporter-proxy"} 1', 'only_b{instance="",job="exporter-proxy"} 2', 'shared_total{instance="",job="exporter-proxy"} 1'];
    await waitFor(async () => JSON.stringify(await served()) === JSON.stringify(want), 10_000, `the gateway serving ${want.join(' ')}`);
    assert.match((await getText(`${p.http}/-/metrics`)).body, /^exporter_proxy_push_out_duplicate_series 1$/m);
    assert.match((await getText(`${p.http}/-/metrics`)).body, /^exporter_proxy_push_out_total\{result="ok"\} [1-9]/m);
    await new Promise((r) => setTimeout(r, 2200)); // two more pushes
    const warnings = p.stderr().split('\n').filter((l) => l.includes('leaves out series that two apps hold'));
    assert.equal(warnings.length, 1, p.stderr());
    assert.match(warnings[0]!, /series=1 first=shared_total/);
  } finally {
    await p.stop();
    await pg.stop();
  }
});
