import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { DuplicateSeriesError, LimitError, ParseError, ProxyError, quote } from '../../src/errors.js';
import {
  escapeHelp,
  escapeLabelValue,
  isValidFloat,
  isValidLabelName,
  isValidMetricName,
  isValidTimestamp,
  parseText,
  unescapeHelp,
  unescapeLabelValue,
} from '../../src/exposition/text_parse.js';
import { CASES, isErrorExpect, lines } from './cases.js';
import { plain } from './plain.js';

describe('parseText: case table', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const exp = c.expect;
      if (!isErrorExpect(exp)) {
        const got = parseText(c.input, c.opts);
        const series = exp.families.reduce((n, f) => n + f.samples.length, 0);
        assert.deepStrictEqual(plain(got), { families: exp.families, series });
        return;
      }
      assert.throws(
        () => parseText(c.input, c.opts),
        (e: unknown) => {
          assert.ok(e instanceof ProxyError, `not a ProxyError: ${String(e)}`);
          assert.equal(e.code, exp.code ?? 'E_PARSE', e.message);
          assert.match(e.message, exp.error);
          if (e instanceof ParseError) assert.equal(e.line, exp.line, e.message);
          else assert.ok(e.message.startsWith(`line ${exp.line}: `), e.message);
          return true;
        },
      );
    });
  }
});

describe('parseText: keepFirstDuplicate (reading the store back) leaves a series seen again out', () => {
  // Every duplicate case of the table: the same as parsing the input without
  // the line the error names, on both paths, with the left-out series counted
  // and quoted as the error quotes it.
  const duplicates = CASES.filter((c) => isErrorExpect(c.expect) && c.expect.code === 'E_DUPLICATE_SERIES');
  assert.ok(duplicates.length >= 8);
  for (const c of duplicates) {
    for (const generalPathOnly of [false, true]) {
      it(`${c.name}${generalPathOnly ? ' (general path)' : ''}`, () => {
        const exp = c.expect as { error: RegExp; line: number };
        const got = parseText(c.input, { keepFirstDuplicate: true, generalPathOnly });
        const without = c.input.split('\n').filter((_, i) => i !== exp.line - 1).join('\n');
        assert.deepStrictEqual(plain(got), plain(parseText(without)));
        assert.equal(got.dropped?.series, 1);
        assert.match(`duplicate series ${quote(got.dropped.first!)}`, exp.error);
      });
    }
  }

  it('counts every copy after the first, quotes the first left out, and adds nothing when there is none', () => {
    const got = parseText(lines('# TYPE d gauge', 'd{a="1"} 1', 'd{a="2"} 2', 'd{a="1"} 3', 'e 1', 'd{a="1"} 4', 'e 5'), { keepFirstDuplicate: true });
    assert.deepEqual(
      got.families.map((f) => [f.name, f.samples.map((x) => x.value)]),
      [
        ['d', ['1', '2']],
        ['e', ['1']],
      ],
    );
    assert.equal(got.series, 3);
    assert.deepEqual(got.dropped, { series: 3, first: 'd{a="1"}' });
    assert.equal('dropped' in parseText('d 1\n', { keepFirstDuplicate: true }), false);
  });
});

describe('parseText: error classes', () => {
  it('uses ParseError, DuplicateSeriesError and LimitError with stable reasons', () => {
    assert.throws(() => parseText('x y\n'), (e) => e instanceof ParseError && e.reason === 'parse');
    assert.throws(() => parseText('x 1\nx 2\n'), (e) => e instanceof DuplicateSeriesError && e.reason === 'duplicate_series');
    assert.throws(() => parseText('x 1\ny 2\n', { maxSeries: 1 }), (e) => e instanceof LimitError && e.reason === 'limit');
  });

  it('quotes a hostile token bounded', () => {
    const long = 'v'.repeat(10_000);
    assert.throws(
      () => parseText(`x ${long}\n`),
      (e: unknown) => e instanceof ParseError && e.message.length < 200,
    );
  });

  it('maxSeries stops early: the error names the first sample over the limit', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `m{i="${i}"} ${i}`).join('\n');
    assert.throws(() => parseText(text, { maxSeries: 10 }), /^LimitError: line 11: more than 10 series/);
    assert.equal(parseText(text, { maxSeries: 1000 }).series, 1000);
    assert.equal(parseText(text, { maxSeries: 0 + 1000 }).families[0]!.samples.length, 1000);
  });

  it('the error comes from the first bad line even when later lines are bad too', () => {
    assert.throws(() => parseText(lines('ok 1', 'bad value', 'x{', '')), (e: unknown) => e instanceof ParseError && e.line === 2);
  });
});

