// Store snapshots with real files in temp dirs: round trip, expiry on load,
// atomic writes, and every kind of unusable file moved aside, never a crash.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Registry } from 'prom-client';
import { Store, textPart, type StoredEntry } from '../../src/store/store.js';
import { RenderCache } from '../../src/store/render_cache.js';
import { Persistence, parseSnapshot, writeSnapshot, SnapshotError, corruptName, SNAPSHOT_VERSION } from '../../src/store/persistence.js';
import { parseText } from '../../src/exposition/text_parse.js';
import { memoryLogger } from '../../src/log.js';
import { tempDir } from '../helpers.js';

const HOSTILE = ['new\nline', 'quo"te', 'back\\slash', 'ansi\u001b[31mred', 'box│drawing', 'ünïcödé ✓'];

function setup(opts: { ttlMs?: number; appLabel?: string; clock?: { t: number }; maxApps?: number } = {}) {
  const clock = opts.clock ?? { t: 1_700_000_000_000 };
  const store = new Store({ ttlMs: opts.ttlMs ?? 0, appLabel: opts.appLabel ?? '', reservedPrefix: 'exporter_proxy_', now: () => clock.t, maxApps: opts.maxApps });
  const cache = new RenderCache(store);
  return { store, clock, text: () => cache.current().body.toString() };
}

function persistence(store: Store, file: string, clock: { t: number }, appLabel = '') {
  const logger = memoryLogger();
  const registry = new Registry();
  const p = new Persistence(store, { file, intervalMs: 50, appLabel, logger, registry, now: () => clock.t });
  return { p, logs: logger.lines, registry };
}

function fill(store: Store) {
  store.put({ app: 'web', source: '127.0.0.1:5000', receiver: 'tcp', text: '# HELP req_total Requests.\n# TYPE req_total counter\nreq_total{code="200"} 5\nreq_total{code="500"} 1 1700000000000\n' });
  store.put({ app: 'batch', source: '/tmp/s.sock', receiver: 'unix', text: '# TYPE lat histogram\nlat_bucket{le="0.1"} 1\nlat_bucket{le="+Inf"} 2\nlat_sum 0.3\nlat_count 2\nloose_metric 3\n' });
  store.put({ app: 'batch', source: '/tmp/s.sock', receiver: 'unix', text: '# TYPE extra gauge\nextra NaN\n', mode: 'merge' });
  store.put({ app: 'short', source: 'x', receiver: 'http_push', text: 'short_lived 1\n', ttlMs: 60_000 });
  for (const [i, app] of HOSTILE.entries()) store.put({ app, source: app, receiver: 'tcp', text: `# HELP hostile_${i} Help with \\\\ and \\n.\nhostile_${i}{v="a\\"b\\\\c\\nd"} ${i}\n` });
}

test('round trip: every app, family, header, label and time comes back; /metrics is byte-identical and parses', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'snap');
  const a = setup({ appLabel: 'app' });
  fill(a.store);
  const pa = persistence(a.store, file, a.clock, 'app');
  await pa.p.snapshot();
  assert.ok(fs.existsSync(file));
  assert.equal(pa.p.lastWrite?.apps, 3 + HOSTILE.length);

  const b = setup({ appLabel: 'app', clock: { t: a.clock.t + 1000 } });
  const pb = persistence(b.store, file, b.clock, 'app');
  const r = pb.p.restore();
  assert.deepEqual(r, { restored: 3 + HOSTILE.length, series: a.store.seriesCount, expired: 0, skipped: 0 });
  assert.equal(b.text(), a.text());
  parseText(b.text());
  const strip = (x: ReturnType<Store['listApps']>) => x.map(({ lastError: _e, ...rest }) => rest).sort((p, q) => (p.app < q.app ? -1 : 1));
  assert.deepEqual(strip(b.store.listApps()), strip(a.store.listApps()));
  assert.equal(b.store.getApp('short')!.info.expiresAt, a.clock.t + 60_000, 'the expiry keeps counting from the original receive time');
  // The restored store keeps validating against what it restored.
  assert.throws(() => b.store.put({ app: 'other', source: 's', receiver: 'tcp', text: '# TYPE req_total gauge\nreq_total 1\n' }), /E_TYPE_CONFLICT|declared gauge/);
  fs.rmSync(dir, { recursive: true });
});

