// The push of the store to a Pushgateway: the group URL and body as
// tables, the config's problems, and the proxy pushing to a real HTTP
// server on port 0 that fails, then recovers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { groupUrl, pushBody } from '../../src/outputs/pushgateway.js';
import type { Slices } from '../../src/slices.js';
import { configFromText } from '../../src/config/config.js';
import { parseText } from '../../src/exposition/text_parse.js';
import { renderFamilies } from '../../src/exposition/text_render.js';
import { assertConfigProblems, send, startProxy, waitFor } from '../helpers.js';

test('groupUrl: job and grouping labels as path segments, base64url where a value has a slash or is empty', () => {
  const cases: [Parameters<typeof groupUrl>[0], string][] = [
    [{ url: 'http://pg:9091', job: 'exporter-proxy', grouping: [] }, 'http://pg:9091/metrics/job/exporter-proxy'],
    [{ url: 'http://pg:9091/prefix', job: 'j', grouping: [{ name: 'instance', value: 'gw 1' }] }, 'http://pg:9091/prefix/metrics/job/j/instance/gw%201'],
    [{ url: 'http://pg:9091', job: 'a/b', grouping: [{ name: 'path', value: '/var/tmp' }] }, 'http://pg:9091/metrics/job@base64/YS9i/path@base64/L3Zhci90bXA'],
    [{ url: 'http://pg:9091', job: 'j', grouping: [{ name: 'x', value: '' }] }, 'http://pg:9091/metrics/job/j/x@base64/='],
  ];
  for (const [config, want] of cases) assert.equal(groupUrl(config), want);
});

test('pushBody: the store text as it is, unless a series has a grouping label: then it is kept as exported_<name>', async () => {
  const plain = '# TYPE m counter\nm{app="a"} 1\n';
  const same = Buffer.from(plain);
  assert.equal(await pushBody({ body: same, overlappingFamilies: 1 }, ['instance']), same, 'the same bytes, not a copy');
  const pushed = '# HELP m Help.\n# TYPE m counter\nm{instance="",job="a"} 1\nm{instance="",job="b"} 2\nm{exported_job="x",job="c"} 3\n# TYPE n gauge\nn{instance="i"} 4\n';
  const body = String(await pushBody({ body: Buffer.from(pushed), overlappingFamilies: 0 }, ['instance']));
  assert.equal(
    body,
    '# HELP m Help.\n# TYPE m counter\nm{exported_instance="",exported_job="a"} 1\nm{exported_instance="",exported_job="b"} 2\nm{exported_job="x",exported_exported_job="c"} 3\n# TYPE n gauge\nn{exported_instance="i"} 4\n',
  );
  assert.equal(parseText(body).series, 4);
});

test('pushBody: no overlapping family and nothing to relabel: the same bytes, not read at all', async () => {
  // A reader that awaits slices.pause() before each section: counting the pauses shows whether the body was read.
  let pauses = 0;
  const slices = { pause: async () => void pauses++ } as unknown as Slices;
  const body = Buffer.from('# TYPE m counter\nm{x="1"} 1\n# TYPE n gauge\nn 2\n');
  assert.equal(await pushBody({ body, overlappingFamilies: 0 }, ['instance'], slices), body);
  assert.equal(pauses, 0, 'not read');
  assert.equal(await pushBody({ body, overlappingFamilies: 1 }, ['instance'], slices), body);
  assert.ok(pauses > 0, 'read when a family overlaps');
});

test('[push_out] config: every problem names its key', () => {
  const cases: [string, RegExp[]][] = [
    ['[push_out]\nurl = "ftp://pg"\n', [/push_out\.url: must be an http or https URL/]],
    ['[push_out]\nurl = "http://pg"\njob = ""\n', [/push_out\.job: must not be empty/]],
    ['[push_out]\nurl = "http://pg"\ngrouping = { job = "x", "1bad" = "y", empty = "" }\n', [/push_out\.grouping\.job: job is set by push_out\.job/, /push_out\.grouping\.1bad: not a valid label name/, /push_out\.grouping\.empty: must be a non-empty string/]],
    ['[push_out]\nurl = "http://pg"\nevery = 5\n', [/push_out\.every: unknown key/]],
  ];
  assertConfigProblems(cases);
  assert.deepEqual(configFromText('[push_out]\nurl = "http://pg:9091/"\ngrouping = { instance = "gw-1" }\n').pushOut, {
    url: 'http://pg:9091',
    job: 'exporter-proxy',
    grouping: [{ name: 'instance', value: 'gw-1' }],
    intervalMs: 15000,
    timeoutMs: 10000,
  });
  assert.equal(configFromText('').pushOut.url, '');
});

