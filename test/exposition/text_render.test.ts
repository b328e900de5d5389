import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fc from 'fast-check';

import type { Family, Label, MetricType, ParsedPayload, Sample } from '../../src/exposition/model.js';
import { escapeHelp, escapeLabelValue, parseText } from '../../src/exposition/text_parse.js';
import { renderFamilies, renderHeader, renderSamples } from '../../src/exposition/text_render.js';
import { CASES, REFERENCE_1, fam, isErrorExpect, s } from './cases.js';
import { plain, plainSample } from './plain.js';
import { requireCommand } from '../e2e/e2e_helpers.js';

/**
 * What a parse of rendered text yields: families without samples are not
 * rendered, and every rendered family has a TYPE line.
 */
function normalize(p: ParsedPayload): ParsedPayload {
  const families = p.families.filter((f) => f.samples.length > 0).map((f) => ({ ...f, typeDeclared: true }));
  return { families, series: p.series };
}

function assertRoundTrip(p: ParsedPayload): string {
  const text = renderFamilies(p.families);
  const again = parseText(text);
  assert.deepStrictEqual(plain(again), plain(normalize(p)));
  assert.equal(renderFamilies(again.families), text, 'rendering is idempotent');
  return text;
}

describe('renderHeader', () => {
  it('writes HELP only when defined, TYPE always', () => {
    assert.equal(renderHeader('x', 'counter', 'Help.'), '# HELP x Help.\n# TYPE x counter\n');
    assert.equal(renderHeader('x', 'untyped'), '# TYPE x untyped\n');
    assert.equal(renderHeader('x', 'gauge', ''), '# HELP x \n# TYPE x gauge\n');
    assert.equal(renderHeader('x', 'summary', String.raw`a\\b\nc`), '# HELP x a\\\\b\\nc\n# TYPE x summary\n');
  });
});

describe('renderSamples', () => {
  const f = fam('m', 'gauge', [
    s('m', {}, '1'),
    s('m', { a: '1', b: String.raw`q\"x` }, '-Inf', '123'),
    s('m', { app: 'mine', c: '3' }, '2.5'),
  ]);

  it('writes no braces without labels, keeps values and timestamps as written', () => {
    assert.equal(renderSamples(f, []), 'm 1\nm{a="1",b="q\\"x"} -Inf 123\nm{app="mine",c="3"} 2.5\n');
  });

  it('appends extra labels after the own labels, overriding same-named ones', () => {
    const extra: Label[] = [
      { name: 'app', value: 'svc' },
      { name: 'zone', value: String.raw`eu\n1` },
    ];
    assert.equal(
      renderSamples(f, extra),
      'm{app="svc",zone="eu\\n1"} 1\n' +
        'm{a="1",b="q\\"x",app="svc",zone="eu\\n1"} -Inf 123\n' +
        'm{c="3",app="svc",zone="eu\\n1"} 2.5\n',
    );
  });

  it('overriding every own label leaves only the extra labels', () => {
    const g = fam('g', 'gauge', [s('g', { a: '1' }, '1')]);
    assert.equal(renderSamples(g, [{ name: 'a', value: '2' }]), 'g{a="2"} 1\n');
  });

  it('adds default labels only to samples without that label, before the extra labels', () => {
    const g = fam('g', 'gauge', [s('g', {}, '1'), s('g', { instance: 'i', a: '1' }, '2'), s('g', { a: '1' }, '3')]);
    const instance: Label[] = [{ name: 'instance', value: '' }];
    assert.equal(renderSamples(g, [], instance), 'g{instance=""} 1\ng{instance="i",a="1"} 2\ng{a="1",instance=""} 3\n');
    assert.equal(renderSamples(g, [{ name: 'job', value: 'j' }], instance), 'g{instance="",job="j"} 1\ng{instance="i",a="1",job="j"} 2\ng{a="1",instance="",job="j"} 3\n');
    assert.equal(renderSamples(g, [{ name: 'instance', value: 'x' }], instance), 'g{instance="x"} 1\ng{a="1",instance="x"} 2\ng{a="1",instance="x"} 3\n', 'an extra label of the same name wins');
  });

  it('renders default labels the same from parsed canonical lines as from plain samples', () => {
    const text = 'g 1\ng{instance="i",a="1"} 2\ng{a="1"} 3 17\n';
    const parsed = parseText(text).families[0]!;
    const plain = { ...parsed, samples: parsed.samples.map(plainSample) };
    for (const extra of [[], [{ name: 'job', value: 'j' }], [{ name: 'a', value: 'A' }]] as Label[][]) {
      assert.equal(renderSamples(parsed, extra, [{ name: 'instance', value: '' }]), renderSamples(plain, extra, [{ name: 'instance', value: '' }]));
    }
  });

  it('writes nothing for a family without samples', () => {
    assert.equal(renderSamples(fam('e', 'gauge', []), [{ name: 'a', value: 'b' }]), '');
  });
});

