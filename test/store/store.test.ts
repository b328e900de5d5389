import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { Store, type Update } from '../../src/store/store.js';
import { RenderCache, gzipWithTail } from '../../src/store/render_cache.js';
import { ProxyError } from '../../src/errors.js';
import { parseText } from '../../src/exposition/text_parse.js';

function newStore(opts: Partial<ConstructorParameters<typeof Store>[0]> = {}) {
  let clock = 1_000_000;
  const rejected: string[] = [];
  const store = new Store({ ttlMs: 0, appLabel: '', reservedPrefix: 'exporter_proxy_', now: () => clock, onReject: (_u, e) => rejected.push(e.code), ...opts });
  const cache = new RenderCache(store);
  return {
    store,
    rejected,
    text: () => cache.current().body.toString(),
    advance: (ms: number) => (clock += ms),
    put: (app: string, text: string, extra: Partial<Update> = {}) => store.put({ app, text, source: 'test', receiver: 'tcp', ...extra }),
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProxyError, String(err));
    return err.code;
  }
  assert.fail('expected an error');
}

test('last write wins per app: the new payload replaces the whole entry', () => {
  const s = newStore();
  s.put('a', 'm{code="200"} 1\nm{code="400"} 3\n');
  s.put('a', 'm{code="200"} 2\n');
  assert.equal(s.text(), '# TYPE m untyped\nm{code="200"} 2\n');
  assert.equal(s.store.seriesCount, 1);
});

