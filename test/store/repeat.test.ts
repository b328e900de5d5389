// The store's repeat path (exposition/text_repeat.ts): a payload that repeats
// what the app holds is stored without a parse. Each case pushes a first and
// a second payload, in every way the first can be held (as sent or rendered,
// with and without added labels); checkRepeat (shared with the fuzz target)
// asserts that a repeat stores exactly what the parse path stores, and the
// table says whether it must be taken.

import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Store } from '../../src/store/store.js';
import { AddedLabels } from '../../src/exposition/text_render.js';
import { repeatAsSent } from '../../src/exposition/text_repeat.js';
import { checkRepeat, repeatInputs, type RepeatSetup } from '../fuzz/properties.js';

const JOB = [{ name: 'job', value: 'j' }];
const INSTANCE = [{ name: 'instance', value: '' }];

const SETUPS: Record<string, RepeatSetup> = {
  'pushed group, as sent': { appLabel: '', rendered: false, labels: JOB, defaultLabels: INSTANCE },
  'pushed group, rendered': { appLabel: '', rendered: true, labels: JOB, defaultLabels: INSTANCE },
  'app_label, as sent': { appLabel: 'app', rendered: false },
  'app_label, rendered': { appLabel: 'app', rendered: true },
  'no added labels, as sent': { appLabel: '', rendered: false },
  'no added labels, rendered': { appLabel: '', rendered: true },
};

const BASE = '# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{code="200",path="/a"} 1\nhttp_requests_total{code="500",path="/a"} 2\n# TYPE up gauge\nup 1\n';
const HIST = '# HELP lat Latency.\n# TYPE lat histogram\nlat_bucket{le="0.5"} 1\nlat_bucket{le="+Inf"} 2\nlat_sum 0.7\nlat_count 2\n# TYPE q summary\nq{quantile="0.5"} 1\nq_sum 3\nq_count 4\n';