test('each family keeps its own push time across a restart (a POST leaves the others\' as they were)', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'snap');
  const a = setup();
  a.store.put({ app: 'job', source: 's', receiver: 'http_push', text: 'first 1\nsecond 2\n' });
  const firstAt = a.clock.t;
  a.clock.t += 5000;
  a.store.put({ app: 'job', source: 's', receiver: 'http_push', text: 'second 3\n', mode: 'merge' });
  await persistence(a.store, file, a.clock).p.snapshot();

  const b = setup({ clock: { t: a.clock.t + 60_000 } });
  assert.equal(persistence(b.store, file, b.clock).p.restore().restored, 1);
  const times = Object.fromEntries(b.store.getApp('job')!.families.map((f) => [f.name, f.writtenAt]));
  assert.deepEqual(times, { first: firstAt, second: firstAt + 5000 });
  fs.rmSync(dir, { recursive: true });
});

test('a v1 snapshot (no per-family push times) still loads: every family takes its app\'s update time', () => {
  const dir = tempDir();
  const file = path.join(dir, 'snap');
  fs.writeFileSync(file, craft('{"created":1,"app_label":"","apps":1}\n["a","s","tcp",1700000000000,null,[["m","gauge",1,null,1,4],["n","counter",1,"N.",1,4]]]\nm 1\nn 2\n', 1));
  const s = setup();
  assert.equal(persistence(s.store, file, s.clock).p.restore().restored, 1);
  assert.deepEqual(s.store.getApp('a')!.families.map((f) => [f.name, f.writtenAt, f.text]), [
    ['m', 1700000000000, 'm 1\n'],
    ['n', 1700000000000, 'n 2\n'],
  ]);
  fs.rmSync(dir, { recursive: true });
});

test('expired apps are dropped on load; the rest keep their original receive time', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'snap');
  const a = setup({ ttlMs: 10_000 });
  a.store.put({ app: 'old', source: 's', receiver: 'tcp', text: 'm_old 1\n' });
  a.clock.t += 8_000;
  a.store.put({ app: 'new', source: 's', receiver: 'tcp', text: 'm_new 1\n' });
  a.store.put({ app: 'forever', source: 's', receiver: 'tcp', text: 'm_forever 1\n', ttlMs: 0 });
  await persistence(a.store, file, a.clock).p.snapshot();

  const b = setup({ ttlMs: 10_000, clock: { t: a.clock.t + 3_000 } });
  const r = persistence(b.store, file, b.clock).p.restore();
  assert.equal(r.restored, 2);
  assert.equal(r.expired, 1);
  assert.deepEqual(b.store.listApps().map((x) => x.app).sort(), ['forever', 'new']);
  assert.equal(b.store.getApp('new')!.info.updatedAt, a.clock.t);
  b.clock.t += 7_001;
  assert.deepEqual(b.store.expire(), ['new']);
  fs.rmSync(dir, { recursive: true });
});

test('a snapshot is written only when the store changed; writes are atomic (no temp file left)', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'snap');
  const a = setup();
  const { p, registry } = persistence(a.store, file, a.clock);
  p.restore();
  await p.snapshot();
  assert.equal(fs.existsSync(file), false, 'nothing changed since the (empty) restore');
  a.store.put({ app: 'x', source: 's', receiver: 'tcp', text: 'm 1\n' });
  await p.snapshot();
  const first = p.lastWrite;
  assert.ok(first);
  await p.snapshot();
  assert.equal(p.lastWrite, first, 'unchanged store: no second write');
  a.store.put({ app: 'x', source: 's', receiver: 'tcp', text: 'm 2\n' });
  await Promise.all([p.snapshot(), p.snapshot(), p.snapshot()]);
  assert.notEqual(p.lastWrite, first);
  assert.deepEqual(fs.readdirSync(dir), ['snap']);
  assert.equal((fs.statSync(file).mode & 0o777).toString(8), '600');
  const metrics = await registry.metrics();
  assert.match(metrics, /^exporter_proxy_snapshot_writes_total\{result="ok"\} 2$/m);
  assert.match(metrics, /^exporter_proxy_snapshot_bytes \d+$/m);
  fs.rmSync(dir, { recursive: true });
});

test('the timer snapshots every interval while the store changes; stop() writes the final one', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'snap');
  const a = setup();
  const { p } = persistence(a.store, file, a.clock);
  p.restore();
  p.start();
  a.store.put({ app: 'one', source: 's', receiver: 'tcp', text: 'm 1\n' });
  const until = Date.now() + 3000;
  while (!fs.existsSync(file) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  assert.equal(parseSnapshot(fs.readFileSync(file)).entries.length, 1);
  a.store.put({ app: 'two', source: 's', receiver: 'tcp', text: 'm 1\n' });
  await p.stop();
  assert.equal(parseSnapshot(fs.readFileSync(file)).entries.length, 2);
  fs.rmSync(dir, { recursive: true });
});