test('families are merged across apps with one HELP/TYPE each, sorted by name', () => {
  const s = newStore();
  s.put('b', '# HELP up Is it up.\n# TYPE up gauge\nup{job="b"} 1\nzz 5\n');
  s.put('a', '# TYPE up gauge\nup{job="a"} 0\n');
  const out = s.text();
  assert.equal(out.match(/# TYPE up gauge/g)?.length, 1);
  assert.equal(out.match(/# HELP up Is it up\./g)?.length, 1);
  assert.match(out, /up\{job="b"\} 1\n/);
  assert.match(out, /up\{job="a"\} 0\n/);
  assert.ok(out.indexOf('# TYPE up') < out.indexOf('# TYPE zz'));
});

test('an invalid payload changes nothing, is counted and remembered as the last error', () => {
  const s = newStore();
  s.put('a', 'good 1\n');
  const before = s.text();
  assert.equal(codeOf(() => s.put('a', 'good 1\nbad{ 2\n')), 'E_PARSE');
  assert.equal(s.text(), before);
  assert.deepEqual(s.rejected, ['E_PARSE']);
  const info = s.store.listApps().find((a) => a.app === 'a')!;
  assert.equal(info.series, 1);
  assert.equal(info.lastError?.code, 'E_PARSE');
  assert.match(info.lastError!.message, /line 2/);
  s.put('a', 'good 2\n');
  assert.equal(s.store.listApps()[0].lastError, undefined, 'a good payload clears the last error');
});

test('an app whose first payload is invalid is listed with its error and no series', () => {
  const s = newStore();
  codeOf(() => s.put('new', '# TYPE x flute\n'));
  const [info] = s.store.listApps();
  assert.equal(info.app, 'new');
  assert.equal(info.series, 0);
  assert.equal(info.updatedAt, undefined);
  assert.equal(s.store.appCount, 0);
});

const conflicts: [string, string, string, string][] = [
  ['counter vs gauge', '# TYPE m counter\nm 1\n', '# TYPE m gauge\nm 1\n', 'E_TYPE_CONFLICT'],
  ['histogram vs untyped samples of the same name', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', 'h 3\n', 'E_TYPE_CONFLICT'],
  ['untyped family that is a histogram suffix', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', 'h_count 3\n', 'E_TYPE_CONFLICT'],
  ['histogram over an existing suffix family', 's_sum 3\n', '# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 1\ns_count 1\n', 'E_TYPE_CONFLICT'],
  ['reserved prefix', 'ok 1\n', 'exporter_proxy_apps 3\n', 'E_RESERVED_NAME'],
];

for (const [name, first, second, code] of conflicts) {
  test(`rejected across apps: ${name}`, () => {
    const s = newStore();
    s.put('a', first);
    const before = s.text();
    assert.equal(codeOf(() => s.put('b', second)), code);
    assert.equal(s.text(), before);
  });
}

test('samples without a TYPE line fit under a counter or gauge of another app', () => {
  const s = newStore();
  s.put('a', '# TYPE m counter\nm{a="1"} 1\n');
  s.put('b', 'm{b="1"} 2\n');
  assert.equal(s.text(), '# TYPE m counter\nm{a="1"} 1\nm{b="1"} 2\n');
  assert.equal(codeOf(() => s.put('c', '# TYPE m gauge\nm{c="1"} 1\n')), 'E_TYPE_CONFLICT');
});

test('an app may change the type of a family only it holds', () => {
  const s = newStore();
  s.put('a', '# TYPE m counter\nm 1\n');
  s.put('a', '# TYPE m gauge\nm 1\n');
  assert.match(s.text(), /# TYPE m gauge/);
});

test('a repeated push keeps the app in place among holders; a changed HELP or type shows at once', () => {
  const s = newStore();
  s.put('a', '# HELP m first\n# TYPE m counter\nm{a="1"} 1\n');
  s.put('b', '# TYPE m counter\nm{b="1"} 1\n');
  s.put('a', '# HELP m first\n# TYPE m counter\nm{a="1"} 2\n');
  assert.equal(s.text(), '# HELP m first\n# TYPE m counter\nm{a="1"} 2\nm{b="1"} 1\n');
  s.put('a', '# HELP m second\n# TYPE m counter\nm{a="1"} 3\n');
  assert.equal(s.text(), '# HELP m second\n# TYPE m counter\nm{a="1"} 3\nm{b="1"} 1\n');
  assert.equal(codeOf(() => s.put('b', '# TYPE m gauge\nm{b="1"} 1\n')), 'E_TYPE_CONFLICT', 'b cannot change the type while a holds m as a counter');
  s.put('a', 'm{a="1"} 4\n');
  assert.equal(s.text(), '# TYPE m counter\nm{a="1"} 4\nm{b="1"} 1\n', 'untyped samples fit under the counter b declares');
  s.put('b', '# TYPE m gauge\nm{b="1"} 2\n');
  assert.equal(s.text(), '# TYPE m gauge\nm{a="1"} 4\nm{b="1"} 2\n', 'and under a gauge once b changes its type');
});

test('a family kept at the same type is not checked again, but a new name next to it is', () => {
  const s = newStore();
  s.put('a', '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n');
  s.put('a', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 2\nh_count 2\n');
  assert.equal(codeOf(() => s.put('a', 'h_sum 3\n', { mode: 'merge' })), 'E_TYPE_CONFLICT');
  assert.equal(codeOf(() => s.put('b', 'h_count 3\n')), 'E_TYPE_CONFLICT');
  assert.equal(s.store.seriesCount, 3);
});

test('app_label keeps identical series from two apps apart, escaped, and overrides a sent label', () => {
  const s = newStore({ appLabel: 'app' });
  s.put('one', 'm{app="spoof"} 1\n');
  s.put('t"w\\o\n', 'm 2\n');
  assert.equal(s.text(), '# TYPE m untyped\nm{app="one"} 1\nm{app="t\\"w\\\\o\\n"} 2\n');
});

test('TTL: an app not updated for ttl disappears, others stay', () => {
  const s = newStore({ ttlMs: 10_000 });
  s.put('old', 'a 1\n');
  s.advance(6000);
  s.put('new', 'b 1\n');
  s.advance(5000);
  assert.deepEqual(s.store.expire(), ['old']);
  assert.equal(s.text(), '# TYPE b untyped\nb 1\n');
  assert.equal(s.store.listApps()[0].expiresAt, 1_000_000 + 6000 + 10_000);
});

test('per-update ttl overrides the store ttl; 0 never expires', () => {
  const s = newStore({ ttlMs: 1000 });
  s.put('keep', 'a 1\n', { ttlMs: 0 });
  s.advance(5000);
  assert.deepEqual(s.store.expire(), []);
});

test('merge mode replaces only the families in the payload', () => {
  const s = newStore();
  s.put('g', 'a 1\nb 1\n');
  s.put('g', 'b 2\nc 3\n', { mode: 'merge' });
  assert.equal(s.text(), '# TYPE a untyped\na 1\n# TYPE b untyped\nb 2\n# TYPE c untyped\nc 3\n');
});

test('remove drops the app and families it alone held', () => {
  const s = newStore();
  s.put('a', 'x 1\ny 1\n');
  s.put('b', 'y 2\n');
  assert.equal(s.store.remove('a'), true);
  assert.equal(s.store.remove('a'), false);
  assert.equal(s.text(), '# TYPE y untyped\ny 2\n');
});

test('an exclusive receiver keeps its app names: another receiver is refused until the entry is removed', () => {
  const s = newStore({ exclusiveReceivers: new Set(['probe']) });
  s.put('ping', 'ping_up{host="a"} 1\n', { receiver: 'probe', source: 'ping probes' });
  let message = '';
  assert.equal(
    codeOf(() => {
      try {
        s.put('ping', 'other 1\n');
      } catch (err) {
        message = (err as Error).message;
        throw err;
      }
    }),
    'E_APP_NAME',
  );
  assert.equal(message, 'app name "ping" is taken by the built-in ping probes; choose another name');
  assert.deepEqual(s.rejected, ['E_APP_NAME']);
  assert.equal(s.text(), '# TYPE ping_up untyped\nping_up{host="a"} 1\n', 'the probe results stay');
  // The owner itself replaces its entry; other receivers' entries are not exclusive.
  s.put('ping', 'ping_up{host="a"} 0\n', { receiver: 'probe', source: 'ping probes' });
  s.put('app', 'x 1\n');
  s.put('app', 'x 2\n', { receiver: 'http_push' });
  assert.equal(s.store.remove('ping'), true);
  s.put('ping', 'other 1\n');
  assert.match(s.text(), /^other 1$/m);
});

test('limits: series per app and number of apps', () => {
  const s = newStore({ maxSeriesPerApp: 2, maxApps: 1 });
  assert.equal(codeOf(() => s.put('a', 'x 1\ny 1\nz 1\n')), 'E_LIMIT');
  s.put('a', 'x 1\n');
  assert.equal(codeOf(() => s.put('b', 'x 1\n')), 'E_LIMIT');
  s.put('a', 'x 2\ny 2\n');
  // A merge within the limit by itself, over it with what the app keeps: refused, naming the key; nothing changes.
  assert.throws(() => s.put('a', 'z 3\n', { mode: 'merge' }), /app "a" would hold 3 series; the limit per app is 2 \(store\.max_series_per_app\)/);
  assert.equal(s.text(), '# TYPE x untyped\nx 2\n# TYPE y untyped\ny 2\n');
});

test('timestamps are kept as sent', () => {
  const s = newStore();
  s.put('a', 'm{a="b"}    3 1395066363000\n');
  assert.equal(s.text(), '# TYPE m untyped\nm{a="b"} 3 1395066363000\n');
});

test('render is cached per version and rebuilt after a change', () => {
  const s = newStore();
  const cache = new RenderCache(s.store);
  s.put('a', 'x 1\n');
  const r1 = cache.current();
  assert.equal(cache.current(), r1, 'unchanged store: same cached object');
  s.put('a', 'x 2\n');
  assert.notEqual(cache.current(), r1);
  assert.equal(cache.current().body.toString(), '# TYPE x untyped\nx 2\n');
});

test('overlappingFamilies counts the families in which a series may be twice (two or more holders, not all kept apart by app_label)', () => {
  const s = newStore();
  const cache = new RenderCache(s.store);
  s.put('a', 'x 1\ny 1\n');
  assert.equal(s.store.overlappingFamilies(), 0);
  s.put('b', 'x 1\nz 1\n');
  assert.equal(s.store.overlappingFamilies(), 1);
  assert.equal(cache.currentHeld().overlappingFamilies, 1);
  s.put('c', 'x{c="1"} 1\ny 2\n');
  assert.equal(s.store.overlappingFamilies(), 2);
  s.store.remove('b');
  s.store.remove('c');
  assert.equal(s.store.overlappingFamilies(), 0);

  // With app_label every app's series carry its own name, unless the update brings a label of that name itself.
  const l = newStore({ appLabel: 'app' });
  const labelled = new RenderCache(l.store);
  l.put('a', 'x 1\n');
  l.put('b', 'x 1\n');
  assert.equal(l.store.overlappingFamilies(), 0);
  assert.equal(labelled.current().body.toString(), '# TYPE x untyped\nx{app="a"} 1\nx{app="b"} 1\n');
  l.put('c', 'x 1\n', { labels: [{ name: 'app', value: 'a' }] });
  assert.equal(l.store.overlappingFamilies(), 1, 'c brings app="a": its series can be a\'s');
  assert.equal(labelled.current().body.toString(), '# TYPE x untyped\nx{app="a"} 1\nx{app="b"} 1\nx{app="a"} 1\n');

  // Restored entries may come from a run without app_label: not known to be apart.
  const r = newStore({ appLabel: 'app' });
  r.store.restore(l.store.storedEntries().filter((e) => e.app !== 'c'));
  assert.equal(r.store.overlappingFamilies(), 1);
});

test('gzip: cached body plus a per-scrape tail is one valid gzip member', async () => {
  const s = newStore();
  s.put('a', Array.from({ length: 5000 }, (_, i) => `m{i="${i}"} ${i}`).join('\n'));
  const cache = new RenderCache(s.store);
  const compressed = await cache.compressedCurrent();
  assert.equal(await cache.compressedCurrent(), compressed, 'compressed once per version');
  const tail = Buffer.from('# TYPE own gauge\nown 1\n');
  const gz = Buffer.concat(gzipWithTail(compressed, tail));
  assert.equal(gunzipSync(gz).toString(), cache.current().body.toString() + tail.toString());
  assert.equal(gzipWithTail(compressed, Buffer.from(tail)), gzipWithTail(compressed, Buffer.from(tail)), 'same tail: same answer reused');
  const other = Buffer.concat(gzipWithTail(compressed, Buffer.from('# TYPE own gauge\nown 2\n')));
  assert.match(gunzipSync(other).toString(), /own 2\n$/);
  const empty = await new RenderCache(newStore().store).compressedCurrent();
  assert.equal(gunzipSync(Buffer.concat(gzipWithTail(empty, tail))).toString(), tail.toString());
});

// Payloads whose added labels (app_label, grouping labels) could leave an
// invalid /metrics; the first four were found by fuzzing (test/fuzz,
// bench/fuzz.ts). Each row: what, store options, the update, the expected
// outcome (an error code, or 'ok' with /metrics still parsing).
const ADDED_LABEL_CASES: [what: string, opts: { appLabel?: string }, update: Partial<Update> & { text: string }, want: string][] = [
  ['m and m{app=""} become one series once app_label = "app" overrides the label', { appLabel: 'app' }, { text: 'm 0\nm{app=""} 0\n' }, 'E_DUPLICATE_SERIES'],
  ['two series differing only in the app label', { appLabel: 'app' }, { text: '# TYPE m counter\nm{app="a",x="1"} 1\nm{x="1",app="b"} 2\n' }, 'E_DUPLICATE_SERIES'],
  ['grouping labels collapse series the same way', {}, { text: 'm{job="a"} 1\nm{job="b"} 1\n', labels: [{ name: 'job', value: 'x' }] }, 'E_DUPLICATE_SERIES'],
  ['an empty-valued label is no label: m and m{le="",app="a"} collide once app is overridden', { appLabel: 'app' }, { text: 'm 1\nm{le="",app="a"} 0\n' }, 'E_DUPLICATE_SERIES'],
  ['an overridden label without a collision is fine', { appLabel: 'app' }, { text: 'm{app="spoof"} 1\nm{app="spoof",x="1"} 1\n' }, 'ok'],
  ['a histogram\'s le is compared as a number: le="1" and le="1.0" collide once the grouping label is set', {}, { text: '# TYPE h histogram\nh_bucket{job="a",le="1"} 1\nh_bucket{job="b",le="1.0"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', labels: [{ name: 'job', value: 'x' }] }, 'E_DUPLICATE_SERIES'],
  ['a summary\'s quantile too', { appLabel: 'app' }, { text: '# TYPE s summary\ns{app="a",quantile="0.5"} 1\ns{app="b",quantile="5e-1"} 1\ns_sum 1\ns_count 1\n' }, 'E_DUPLICATE_SERIES'],
  ['le on a gauge is a plain label: le="1" and le="1.0" stay two series', { appLabel: 'app' }, { text: '# TYPE g gauge\ng{app="a",le="1"} 1\ng{app="b",le="1.0"} 1\n' }, 'ok'],
];

for (const [what, opts, update, want] of ADDED_LABEL_CASES) {
  test(`added labels: ${what} -> ${want}`, () => {
    const s = newStore({ appLabel: opts.appLabel ?? '' });
    if (want === 'ok') {
      s.put('a', update.text, update);
      parseText(s.text());
    } else {
      assert.equal(codeOf(() => s.put('a', update.text, update)), want);
      assert.equal(s.store.appCount, 0);
    }
  });
}

test('render buffers: a held body is never overwritten; a released one is reused by the next render', () => {
  const s = newStore();
  const cache = new RenderCache(s.store);
  s.put('a', 'x 1\n');
  const r1 = cache.current();
  const release = cache.hold(r1);
  const before = r1.body.toString();
  s.put('a', 'x 2\n');
  cache.current();
  s.put('a', 'x 3\n');
  const r3 = cache.current();
  assert.equal(r1.body.toString(), before, 'held body unchanged by two renders');
  assert.equal(r3.body.toString(), '# TYPE x untyped\nx 3\n');
  release();
  release(); // idempotent
  s.put('a', 'x 4\n');
  const r4 = cache.current();
  s.put('a', 'x 5\n');
  const r5 = cache.current();
  assert.equal(r5.body.toString(), '# TYPE x untyped\nx 5\n');
  const backings = new Set([r1, r3, r4, r5].map((r) => r.body.buffer));
  assert.ok(backings.size <= 3, `renders reuse released memory (${backings.size} allocations for 4 renders)`);
});

test('an update with added labels is kept as sent until read, and every read gives the rendered text', () => {
  const s = newStore({ appLabel: 'app' });
  const labels = [{ name: 'job', value: 'j' }];
  s.put('a', '# HELP m Help.\n# TYPE m counter\nm{x="1"} 1\nm 2\nn{y="2"} 3\n', { labels });
  // Reads that do not render the entry: one family's text, the whole app.
  assert.equal(s.store.familyText('a', 'm'), 'm{x="1",job="j",app="a"} 1\nm{job="j",app="a"} 2\n');
  assert.deepStrictEqual(
    s.store.getApp('a')!.families.map((f) => f.text),
    ['m{x="1",job="j",app="a"} 1\nm{job="j",app="a"} 2\n', 'n{y="2",job="j",app="a"} 3\n'],
  );
  // A merge onto it renders the families it keeps.
  s.put('a', 'n{y="3"} 4\no 5\n', { labels, mode: 'merge' });
  assert.equal(s.store.familyText('a', 'm'), 'm{x="1",job="j",app="a"} 1\nm{job="j",app="a"} 2\n');
  s.put('b', 'm{x="1"} 6\n', { labels });
  s.put('c', 'm{x="1"} 7\n', { labels });
  s.store.remove('c');
  assert.equal(
    s.text(),
    '# HELP m Help.\n# TYPE m counter\nm{x="1",job="j",app="a"} 1\nm{job="j",app="a"} 2\nm{x="1",job="j",app="b"} 6\n' +
      '# TYPE n untyped\nn{y="3",job="j",app="a"} 4\n# TYPE o untyped\no{job="j",app="a"} 5\n',
  );
  // A snapshot sees rendered bytes, and they stay as they are when the app is pushed again.
  s.put('b', 'm{x="1"} 8\n', { labels });
  const entries = s.store.storedEntries();
  const b = entries.find((e) => e.app === 'b')!;
  const [, chunk] = [...b.chunks][0]!;
  const bytes = () => Buffer.from(chunk.data.subarray(chunk.start, chunk.start + chunk.bytes)).toString();
  assert.equal(bytes(), 'm{x="1",job="j",app="b"} 8\n');
  s.put('b', 'm{x="1"} 9\n', { labels });
  assert.match(s.text(), /m\{x="1",job="j",app="b"\} 9\n/);
  assert.equal(bytes(), 'm{x="1",job="j",app="b"} 8\n');
});

test('renderPending renders what a put kept as sent, and nothing reads differently for it', () => {
  const s = newStore();
  s.put('a', 'm{x="1"} 1\n', { labels: [{ name: 'job', value: 'j' }] });
  s.put('b', 'm{x="2"} 2\n');
  assert.equal(s.store.pendingCount, 1, 'only the put with added labels');
  const before = s.store.familyText('a', 'm');
  s.store.renderPending();
  assert.equal(s.store.pendingCount, 0);
  assert.equal(s.store.familyText('a', 'm'), before);
  assert.equal(s.text(), '# TYPE m untyped\nm{x="1",job="j"} 1\nm{x="2"} 2\n');
  s.store.remove('a');
  s.put('a', 'm{x="3"} 3\n', { labels: [{ name: 'job', value: 'j' }] });
  s.store.remove('a');
  assert.equal(s.store.pendingCount, 0, 'a removed entry is not waiting to be rendered');
});
