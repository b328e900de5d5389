// Table of text-format parse cases. Exported (and free of test-runner imports)
// so benchmarks can reuse the inputs. Each case either expects the parsed
// families (`series` is the total sample count) or an error: `code` defaults
// to E_PARSE (ParseError, `line` checked on the error); for E_DUPLICATE_SERIES
// and E_LIMIT the message must start with `line <n>:`.

import type { Family, Label, MetricType, Sample } from '../../src/exposition/model.js';

export type ErrorCode = 'E_PARSE' | 'E_DUPLICATE_SERIES' | 'E_LIMIT';

export interface OkExpect {
  families: Family[];
}
export interface ErrorExpect {
  error: RegExp;
  line: number;
  code?: ErrorCode;
}
export interface ParseCase {
  name: string;
  input: string;
  opts?: { maxSeries?: number };
  expect: OkExpect | ErrorExpect;
}

export function isErrorExpect(e: OkExpect | ErrorExpect): e is ErrorExpect {
  return 'error' in e;
}

/** Lines joined by "\n" with a final "\n". */
export function lines(...ls: string[]): string {
  return ls.join('\n') + '\n';
}

/** A sample; label values are given escaped, as the model keeps them. */
export function s(name: string, labels: Record<string, string> = {}, value = '1', timestamp?: string): Sample {
  const ls: Label[] = Object.entries(labels).map(([n, v]) => ({ name: n, value: v }));
  return timestamp === undefined ? { name, labels: ls, value } : { name, labels: ls, value, timestamp };
}

/** A family; `untyped` means "no TYPE line" unless `declared` says otherwise. */
export function fam(
  name: string,
  type: MetricType,
  samples: Sample[],
  help?: string,
  declared: boolean = type !== 'untyped',
): Family {
  const f: Family = { name, type, typeDeclared: declared, samples };
  if (help !== undefined) f.help = help;
  return f;
}

const err = (error: RegExp, line: number, code?: ErrorCode): ErrorExpect =>
  code === undefined ? { error, line } : { error, line, code };

// --- the reference payloads ------------------------------------------------

/** Reference payload 1: the JSON array form joined by "\n" (no final newline). */
export const REFERENCE_1 = [
  '# HELP http_requests_total_foo_bar_app1 The total number of HTTP requests.',
  '# TYPE http_requests_total_foo_bar_app1 counter',
  'http_requests_total_foo_bar_app1{method="post",code="200"} 1027 1395066363000',
  'http_requests_total_foo_bar_app1{method="post",code="400"}    3 1395066363000',
].join('\n');

export const SEED_LINES = [
  'connection_status_up{host="localhost",name="nginx",port="80",protocol="tcp"} 1',
  'tcp_rtt{flow="(SRC#127.0.0.1|35584)(DST#127.0.0.1|9090)"} 0.10',
  'tcp_rtt_hist_ms_bucket{le="0.1"} 25',
  'tcp_rtt_hist_ms_bucket{le="0.5"} 26',
  'tcp_rtt_hist_ms_bucket{le="1"} 27',
  'tcp_rtt_hist_ms_bucket{le="+Inf"} 28',
  'tcp_rtt_hist_ms_count 28',
  'tcp_rtt_hist_ms_sum 3.0',
];

const seedConn = fam('connection_status_up', 'untyped', [
  s('connection_status_up', { host: 'localhost', name: 'nginx', port: '80', protocol: 'tcp' }, '1'),
]);
const seedRtt = fam('tcp_rtt', 'untyped', [s('tcp_rtt', { flow: '(SRC#127.0.0.1|35584)(DST#127.0.0.1|9090)' }, '0.10')]);
const seedBuckets = [
  s('tcp_rtt_hist_ms_bucket', { le: '0.1' }, '25'),
  s('tcp_rtt_hist_ms_bucket', { le: '0.5' }, '26'),
  s('tcp_rtt_hist_ms_bucket', { le: '1' }, '27'),
  s('tcp_rtt_hist_ms_bucket', { le: '+Inf' }, '28'),
];