function validSnapshotBytes(dir: string): Promise<Buffer> {
  const a = setup();
  fill(a.store);
  const f = path.join(dir, 'valid');
  return writeSnapshot(f, a.store.storedEntries(), { created: 1, app_label: '' }).then(() => fs.readFileSync(f));
}

const UNUSABLE: [name: string, make: (valid: Buffer) => Buffer | string, reason: RegExp][] = [
  ['one flipped bit in the body', (v) => Buffer.from(v.map((b, i) => (i === v.length - 10 ? b ^ 1 : b))), /checksum mismatch/],
  ['truncated mid-body (crash without rename)', (v) => v.subarray(0, Math.floor(v.length * 0.7)), /truncated/],
  ['truncated inside the header', (v) => v.subarray(0, 40), /malformed snapshot header/],
  ['empty file', () => '', /not an exporter-proxy snapshot/],
  ['a foreign file (the config)', () => '[store]\nttl = 5\n', /not an exporter-proxy snapshot/],
  ['random bytes', () => Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)), /not an exporter-proxy snapshot/],
  ['a future format version', (v) => Buffer.from(v.toString('latin1').replace(` v${SNAPSHOT_VERSION} `, ' v9 '), 'latin1'), /unsupported snapshot version v9/],
  ['bytes appended after the body', (v) => Buffer.concat([v, Buffer.from('garbage')]), /unexpected bytes after/],
  ['a valid checksum over a malformed body', () => craft('{"created":1,"app_label":"","apps":2}\n["a","s","r",1,null,[]]\n'), /malformed|missing line end/],
  ['a valid checksum over text lengths past the end', () => craft('{"created":1,"app_label":"","apps":1}\n["a","s","r",1,null,[["m","gauge",1,null,1,999]]]\nm 1\n'), /malformed family/],
  ['a v2 family without its push time', () => craft('{"created":1,"app_label":"","apps":1}\n["a","s","r",1,null,[["m","gauge",1,null,1,4]]]\nm 1\n', 2), /malformed family/],
  ['a v2 push time that is not a number', () => craft('{"created":1,"app_label":"","apps":1}\n["a","s","r",1,null,[["m","gauge",1,null,1,4,"x"]]]\nm 1\n', 2), /malformed family \(writtenAt\)/],
  ['a v1 family with a push time', () => craft('{"created":1,"app_label":"","apps":1}\n["a","s","r",1,null,[["m","gauge",1,null,1,4,1]]]\nm 1\n', 1), /malformed family/],
];

/** A file with a correct header and checksum over `body`. */
function craft(body: string, version = 1): Buffer {
  const hash = createHash('sha256').update(body).digest('hex');
  return Buffer.from(`exporter-proxy-snapshot v${version} ${hash} ${Buffer.byteLength(body)}\n${body}`);
}

for (const [name, make, reason] of UNUSABLE) {
  test(`unusable snapshot (${name}): moved aside to <file>.corrupt-<time>, warned, the proxy starts empty`, async () => {
    const dir = tempDir();
    const file = path.join(dir, 'snap');
    fs.writeFileSync(file, make(await validSnapshotBytes(dir)));
    const s = setup();
    const { p, logs } = persistence(s.store, file, s.clock);
    const r = p.restore();
    assert.equal(r.restored, 0);
    assert.match(r.corrupt?.reason ?? '', reason);
    assert.equal(r.corrupt?.movedTo, corruptName(file, s.clock.t));
    assert.ok(fs.existsSync(r.corrupt!.movedTo!));
    assert.equal(fs.existsSync(file), false);
    assert.equal(s.store.appCount, 0);
    assert.ok(logs.some((l) => l.includes('level=warn') && l.includes('snapshot unusable')), logs.join('\n'));
    // The next snapshot writes a good file again.
    s.store.put({ app: 'fresh', source: 's', receiver: 'tcp', text: 'm 1\n' });
    await p.snapshot();
    assert.equal(parseSnapshot(fs.readFileSync(file)).entries[0].app, 'fresh');
    fs.rmSync(dir, { recursive: true });
  });
}

test('parseSnapshot throws only SnapshotError for any prefix of a valid file', async () => {
  const dir = tempDir();
  const valid = await validSnapshotBytes(dir);
  for (let n = 0; n < valid.length; n += Math.max(1, Math.floor(valid.length / 300))) {
    assert.throws(() => parseSnapshot(valid.subarray(0, n)), SnapshotError);
  }
  assert.equal(parseSnapshot(valid).entries.length, 3 + HOSTILE.length);
  fs.rmSync(dir, { recursive: true });
});

