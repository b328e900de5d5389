// Cap'n Proto through the running proxy, as the Rust proxy's apps send it:
// messages from Debian's reference encoder piped through nc, and the Python
// sender, with format = "capnp", "capnp_packed" and "auto".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { ROOT, FIXTURES, waitFor, getText } from '../helpers.js';
import { requireCommand, startCli, sh } from './e2e_helpers.js';

const SCHEMA = path.join(ROOT, 'schema', 'metric_data.capnp');

function encode(app: string, text: string, flags: string[] = []): Buffer {
  requireCommand('capnp', 'capnproto');
  const lit = (s: string) => JSON.stringify(s);
  return execFileSync('capnp', ['encode', ...flags, SCHEMA, 'InboundMetrics'], { input: `(appName = ${lit(app)}, data = ${lit(text)})` });
}

function page(tag: string, n = 100): string {
  let s = `# HELP ${tag}_requests_total Requests.\n# TYPE ${tag}_requests_total counter\n`;
  for (let i = 0; i < n; i++) s += `${tag}_requests_total{path="/p${i}"} ${i}\n`;
  return s;
}

async function apps(http: string): Promise<Record<string, number>> {
  const list = (await (await fetch(`${http}/apps?format=json`)).json()) as { app: string; series: number }[];
  return Object.fromEntries(list.map((a) => [a.app, a.series]));
}

test('format = "capnp": single-segment, multi-segment and several messages in one stream, over TCP and unix', async () => {
  requireCommand('nc', 'netcat-openbsd');
  const q = await startCli('format = "capnp"');
  try {
    const dir = q.dir;
    const stream = Buffer.concat([encode('single', page('single')), encode('multi', page('multi'), ['--segment-size=32']), encode('third', page('third', 3))]);
    fs.writeFileSync(path.join(dir, 'stream.bin'), stream);
    sh(`nc -q 0 127.0.0.1 ${q.tcpPort} < ${path.join(dir, 'stream.bin')}`);
    fs.writeFileSync(path.join(dir, 'unix.bin'), encode('over_unix', page('over_unix', 5)));
    sh(`nc -q 0 -U ${q.unixPath} < ${path.join(dir, 'unix.bin')}`);
    assert.deepEqual(await waitFor(async () => ((await apps(q.http)).over_unix ? apps(q.http) : undefined)), { single: 100, multi: 100, third: 3, over_unix: 5 });
    const { body } = await getText(`${q.http}/metrics`);
    assert.match(body, /^multi_requests_total\{path="\/p99"\} 99$/m);
  } finally {
    await q.stop();
  }
});

test('format = "capnp_packed": packed messages from the reference encoder', async () => {
  const q = await startCli('format = "capnp_packed"');
  try {
    fs.writeFileSync(path.join(q.dir, 'packed.bin'), Buffer.concat([encode('packed_a', page('pa'), ['-p']), encode('packed_b', page('pb', 7), ['-p', '--segment-size=32'])]));
    sh(`nc -q 0 127.0.0.1 ${q.tcpPort} < ${path.join(q.dir, 'packed.bin')}`);
    assert.deepEqual(await waitFor(async () => ((await apps(q.http)).packed_b ? apps(q.http) : undefined)), { packed_a: 100, packed_b: 7 });
  } finally {
    await q.stop();
  }
});

test('format = "auto": JSON and Cap\'n Proto connections side by side', async () => {
  const q = await startCli('format = "auto"');
  try {
    fs.writeFileSync(path.join(q.dir, 'c.bin'), encode('capnp_app', page('c', 2)));
    sh(`nc -q 0 127.0.0.1 ${q.tcpPort} < ${path.join(q.dir, 'c.bin')}`);
    sh(`nc -q 0 127.0.0.1 ${q.tcpPort} < ${path.join(FIXTURES, 'json_string.json')}`);
    sh(`printf ' \\n' | cat - ${path.join(FIXTURES, 'json_array.json')} | nc -q 0 -U ${q.unixPath}`);
    assert.deepEqual(await waitFor(async () => (Object.keys(await apps(q.http)).length === 3 ? apps(q.http) : undefined)), {
      capnp_app: 2,
      foo_bar_app0_metrics: 2,
      foo_bar_app1_metrics: 2,
    });
  } finally {
    await q.stop();
  }
});

test('python_test_clients/send_capnp.py (stdlib encoder) over TCP and unix, plain and packed', async () => {
  const python = '/usr/bin/python3';
  for (const [format, flags] of [['capnp', []], ['capnp_packed', ['--packed']]] as const) {
    const q = await startCli(`format = "${format}"`);
    try {
      const file = path.join(q.dir, 'page.txt');
      fs.writeFileSync(file, page('py', 10));
      const sender = path.join(ROOT, 'python_test_clients', 'send_capnp.py');
      for (const where of [['--tcp', `127.0.0.1:${q.tcpPort}`], ['--unix', q.unixPath]]) {
        const r = spawnSync(python, [sender, ...where, '--app', `py_${where[0].slice(2)}`, '--count', '3', '--no-pycapnp', ...flags, file], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
      }
      assert.deepEqual(await waitFor(async () => (Object.keys(await apps(q.http)).length === 2 ? apps(q.http) : undefined)), { py_tcp: 10, py_unix: 10 });
      const { body } = await getText(`${q.http}/metrics`);
      assert.match(body, /exporter_proxy_received_total\{receiver="tcp"\} 3/);
    } finally {
      await q.stop();
    }
  }
});

test('hostile capnp: a segment table claiming more than max_payload_bytes closes the connection; earlier messages stay', async () => {
  const q = await startCli('format = "capnp"\nmax_payload_bytes = 4096');
  try {
    const huge = Buffer.alloc(8);
    huge.writeUInt32LE(0, 0);
    huge.writeUInt32LE(1 << 20, 4); // one segment of 8 MiB
    fs.writeFileSync(path.join(q.dir, 'h.bin'), Buffer.concat([encode('before', page('b', 2)), huge]));
    sh(`nc -q 0 127.0.0.1 ${q.tcpPort} < ${path.join(q.dir, 'h.bin')}`);
    await waitFor(async () => (await getText(`${q.http}/metrics`)).body.includes('exporter_proxy_rejected_total{receiver="tcp",reason="too_large"} 1'));
    assert.deepEqual(await apps(q.http), { before: 2 });
  } finally {
    await q.stop();
  }
});
