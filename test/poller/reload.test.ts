// Reload hands new poll targets and fan-out groups to the running proxy:
// added targets start polling, removed ones stop and their apps go away,
// unchanged ones keep their schedule; fan-out groups appear and disappear.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { ExporterProxy } from '../../src/app.js';
import { configFromText } from '../../src/config/config.js';
import { memoryLogger } from '../../src/log.js';
import { getText, tempDir, waitFor } from '../helpers.js';
import { body, ok, startTarget } from './targets.js';

function toml(dir: string, targets: string[], fanout: string[]): string {
  return `
[exporter]
scrape_expose_endpoint = "127.0.0.1:0"
[receiver]
receive_on_tcp_socket = false
receiver_unix_socket = "${dir}/r.sock"
[poll_external]
poll_other_scrape_endpoints = true
poll_interval = 0.1
${targets.map((u, i) => `[[poll_external.targets]]\nurl = "${u}"\napp = "t${i}"\n`).join('')}
${fanout.map((u, i) => `[[fanout]]\nname = "g${i}"\ninstances = ["${u}"]\n`).join('')}
`;
}

test('reload: poll targets and fan-out groups follow the new config', async (t) => {
  const a = await startTarget(ok(body(2, 'from_a')));
  const b = await startTarget(ok(body(3, 'from_b')));
  const dir = tempDir();
  const proxy = new ExporterProxy({ config: configFromText(toml(dir, [a.url], [])), logger: memoryLogger(), defaultMetrics: false });
  const addr = await proxy.start();
  const url = `http://127.0.0.1:${addr.http.port}`;
  t.after(async () => {
    await proxy.stop(1000);
    await a.close();
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const apps = () => proxy.store.listApps().map((x) => `${x.app}:${x.series}`).sort();
  await waitFor(() => apps().join() === 't0:2', 3000, 'target a polled');
  assert.equal((await getText(`${url}/targets/g0/metrics`)).status, 404);

  // Swap: a goes (t0 becomes b), plus a fan-out group over a.
  const r = proxy.reload(configFromText(toml(dir, [b.url], [a.url.replace(/\/metrics$/, '')])));
  assert.ok(r.ok);
  assert.deepEqual(r.needsRestart, []);
  assert.ok(r.applied.includes('poll_external') && r.applied.includes('fanout'), JSON.stringify(r));
  await waitFor(() => apps().join() === 't0:3', 3000, 'target b polled under the app t0');
  const fan = await getText(`${url}/targets/g0/metrics`);
  assert.equal(fan.status, 200);
  assert.match(fan.body, /^from_a\{series="0",instance="127\.0\.0\.1:\d+",index="0"\} 1$/m);

  // Remove everything: the app is dropped at once, not after it goes stale.
  const requestsBefore = b.requests.length;
  proxy.reload(configFromText(toml(dir, [], [])));
  assert.deepEqual(apps(), []);
  await new Promise((res) => setTimeout(res, 300));
  assert.ok(b.requests.length <= requestsBefore + 1, 'a removed target is not polled again');
  assert.equal((await getText(`${url}/targets/g0/metrics`)).status, 404);
});