/** [what, first, second, taken as a repeat] */
const CASES: [string, string, string, boolean][] = [
  ['new values', BASE, BASE.replace('} 1', '} 10').replace('} 2', '} 20').replace('up 1', 'up 0'), true],
  ['the same payload', BASE, BASE, true],
  ['every value form', 'a 1\nb 1\nc 1\nd 1\ne 1\nf 1\ng 1\n', 'a NaN\nb +Inf\nc -Inf\nd 1e3\ne -0\nf .5\ng 5.\n', true],
  ['timestamps added, changed, dropped', 'a 1\nb 1 100\nc 1 100\n', 'a 1 -5\nb 1 200\nc 1\n', true],
  ['histogram and summary', HIST, HIST.replace('} 1', '} 5').replace('0.7', '9.25'), true],
  ['CRLF lines', BASE.replaceAll('\n', '\r\n'), BASE.replaceAll('\n', '\r\n').replace('up 1', 'up 2'), true],
  ['no newline at the end', 'a{x="1"} 1\nb 2', 'a{x="1"} 3\nb 4', true],
  ['escapes and look-alikes in label values', 'm{a="\\"} 5 ,j=\\"x\\"",b="\\\\\\n{"} 1\n', 'm{a="\\"} 5 ,j=\\"x\\"",b="\\\\\\n{"} 2\n', true],
  ['first held line not canonical: the new one is', 'm{a="1"}   1  \n', 'm{a="1"} 2\n', true],
  ['an empty label value (rendered whole, both times)', 'm{a="",b="1"} 1\n', 'm{a="",b="1"} 2\n', true],
  ['a series added', BASE, BASE + 'up{x="1"} 1\n', false],
  ['a series dropped', BASE, BASE.replace('http_requests_total{code="500",path="/a"} 2\n', ''), false],
  ['two series swapped', 'a{x="1"} 1\na{x="2"} 1\n', 'a{x="2"} 1\na{x="1"} 1\n', false],
  ['families swapped', 'a 1\nb 1\n', 'b 1\na 1\n', false],
  ['a label value changed', BASE, BASE.replace('/a"} 1', '/b"} 1'), false],
  ['HELP changed', BASE, BASE.replace('Requests.', 'Requests'), false],
  ['HELP added', 'a 1\n', '# HELP a x\na 1\n', false],
  ['TYPE changed', BASE, BASE.replace('up gauge', 'up counter'), false],
  ['TYPE dropped', BASE, BASE.replace('# TYPE up gauge\n', ''), false],
  ['TYPE before HELP', '# HELP a x\n# TYPE a gauge\na 1\n', '# TYPE a gauge\n# HELP a x\na 1\n', false],
  ['a comment', BASE, '# hi\n' + BASE, false],
  ['blank lines (prom-client ends each family with one)', BASE, '\n' + BASE.replaceAll('\n#', '\n\n#').replace('up 1\n', '\n \t\r\nup 1\n\n') + '  ', true],
  ['a line of a carriage return and a blank', BASE, BASE + '\r \n', false],
  ['a header without samples after the rest', BASE, BASE + '# TYPE other counter\n', true],
  ['a bad value', BASE, BASE.replace('up 1', 'up one'), false],
  ['a value out of range', BASE, BASE.replace('up 1', 'up 1e400'), false],
  ['a hex value', BASE, BASE.replace('up 1', 'up 0x1'), false],
  ['two spaces before the value', BASE, BASE.replace('up 1', 'up  1'), false],
  ['a tab before the value', BASE, BASE.replace('up 1', 'up\t1'), false],
  ['a trailing blank', BASE, BASE.replace('up 1', 'up 1 '), false],
  ['a bad timestamp', BASE, BASE.replace('up 1', 'up 1 1.5'), false],
  ['a timestamp out of range', BASE, BASE.replace('up 1', 'up 1 9223372036854775808'), false],
  ['a leading blank', BASE, BASE.replace('up 1', ' up 1'), false],
  ['not ASCII', 'm{a="x"} 1\n', 'm{a="x"} 1\n# HELP é\n', false],
  ['not ASCII in a label value, both times', 'm{a="é"} 1\n', 'm{a="é"} 2\n', false],
  ['the labels dropped', 'm{a="1"} 1\n', 'm 1\n', false],
  ['a duplicate of the line before', 'a{x="1"} 1\n', 'a{x="1"} 1\na{x="1"} 1\n', false],
  ['empty', 'a 1\n', '', false],
  // Families with a header and no samples (client libraries write them for a labelled metric with no series yet): dropped by both paths.
  ['header-only families before, between and after', BASE, '# HELP none x\n# TYPE none histogram\n' + BASE.replace('# TYPE up', '# TYPE other gauge\n# TYPE up') + '# HELP last y\\n\n', true],
  ['a header-only family, then the first push again', BASE + '# TYPE other gauge\n', BASE, true],
  ['a header-only histogram claiming a held family', '# TYPE lat_bucket gauge\nlat_bucket 1\n', '# TYPE lat histogram\n# TYPE lat_bucket gauge\nlat_bucket 2\n', false],
  ['a header-only histogram claiming a held family after it', '# TYPE lat_sum gauge\nlat_sum 1\n', '# TYPE lat_sum gauge\nlat_sum 2\n# TYPE lat histogram\n', false],
  ['a header-only family a held summary claims', '# TYPE x summary\nx_sum 1\nx_count 1\n', '# TYPE x summary\nx_sum 1\nx_count 1\n# TYPE x_count gauge\n', false],
  ['a header-only family claimed by an earlier header-only one', 'a 1\n', '# TYPE h histogram\n# HELP h_count c\na 1\n', false],
  ['a header of a held family, out of place', BASE, BASE + '# HELP up again\n', false],
  ['the same header-only family twice', BASE, '# TYPE z gauge\n' + BASE + '# TYPE z gauge\n', false],
  ['HELP and TYPE of one header-only family apart', BASE, '# HELP z x\n' + BASE + '# TYPE z gauge\n', false],
  ['a header-only family with a bad type', BASE, BASE + '# TYPE z info\n', false],
  ['a header-only family with a bad escape in HELP', BASE, BASE + '# HELP z a\\tb\n', false],
  ['a header-only family with a bad name', BASE, BASE + '# TYPE 0z gauge\n', false],
  ['a comment that is not HELP or TYPE', BASE, BASE + '# TYPEz gauge\n', false],
];

