// The prepare pool: real worker threads parsing real payloads, and the proxy
// with exporter.worker_threads feeding them from its socket receivers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { PreparePool, TOO_BIG_FOR_WORKER, workerCount } from '../../src/workers/prepare_pool.js';
import { Store, type PreparedEntry } from '../../src/store/store.js';
import { RenderCache } from '../../src/store/render_cache.js';
import { ParseError, ProxyError, DuplicateSeriesError, LimitError } from '../../src/errors.js';
import { configFromText } from '../../src/config/config.js';
import { startProxy, send, waitFor, getText, tempDir } from '../helpers.js';

type Delivered = { app: string; result: PreparedEntry | ProxyError | typeof TOO_BIG_FOR_WORKER };

function pool(opts: Partial<ConstructorParameters<typeof PreparePool>[0]> = {}) {
  const delivered: Delivered[] = [];
  const pressure: boolean[] = [];
  const p = new PreparePool({ size: 2, deliver: (u, result) => delivered.push({ app: u.app, result }), onPressure: (h) => pressure.push(h), ...opts });
  const submit = (app: string, text: string, labels: readonly { name: string; value: string }[] = [], maxSeries?: number) => p.submit({ app, text, source: 't', receiver: 'tcp' }, labels, maxSeries);
  return { p, delivered, pressure, submit };
}

const payload = (n: number, v: number) => Array.from({ length: n }, (_, i) => `m{i="${i}"} ${v}`).join('\n') + '\n';

test('workerCount: N threads in all are N - 1 workers; 0 is one thread per core from 4 cores up, at most 8 workers', () => {
  assert.equal(workerCount(0, 4), 3);
  assert.equal(workerCount(0, 2), 0);
  assert.equal(workerCount(0, 1), 0);
  assert.equal(workerCount(0, 64), 8);
  assert.equal(workerCount(1, 8), 0);
  assert.equal(workerCount(3, 1), 2);
});

test('results come back in submission order across workers, whatever their sizes', async () => {
  const { p, delivered, submit } = pool({ size: 3 });
  try {
    const sizes = [2000, 1, 500, 3, 1000, 1, 1, 800, 2, 1500];
    sizes.forEach((n, k) => submit(`app${k}`, payload(n, k)));
    await p.whenIdle();
    assert.deepEqual(delivered.map((d) => d.app), sizes.map((_, k) => `app${k}`));
    delivered.forEach((d, k) => {
      assert.ok(!(d.result instanceof Error), String(d.result));
      assert.equal((d.result as PreparedEntry).series, sizes[k]);
    });
  } finally {
    await p.close();
  }
});

test('a prepared entry renders as the inline path does, labels included', async () => {
  const { p, delivered, submit } = pool({ size: 1 });
  const text = '# HELP m Help.\n# TYPE m counter\nm{a="1"} 1\nm{a="2"} 2\n# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n';
  try {
    const inline = new Store({ ttlMs: 0, appLabel: 'app' });
    inline.put({ app: 'x', text, source: 't', receiver: 'tcp' });
    const viaPool = new Store({ ttlMs: 0, appLabel: 'app' });
    submit('x', text, viaPool.prepareOptions({ app: 'x' }).labels);
    await p.whenIdle();
    viaPool.put({ app: 'x', source: 't', receiver: 'tcp', prepared: delivered[0]!.result as PreparedEntry });
    assert.equal(new RenderCache(viaPool).current().body.toString(), new RenderCache(inline).current().body.toString());
    assert.match(new RenderCache(viaPool).current().body.toString(), /^m\{a="1",app="x"\} 1$/m);
  } finally {
    await p.close();
  }
});

test('errors come back as their own class, code and message (a parse error keeps its line)', async () => {
  const { p, delivered, submit } = pool();
  try {
    submit('bad', 'ok 1\nm{a="1" 2\n');
    submit('dup', 'm{app="x"} 1\nm 2\n', [{ name: 'app', value: 'dup' }]);
    submit('big', payload(10, 1), [], 5);
    submit('good', payload(3, 1));
    await p.whenIdle();
    const [bad, dup, big, good] = delivered.map((d) => d.result);
    assert.ok(bad instanceof ParseError);
    assert.equal(bad.line, 2);
    assert.equal(bad.code, 'E_PARSE');
    assert.match(bad.message, /^line 2: /);
    assert.ok(dup instanceof DuplicateSeriesError, String(dup));
    assert.ok(big instanceof LimitError, String(big));
    assert.match(big.message, /app "big" sent more than 5 series/);
    assert.equal((good as PreparedEntry).series, 3);
  } finally {
    await p.close();
  }
});

