// The parser's canonical-line fast path and the lazy TextSample must be
// invisible: every input gives the same result (model, or error class, code,
// message and line) with the fast path as with the general path alone, and
// renders to the same text, with and without extra labels. So must the
// store's deferred render (lines kept as sent, labels spliced in later).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ProxyError } from '../../src/errors.js';
import { TextSample, labelNamesMask } from '../../src/exposition/model.js';
import type { Label, ParsedPayload } from '../../src/exposition/model.js';
import { parseText } from '../../src/exposition/text_parse.js';
import { renderFamilies, renderSamples, renderSamplesAsSent, writeAsSent } from '../../src/exposition/text_render.js';
import type { Family } from '../../src/exposition/model.js';
import { CASES } from './cases.js';
import { plain, plainFamily } from './plain.js';

type Outcome = { ok: ParsedPayload } | { error: { kind: string; code: string; message: string; line?: number } };

function outcome(text: string, general: boolean, maxSeries?: number): Outcome {
  try {
    return { ok: parseText(text, { maxSeries, generalPathOnly: general }) };
  } catch (e) {
    if (!(e instanceof ProxyError)) throw e;
    return { error: { kind: e.constructor.name, code: e.code, message: e.message, line: (e as { line?: number }).line } };
  }
}

const EXTRA_SETS: Label[][] = [[], [{ name: 'app', value: 'a\\"1' }], [{ name: 'le', value: 'x' }, { name: 'job', value: 'j' }, { name: 'a', value: '1' }]];

/** Same result both ways; for accepted input also the same rendering. Returns whether it was accepted. */
function assertSame(text: string, maxSeries?: number): boolean {
  const fast = outcome(text, false, maxSeries);
  const general = outcome(text, true, maxSeries);
  const show = JSON.stringify(text);
  if ('error' in general) {
    assert.deepStrictEqual(fast, general, show);
    return false;
  }
  assert.ok('ok' in fast, `${show}: fast path threw ${JSON.stringify(fast)}`);
  assert.deepStrictEqual(plain(fast.ok), plain(general.ok), show);
  for (const extra of EXTRA_SETS) {
    assert.equal(renderFamilies(fast.ok.families, extra), renderFamilies(general.ok.families, extra), `${show} with ${JSON.stringify(extra)}`);
    for (const defaults of DEFAULT_SETS) assertAsSentSame(fast.ok.families, extra, defaults, show);
  }
  return true;
}

const DEFAULT_SETS: Label[][] = [[], [{ name: 'instance', value: '' }], [{ name: 'a', value: 'd' }]];
let asSentRendered = 0;

/**
 * Each family's lines as sent, written by writeAsSent, equal renderSamples
 * of it; undefined from renderSamplesAsSent only when there are no added
 * labels, no canonical line or a non-ASCII payload.
 */
function assertAsSentSame(families: Family[], extra: Label[], defaults: Label[], show: string): void {
  const kept = families.filter((f) => f.samples.length > 0);
  const deferred = renderSamplesAsSent(kept, extra, defaults);
  const expected = kept.map((f) => renderSamples(f, extra, defaults));
  if (!deferred) {
    const canonical = kept.some((f) => f.samples.some((s) => TextSample.lineText(s) !== undefined));
    const ascii = kept.every((f) => f.samples.every((s) => TextSample.lineText(s) === undefined || /^[\x00-\x7f]*$/.test(TextSample.lineText(s)!)));
    assert.ok(extra.length + defaults.length === 0 || !canonical || !ascii, `${show}: not deferred with ${JSON.stringify(extra)}`);
    return;
  }
  asSentRendered++;
  let first = 0;
  kept.forEach((f, i) => {
    const out = Buffer.alloc(deferred.sizes[i]! + 8, 0x2a); // room past the end, to catch writes beyond it
    const end = writeAsSent(deferred.asSent, first, f.samples.length, out, 0);
    assert.equal(out.subarray(0, end).toString('utf8'), expected[i], `${show} with ${JSON.stringify(extra)} / defaults ${JSON.stringify(defaults)}, family ${f.name}`);
    assert.equal(end, deferred.sizes[i], `${show}: size of family ${f.name}`);
    first += f.samples.length;
  });
}