describe('renderFamilies', () => {
  it('renders reference payload 1 canonically', () => {
    assert.equal(
      renderFamilies(parseText(REFERENCE_1).families),
      '# HELP http_requests_total_foo_bar_app1 The total number of HTTP requests.\n' +
        '# TYPE http_requests_total_foo_bar_app1 counter\n' +
        'http_requests_total_foo_bar_app1{method="post",code="200"} 1027 1395066363000\n' +
        'http_requests_total_foo_bar_app1{method="post",code="400"} 3 1395066363000\n',
    );
  });

  it('skips families without samples and writes TYPE untyped for undeclared families', () => {
    const p = parseText('# HELP a A.\n# TYPE b gauge\nc 1\n');
    assert.equal(renderFamilies(p.families), '# TYPE c untyped\nc 1\n');
    assert.equal(renderFamilies([]), '');
  });

  it('applies extra labels to every family', () => {
    const p = parseText('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\nu{a="x"} 2\n');
    assert.equal(
      renderFamilies(p.families, [{ name: 'app', value: 'a1' }]),
      '# TYPE h histogram\nh_bucket{le="+Inf",app="a1"} 1\nh_count{app="a1"} 1\n# TYPE u untyped\nu{a="x",app="a1"} 2\n',
    );
  });
});

describe('round trip: parse(render(parse(x))) equals parse(x)', () => {
  for (const c of CASES) {
    if (isErrorExpect(c.expect)) continue;
    it(c.name, () => {
      assertRoundTrip(parseText(c.input, c.opts));
    });
  }
});

// ---------------------------------------------------------------------------
// Property: a random model, written with random (valid) formatting, parses back
// to exactly that model, and round-trips through the renderer.

const CHARS = ['a', 'Z', '0', ' ', '\t', '\\', '"', '\n', '\r', '#', '{', '}', ',', '=', 'é', '☃', '\u0000', '😀'];
const rawText = fc.array(fc.constantFrom(...CHARS), { maxLength: 8 }).map((a) => a.join(''));
const labelValue = rawText.map(escapeLabelValue);
// HELP loses leading blanks (they separate it from the name) and a trailing CR.
const helpText = rawText.map((r) => escapeHelp(r).replace(/^[ \t]+/, '').replace(/\r+$/, ''));
const value = fc.oneof(
  fc.constantFrom('0', '-0', '1', '+Inf', '-Inf', 'NaN', 'inf', '1e3', '-1.5E-3', '.5', '5.', '1.7976931348623157e308'),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.integer().map(String),
);
const timestamp = fc.option(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  { nil: undefined },
);
const plainLabels = fc.uniqueArray(
  fc.record({ name: fc.constantFrom('a', 'b', 'job', '_x', 'le', 'quantile', 'B9'), value: labelValue }),
  { selector: (l) => l.name, maxLength: 3 },
);
const baseLabels = fc.uniqueArray(fc.record({ name: fc.constantFrom('a', 'job', '_x'), value: labelValue }), {
  selector: (l) => l.name,
  maxLength: 2,
});

interface GenFamily {
  base: string;
  type: MetricType;
  declared: boolean;
  help: string | undefined;
  helpFirst: boolean;
  samples: Sample[];
}

const LE = ['0.1', '0.5', '1', '2.5', '10', '+Inf'];
const QUANTILES = ['0', '0.5', '0.9', '0.99', '1'];

/** A series' identity as Prometheus sees it: labels in any order, one with an empty value counts as absent. */
function seriesKey(x: Sample): string {
  return x.name + JSON.stringify(x.labels.filter((l) => l.value !== '').sort((p, q) => (p.name < q.name ? -1 : 1)));
}

function dedupe(samples: Sample[]): Sample[] {
  const seen = new Set<string>();
  return samples.filter((x) => !seen.has(seriesKey(x)) && (seen.add(seriesKey(x)), true));
}

const sampleOf = (name: string, labels: Label[], v: string, ts: string | undefined): Sample =>
  ts === undefined ? { name, labels, value: v } : { name, labels, value: v, timestamp: ts };