describe('a payload that repeats the held one is stored as the parse path stores it', () => {
  for (const [setupName, setup] of Object.entries(SETUPS)) {
    it(setupName, () => {
      for (const [what, first, second, taken] of CASES) assert.equal(checkRepeat(first, second, setup), taken, what);
    });
  }
});

test('added labels named le or quantile never take the repeat path', () => {
  for (const name of ['le', 'quantile']) {
    assert.equal(checkRepeat('m{a="1"} 1\n', 'm{a="1"} 2\n', { appLabel: '', rendered: true, labels: [{ name, value: '1' }] }), false, name);
  }
});

test('added labels other than the held ones: not a repeat', () => {
  const store = new Store({ ttlMs: 0, appLabel: '', reservedPrefix: 'exporter_proxy_' });
  const update = { app: 'a', source: 't', receiver: 'tcp' };
  store.put({ ...update, text: 'm{a="1"} 1\n', labels: JOB });
  assert.ok(store.repeatPrepared({ ...update, labels: JOB }, 'm{a="1"} 2\n', []), 'the same labels: a repeat');
  assert.equal(store.repeatPrepared({ ...update, labels: [{ name: 'job', value: 'k' }] }, 'm{a="1"} 2\n', []), undefined);
  store.renderPending();
  assert.equal(store.repeatPrepared({ ...update, labels: [{ name: 'job', value: 'k' }] }, 'm{a="1"} 2\n', []), undefined, 'held rendered');
  assert.equal(store.repeatPrepared({ app: 'other', labels: JOB }, 'm{a="1"} 2\n', []), undefined, 'an app with no entry');
});

test('a socket update (text) that repeats its app is stored without a parse, kept as sent', () => {
  const store = new Store({ ttlMs: 0, appLabel: '', reservedPrefix: 'exporter_proxy_' });
  const put = (text: string) => store.put({ app: 'a', source: 't', receiver: 'tcp', text });
  put('# TYPE m counter\nm{a="1"} 1\n');
  // Parsed without added labels, an entry is stored rendered; the repeat path keeps its lines as sent.
  assert.equal(store.pendingCount, 0);
  put('# TYPE m counter\nm{a="1"} 2\n');
  assert.equal(store.pendingCount, 1, 'the repeat path took it');
  assert.equal(store.familyText('a', 'm'), 'm{a="1"} 2\n');
  put('# TYPE m gauge\nm{a="1"} 3\n');
  assert.equal(store.pendingCount, 0, 'another TYPE: parsed');
  assert.equal(store.getApp('a')!.families[0]!.type, 'gauge');
});

test('a family held with the tail named differently, or missing: not a repeat', () => {
  const store = new Store({ ttlMs: 0, appLabel: '', reservedPrefix: 'exporter_proxy_' });
  const update = { app: 'a', source: 't', receiver: 'tcp', labels: JOB };
  store.put({ ...update, text: 'm 1\nt 5\n' });
  const tail = (name: string) => [{ name, type: 'gauge' as const, typeDeclared: false, samples: [{ name, labels: [], value: '6' }] }];
  const prepared = store.repeatPrepared(update, 'm 2\n', tail('t'));
  assert.ok(prepared, 'the held entry ends with the tail family');
  store.put({ ...update, prepared });
  assert.equal(store.familyText('a', 't'), 't{job="j"} 6\n');
  assert.equal(store.familyText('a', 'm'), 'm{job="j"} 2\n');
  assert.equal(store.repeatPrepared(update, 'm 2\n', tail('u')), undefined, 'another tail name');
  assert.equal(store.repeatPrepared(update, 'm 2\n', [...tail('t'), ...tail('t2')]), undefined, 'a longer tail than held');
});