test('restore re-checks what it cannot re-parse: conflicting types, reserved names and limits are skipped, the rest loads', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'snap');
  const chunk = (type: 'counter' | 'gauge', text: string) => ({ type, declared: true, ...textPart(text), series: 1 });
  const entries: StoredEntry[] = [
    { app: 'a', source: 's', receiver: 'tcp', updatedAt: 1, chunks: new Map([['m', chunk('counter', 'm 1\n')]]) },
    { app: 'b', source: 's', receiver: 'tcp', updatedAt: 1, chunks: new Map([['m', chunk('gauge', 'm 2\n')]]) },
    { app: 'c', source: 's', receiver: 'tcp', updatedAt: 1, chunks: new Map([['exporter_proxy_apps', chunk('gauge', 'exporter_proxy_apps 1\n')]]) },
    { app: 'd', source: 's', receiver: 'tcp', updatedAt: 1, chunks: new Map([['bad name', chunk('gauge', 'x 1\n')]]) },
    { app: 'e', source: 's', receiver: 'tcp', updatedAt: 1, chunks: new Map([['n', chunk('gauge', 'n 1\n')]]) },
    { app: 'f', source: 's', receiver: 'tcp', updatedAt: 1, chunks: new Map([['o', chunk('gauge', 'o 1\n')]]) },
  ];
  await writeSnapshot(file, entries, { created: 1, app_label: '' });
  const s = setup({ maxApps: 2 });
  const { p, logs } = persistence(s.store, file, s.clock);
  const r = p.restore();
  assert.equal(r.restored, 2);
  assert.equal(r.skipped, 4);
  assert.deepEqual(s.store.listApps().map((x) => x.app).sort(), ['a', 'e']);
  assert.ok(logs.some((l) => l.includes('app=b') && l.includes('declared gauge')), logs.join('\n'));
  assert.ok(logs.some((l) => l.includes('app=c') && l.includes('reserved')), logs.join('\n'));
  assert.ok(logs.some((l) => l.includes('app=f') && l.includes('the limit (store.max_apps)')), logs.join('\n'));
  parseText(s.text());
  fs.rmSync(dir, { recursive: true });
});

test('a temp file left by a crash mid-write is removed on start; the last complete snapshot is used', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'snap');
  const a = setup();
  a.store.put({ app: 'kept', source: 's', receiver: 'tcp', text: 'm 1\n' });
  await persistence(a.store, file, a.clock).p.snapshot();
  fs.writeFileSync(path.join(dir, '.snap.tmp-999-1'), 'half a snapshot');
  const b = setup();
  assert.equal(persistence(b.store, file, b.clock).p.restore().restored, 1);
  assert.deepEqual(fs.readdirSync(dir), ['snap']);
  fs.rmSync(dir, { recursive: true });
});

test('a write that fails (directory gone) is logged once and counted; nothing throws; it recovers', async () => {
  const dir = tempDir();
  const sub = path.join(dir, 'sub');
  fs.mkdirSync(sub);
  const file = path.join(sub, 'snap');
  const a = setup();
  const { p, logs, registry } = persistence(a.store, file, a.clock);
  fs.rmSync(sub, { recursive: true });
  for (let i = 0; i < 3; i++) {
    a.store.put({ app: 'x', source: 's', receiver: 'tcp', text: `m ${i}\n` });
    await p.snapshot();
  }
  assert.equal(logs.filter((l) => l.includes('snapshot write failed')).length, 1);
  assert.match(await registry.metrics(), /^exporter_proxy_snapshot_writes_total\{result="error"\} 3$/m);
  fs.mkdirSync(sub);
  await p.snapshot(true);
  assert.ok(fs.existsSync(file));
  assert.ok(logs.some((l) => l.includes('snapshot written again')));
  fs.rmSync(dir, { recursive: true });
});

test('serialization yields to the event loop: timers run while a large snapshot is written', async () => {
  const dir = tempDir();
  const a = setup();
  let text = '# TYPE big gauge\n';
  for (let i = 0; i < 200; i++) text += `big{i="${i}",path="/a/rather/long/label/value/${i}"} ${i}\n`;
  for (let app = 0; app < 500; app++) a.store.put({ app: `app${app}`, source: 's', receiver: 'tcp', text });
  let ticks = 0;
  const t = setInterval(() => ticks++, 1);
  const r = await writeSnapshot(path.join(dir, 'snap'), a.store.storedEntries(), { created: 1, app_label: '' }, { sliceMs: 2 });
  clearInterval(t);
  assert.equal(r.series, 100_000);
  assert.ok(ticks > 0, 'the interval never ran during the write');
  assert.ok(r.maxBlockMs < r.cpuMs, `one slice (${r.maxBlockMs} ms) took all the time (${r.cpuMs} ms)`);
  fs.rmSync(dir, { recursive: true });
});