const plainSamples = fc
  .array(fc.tuple(plainLabels, value, timestamp), { maxLength: 4 })
  .map((xs) => (name: string) => dedupe(xs.map(([l, v, t]) => sampleOf(name, l, v, t))));

const histSamples = fc
  .array(fc.tuple(baseLabels, fc.subarray(LE, { minLength: 1 }), fc.boolean(), value, value), { maxLength: 3 })
  .map((xs) => (name: string) =>
    dedupe(
      xs.flatMap(([l, les, withSumCount, sum, count]) => [
        ...les.map((le, i) => sampleOf(name + '_bucket', [...l, { name: 'le', value: le }], String(i), undefined)),
        ...(withSumCount ? [sampleOf(name + '_sum', l, sum, undefined), sampleOf(name + '_count', l, count, undefined)] : []),
      ]),
    ),
  );

const summarySamples = fc
  .array(fc.tuple(baseLabels, fc.subarray(QUANTILES), fc.boolean(), value), { maxLength: 3 })
  .map((xs) => (name: string) =>
    dedupe(
      xs.flatMap(([l, qs, withSumCount, v]) => [
        ...qs.map((q) => sampleOf(name, [{ name: 'quantile', value: q }, ...l], v, undefined)),
        ...(withSumCount ? [sampleOf(name + '_sum', l, v, undefined), sampleOf(name + '_count', l, '3', undefined)] : []),
      ]),
    ),
  );

const genFamily = fc
  .record({
    prefix: fc.constantFrom('m', 'http_requests_total', 'job:rate', '_x', 'A'),
    type: fc.constantFrom<MetricType>('counter', 'gauge', 'untyped', 'histogram', 'summary'),
    declaredUntyped: fc.boolean(),
    help: fc.option(helpText, { nil: undefined }),
    helpFirst: fc.boolean(),
    plain: plainSamples,
    hist: histSamples,
    summ: summarySamples,
  })
  .map(
    (r): Omit<GenFamily, 'samples' | 'base'> & { make: (name: string) => Sample[]; prefix: string } => ({
      prefix: r.prefix,
      type: r.type,
      declared: r.type !== 'untyped' || r.declaredUntyped,
      help: r.help,
      helpFirst: r.helpFirst,
      make: r.type === 'histogram' ? r.hist : r.type === 'summary' ? r.summ : r.plain,
    }),
  );