describe('parseText: sizes (linear time)', () => {
  it('parses 100k series across 100 families', () => {
    let text = '';
    for (let f = 0; f < 100; f++) {
      text += `# HELP fam_${f} Family ${f}.\n# TYPE fam_${f} gauge\n`;
      for (let i = 0; i < 1000; i++) text += `fam_${f}{instance="host-${i}",job="j"} ${i}.5 1700000000000\n`;
    }
    const p = parseText(text);
    assert.equal(p.series, 100_000);
    assert.equal(p.families.length, 100);
    assert.equal(p.families[99]!.samples[999]!.labels[0]!.value, 'host-999');
  });

  it('handles one line with 20k labels (duplicate label check is not quadratic)', () => {
    const labels = Array.from({ length: 20_000 }, (_, i) => `l${i}="v"`).join(',');
    const t0 = performance.now();
    const p = parseText(`wide{${labels}} 1\n`);
    assert.equal(p.families[0]!.samples[0]!.labels.length, 20_000);
    assert.ok(performance.now() - t0 < 2000);
    assert.throws(() => parseText(`wide{${labels},l19999="x"} 1\n`), /duplicate label name "l19999"/);
  });

  it('handles a 1 MB label value and a 1 MB HELP', () => {
    const big = 'x'.repeat(1 << 20);
    const p = parseText(`# HELP h ${big}\nh{a="${big}"} 1\n`);
    assert.equal(p.families[0]!.help!.length, 1 << 20);
    assert.equal(p.families[0]!.samples[0]!.labels[0]!.value.length, 1 << 20);
  });
});

describe('shared helpers', () => {
  it('isValidMetricName', () => {
    for (const ok of ['a', '_', ':', 'a_b:c9', 'A', 'http_requests_total', ':x:']) assert.ok(isValidMetricName(ok), ok);
    for (const bad of ['', '9a', 'a-b', 'a.b', 'a b', 'é', 'a{']) assert.ok(!isValidMetricName(bad), bad);
  });

  it('isValidLabelName', () => {
    for (const ok of ['a', '_', '__name__', 'le', 'a_B9']) assert.ok(isValidLabelName(ok), ok);
    for (const bad of ['', '9', 'a:b', 'a-b', 'a b', 'é']) assert.ok(!isValidLabelName(bad), bad);
  });

  it('escapeLabelValue / unescapeLabelValue', () => {
    assert.equal(escapeLabelValue('plain'), 'plain');
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(unescapeLabelValue('a\\\\b\\"c\\nd'), 'a\\b"c\nd');
    assert.equal(unescapeLabelValue('\\\\n'), '\\n');
    for (const raw of ['', 'x', '\\', '"', '\n', '\\n', '\\"\n\\\\', 'tab\tand é ☃']) {
      assert.equal(unescapeLabelValue(escapeLabelValue(raw)), raw);
      // The escaped form is always accepted by the parser and kept as is.
      const p = parseText(`m{a="${escapeLabelValue(raw)}"} 1\n`);
      assert.equal(p.families[0]!.samples[0]!.labels[0]!.value, escapeLabelValue(raw));
    }
    assert.throws(() => unescapeLabelValue('\\t'), RangeError);
  });

  it('escapeHelp / unescapeHelp', () => {
    assert.equal(escapeHelp('a\\b\nc"d'), 'a\\\\b\\nc"d');
    assert.equal(unescapeHelp('a\\\\b\\nc"d'), 'a\\b\nc"d');
    assert.throws(() => unescapeHelp('\\"'), RangeError);
    for (const raw of ['', 'x', '\\', '\n', '\\n', 'say "hi"']) {
      assert.equal(unescapeHelp(escapeHelp(raw)), raw);
      assert.equal(parseText(`# HELP m ${escapeHelp(raw)}\n`).families[0]!.help, escapeHelp(raw));
    }
  });

  it('isValidFloat matches Go strconv.ParseFloat (decimal forms)', () => {
    const ok = [
      '0', '-0', '+0', '1', '-1', '+1', '1.5', '.5', '-.5', '5.', '1e3', '1E3', '1e+3', '1e-3', '1.e3', '.5e-3',
      '007', '1.7976931348623157e308', '1e-400', '0e999999', 'NaN', 'nan', 'NAN', 'Inf', '+Inf', '-Inf', 'inf',
      'INF', 'Infinity', '+infinity', '-INFINITY', '9'.repeat(308),
    ];
    const bad = [
      '', ' ', '+', '-', '.', '+.', 'e3', '.e3', '1e', '1e+', '1e-', '1.2.3', '1_000', '0x10', '0x1p3', '1,5',
      '+NaN', '-nan', 'Infin', 'infinit', 'infinityy', 'in', 'nana', '1e400', '-1e400', '9'.repeat(309), '1 ',
      ' 1', '1\r', '١',
    ];
    for (const s of ok) assert.ok(isValidFloat(s), `should accept ${JSON.stringify(s)}`);
    for (const s of bad) assert.ok(!isValidFloat(s), `should reject ${JSON.stringify(s)}`);
  });

  it('isValidTimestamp accepts -?digits within int64', () => {
    for (const ok of ['0', '-0', '1', '-1', '1395066363000', '9223372036854775807', '-9223372036854775808', '0000000000000000001']) {
      assert.ok(isValidTimestamp(ok), ok);
    }
    for (const bad of ['', '-', '+1', '1.0', '1e3', '9223372036854775808', '-9223372036854775809', '00000000000000000001', ' 1']) {
      assert.ok(!isValidTimestamp(bad), bad);
    }
  });
});