test('backpressure: past the high-water mark the sources are asked to pause, and to resume at half', async () => {
  const { p, pressure, submit } = pool({ size: 1, highWaterMark: 50_000 });
  try {
    for (let k = 0; k < 20; k++) submit(`a${k}`, payload(300, k)); // ~5 KB each
    assert.deepEqual(pressure, [true]);
    await p.whenIdle();
    assert.deepEqual(pressure, [true, false]);
  } finally {
    await p.close();
  }
});

test('a payload that runs its worker out of memory is handed back alone; the jobs after it are parsed by a new worker', async () => {
  const { p, delivered, submit } = pool({ size: 1, oldGenerationMb: 16 });
  try {
    submit('before', payload(5, 1));
    await p.whenIdle();
    submit('huge', payload(400_000, 1));
    submit('after', payload(5, 2));
    await p.whenIdle();
    assert.deepEqual(delivered.map((d) => d.app), ['before', 'huge', 'after']);
    assert.equal(delivered[1]!.result, TOO_BIG_FOR_WORKER);
    assert.equal((delivered[2]!.result as PreparedEntry).series, 5);
  } finally {
    await p.close();
  }
});

test('close delivers everything in flight first', async () => {
  const { p, delivered, submit } = pool();
  for (let k = 0; k < 10; k++) submit(`a${k}`, payload(200, k));
  await p.close();
  assert.equal(delivered.length, 10);
  assert.throws(() => submit('late', 'm 1\n'), ProxyError);
});

test('the proxy with worker threads: big socket payloads are applied in order per app; a bad one is rejected with its error', async () => {
  const dir = tempDir();
  const config = configFromText(`[exporter]\nscrape_expose_endpoint = "127.0.0.1:0"\nworker_threads = 3\n[receiver]\nreceiver_tcp_socket = "127.0.0.1:0"\nreceiver_unix_socket = "${path.join(dir, 'r.sock')}"\n`);
  const p = await startProxy({ config });
  try {
    assert.equal(p.proxy.pool?.threads, 2);
    const msgs: string[] = [];
    for (let v = 1; v <= 30; v++) msgs.push(JSON.stringify({ big: payload(v % 2 ? 400 : 3, v), small: `s ${v}\n` }));
    msgs.push(JSON.stringify({ broken: payload(400, 1) + 'x{ 1\n' }));
    await send({ port: p.addr.tcp!.port }, msgs.join('\n'));
    await waitFor(() => p.proxy.store.listApps().some((a) => a.app === 'broken'), 5000, 'broken listed');
    await p.proxy.pool!.whenIdle();
    const body = (await getText(`${p.url}/metrics`)).body;
    assert.match(body, /^m\{i="0"\} 30$/m, 'the last big payload for the app won');
    assert.doesNotMatch(body, /^m\{i="3"\} 30$/m, 'and it had 3 series');
    assert.match(body, /^s 30$/m);
    const broken = p.proxy.store.listApps().find((a) => a.app === 'broken')!;
    assert.equal(broken.lastError?.code, 'E_PARSE');
    assert.match(broken.lastError!.message, /^line 401: /);
  } finally {
    await p.stop();
  }
});

test('the proxy with worker threads: a payload that repeats what its app holds is applied on the main thread while no job waits', async () => {
  const dir = tempDir();
  const config = configFromText(`[exporter]\nscrape_expose_endpoint = "127.0.0.1:0"\nworker_threads = 2\n[receiver]\nreceiver_tcp_socket = "127.0.0.1:0"\nreceiver_unix_socket = "${path.join(dir, 'r.sock')}"\n`);
  const p = await startProxy({ config, quietRenderMs: 60_000 });
  try {
    const store = p.proxy.store;
    const sendBig = async (v: number) => {
      await send({ port: p.addr.tcp!.port }, JSON.stringify({ big: payload(400, v) }));
      await waitFor(() => store.familyText('big', 'm')?.startsWith(`m{i="0"} ${v}\n`) === true, 5000, `value ${v} stored`);
      await p.proxy.pool!.whenIdle();
    };
    await sendBig(1);
    // Without added labels, a worker's parse stores the entry rendered; the repeat path keeps it as sent.
    assert.equal(store.pendingCount, 0, 'the first payload: parsed by a worker');
    await sendBig(2);
    assert.equal(store.pendingCount, 1, 'the repeat: taken on the main thread');
    assert.match((await getText(`${p.url}/metrics`)).body, /^m\{i="399"\} 2$/m);
  } finally {
    await p.stop();
  }
});