// Family names end in a digit, so no name is another's _sum/_count/_bucket.
const genModel = fc
  .record({ fams: fc.array(genFamily, { maxLength: 6 }), seed: fc.integer() })
  .map(({ fams, seed }) => ({
    seed,
    families: fams
      .map((g, i): GenFamily => {
        const base = `${g.prefix}_${i}`;
        return { base, type: g.type, declared: g.declared, help: g.help, helpFirst: g.helpFirst, samples: g.make(base) };
      })
      // A family with no HELP, no TYPE and no samples does not exist in text.
      .filter((g) => g.declared || g.help !== undefined || g.samples.length > 0),
  }));

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes the model with random valid formatting; returns the text and what parsing must yield. */
function writeModel(model: { seed: number; families: GenFamily[] }): { text: string; expected: ParsedPayload } {
  const r = rng(model.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const blank = () => pick(['', '', '', ' ', '\t', ' \t ']);
  const sep = () => pick([' ', ' ', ' ', '  ', '\t', ' \t']);
  const out: string[] = [];
  const order: GenFamily[] = [];
  const mention = (g: GenFamily) => {
    if (!order.includes(g)) order.push(g);
  };
  const noise = () => {
    if (r() < 0.15) out.push(pick(['', '   ', '# a comment', '#', '# HELP', '# TYPE', '  # HELPFUL', '\t']));
  };

  for (const g of model.families) {
    const help = g.help === undefined ? [] : [`${blank()}#${pick([' ', '', '  '])}HELP${sep()}${g.base}${sep()}${g.help}`];
    const type = g.declared ? [`${blank()}#${pick([' ', ''])}TYPE${sep()}${g.base}${sep()}${g.type}${blank()}`] : [];
    const lines = g.helpFirst ? [...help, ...type] : [...type, ...help];
    for (const l of lines) {
      noise();
      out.push(l);
    }
    if (lines.length > 0) mention(g);
  }
  // Interleave the families' samples at random, keeping each family's order.
  const queues = model.families.map((g) => ({ g, rest: [...g.samples] }));
  for (;;) {
    const live = queues.filter((q) => q.rest.length > 0);
    if (live.length === 0) break;
    const q = pick(live);
    const x = q.rest.shift()!;
    mention(q.g);
    let labels = '';
    if (x.labels.length > 0 || r() < 0.2) {
      const sp = () => pick(['', '', ' ', '\t']);
      const parts = x.labels.map((l) => `${sp()}${l.name}${sp()}=${sp()}"${l.value}"${sp()}`);
      labels = `${sp()}{${parts.join(',')}${x.labels.length > 0 && r() < 0.3 ? ',' + sp() : ''}}`;
    }
    const ts = x.timestamp === undefined ? '' : sep() + x.timestamp;
    noise();
    out.push(`${blank()}${x.name}${labels}${sep()}${x.value}${ts}${blank()}`);
  }
  const eol = r() < 0.3 ? '\r\n' : '\n';
  const text = out.join(eol) + (r() < 0.8 ? eol : '');

  const families: Family[] = order.map((g) => {
    const f: Family = { name: g.base, type: g.declared ? g.type : 'untyped', typeDeclared: g.declared, samples: g.samples };
    if (g.help !== undefined) f.help = g.help;
    return f;
  });
  return { text, expected: { families, series: families.reduce((n, f) => n + f.samples.length, 0) } };
}

describe('property: random payloads', () => {
  it('parse(text) is the model written, and parse(render(parse(text))) equals it', () => {
    const seen = { runs: 0, series: 0, histogram: 0, summary: 0, crlf: 0, escapes: 0, emptyFamily: 0 };
    fc.assert(
      fc.property(genModel, (model) => {
        const { text, expected } = writeModel(model);
        seen.runs++;
        seen.series += expected.series;
        if (expected.families.some((f) => f.type === 'histogram' && f.samples.length > 0)) seen.histogram++;
        if (expected.families.some((f) => f.type === 'summary' && f.samples.length > 0)) seen.summary++;
        if (text.includes('\r\n')) seen.crlf++;
        if (text.includes('\\')) seen.escapes++;
        if (expected.families.some((f) => f.samples.length === 0)) seen.emptyFamily++;
        const parsed = parseText(text);
        assert.deepStrictEqual(plain(parsed), expected);
        assertRoundTrip(parsed);
        // Extra labels that do not collide keep the output parseable.
        parseText(renderFamilies(parsed.families, [{ name: 'app', value: escapeLabelValue('my "app"\n') }]));
      }),
      { numRuns: 300 },
    );
    // Guard against a generator that stopped producing interesting payloads.
    for (const [k, v] of Object.entries(seen)) assert.ok(v >= 20, `only ${v} runs with ${k}: ${JSON.stringify(seen)}`);
  });
});

// ---------------------------------------------------------------------------
// The rendered output must parse with promtool (exit 1 is a parse error; 3 is
// only lint advice such as "no help text" or a counter without _total).


function promtoolCheck(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
      try {
        const status = error === null ? 0 : (error as { code?: unknown }).code;
        assert.notEqual(status, 1, `promtool rejected:\n${stdout}${stderr}\n--- input ---\n${text}`);
        assert.equal(typeof status, 'number', String(error));
        assert.doesNotMatch(stderr + stdout, /pars(e|ing) error/);
        resolve();
      } catch (e) {
        reject(e);
      }
    });
    child.stdin!.end(text);
  });
}

/** Prefixes every family and sample name, so several payloads can share one promtool run. */
function prefixed(families: Family[], prefix: string): Family[] {
  return families.map((f) => ({ ...f, name: prefix + f.name, samples: f.samples.map((x) => ({ ...plainSample(x), name: prefix + x.name })) }));
}

describe('promtool check metrics accepts rendered output', () => {
  // A missing promtool fails these tests with the package to install; it is never a skip.
  before(() => requireCommand('promtool', 'prometheus'));
  it('for every accepted table case, with and without extra labels', async () => {
    const all: Family[] = [];
    for (const [i, c] of CASES.entries()) {
      if (isErrorExpect(c.expect)) continue;
      all.push(...prefixed(parseText(c.input, c.opts).families, `c${i}_`));
    }
    await Promise.all([
      promtoolCheck(renderFamilies(all)),
      promtoolCheck(renderFamilies(all, [{ name: 'app', value: 'a\\"1\\n' }])),
    ]);
  });

  it('for random payloads', async () => {
    const models = fc.sample(genModel, { numRuns: 200, seed: 4242 });
    const all = models.flatMap((m, i) => prefixed(parseText(writeModel(m).text).families, `r${i}_`));
    assert.ok(all.length > 200);
    await promtoolCheck(renderFamilies(all));
  });
});