test("a push kept as sent reuses the buffer its group's push before last gave up (an entry replaced, rendered or removed gives its buffer back)", () => {
  const store = new Store({ ttlMs: 0, appLabel: '', reservedPrefix: 'exporter_proxy_' });
  const update = { app: 'a', source: 't', receiver: 'tcp', labels: JOB };
  const text = (v: number) => `# TYPE m counter\nm{a="1"} ${v}\nm{a="2"} ${v}\n`;
  store.put({ ...update, text: text(1) });
  const repeat = (v: number) => {
    const prepared = store.repeatPrepared(update, text(v), [])!;
    store.put({ ...update, prepared });
    return prepared.asSent!.bytes.buffer;
  };
  const first = repeat(2);
  repeat(3); // gives back the buffer `first` replaced
  assert.equal(repeat(4), first, 'the buffer given back by the push before');
  assert.equal(store.familyText('a', 'm'), 'm{a="1",job="j"} 4\nm{a="2",job="j"} 4\n');
  // A much longer payload does not take a buffer it does not fit.
  const long = `# TYPE m counter\nm{a="1"} ${'1'.repeat(300)}\nm{a="2"} 1\n`;
  store.put({ ...update, text: long });
  assert.equal(store.familyText('a', 'm'), `m{a="1",job="j"} ${'1'.repeat(300)}\nm{a="2",job="j"} 1\n`);
  store.renderPending();
  assert.equal(store.familyText('a', 'm'), `m{a="1",job="j"} ${'1'.repeat(300)}\nm{a="2",job="j"} 1\n`, 'rendered');
});

test('after a miss the store parses the next updates of that app without trying, 1, 2, 4 ... of them, until a repeat is taken', () => {
  const store = new Store({ ttlMs: 0, appLabel: '', reservedPrefix: 'exporter_proxy_' });
  // Without added labels a parse stores an entry rendered, the repeat path as sent: pendingCount tells them apart.
  const put = (text: string) => {
    store.renderPending();
    store.put({ app: 'a', source: 't', receiver: 'tcp', text });
    return store.pendingCount === 1 ? 'repeat' : 'parsed';
  };
  const same = (v: number) => `m{a="1"} ${v}\n`;
  const changed = (v: number) => `m{a="x${v}"} 1\n`;
  assert.equal(put(same(1)), 'parsed');
  assert.equal(put(same(2)), 'repeat');
  assert.deepEqual([put(changed(1)), put(same(3)), put(same(4))], ['parsed', 'parsed', 'repeat'], 'a miss: the next update is not tried');
  assert.deepEqual([put(changed(2)), put(changed(3)), put(changed(4)), put(changed(5)), put(changed(6))], ['parsed', 'parsed', 'parsed', 'parsed', 'parsed']);
  // Tried at changed(2), (4) and same(5) (a miss too: the store holds changed(6)): after that, 4 are parsed without trying.
  assert.deepEqual([put(same(5)), put(same(6)), put(same(7)), put(same(8)), put(same(9)), put(same(10))], ['parsed', 'parsed', 'parsed', 'parsed', 'parsed', 'repeat']);
  assert.equal(store.familyText('a', 'm'), 'm{a="1"} 10\n');
});

test('the repeat fuzz target takes a fair share of its inputs as repeats (it is not vacuous)', () => {
  const inputs = fc.sample(repeatInputs, { seed: 7, numRuns: 600 });
  const taken = inputs.filter(([[first, second], setup]) => checkRepeat(first, second, setup)).length;
  assert.ok(taken >= 30, `only ${taken} of ${inputs.length} taken`);
});

test('held lines the renderer never writes (`{}`, a trailing comma) are not trusted as a series prefix', () => {
  const added = new AddedLabels([{ name: 'job', value: 'j' }], []);
  const held = (line: string) => {
    const data = Buffer.from(line + '\n');
    return new Map([['m', { type: 'untyped' as const, declared: false, series: 1, data, start: 0, bytes: data.length, asSent: undefined, firstLine: 0 }]]);
  };
  assert.ok(repeatAsSent('m{a="1"} 2\n', held('m{a="1",job="j"} 1'), 1, added, []), 'a line as the store holds it');
  assert.equal(repeatAsSent('m{} 2\n', held('m{,job="j"} 1'), 1, added, []), undefined);
  assert.equal(repeatAsSent('m{a="1",} 2\n', held('m{a="1",,job="j"} 1'), 1, added, []), undefined);
});
