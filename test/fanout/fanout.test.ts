// Fan-out groups against real local HTTP/HTTPS instances, a file_sd file
// rewritten during the test, and a tiny DNS server on UDP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseText } from '../../src/exposition/text_parse.js';
import { mergeInstances } from '../../src/fanout/merge.js';
import { refusedPort, startProxy, tempDir, waitFor, type Running } from '../helpers.js';
import { body, endless, gzipped, ok, sampleValue, selfSignedCert, slow, startHttpsTarget, startTarget, status, type Target } from '../poller/targets.js';
import { startDnsServer } from './dns_server.js';

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const raw = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, raw, text: raw.toString('utf8') };
}

function closeAll(targets: Target[]) {
  return Promise.all(targets.map((t) => t.close()));
}

test('static group: every instance fetched, samples labelled instance/index plus group labels, one HELP/TYPE per family, up per instance', async (t) => {
  const a = await startTarget(ok(body(2, 'shared_gauge', 1)));
  const b = await startTarget(gzipped(body(2, 'shared_gauge', 2) + '# TYPE only_b counter\nonly_b_total 5\n'));
  const down = await refusedPort();
  const p = await startProxy({
    extra: `[[fanout]]\nname = "web"\ninstances = ["${a.url.replace('/metrics', '')}", "http://127.0.0.1:${b.port}", "http://127.0.0.1:${down}"]\nlabels = { job = "web", note = "a\\"b" }\ntimeout = 1\n`,
  });
  t.after(async () => {
    await p.stop();
    await closeAll([a, b]);
  });
  const res = await get(`${p.url}/targets/web/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = res.text;
  parseText(text); // valid exposition
  assert.equal(text.match(/^# TYPE shared_gauge gauge$/gm)?.length, 1);
  assert.equal(text.match(/^# HELP shared_gauge /gm)?.length, 1);
  assert.match(text, /^shared_gauge\{series="0",instance="127\.0\.0\.1:\d+",index="0",job="web",note="a\\"b"\} 1$/m);
  assert.match(text, new RegExp(`^shared_gauge\\{series="1",instance="127\\.0\\.0\\.1:${b.port}",index="1",job="web",note="a\\\\"b"\\} 2$`, 'm'));
  assert.match(text, /^only_b_total\{instance="127\.0\.0\.1:\d+",index="1",job="web",note="a\\"b"\} 5$/m);
  assert.match(text, /^# TYPE up gauge$/m);
  assert.equal(sampleValue(text, `up{instance="${a.hostPort}",index="0",job="web",note="a\\"b"}`), 1);
  assert.equal(sampleValue(text, `up{instance="${b.hostPort}",index="1",job="web",note="a\\"b"}`), 1);
  assert.equal(sampleValue(text, `up{instance="127.0.0.1:${down}",index="2",job="web",note="a\\"b"}`), 0);
  assert.equal(a.requests[0]!['accept'], 'text/plain;version=0.0.4');
  assert.equal(b.requests[0]!['accept-encoding'], 'gzip');
  const own = (await get(`${p.url}/metrics`)).text;
  assert.equal(sampleValue(own, 'exporter_proxy_fanout_fetches_total{group="web",result="success"}'), 2);
  assert.equal(sampleValue(own, 'exporter_proxy_fanout_fetches_total{group="web",result="failure"}'), 1);
  assert.ok(sampleValue(own, 'exporter_proxy_fanout_last_fetch_timestamp_seconds{group="web"}')! > Date.now() / 1000 - 5);
  // Fan-out data never enters the store.
  assert.equal(p.proxy.store.appCount, 0);
});

test('failed instances (slow, garbage, huge, non-200, TLS) never fail the answer: up 0 each, reasons in /targets', async (t) => {
  const dir = tempDir();
  const cert = selfSignedCert(dir);
  const good = await startTarget(ok(body(1, 'good_gauge')));
  const slowT = await startTarget(slow(3000));
  const garbage = await startTarget(ok('not { metrics\n'));
  const huge = await startTarget(endless(256 * 1024 * 1024, { max: 0, closedEarly: false }));
  const s500 = await startTarget(status(500));
  const tls = await startHttpsTarget(ok(body(1, 'tls_gauge')), cert);
  const all = [good, slowT, garbage, huge, s500];
  const list = all.map((x) => `"http://${x.hostPort}"`).join(', ');
  const p = await startProxy({
    extra: `
[[fanout]]
name = "mixed"
instances = [${list}, "https://${tls.hostPort}"]
timeout = 1
max_body_bytes = 65536
[[fanout]]
name = "tls-skip"
instances = ["https://${tls.hostPort}"]
tls_skip_verify = true
`,
  });
  t.after(async () => {
    await p.stop();
    await closeAll([...all, tls]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const t0 = Date.now();
  const res = await get(`${p.url}/targets/mixed/metrics`);
  assert.ok(Date.now() - t0 < 2500, 'bounded by the timeout');
  assert.equal(res.status, 200);
  parseText(res.text);
  const why = async () => JSON.stringify(await (await fetch(`${p.url}/targets?format=json`)).json());
  assert.match(res.text, /^up\{instance="[^"]+",index="0"\} 1$/m, await why());
  assert.match(res.text, /^good_gauge\{series="0",instance="[^"]+",index="0"\} 1$/m);
  for (let i = 0; i < 6; i++) {
    const addr = i < 5 ? all[i]!.hostPort : tls.hostPort;
    assert.equal(sampleValue(res.text, `up{instance="${addr}",index="${i}"}`), i === 0 ? 1 : 0, `instance ${i}`);
  }
  const listing = (await (await fetch(`${p.url}/targets?format=json`)).json()) as { group: string; instances: { index: number; last_fetch: { up: boolean; error: string | null } | null }[] }[];
  const errors = listing.find((g) => g.group === 'mixed')!.instances.map((i) => i.last_fetch?.error ?? '');
  assert.equal(errors[0], '');
  assert.match(errors[1]!, /^timeout: /);
  assert.match(errors[2]!, /^invalid: E_PARSE/);
  assert.match(errors[3]!, /^too_large: /);
  assert.match(errors[4]!, /^status: HTTP status 500/);
  assert.match(errors[5]!, /^tls: TLS: .*(self[- ]signed|certificate)/i);
  // The same TLS instance with tls_skip_verify = true answers.
  const skip = await get(`${p.url}/targets/tls-skip/metrics`);
  assert.match(skip.text, /^tls_gauge\{series="0",instance="[^"]+",index="0"\} 1$/m);
});

test('type conflicts between instances: the first keeps the family, later ones drop it and it is counted; colliding labels become exported_*', async (t) => {
  const a = await startTarget(ok('# TYPE m_total counter\nm_total 1\n# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'));
  const b = await startTarget(ok('# TYPE m_total gauge\nm_total{instance="inner"} 2\n# TYPE h_count gauge\nh_count 3\n# TYPE up gauge\nup 1\n# TYPE fine gauge\nfine{index="7"} 1\n'));
  const p = await startProxy({ extra: `[[fanout]]\nname = "c"\ninstances = ["http://${a.hostPort}", "http://${b.hostPort}"]\n` });
  t.after(async () => {
    await p.stop();
    await closeAll([a, b]);
  });
  const { text } = await get(`${p.url}/targets/c/metrics`);
  parseText(text);
  assert.equal(text.match(/^# TYPE m_total counter$/gm)?.length, 1);
  assert.doesNotMatch(text, /^# TYPE m_total gauge/m);
  assert.doesNotMatch(text, /inner/);
  assert.doesNotMatch(text, /^# TYPE h_count/m);
  assert.match(text, new RegExp(`^fine\\{exported_index="7",instance="${b.hostPort}",index="1"\\} 1$`, 'm'));
  assert.equal(text.match(/^up\{/gm)?.length, 2);
  const own = (await get(`${p.url}/metrics`)).text;
  assert.equal(sampleValue(own, 'exporter_proxy_fanout_conflicts_total{group="c"}'), 3);
});

test('mergeInstances: loose (no TYPE) samples fit a typed family; exported_ prefixes repeat while taken', () => {
  const m = mergeInstances([
    { address: 'a:1', index: 0, labels: [], payload: parseText('x 1\n') },
    { address: 'b:1', index: 1, labels: [{ name: 'zone', value: 'z' }], payload: parseText('# TYPE x counter\nx{instance="i",exported_instance="e"} 2\n') },
  ]);
  assert.deepEqual(m.conflicts, []);
  assert.equal(
    m.text.split('\n').filter((l) => l.startsWith('x') || l.startsWith('# TYPE x')).join('\n'),
    '# TYPE x counter\nx{instance="a:1",index="0"} 1\nx{exported_exported_instance="i",exported_instance="e",instance="b:1",index="1",zone="z"} 2',
  );
  parseText(m.text);
});

test('unknown group: 404 with a message naming the configured groups; gzip answer when asked', async (t) => {
  const a = await startTarget(ok(body(3)));
  const p = await startProxy({ extra: `[[fanout]]\nname = "one"\ninstances = ["http://${a.hostPort}"]\n` });
  t.after(async () => {
    await p.stop();
    await a.close();
  });
  const missing = await get(`${p.url}/targets/nope/metrics`);
  assert.equal(missing.status, 404);
  assert.equal(missing.text, 'no fan-out group named "nope"; configured: one\n');
  const res = await fetch(`${p.url}/targets/one/metrics`, { headers: { 'accept-encoding': 'gzip' } });
  // fetch decompresses transparently; check the header and that the text is right.
  assert.equal(res.headers.get('content-encoding'), 'gzip');
  assert.match(await res.text(), /^demo_value\{series="2",instance="[^"]+",index="0"\} 1$/m);
});

test('GET /targets: groups and instances as a framed table and as JSON', async (t) => {
  const a = await startTarget(ok(body(1)));
  const p = await startProxy({ extra: `[[fanout]]\nname = "tbl"\ninstances = ["http://${a.hostPort}", "http://${a.hostPort}/other/path"]\nlabels = { job = "j" }\n` });
  t.after(async () => {
    await p.stop();
    await a.close();
  });
  const before = await get(`${p.url}/targets`);
  assert.equal(before.status, 200);
  assert.match(before.text, /Current time: /);
  assert.match(before.text, /│ tbl/);
  assert.match(before.text, /never/);
  await get(`${p.url}/targets/tbl/metrics`);
  const json = (await (await fetch(`${p.url}/targets`, { headers: { accept: 'application/json' } })).json()) as unknown[];
  assert.deepEqual(json, [
    {
      group: 'tbl',
      discovery: 'static',
      labels: { job: 'j' },
      error: null,
      instances: [
        { index: 0, instance: a.hostPort, url: `http://${a.hostPort}/metrics`, labels: {}, last_fetch: (json as any)[0].instances[0].last_fetch },
        { index: 1, instance: a.hostPort, url: `http://${a.hostPort}/other/path`, labels: {}, last_fetch: (json as any)[0].instances[1].last_fetch },
      ],
    },
  ]);
  assert.equal((json as any)[0].instances[0].last_fetch.up, true);
  assert.match((await get(`${p.url}/targets`)).text, /\(up, \d+ ms\)/);
});

test('file_sd: instances and labels from the file; a rewrite during the test is picked up; a broken rewrite keeps the last good list', async (t) => {
  const dir = tempDir();
  const a = await startTarget(ok(body(1, 'file_gauge', 1)));
  const b = await startTarget(ok(body(1, 'file_gauge', 2)));
  const file = path.join(dir, 'targets.json');
  fs.writeFileSync(file, JSON.stringify([{ targets: [a.hostPort], labels: { dc: 'one' } }]));
  let p: Running | undefined;
  t.after(async () => {
    await p?.stop();
    await closeAll([a, b]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  p = await startProxy({ extra: `[[fanout]]\nname = "fsd"\nfile_sd = "${file}"\n` });
  const first = (await get(`${p.url}/targets/fsd/metrics`)).text;
  assert.match(first, new RegExp(`^file_gauge\\{series="0",instance="${a.hostPort}",index="0",dc="one"\\} 1$`, 'm'));
  assert.equal(first.match(/^up\{/gm)?.length, 1);
  // Rewrite (new inode via rename, as config management tools do).
  fs.writeFileSync(file + '.tmp', JSON.stringify([{ targets: [a.hostPort], labels: { dc: 'one' } }, { targets: [b.hostPort], labels: { dc: 'two', __metrics_path__: '/alt' } }]));
  fs.renameSync(file + '.tmp', file);
  const second = (await get(`${p.url}/targets/fsd/metrics`)).text;
  assert.match(second, new RegExp(`^file_gauge\\{series="0",instance="${b.hostPort}",index="1",dc="two"\\} 2$`, 'm'));
  assert.equal(second.match(/^up\{/gm)?.length, 2);
  assert.equal(b.requests.length, 1);
  // In-place rewrite with broken JSON: last good list, error shown in /targets.
  fs.writeFileSync(file, '[{"targets": [');
  const third = (await get(`${p.url}/targets/fsd/metrics`)).text;
  assert.equal(third.match(/^up\{/gm)?.length, 2);
  assert.match((await get(`${p.url}/targets`)).text, /invalid JSON/);
  assert.ok(p.logs.some((l) => l.includes('last good instance list')));
});

test('file_sd missing from the start: 503 naming the file', async (t) => {
  const p = await startProxy({ extra: `[[fanout]]\nname = "nofile"\nfile_sd = "/nonexistent/targets.json"\n` });
  t.after(() => p.stop());
  const res = await get(`${p.url}/targets/nofile/metrics`);
  assert.equal(res.status, 503);
  assert.match(res.text, /file_sd \/nonexistent\/targets\.json: cannot read: ENOENT/);
});

test('dns discovery through [dns] servers: A records with port, SRV records (target names resolved by the same server)', async (t) => {
  const a = await startTarget(ok(body(1, 'dns_gauge', 1)));
  const b = await startTarget(ok(body(1, 'dns_gauge', 2)));
  const dns = await startDnsServer({
    A: { 'web.test': ['127.0.0.1'], 'node-a.test': ['127.0.0.1'], 'node-b.test': ['127.0.0.1'] },
    SRV: {
      '_metrics._tcp.web.test': [
        { priority: 10, weight: 5, port: b.port, target: 'node-b.test' },
        { priority: 10, weight: 5, port: a.port, target: 'node-a.test' },
      ],
    },
  });
  const p = await startProxy({
    extra: `
[dns]
servers = ["127.0.0.1:${dns.port}"]
[[fanout]]
name = "by-a"
dns = "web.test"
dns_type = "A"
port = ${a.port}
[[fanout]]
name = "by-srv"
dns = "_metrics._tcp.web.test"
dns_type = "SRV"
labels = { via = "srv" }
timeout = 1
[[fanout]]
name = "nx"
dns = "missing.test"
dns_type = "A"
port = 1
`,
  });
  t.after(async () => {
    await p.stop();
    await closeAll([a, b]);
    await dns.close();
  });
  const byA = (await get(`${p.url}/targets/by-a/metrics`)).text;
  assert.match(byA, new RegExp(`^dns_gauge\\{series="0",instance="127\\.0\\.0\\.1:${a.port}",index="0"\\} 1$`, 'm'));
  const bySrv = (await get(`${p.url}/targets/by-srv/metrics`)).text;
  parseText(bySrv);
  // Sorted by target name, so the index is stable whatever order DNS answers in.
  assert.match(bySrv, new RegExp(`^dns_gauge\\{series="0",instance="node-a\\.test:${a.port}",index="0",via="srv"\\} 1$`, 'm'));
  assert.match(bySrv, new RegExp(`^dns_gauge\\{series="0",instance="node-b\\.test:${b.port}",index="1",via="srv"\\} 2$`, 'm'));
  assert.equal(a.requests.at(-1)!['host'], `node-a.test:${a.port}`);
  assert.ok(dns.queries.some((q) => q.type === 'SRV' && q.name === '_metrics._tcp.web.test'));
  assert.ok(dns.queries.some((q) => q.type === 'A' && q.name === 'node-a.test'));
  // NXDOMAIN: no instances, an empty answer rather than an error.
  const nx = await get(`${p.url}/targets/nx/metrics`);
  assert.equal(nx.status, 200);
  assert.equal(nx.text, '');
  // The zone changes: the next request follows it.
  dns.zone.SRV!['_metrics._tcp.web.test'] = [{ priority: 1, weight: 1, port: b.port, target: 'node-b.test' }];
  const after = (await get(`${p.url}/targets/by-srv/metrics`)).text;
  assert.equal(after.match(/^up\{/gm)?.length, 1);
  assert.match(after, /instance="node-b\.test:\d+",index="0"/);
  // DNS server gone: last good list is used.
  await dns.close().catch(() => undefined);
  await waitFor(async () => (await get(`${p.url}/targets/by-srv/metrics`)).status === 200, 5000, 'an answer without DNS');
});