export const CASES: ParseCase[] = [
  // --- accepted -------------------------------------------------------------
  {
    name: 'reference payload 1 (no final newline, several spaces before a value)',
    input: REFERENCE_1,
    expect: {
      families: [
        fam(
          'http_requests_total_foo_bar_app1',
          'counter',
          [
            s('http_requests_total_foo_bar_app1', { method: 'post', code: '200' }, '1027', '1395066363000'),
            s('http_requests_total_foo_bar_app1', { method: 'post', code: '400' }, '3', '1395066363000'),
          ],
          'The total number of HTTP requests.',
        ),
      ],
    },
  },
  {
    name: 'seed samples without TYPE lines: every name is its own untyped family',
    input: lines(...SEED_LINES),
    expect: {
      families: [
        seedConn,
        seedRtt,
        fam('tcp_rtt_hist_ms_bucket', 'untyped', seedBuckets),
        fam('tcp_rtt_hist_ms_count', 'untyped', [s('tcp_rtt_hist_ms_count', {}, '28')]),
        fam('tcp_rtt_hist_ms_sum', 'untyped', [s('tcp_rtt_hist_ms_sum', {}, '3.0')]),
      ],
    },
  },
  {
    name: 'seed samples with TYPE lines: the histogram takes its suffixes',
    input: lines(
      '# TYPE connection_status_up gauge',
      SEED_LINES[0]!,
      '# TYPE tcp_rtt gauge',
      SEED_LINES[1]!,
      '# HELP tcp_rtt_hist_ms RTT in ms.',
      '# TYPE tcp_rtt_hist_ms histogram',
      ...SEED_LINES.slice(2),
    ),
    expect: {
      families: [
        fam('connection_status_up', 'gauge', seedConn.samples),
        fam('tcp_rtt', 'gauge', seedRtt.samples),
        fam(
          'tcp_rtt_hist_ms',
          'histogram',
          [...seedBuckets, s('tcp_rtt_hist_ms_count', {}, '28'), s('tcp_rtt_hist_ms_sum', {}, '3.0')],
          'RTT in ms.',
        ),
      ],
    },
  },
  {
    name: 'every type, including an explicitly declared untyped',
    input: lines(
      '# TYPE c_total counter',
      'c_total 1',
      '# TYPE g gauge',
      'g -2.5',
      '# TYPE u untyped',
      'u 3',
      'plain 4',
      '# TYPE h histogram',
      'h_bucket{le="1"} 1',
      'h_bucket{le="+Inf"} 2',
      'h_sum 1.5',
      'h_count 2',
      '# TYPE sm summary',
      'sm{quantile="0.5"} 0.1',
      'sm{quantile="0.99"} NaN',
      'sm_sum 7',
      'sm_count 3',
    ),
    expect: {
      families: [
        fam('c_total', 'counter', [s('c_total', {}, '1')]),
        fam('g', 'gauge', [s('g', {}, '-2.5')]),
        fam('u', 'untyped', [s('u', {}, '3')], undefined, true),
        fam('plain', 'untyped', [s('plain', {}, '4')]),
        fam('h', 'histogram', [
          s('h_bucket', { le: '1' }, '1'),
          s('h_bucket', { le: '+Inf' }, '2'),
          s('h_sum', {}, '1.5'),
          s('h_count', {}, '2'),
        ]),
        fam('sm', 'summary', [
          s('sm', { quantile: '0.5' }, '0.1'),
          s('sm', { quantile: '0.99' }, 'NaN'),
          s('sm_sum', {}, '7'),
          s('sm_count', {}, '3'),
        ]),
      ],
    },
  },
  {
    name: 'histogram with labels, series interleaved, le not first',
    input: lines(
      '# TYPE rq histogram',
      'rq_bucket{path="/a",le="0.5"} 1',
      'rq_bucket{path="/b",le="0.5"} 0',
      'rq_bucket{path="/a",le="+Inf"} 2',
      'rq_bucket{path="/b",le="+Inf"} 4',
      'rq_sum{path="/a"} 0.7',
      'rq_count{path="/a"} 2',
      'rq_sum{path="/b"} 9',
      'rq_count{path="/b"} 4',
    ),
    expect: {
      families: [
        fam('rq', 'histogram', [
          s('rq_bucket', { path: '/a', le: '0.5' }, '1'),
          s('rq_bucket', { path: '/b', le: '0.5' }, '0'),
          s('rq_bucket', { path: '/a', le: '+Inf' }, '2'),
          s('rq_bucket', { path: '/b', le: '+Inf' }, '4'),
          s('rq_sum', { path: '/a' }, '0.7'),
          s('rq_count', { path: '/a' }, '2'),
          s('rq_sum', { path: '/b' }, '9'),
          s('rq_count', { path: '/b' }, '4'),
        ]),
      ],
    },
  },
  {
    name: 'a summary does not claim _bucket; a histogram suffix without TYPE is a family of its own',
    input: lines('# TYPE q summary', 'q_bucket 1', 'q_sum 2', 'z_bucket{le="1"} 3', 'z_sum 4'),
    expect: {
      families: [
        fam('q', 'summary', [s('q_sum', {}, '2')]),
        fam('q_bucket', 'untyped', [s('q_bucket', {}, '1')]),
        fam('z_bucket', 'untyped', [s('z_bucket', { le: '1' }, '3')]),
        fam('z_sum', 'untyped', [s('z_sum', {}, '4')]),
      ],
    },
  },
  {
    name: 'le and quantile are ordinary labels outside their histogram/summary roles',
    input: lines('# TYPE c counter', 'c{le="not a float"} 1', '# TYPE h histogram', 'h_bucket{le="1",quantile="x"} 1'),
    expect: {
      families: [
        fam('c', 'counter', [s('c', { le: 'not a float' }, '1')]),
        fam('h', 'histogram', [s('h_bucket', { le: '1', quantile: 'x' }, '1')]),
      ],
    },
  },
  {
    name: 'label value escapes are kept as written',
    input: lines(String.raw`esc{path="C:\\dir",q="say \"hi\"",nl="a\nb",mix="\\n\"\\"} 1`),
    expect: {
      families: [
        fam('esc', 'untyped', [
          s('esc', { path: String.raw`C:\\dir`, q: String.raw`say \"hi\"`, nl: String.raw`a\nb`, mix: String.raw`\\n\"\\` }, '1'),
        ]),
      ],
    },
  },
  {
    name: 'label values may hold any other character, including #, braces, commas and tabs',
    input: lines('odd{a="x # y",b="{}",c="a,b=c",d="\ttab é ☃",e=""} 1'),
    expect: {
      families: [fam('odd', 'untyped', [s('odd', { a: 'x # y', b: '{}', c: 'a,b=c', d: '\ttab é ☃', e: '' }, '1')])],
    },
  },
  {
    name: 'HELP escapes are kept as written; HELP may be empty; trailing blanks are part of HELP',
    input: lines(
      String.raw`# HELP a_help Backslash \\ and newline \n here.`,
      'a_help 1',
      '# HELP b_help',
      'b_help 2',
      '# HELP c_help    spaced out  ',
      'c_help 3',
      '# HELP d_help "quotes" need no escape',
      'd_help 4',
    ),
    expect: {
      families: [
        fam('a_help', 'untyped', [s('a_help', {}, '1')], String.raw`Backslash \\ and newline \n here.`),
        fam('b_help', 'untyped', [s('b_help', {}, '2')], ''),
        fam('c_help', 'untyped', [s('c_help', {}, '3')], 'spaced out  '),
        fam('d_help', 'untyped', [s('d_help', {}, '4')], '"quotes" need no escape'),
      ],
    },
  },
  {
    name: 'HELP before TYPE, after TYPE, and after samples',
    input: lines(
      '# HELP one First.',
      '# TYPE one gauge',
      'one 1',
      '# TYPE two gauge',
      '# HELP two Second.',
      'two 2',
      'three 3',
      '# HELP three Third, late.',
    ),
    expect: {
      families: [
        fam('one', 'gauge', [s('one', {}, '1')], 'First.'),
        fam('two', 'gauge', [s('two', {}, '2')], 'Second.'),
        fam('three', 'untyped', [s('three', {}, '3')], 'Third, late.'),
      ],
    },
  },
  {
    name: 'float values: specials in any case, exponents, signs, leading/trailing dot',
    input: lines(
      'v{i="1"} NaN',
      'v{i="2"} nan',
      'v{i="3"} +Inf',
      'v{i="4"} -Inf',
      'v{i="5"} inf',
      'v{i="6"} -infinity',
      'v{i="7"} +Infinity',
      'v{i="8"} 1e3',
      'v{i="9"} -1.5E-3',
      'v{i="10"} +2.5e+10',
      'v{i="11"} .5',
      'v{i="12"} 5.',
      'v{i="13"} -0',
      'v{i="14"} 007',
      'v{i="15"} 1.7976931348623157e308',
      'v{i="16"} 4e-400',
      'v{i="17"} -12345678901234567890',
    ),
    expect: {
      families: [
        fam('v', 'untyped', [
          s('v', { i: '1' }, 'NaN'),
          s('v', { i: '2' }, 'nan'),
          s('v', { i: '3' }, '+Inf'),
          s('v', { i: '4' }, '-Inf'),
          s('v', { i: '5' }, 'inf'),
          s('v', { i: '6' }, '-infinity'),
          s('v', { i: '7' }, '+Infinity'),
          s('v', { i: '8' }, '1e3'),
          s('v', { i: '9' }, '-1.5E-3'),
          s('v', { i: '10' }, '+2.5e+10'),
          s('v', { i: '11' }, '.5'),
          s('v', { i: '12' }, '5.'),
          s('v', { i: '13' }, '-0'),
          s('v', { i: '14' }, '007'),
          s('v', { i: '15' }, '1.7976931348623157e308'),
          s('v', { i: '16' }, '4e-400'),
          s('v', { i: '17' }, '-12345678901234567890'),
        ]),
      ],
    },
  },
  {
    name: 'timestamps: present, absent, negative, zero, int64 extremes, trailing blanks',
    input: lines(
      't{i="a"} 1 1395066363000',
      't{i="b"} 2',
      't{i="c"} 3 -1000',
      't{i="d"} 4 0',
      't{i="e"} 5 9223372036854775807',
      't{i="f"} 6 -9223372036854775808',
      't{i="g"} 7 \t ',
      't{i="h"} 8\t42  ',
    ),
    expect: {
      families: [
        fam('t', 'untyped', [
          s('t', { i: 'a' }, '1', '1395066363000'),
          s('t', { i: 'b' }, '2'),
          s('t', { i: 'c' }, '3', '-1000'),
          s('t', { i: 'd' }, '4', '0'),
          s('t', { i: 'e' }, '5', '9223372036854775807'),
          s('t', { i: 'f' }, '6', '-9223372036854775808'),
          s('t', { i: 'g' }, '7'),
          s('t', { i: 'h' }, '8', '42'),
        ]),
      ],
    },
  },
  {
    name: 'blank lines, whitespace-only lines, comments, and HELP/TYPE keywords alone',
    input: lines(
      '',
      '   ',
      '\t',
      '# just a comment',
      '#',
      '#   ',
      '# help is not HELP',
      '# HELPFUL comment',
      '# HELP',
      '# TYPE   ',
      '  # indented comment',
      'm 1',
      '',
    ),
    expect: { families: [fam('m', 'untyped', [s('m', {}, '1')])] },
  },
  {
    name: '#HELP and #TYPE without a space are HELP and TYPE lines (as in expfmt)',
    input: lines('#HELP tight Tight.', '#TYPE tight gauge', 'tight 1'),
    expect: { families: [fam('tight', 'gauge', [s('tight', {}, '1')], 'Tight.')] },
  },
  {
    name: 'whitespace: leading blanks, tabs, blanks around label tokens and before the brace',
    input: lines(
      '  \t# TYPE   ws\tgauge  ',
      '\t ws { a = "1" ,\tb="2" } \t 1 \t 10 ',
      'ws{a="2"}\t\t2',
    ),
    expect: {
      families: [fam('ws', 'gauge', [s('ws', { a: '1', b: '2' }, '1', '10'), s('ws', { a: '2' }, '2')])],
    },
  },
  {
    name: 'trailing comma in labels, empty braces, and no blank after the closing brace',
    input: lines('tc{a="1",} 1', 'tc{a="2", } 2', 'eb{} 3', 'nb{}4', 'nc{a="x"}5'),
    expect: {
      families: [
        fam('tc', 'untyped', [s('tc', { a: '1' }, '1'), s('tc', { a: '2' }, '2')]),
        fam('eb', 'untyped', [s('eb', {}, '3')]),
        fam('nb', 'untyped', [s('nb', {}, '4')]),
        fam('nc', 'untyped', [s('nc', { a: 'x' }, '5')]),
      ],
    },
  },
  {
    name: 'non-contiguous samples are grouped into their family, in order of first appearance',
    input: lines(
      '# TYPE a gauge',
      'a{x="1"} 1',
      'b 2',
      '# TYPE h histogram',
      'h_bucket{le="+Inf"} 1',
      'a{x="2"} 3',
      'h_count 1',
      'b{y="1"} 4',
      'h_sum 0',
    ),
    expect: {
      families: [
        fam('a', 'gauge', [s('a', { x: '1' }, '1'), s('a', { x: '2' }, '3')]),
        fam('b', 'untyped', [s('b', {}, '2'), s('b', { y: '1' }, '4')]),
        fam('h', 'histogram', [s('h_bucket', { le: '+Inf' }, '1'), s('h_count', {}, '1'), s('h_sum', {}, '0')]),
      ],
    },
  },
  {
    name: 'families with only HELP/TYPE stay, with no samples',
    input: lines('# HELP lonely Nobody here.', '# TYPE empty_h histogram', 'other 1'),
    expect: {
      families: [
        fam('lonely', 'untyped', [], 'Nobody here.'),
        fam('empty_h', 'histogram', []),
        fam('other', 'untyped', [s('other', {}, '1')]),
      ],
    },
  },
  {
    name: 'CRLF line endings: one trailing "\\r" per line is dropped',
    input: '# HELP crlf Windows.\r\n# TYPE crlf gauge\r\ncrlf{a="b"} 1 5\r\ncrlf 2\r\n\r\n',
    expect: {
      families: [fam('crlf', 'gauge', [s('crlf', { a: 'b' }, '1', '5'), s('crlf', {}, '2')], 'Windows.')],
    },
  },
  {
    name: 'a "\\r" inside a label value is content',
    input: 'cr{a="x\ry"} 1\n',
    expect: { families: [fam('cr', 'untyped', [s('cr', { a: 'x\ry' }, '1')])] },
  },
  {
    name: 'metric names with colons and underscores; label names with underscores and digits',
    input: lines('job:rate:5m{_a="1",b_2="2"} 1', '_x 2', ':y 3'),
    expect: {
      families: [
        fam('job:rate:5m', 'untyped', [s('job:rate:5m', { _a: '1', b_2: '2' }, '1')]),
        fam('_x', 'untyped', [s('_x', {}, '2')]),
        fam(':y', 'untyped', [s(':y', {}, '3')]),
      ],
    },
  },
  {
    name: 'same name, different label sets are distinct series; so are different names',
    input: lines('d{a="1",b="2"} 1', 'd{a="2",b="1"} 2', 'd{a="1"} 3', 'd 4', 'd2{a="1",b="2"} 5'),
    expect: {
      families: [
        fam('d', 'untyped', [
          s('d', { a: '1', b: '2' }, '1'),
          s('d', { a: '2', b: '1' }, '2'),
          s('d', { a: '1' }, '3'),
          s('d', {}, '4'),
        ]),
        fam('d2', 'untyped', [s('d2', { a: '1', b: '2' }, '5')]),
      ],
    },
  },
  {
    name: 'le="-0" and le="0" are distinct buckets',
    input: lines('# TYPE z histogram', 'z_bucket{le="-0"} 1', 'z_bucket{le="0"} 1'),
    expect: {
      families: [fam('z', 'histogram', [s('z_bucket', { le: '-0' }, '1'), s('z_bucket', { le: '0' }, '1')])],
    },
  },
  { name: 'empty payload', input: '', expect: { families: [] } },
  { name: 'only blank lines', input: '\n\n  \n', expect: { families: [] } },
  {
    name: 'exactly maxSeries samples is allowed',
    input: lines('a 1', 'a{b="c"} 2', 'd 3'),
    opts: { maxSeries: 3 },
    expect: {
      families: [fam('a', 'untyped', [s('a', {}, '1'), s('a', { b: 'c' }, '2')]), fam('d', 'untyped', [s('d', {}, '3')])],
    },
  },

  // --- rejected: names -------------------------------------------------------
  { name: 'metric name starting with a digit', input: lines('ok 1', '1abc 2'), expect: err(/invalid metric name "1abc"/, 2) },
  { name: 'metric name with a dash', input: lines('foo-bar 1'), expect: err(/invalid metric name "foo-bar"/, 1) },
  { name: 'metric name with a dot before labels', input: lines('a.b{c="d"} 1'), expect: err(/invalid metric name "a\.b"/, 1) },
  { name: 'line starting with a brace', input: lines('{a="b"} 1'), expect: err(/expected metric name, got "\{"/, 1) },
  { name: 'invalid name in TYPE', input: lines('# TYPE 1x counter'), expect: err(/invalid metric name "1x" in TYPE line/, 1) },
  { name: 'invalid name in HELP', input: lines('', '# HELP x-y foo'), expect: err(/invalid metric name "x-y" in HELP line/, 2) },
  { name: 'label name starting with a digit', input: lines('x{1a="b"} 1'), expect: err(/invalid label name "1a"/, 1) },
  { name: 'label name with a dash', input: lines('x{a-b="c"} 1'), expect: err(/invalid label name "a-b"/, 1) },
  { name: 'label name with a colon', input: lines('x{a:b="c"} 1'), expect: err(/invalid label name "a:b"/, 1) },
  { name: 'lone comma in braces', input: lines('x{,} 1'), expect: err(/expected label name .*got ","/, 1) },
  { name: 'double comma in labels', input: lines('x{a="b",,} 1'), expect: err(/expected label name .*got ","/, 1) },
  { name: 'reserved __name__ label', input: lines('x{__name__="y"} 1'), expect: err(/label name "__name__" is reserved/, 1) },

  // --- rejected: label syntax --------------------------------------------------
  { name: 'missing "=" after label name', input: lines('x{a "b"} 1'), expect: err(/expected "=" after label name "a", got "\\""/, 1) },
  { name: 'unquoted label value', input: lines('x{a=b} 1'), expect: err(/expected '"' to start the value of label "a", got "b"/, 1) },
  { name: 'single-quoted label value', input: lines("x{a='b'} 1"), expect: err(/expected '"' to start the value of label "a"/, 1) },
  { name: 'invalid escape \\t in a label value', input: lines(String.raw`x{a="\t"} 1`), expect: err(/invalid escape sequence "\\\\t"/, 1) },
  { name: 'invalid escape \\u in a label value', input: lines('ok 1', String.raw`x{a="\u0041"} 1`), expect: err(/invalid escape sequence "\\\\u"/, 2) },
  { name: 'backslash at the end of a line inside a label value', input: lines('x{a="b\\'), expect: err(/invalid escape sequence "\\\\"/, 1) },
  { name: 'unterminated label value', input: lines('x{a="b} 1'), expect: err(/unterminated value for label "a"/, 1) },
  { name: 'raw newline inside a label value', input: 'x{a="b\nc"} 1\n', expect: err(/unterminated value for label "a"/, 1) },
  { name: 'missing comma between labels', input: lines('x{a="b" c="d"} 1'), expect: err(/expected "," or "}" after value of label "a", got "c"/, 1) },
  { name: 'unclosed braces', input: lines('x{a="b"'), expect: err(/expected "," or "}" after value of label "a", got end of line/, 1) },
  { name: 'unclosed braces after a comma', input: lines('x{a="b",'), expect: err(/expected label name for metric "x", got end of line/, 1) },
  { name: 'duplicate label name', input: lines('x{a="1",b="2",a="3"} 1'), expect: err(/duplicate label name "a"/, 1) },

  // --- rejected: values and timestamps ----------------------------------------
  { name: 'missing value', input: lines('ok 1', 'x'), expect: err(/missing value for metric "x"/, 2) },
  { name: 'missing value after labels', input: lines('x{a="b"}  '), expect: err(/missing value for metric "x"/, 1) },
  { name: 'word as value', input: lines('x abc'), expect: err(/expected float as value, got "abc"/, 1) },
  { name: 'underscore in value', input: lines('x 1_000'), expect: err(/expected float as value, got "1_000"/, 1) },
  { name: 'hex value', input: lines('x 0x10'), expect: err(/expected float as value, got "0x10"/, 1) },
  { name: 'exponent without digits', input: lines('x 1e'), expect: err(/expected float as value, got "1e"/, 1) },
  { name: 'lone dot', input: lines('x .'), expect: err(/expected float as value, got "\."/, 1) },
  { name: 'signed NaN', input: lines('x +NaN'), expect: err(/expected float as value, got "\+NaN"/, 1) },
  { name: 'truncated Infinity', input: lines('x Infin'), expect: err(/expected float as value, got "Infin"/, 1) },
  { name: 'decimal comma', input: lines('x 1,5'), expect: err(/expected float as value, got "1,5"/, 1) },
  { name: 'value out of float64 range', input: lines('x 1e400'), expect: err(/expected float as value, got "1e400"/, 1) },
  { name: 'a second "\\r" makes the value invalid', input: 'x 1\r\r\n', expect: err(/expected float as value, got "1\\r"/, 1) },
  { name: 'fractional timestamp', input: lines('x 1 1.5'), expect: err(/expected integer as timestamp, got "1\.5"/, 1) },
  { name: 'plus-signed timestamp', input: lines('x 1 +5'), expect: err(/expected integer as timestamp, got "\+5"/, 1) },
  { name: 'timestamp longer than 19 digits', input: lines('x 1 00000000000000000001'), expect: err(/expected integer as timestamp/, 1) },
  { name: 'timestamp above int64', input: lines('x 1 9223372036854775808'), expect: err(/expected integer as timestamp, got "9223372036854775808"/, 1) },
  { name: 'timestamp below int64', input: lines('x 1 -9223372036854775809'), expect: err(/expected integer as timestamp/, 1) },
  { name: 'text after the timestamp', input: lines('x 1 2 3'), expect: err(/unexpected "3" after timestamp/, 1) },
  { name: 'two braces groups', input: lines('x{a="b"}{c="d"} 1'), expect: err(/expected float as value, got "\{c=\\"d\\"}"/, 1) },

  // --- rejected: HELP and TYPE -------------------------------------------------
  { name: 'invalid escape in HELP', input: lines('# HELP x a\\tb'), expect: err(/invalid escape sequence "\\\\t" in HELP text/, 1) },
  { name: 'backslash at the end of HELP', input: lines('# HELP x abc\\'), expect: err(/invalid escape sequence "\\\\" in HELP text/, 1) },
  { name: 'HELP ending in "\\r" after the CRLF strip', input: '# HELP x abc\r\r\n', expect: err(/HELP text ends in a carriage return/, 1) },
  { name: 'unknown type', input: lines('# TYPE x gaugehistogram'), expect: err(/invalid metric type "gaugehistogram"/, 1) },
  { name: 'upper-case type', input: lines('# TYPE x COUNTER'), expect: err(/invalid metric type "COUNTER"/, 1) },
  { name: 'OpenMetrics type unknown', input: lines('# TYPE x unknown'), expect: err(/invalid metric type "unknown"/, 1) },
  { name: 'TYPE without a type', input: lines('# TYPE x'), expect: err(/missing type in TYPE line for metric name "x"/, 1) },
  { name: 'text after the type', input: lines('# TYPE x counter extra'), expect: err(/unexpected "extra" after metric type "counter"/, 1) },
  { name: 'second HELP', input: lines('# HELP x a', 'x 1', '# HELP x b'), expect: err(/second HELP line for metric name "x"/, 3) },
  { name: 'second HELP, the first one empty', input: lines('# HELP x', '# HELP x b'), expect: err(/second HELP line for metric name "x"/, 2) },
  { name: 'second TYPE', input: lines('# TYPE x gauge', '# TYPE x gauge'), expect: err(/second TYPE line for metric name "x"/, 2) },
  { name: 'TYPE after samples', input: lines('# HELP x a', 'x 1', '# TYPE x counter'), expect: err(/TYPE line for metric name "x" after its samples/, 3) },
  {
    name: 'TYPE histogram after samples of a suffix name',
    input: lines('x_bucket{le="1"} 1', '# TYPE x histogram'),
    expect: err(/TYPE histogram for metric name "x" after a family named "x_bucket"/, 2),
  },
  {
    name: 'TYPE summary after a family named x_count',
    input: lines('# HELP x_count c', '# TYPE x summary'),
    expect: err(/TYPE summary for metric name "x" after a family named "x_count"/, 2),
  },
  {
    name: 'TYPE for a suffix name of a declared histogram',
    input: lines('# TYPE x histogram', '# TYPE x_count counter'),
    expect: err(/TYPE line for metric name "x_count" conflicts with histogram "x"/, 2),
  },
  {
    name: 'HELP for a suffix name of a declared summary',
    input: lines('# TYPE x summary', 'x_sum 1', '# HELP x_sum s'),
    expect: err(/HELP line for metric name "x_sum" conflicts with summary "x"/, 3),
  },

  // --- rejected: histogram and summary structure ---------------------------------
  { name: 'histogram sample without suffix', input: lines('# TYPE h histogram', 'h{le="1"} 1'), expect: err(/histogram sample without _bucket\/_sum\/_count suffix: "h\{le=\\"1\\"}"/, 2) },
  { name: 'histogram bucket without le', input: lines('# TYPE h histogram', 'h_bucket{a="1"} 1'), expect: err(/missing "le" label on histogram bucket "h_bucket"/, 2) },
  { name: 'histogram bucket without labels', input: lines('# TYPE h histogram', 'h_bucket 1'), expect: err(/missing "le" label on histogram bucket "h_bucket"/, 2) },
  { name: 'histogram bucket with a non-float le', input: lines('# TYPE h histogram', 'h_bucket{le="big"} 1'), expect: err(/expected float as value of label "le", got "big"/, 2) },
  { name: 'le on a histogram _sum', input: lines('# TYPE h histogram', 'h_sum{le="1"} 1'), expect: err(/label "le" is not allowed on "h_sum"/, 2) },
  { name: 'summary sample without quantile', input: lines('# TYPE s summary', 's{a="1"} 1'), expect: err(/missing "quantile" label on summary sample "s"/, 2) },
  { name: 'summary bare sample without labels', input: lines('# TYPE s summary', 's 1'), expect: err(/missing "quantile" label on summary sample "s"/, 2) },
  { name: 'summary with a non-float quantile', input: lines('# TYPE s summary', 's{quantile="p50"} 1'), expect: err(/expected float as value of label "quantile", got "p50"/, 2) },
  { name: 'quantile on a summary _count', input: lines('# TYPE s summary', 's_count{quantile="0.5"} 1'), expect: err(/label "quantile" is not allowed on "s_count"/, 2) },

  // --- rejected: duplicates and limits -------------------------------------------
  {
    name: 'duplicate series',
    input: lines('# TYPE d gauge', 'd{a="1"} 1', 'd{a="2"} 2', 'd{a="1"} 3'),
    expect: err(/duplicate series "d\{a=\\"1\\"}"/, 4, 'E_DUPLICATE_SERIES'),
  },
  { name: 'duplicate series without labels', input: lines('d 1', 'd{} 2'), expect: err(/duplicate series "d\{}"/, 2, 'E_DUPLICATE_SERIES') },
  {
    name: 'duplicate series with labels in another order',
    input: lines('d{a="1",b="2"} 1', 'd{b="2",a="1"} 2'),
    expect: err(/duplicate series "d\{b=\\"2\\",a=\\"1\\"}"/, 2, 'E_DUPLICATE_SERIES'),
  },
  {
    name: 'duplicate series: a label with an empty value is no label (Prometheus reads both as one series)',
    input: lines('d{a="1"} 1', 'd{a="1",b=""} 2'),
    expect: err(/duplicate series "d\{a=\\"1\\",b=\\"\\"}"/, 2, 'E_DUPLICATE_SERIES'),
  },
  { name: 'duplicate series: an empty-valued label against none at all', input: lines('d{x=""} 1', 'd 2'), expect: err(/duplicate series "d"/, 2, 'E_DUPLICATE_SERIES') },
  {
    name: 'duplicate series despite different timestamps',
    input: lines('d 1 1000', 'd 2 2000'),
    expect: err(/duplicate series "d"/, 2, 'E_DUPLICATE_SERIES'),
  },
  {
    name: 'duplicate histogram bucket: le compared as a number',
    input: lines('# TYPE h histogram', 'h_bucket{le="1"} 1', 'h_bucket{le="1.0"} 1'),
    expect: err(/duplicate series "h_bucket\{le=\\"1\.0\\"}"/, 3, 'E_DUPLICATE_SERIES'),
  },
  {
    name: 'duplicate +Inf bucket spelled differently',
    input: lines('# TYPE h histogram', 'h_bucket{le="+Inf"} 1', 'h_bucket{le="inf"} 1'),
    expect: err(/duplicate series/, 3, 'E_DUPLICATE_SERIES'),
  },
  {
    name: 'duplicate summary quantile: compared as a number',
    input: lines('# TYPE s summary', 's{quantile="0.5"} 1', 's{quantile="5e-1"} 1'),
    expect: err(/duplicate series/, 3, 'E_DUPLICATE_SERIES'),
  },
  {
    name: 'more samples than maxSeries',
    input: lines('a 1', '# c', 'b 2', 'c 3'),
    opts: { maxSeries: 2 },
    expect: err(/more than 2 series in one payload \(maxSeries/, 4, 'E_LIMIT'),
  },
];