// A small deterministic PRNG so failures reproduce.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED_LINES = [
  'm 1',
  'm 1 1700000000000',
  'm{a="x"} 1',
  'm{a="x",b="y"} 2 -5',
  'm{b="y",a="x"} 2',
  'm{c="x",a="x",b="x"} 3',
  'm{c="x",a="x"} 3',
  'm{a="x\\"y\\\\z\\n"} NaN',
  'm{a="",b="x,y=\\"}"} +Inf',
  'm_total{code="200",method="get",path="/api/v1/x"} 1027 1395066363000',
  'h_bucket{le="0.1"} 1',
  'h_bucket{le="+Inf"} 2',
  'h_bucket{le="1.0",x="y"} 3',
  'h_bucket{x="y",le="1"} 3',
  'h_bucket{ab="1",le="2"} 1',
  'h_bucket{le="3",lf="1"} 1',
  'h_sum 1.5',
  'h_sum{lf="1"} 1.5',
  'h_count{x="y"} 3',
  's{quantile="0.5"} 1',
  's{quantile="5e-1"} 1',
  's{quantilf="1",quantile="0.9"} 1',
  's_sum 2',
  ':colon:name{_l9="v"} .5',
];
/** Lines every parse rejects (or that make the payload invalid in context). */
const BAD_LINES = [
  'h_sum{le="1"} 1',
  'h 1',
  's{quantile="x"} 1',
  's_count{quantile="1"} 3',
  'n{__name__="x"} 1',
  'n{a="1",a="2"} 1',
  'n{a="1",b="2",a="3"} 1',
  'n{a="1" ,b="2"} 1',
  'n{a="1",} 1',
  'n{} 1',
  'n  1',
  'n\t1',
  'n 1 ',
  'n 1e400',
  'n 1 9223372036854775808',
  'n 1 2 3',
  'n{a="\\t"} 1',
  'n{a="unterminated} 1',
  'n{é="x"} 1',
  'é 1',
];
const HEADERS = ['# TYPE h histogram', '# TYPE s summary', '# HELP m Help \\n text.', '# TYPE m_total counter', '# TYPE m gauge', '# comment'];
const EDIT_CHARS = [' ', '\t', '{', '}', ',', '=', '"', '\\', 'n', '\r', '#', 'a', 'b', '_', ':', '0', '1', '.', 'e', '+', '-', 'I', 'N', 'é'];

function mutate(line: string, r: () => number): string {
  const edits = Math.floor(r() * 3);
  let out = line;
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(r() * (out.length + 1));
    const ch = EDIT_CHARS[Math.floor(r() * EDIT_CHARS.length)]!;
    const op = r();
    if (op < 0.4) out = out.slice(0, at) + ch + out.slice(at);
    else if (op < 0.7) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + ch + out.slice(at + 1);
  }
  return out;
}