test('the proxy PUTs its store every interval; a failing gateway is logged once and counted, then recovers', async () => {
  const requests: { method: string; url: string; type: string; body: string }[] = [];
  let status = 500;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, type: req.headers['content-type'] ?? '', body });
      res.writeHead(status).end(status === 200 ? '' : 'pushed metrics are invalid\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = await startProxy({ extra: `[push_out]\nurl = "${base}"\ninterval = 1\ngrouping = { instance = "gw-1" }\n` });
  try {
    await send({ port: r.addr.tcp!.port }, JSON.stringify({ web: '# TYPE req_total counter\nreq_total{code="200"} 5\n' }));
    await waitFor(() => requests.length >= 2, 5000, 'two failed pushes');
    assert.equal(r.logs.filter((l) => l.includes('push to the Pushgateway failed')).length, 1, r.logs.join('\n'));
    assert.match(r.logs.find((l) => l.includes('push to the Pushgateway failed'))!, /HTTP 500: pushed metrics are invalid/);
    status = 200;
    const ok = await waitFor(() => requests.find((q) => q.body.includes('req_total{code="200"} 5')) && r.logs.some((l) => l.includes('works again')) && requests.at(-1), 5000, 'a push with the data');
    assert.deepEqual({ method: ok.method, url: ok.url, type: ok.type }, { method: 'PUT', url: '/metrics/job/exporter-proxy/instance/gw-1', type: 'text/plain; version=0.0.4; charset=utf-8' });
    assert.equal(ok.body, '# TYPE req_total counter\nreq_total{code="200"} 5\n');
    const own = await r.proxy.telemetry.registry.getSingleMetricAsString('exporter_proxy_push_out_total');
    assert.match(own, /push_out_total\{result="status"\} [1-9]/);
    assert.match(own, /push_out_total\{result="ok"\} [1-9]/);
  } finally {
    await r.stop();
    server.close();
  }
});

test('pushBody: a series two apps hold is pushed once (the first), with or without relabelling; the copies are counted', async () => {
  const cases: [store: string, pushed: string][] = [
    ['# TYPE m counter\nm{x="1"} 1\nm{x="1"} 2\nm{x="2"} 3\n', '# TYPE m counter\nm{x="1"} 1\nm{x="2"} 3\n'],
    ['# TYPE m counter\nm{job="x"} 1\nm{job="x"} 2\n# TYPE n gauge\nn 1\n', '# TYPE m counter\nm{exported_job="x"} 1\n# TYPE n gauge\nn 1\n'],
  ];
  for (const [store, pushed] of cases) {
    const dropped = { series: 0 };
    assert.equal(String(await pushBody({ body: Buffer.from(store), overlappingFamilies: 1 }, [], undefined, dropped)), pushed);
    assert.deepEqual(dropped, { series: 1, first: store.includes('job') ? 'm{job="x"}' : 'm{x="1"}' });
  }
});

test('pushBody: a store read in many sections, its first copy in a later part of a long family or in the first: each copy out, everything else as the one parse of it', async () => {
  // Families of 3,000 lines (~100 KB each, over the 96 KB a parse reads), each copy of an earlier line written right after line `after`.
  const family = (name: string, copies: [copy: number, after: number][]) => {
    let out = `# HELP ${name} A family.\n# TYPE ${name} counter\n`;
    for (let i = 0; i < 3000; i++) {
      out += `${name}{app="a${i % 7}",i="${i}"} ${i}\n`;
      for (const [c, after] of copies) if (after === i) out += `${name}{i="${c}",app="a${c % 7}"} 0\n`;
    }
    return out;
  };
  const cases: [text: string, first: string, series: number][] = [
    [family('clean_total', []) + family('long_total', [[5, 2999], [2999, 2999]]) + family('tail_total', [[1, 2999]]), 'long_total{i="5",app="a5"}', 3],
    [family('clean_total', []) + family('head_total', [[3, 10]]) + family('tail_total', []), 'head_total{i="3",app="a3"}', 1],
  ];
  for (const [text, first, series] of cases) {
    const dropped = { series: 0 };
    const pushed = String(await pushBody({ body: Buffer.from(text), overlappingFamilies: 3 }, [], undefined, dropped));
    const whole = parseText(text, { keepFirstDuplicate: true });
    assert.deepEqual(dropped, { series, first });
    assert.deepEqual(dropped, whole.dropped);
    assert.equal(pushed, renderFamilies(whole.families), first);
  }
});

test('the proxy pushes a store in which two apps hold the same series: once, counted in a gauge, logged when it starts and stops', async () => {
  const bodies: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const r = await startProxy({ extra: `[push_out]\nurl = "http://127.0.0.1:${(server.address() as AddressInfo).port}"\ninterval = 1\n` }).catch((err) => {
    server.close();
    throw err;
  });
  const gauge = async () => r.proxy.telemetry.registry.getSingleMetricAsString('exporter_proxy_push_out_duplicate_series');
  try {
    for (const app of ['a', 'b']) r.proxy.store.put({ app, source: 'test', receiver: 'tcp', text: 'm{job="x"} 1\n' });
    await waitFor(async () => / 1$/m.test(await gauge()), 5000, 'a push leaving out the copy');
    await waitFor(() => bodies.length > 0, 5000, 'a push');
    assert.equal(bodies.at(-1), '# TYPE m untyped\nm{exported_job="x"} 1\n');
    r.proxy.store.remove('b');
    await waitFor(async () => / 0$/m.test(await gauge()), 5000, 'a push with nothing left out');
    assert.deepEqual(
      r.logs.filter((l) => l.includes('series that two apps hold') || l.includes('every stored series again')).map((l) => /level=(\w+)/.exec(l)![1]),
      ['warn', 'info'],
    );
    assert.equal(r.logs.some((l) => l.includes('failed')), false, r.logs.join('\n'));
  } finally {
    await r.stop();
    server.close();
  }
});