describe('fast path == general path', () => {
  it('for every case of the table', () => {
    asSentRendered = 0;
    for (const c of CASES) assertSame(c.input, c.opts?.maxSeries);
    assert.ok(asSentRendered > 50, `the deferred render was compared for ${asSentRendered} accepted cases`);
  });

  it('for random payloads of canonical lines with random edits (duplicates, order, blanks, CRLF)', () => {
    const r = prng(20240611);
    let accepted = 0;
    let rejected = 0;
    for (let run = 0; run < 6000; run++) {
      const lines: string[] = [];
      const count = 1 + Math.floor(r() * 8);
      // Some payloads without edits or bad lines, so that the fast path (which
      // backs off after a line it cannot take) sees every line.
      const clean = r() < 0.3;
      for (let k = 0; k < count; k++) {
        if (r() < 0.15) lines.push(HEADERS[Math.floor(r() * HEADERS.length)]!);
        const pool = !clean && r() < 0.08 ? BAD_LINES : SEED_LINES;
        const seed = pool[Math.floor(r() * pool.length)]!;
        // Vary label values so most lines are distinct series, sometimes keep them (duplicates).
        const varied = r() < 0.8 ? seed.replace(/="(x|\d)/g, (_m, c: string) => `="${c}${Math.floor(r() * 100)}`) : seed;
        lines.push(!clean && r() < 0.3 ? mutate(varied, r) : varied);
      }
      const eol = r() < 0.2 ? '\r\n' : '\n';
      const text = lines.join(eol) + (r() < 0.8 ? eol : '');
      if (assertSame(text, r() < 0.1 ? Math.floor(r() * 4) : undefined)) accepted++;
      else rejected++;
    }
    // Both outcomes are well represented.
    assert.ok(accepted > 1500 && rejected > 1500, `${accepted} accepted, ${rejected} rejected`);
  });

  it('applies the histogram and summary label rules to canonical lines', () => {
    const payloads = [
      ['# TYPE h histogram', 'h_bucket{ab="1",le="2"} 1', 'h_bucket{le="2",ab="1"} 1'],
      ['# TYPE h histogram', 'h_bucket{ab="1",le="2"} 1', 'h_bucket{ab="1",le="2.0"} 1'],
      ['# TYPE h histogram', 'h_bucket{ab="1"} 1'],
      ['# TYPE h histogram', 'h_bucket{le="x"} 1'],
      ['# TYPE h histogram', 'h_sum{lf="1"} 1'],
      ['# TYPE h histogram', 'h_sum{le="1"} 1'],
      ['# TYPE h histogram', 'h_count{lf="1",le="1"} 1'],
      ['# TYPE h histogram', 'h{le="1"} 1'],
      ['# TYPE s summary', 's{quantilf="1"} 1'],
      ['# TYPE s summary', 's{quantilf="1",quantile="0.5"} 1', 's{quantile=".5",quantilf="1"} 1'],
      ['# TYPE s summary', 's_count{quantile="1"} 1'],
      ['# TYPE s summary', 's_sum{quantilf="1"} 1'],
      ['# TYPE s summary', 's{quantile="x"} 1'],
      ['h_bucket{le="x"} 1', 's{quantile="x"} 1'],
    ];
    for (const ls of payloads) assertSame(ls.join('\n') + '\n');
  });

  it('finds duplicates between fast-path and general-path lines, in any label order', () => {
    const dupes = [
      ['m{a="1",b="2"} 1', 'm{ b="2", a="1" } 2'],
      ['m{b="2",a="1"} 1', 'm{a="1",b="2"} 2'],
      ['m{b="2",a="1"} 1', 'm{a="1", b="2"} 2'],
      ['m{b="2",c="3",a="1"} 1', 'm{c="3",a="1",b="2"} 2'],
      ['m{a="1"} 1', 'm{b="2"} 1', 'm{a="1",} 2'],
      ['m 1', 'm{} 2'],
      ['# TYPE h histogram', 'h_bucket{le="1"} 1', 'h_bucket{le="1.0"} 2'],
      ['# TYPE h histogram', 'h_bucket{x="1",le="+Inf"} 1', 'h_bucket{le="Inf",x="1"} 2'],
      ['# TYPE s summary', 's{quantile="0.5"} 1', 's{quantile=".5"} 2'],
      ['m{a="2"} 1', 'm{a="3"} 1', 'm{a="1"} 1', 'm{a="3"} 1'],
      // A prefix of the first line's label names is another label set.
      ['m{c="1",a="2",x="3"} 1', 'm{c="1",a="2"} 1', 'm{a="2",c="1"} 2'],
      ['m{c="1",a="2",x="3"} 1', 'm{c="1",a="2"} 1', 'm{a="2", c="1"} 2'],
      ['m{c="1",a="2",x="3"} 1', 'm{a="2",x="3",c="1"} 1'],
      ['m{c="1" ,a="2",x="3"} 1', 'm{a="2",x="3",c="1"} 1'],
    ];
    for (const ls of dupes) {
      const text = ls.join('\n') + '\n';
      assertSame(text);
      assert.throws(() => parseText(text), { code: 'E_DUPLICATE_SERIES' }, text);
    }
  });
});

describe('TextSample', () => {
  const text = 'm{b="x\\"y",a="2"} 1 17\nm 2\nm{c="3"} 3\n';

  it('exposes name, labels, value and timestamp; the payload link is private', () => {
    const [s1, s2, s3] = parseText(text).families[0]!.samples as TextSample[];
    assert.ok(s1 instanceof TextSample);
    // labels and value are read from the line when asked (accessors): copies go through the Sample interface.
    assert.deepStrictEqual(Object.keys(s1), ['name', 'timestamp']);
    assert.deepStrictEqual([s1.value, s2!.value, s3!.value], ['1', '2', '3']);
    assert.deepStrictEqual(s1.labels, [{ name: 'b', value: 'x\\"y' }, { name: 'a', value: '2' }]);
    assert.equal(s1.labels, s1.labels, 'parsed once');
    assert.equal(JSON.stringify(s1), '{"name":"m","labels":[{"name":"b","value":"x\\\\\\"y"},{"name":"a","value":"2"}],"value":"1","timestamp":"17"}');
    assert.equal(JSON.stringify(s2), '{"name":"m","labels":[],"value":"2"}');
    assert.deepStrictEqual(s2!.labels, []);
    assert.equal(s2!.timestamp, undefined);
  });

  it('renders the new labels once labels are replaced, and copies render like the original', () => {
    const p = parseText(text);
    const f = p.families[0]!;
    assert.equal(renderSamples(f, []), text);
    f.samples[1]!.labels = [...f.samples[1]!.labels, { name: 'instance', value: '' }];
    assert.equal(renderSamples(f, []), 'm{b="x\\"y",a="2"} 1 17\nm{instance=""} 2\nm{c="3"} 3\n');
    const copy = plainFamily(f);
    assert.equal(renderSamples(copy, []), renderSamples(f, []));
    assert.equal(renderSamples(copy, [{ name: 'c', value: 'z' }]), renderSamples(f, [{ name: 'c', value: 'z' }]));
  });

  it('extra labels replace same-named line labels on the fast path too', () => {
    const f = parseText(text).families[0]!;
    assert.equal(renderSamples(f, [{ name: 'a', value: 'X' }, { name: 'z', value: 'Z' }]), 'm{b="x\\"y",a="X",z="Z"} 1 17\nm{a="X",z="Z"} 2\nm{c="3",a="X",z="Z"} 3\n');
  });

  it('mayHaveLabelIn rules labels out without parsing them, and says "maybe" otherwise', () => {
    const [s1, s2, s3] = parseText(text).families[0]!.samples;
    const mask = labelNamesMask([{ name: 'c' }]);
    assert.equal(TextSample.mayHaveLabelIn(s1!, mask), (labelNamesMask([{ name: 'a' }, { name: 'b' }]) & mask) !== 0);
    assert.equal(TextSample.mayHaveLabelIn(s2!, mask), false);
    assert.equal(TextSample.mayHaveLabelIn(s3!, mask), true);
    s2!.labels = [{ name: 'x', value: '1' }];
    assert.equal(TextSample.mayHaveLabelIn(s2!, mask), true, 'replaced labels are not described by the mask');
    assert.equal(TextSample.mayHaveLabelIn({ name: 'm', labels: [], value: '1' }, mask), true);
  });

  it('renders non-adjacent and CRLF lines one by one', () => {
    const t = '# TYPE m gauge\r\nm{a="1"} 1\r\n# x\r\nm{a="2"} 2\r\n\r\nm{a="3"} 3';
    assert.equal(renderSamples(parseText(t).families[0]!, []), 'm{a="1"} 1\nm{a="2"} 2\nm{a="3"} 3\n');
  });
});

describe('lines as sent (renderSamplesAsSent, writeAsSent)', () => {
  const grouping: Label[] = [{ name: 'job', value: 'j' }, { name: 'instance', value: 'i\\"1' }];

  /** Every family's lines written one after another, as the store packs an entry. */
  function written(families: Family[], extra: Label[], defaults: Label[] = []): string | undefined {
    const d = renderSamplesAsSent(families, extra, defaults);
    if (!d) return undefined;
    const out = Buffer.alloc(d.sizes.reduce((a, b) => a + b, 0));
    let at = 0;
    let first = 0;
    for (const f of families) {
      at = writeAsSent(d.asSent, first, f.samples.length, out, at);
      first += f.samples.length;
    }
    assert.equal(at, out.length);
    return out.toString('utf8');
  }

  it('splices the added labels into a push, before `}` or as `{...}` after the name', () => {
    const p = parseText('# HELP m A help.\n# TYPE m counter\nm{a="1"} 1\nm 2 17\nn{b="x"} 3\n');
    assert.equal(written(p.families, grouping), 'm{a="1",job="j",instance="i\\"1"} 1\nm{job="j",instance="i\\"1"} 2 17\nn{b="x",job="j",instance="i\\"1"} 3\n');
  });

  it('drops CR, adds the missing last newline and skips what lies between lines, as renderSamples', () => {
    const p = parseText('m{a="1"} 1\r\n# x\r\nm{a="2"} 2\n\n  \nm{a="3"} 3');
    assert.equal(written(p.families, grouping), renderSamples(p.families[0]!, grouping));
    assert.equal(written(p.families, grouping), 'm{a="1",job="j",instance="i\\"1"} 1\nm{a="2",job="j",instance="i\\"1"} 2\nm{a="3",job="j",instance="i\\"1"} 3\n');
  });

  it('renders whole, in place, the lines it cannot splice: a replaced label, replaced labels, a sample not from the payload', () => {
    const p = parseText('m{a="1"} 1\nm{job="old",a="2"} 2\nm{a="3"} 3\nm{a="4"} 4\n');
    const f = p.families[0]!;
    f.samples[2]!.labels = [{ name: 'a', value: 'three' }];
    f.samples.push({ name: 'm', labels: [{ name: 'a', value: '5' }], value: '5' });
    assert.equal(written(p.families, grouping, [{ name: 'instance', value: '' }]), renderSamples(f, grouping, [{ name: 'instance', value: '' }]));
    assert.equal(
      written(p.families, grouping),
      'm{a="1",job="j",instance="i\\"1"} 1\nm{a="2",job="j",instance="i\\"1"} 2\nm{a="three",job="j",instance="i\\"1"} 3\nm{a="4",job="j",instance="i\\"1"} 4\nm{a="5",job="j",instance="i\\"1"} 5\n',
    );
  });

  it('defaults alone are added labels too', () => {
    const p = parseText('m{a="1"} 1\nm{instance="x"} 2\n');
    assert.equal(written(p.families, [], [{ name: 'instance', value: '' }]), 'm{a="1",instance=""} 1\nm{instance="x"} 2\n');
  });

  it('is not used where it gains nothing or cannot be done: no added labels, no canonical line, a payload that is not ASCII', () => {
    assert.equal(renderSamplesAsSent(parseText('m{a="1"} 1\n').families, []), undefined);
    assert.equal(renderSamplesAsSent(parseText('m{a="1"} 1\n', { generalPathOnly: true }).families, grouping), undefined);
    const utf8 = parseText('m{a="é"} 1\nm{a="2"} 2\n');
    assert.equal(renderSamplesAsSent(utf8.families, grouping), undefined);
    assert.equal(renderSamples(utf8.families[0]!, grouping), 'm{a="é",job="j",instance="i\\"1"} 1\nm{a="2",job="j",instance="i\\"1"} 2\n');
  });

  it('keeps non-ASCII added label values as UTF-8', () => {
    const p = parseText('m{a="1"} 1\nm 2\n');
    const extra = [{ name: 'site', value: 'Zürich' }];
    assert.equal(written(p.families, extra), 'm{a="1",site="Zürich"} 1\nm{site="Zürich"} 2\n');
  });

  it('renders a payload too big for the reused line table (which it does not keep) like a small one', () => {
    let text = '# TYPE big counter\n';
    for (let i = 0; i < 90_000; i++) text += `big{i="${i}"} ${i}\n`;
    const big = parseText(text);
    assert.equal(written(big.families, grouping), renderSamples(big.families[0]!, grouping));
    const small = parseText('m{a="1"} 1\nm 2\n');
    assert.equal(written(small.families, grouping), renderSamples(small.families[0]!, grouping));
  });

  it('holds nothing of the payload string: its bytes are copied into one buffer of its own, the line table behind them, a little room after', () => {
    const text = 'm{a="1"} 1\nm 2\n';
    const p = parseText(text);
    const d = renderSamplesAsSent(p.families, grouping)!;
    assert.ok(d.asSent.bytes instanceof Uint8Array && d.asSent.lines instanceof Int32Array);
    assert.deepStrictEqual(Object.keys(d.asSent).sort(), ['bareAt', 'bytes', 'commaAt', 'commaLength', 'lines']);
    const { bytes, lines } = d.asSent;
    assert.equal(Buffer.from(bytes.subarray(0, text.length)).toString('latin1'), text, 'the payload, copied');
    assert.equal(lines.buffer, bytes.buffer, 'one allocation');
    assert.equal(bytes.byteOffset, 0);
    assert.equal(lines.length, 3 * 2);
    const used = lines.byteOffset + lines.byteLength;
    assert.ok(bytes.buffer.byteLength >= used && bytes.buffer.byteLength <= used + used / 16 + 64, `${bytes.buffer.byteLength} bytes for ${used}: not a slice of a shared pool`);
  });
});
