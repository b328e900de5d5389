// FROZEN COPY for bench/parse.ts only: src/exposition/text_parse.ts as of commit db7fe43, before the
// parse/render speed-up, kept unchanged (imports aside) so the benchmark compares against the real
// previous implementation in the same run. Not used by the proxy; do not edit or import elsewhere.

// Parser/validator for the Prometheus text exposition format 0.0.4.
//
// This is the ingest hot path, so it is a hand-written char-code scanner over
// the payload string: one indexOf('\n') per line, no regular expressions, no
// split(), and substrings only for the tokens the model keeps (names, label
// names/values, value, timestamp). Everything is O(length of payload).
//
// Semantics follow prometheus/common expfmt's TextParser (what `promtool check
// metrics` uses) and Prometheus' own scrape parser. Where they differ, or where
// expfmt silently accepts something ambiguous, we reject, so that anything we
// accept re-renders (text_render.ts) into text both of them accept:
//
//  * Lines are split on "\n". A single trailing "\r" per line is dropped so
//    Windows senders (CRLF) work; any other "\r" is content (and so makes a
//    value or timestamp invalid). expfmt itself does not strip "\r".
//  * Blank and whitespace-only lines are skipped; spaces/tabs may precede a
//    line's first token; tokens are separated by runs of spaces/tabs; trailing
//    spaces/tabs after the value, timestamp or TYPE are allowed.
//  * `#` starts a comment unless its first word is HELP or TYPE (like expfmt,
//    `#HELP` without a space counts too). `# HELP` / `# TYPE` with nothing
//    after them are comments (expfmt and Prometheus both ignore them).
//  * HELP text is everything after the name and its separating blanks, kept
//    escaped as written (escapes `\\`, `\n` only). It may be empty. A HELP text
//    that still ends in "\r" after the CRLF strip is rejected: rendering it
//    would turn it into a CRLF line ending and change it.
//  * TYPE must be lower-case counter|gauge|histogram|summary|untyped (expfmt
//    accepts any case, Prometheus' scraper does not).
//  * Family assignment is expfmt's: a family of exactly the sample's name wins;
//    otherwise `x_bucket`/`x_sum`/`x_count` go to an already declared histogram
//    `x`, `x_sum`/`x_count` to an already declared summary `x`. To keep that
//    unambiguous for any later reader, a HELP/TYPE line naming `x_count` etc.
//    while `x` is a histogram/summary is rejected (expfmt would apply it to
//    `x`), and so is `# TYPE x histogram|summary` when a family `x_bucket`,
//    `x_sum` or `x_count` (as applicable) already exists.
//  * The label name `__name__` is reserved (expfmt rejects it). Histogram
//    `_sum`/`_count` samples may not carry `le`, summary `_sum`/`_count` may not
//    carry `quantile` (expfmt would silently drop the label and merge series).
//  * Duplicate series: same sample name and same label set in any order. For
//    `le` on histogram buckets and `quantile` on summary quantiles the values
//    are compared as numbers (`1` == `1.0`), as Prometheus 3 normalises them.
//  * Values: Go strconv.ParseFloat decimal syntax (no hex, no underscores),
//    including `1.` and `.5`; NaN/Inf/Infinity in any case, Inf signed or not,
//    NaN unsigned. Out-of-range values (`1e400`) are rejected, as ParseFloat
//    reports a range error and both expfmt and Prometheus fail the scrape.
//  * Timestamps: `-?[0-9]{1,19}` within int64 range.

import { DuplicateSeriesError, LimitError, ParseError, quote } from '../../src/errors.js';
import type { Family, Label, MetricType, ParsedPayload, Sample } from './model.js';

export interface ParseOptions {
  /** Largest number of samples accepted in one payload; more throws LimitError. */
  maxSeries?: number;
}

// Character codes.
const TAB = 9;
const NL = 10;
const CR = 13;
const SP = 32;
const QUOTE = 34;
const HASH = 35;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const COLON = 58;
const EQ = 61;
const BSLASH = 92;
const UNDERSCORE = 95;
const LBRACE = 123;
const RBRACE = 125;

function isBlank(c: number): boolean {
  return c === SP || c === TAB;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isAlpha(c: number): boolean {
  const l = c | 0x20;
  return l >= 97 && l <= 122;
}
function isLabelStart(c: number): boolean {
  return isAlpha(c) || c === UNDERSCORE;
}
function isLabelChar(c: number): boolean {
  return isAlpha(c) || c === UNDERSCORE || isDigit(c);
}
function isLabelNameEnd(c: number): boolean {
  return c === EQ || c === COMMA || c === RBRACE || c === QUOTE || isBlank(c);
}
function isNameStart(c: number): boolean {
  return isAlpha(c) || c === UNDERSCORE || c === COLON;
}
function isNameChar(c: number): boolean {
  return isAlpha(c) || c === UNDERSCORE || c === COLON || isDigit(c);
}

// ---------------------------------------------------------------------------
// Shared helpers (also used by other sources and the store).

/** `[a-zA-Z_:][a-zA-Z0-9_:]*` */
export function isValidMetricName(s: string): boolean {
  const n = s.length;
  if (n === 0 || !isNameStart(s.charCodeAt(0))) return false;
  for (let i = 1; i < n; i++) if (!isNameChar(s.charCodeAt(i))) return false;
  return true;
}

/** `[a-zA-Z_][a-zA-Z0-9_]*` (does not reject the reserved `__name__`). */
export function isValidLabelName(s: string): boolean {
  const n = s.length;
  if (n === 0 || !isLabelStart(s.charCodeAt(0))) return false;
  for (let i = 1; i < n; i++) if (!isLabelChar(s.charCodeAt(i))) return false;
  return true;
}

/** Raw label value -> escaped form stored in the model: `\` `"` newline. */
export function escapeLabelValue(raw: string): string {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === BSLASH || c === QUOTE || c === NL) {
      return raw.replace(/[\\"\n]/g, (m) => (m === '\n' ? '\\n' : '\\' + m));
    }
  }
  return raw;
}

/**
 * Escaped label value -> raw text. Input must be a valid escaped value
 * (`\\`, `\"`, `\n` only); any other escape throws a RangeError.
 */
export function unescapeLabelValue(escaped: string): string {
  return unescape(escaped, true);
}

/** Raw HELP text -> escaped form stored in the model: `\` and newline. */
export function escapeHelp(raw: string): string {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === BSLASH || c === NL) {
      return raw.replace(/[\\\n]/g, (m) => (m === '\n' ? '\\n' : '\\\\'));
    }
  }
  return raw;
}

/** Escaped HELP text -> raw text (`\\`, `\n` only; others throw RangeError). */
export function unescapeHelp(escaped: string): string {
  return unescape(escaped, false);
}

function unescape(s: string, allowQuote: boolean): string {
  let i = s.indexOf('\\');
  if (i < 0) return s;
  let out = '';
  let from = 0;
  while (i >= 0) {
    out += s.slice(from, i);
    const c = s.charCodeAt(i + 1);
    if (c === BSLASH) out += '\\';
    else if (c === 110 /* n */) out += '\n';
    else if (c === QUOTE && allowQuote) out += '"';
    else throw new RangeError(`invalid escape sequence ${quote(s.slice(i, i + 2))}`);
    from = i + 2;
    i = s.indexOf('\\', from);
  }
  return out + s.slice(from);
}

/**
 * True when `s` parses with Go's strconv.ParseFloat without error, restricted
 * to decimal syntax: `[+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?`, `NaN`, `[+-]?Inf`,
 * `[+-]?Infinity` (case-insensitive), and finite after rounding.
 */
export function isValidFloat(s: string): boolean {
  return floatSyntax(s) !== 0;
}

// 0 = invalid, 1 = plain decimal, 2 = special (NaN/Inf).
function floatSyntax(s: string): number {
  const n = s.length;
  let i = 0;
  let c = s.charCodeAt(0);
  let signed = false;
  if (c === PLUS || c === MINUS) {
    signed = true;
    i = 1;
    c = s.charCodeAt(1);
  }
  if (i >= n) return 0;
  if (!isDigit(c) && c !== DOT) return isSpecial(s, i, signed) ? 2 : 0;
  let intDigits = 0;
  while (i < n && isDigit(s.charCodeAt(i))) {
    i++;
    intDigits++;
  }
  let fracDigits = 0;
  if (i < n && s.charCodeAt(i) === DOT) {
    i++;
    while (i < n && isDigit(s.charCodeAt(i))) {
      i++;
      fracDigits++;
    }
  }
  if (intDigits + fracDigits === 0) return 0;
  let exp = false;
  if (i < n && (s.charCodeAt(i) | 0x20) === 101 /* e */) {
    exp = true;
    i++;
    if (i < n) {
      const e = s.charCodeAt(i);
      if (e === PLUS || e === MINUS) i++;
    }
    const start = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === start) return 0;
  }
  if (i !== n) return 0;
  // Overflow to ±Inf is a range error in Go; only possible with an exponent
  // or more than 308 integer digits, so the Number() conversion is rare.
  if ((exp || intDigits > 308) && !Number.isFinite(Number(s))) return 0;
  return 1;
}

function isSpecial(s: string, i: number, signed: boolean): boolean {
  const rest = s.length - i;
  if (rest === 3) {
    const a = s.charCodeAt(i) | 0x20;
    const b = s.charCodeAt(i + 1) | 0x20;
    const c = s.charCodeAt(i + 2) | 0x20;
    if (a === 105 && b === 110 && c === 102) return true; // inf
    if (!signed && a === 110 && b === 97 && c === 110) return true; // nan
    return false;
  }
  if (rest === 8) {
    const word = 'infinity';
    for (let k = 0; k < 8; k++) if ((s.charCodeAt(i + k) | 0x20) !== word.charCodeAt(k)) return false;
    return true;
  }
  return false;
}

/** Canonical text for a valid float, so `1`, `1.0`, `1e0` compare equal. */
function floatKey(s: string): string {
  let v: number;
  if (floatSyntax(s) === 2) {
    const c = s.charCodeAt(0);
    const l = (c === PLUS || c === MINUS ? s.charCodeAt(1) : c) | 0x20;
    v = l === 110 ? NaN : c === MINUS ? -Infinity : Infinity;
  } else {
    v = Number(s);
  }
  return Object.is(v, -0) ? '-0' : String(v);
}

const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';

/** `-?[0-9]{1,19}` within int64 range. */
export function isValidTimestamp(s: string): boolean {
  const n = s.length;
  let i = 0;
  const neg = s.charCodeAt(0) === MINUS;
  if (neg) i = 1;
  const digits = n - i;
  if (digits < 1 || digits > 19) return false;
  for (let k = i; k < n; k++) if (!isDigit(s.charCodeAt(k))) return false;
  if (digits === 19) return (neg ? s.slice(1) : s) <= (neg ? INT64_MIN_ABS : INT64_MAX);
  return true;
}

// ---------------------------------------------------------------------------
// The parser.

const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Sample role inside its family, decided once when the family is resolved. */
const enum Role {
  Plain,
  HistBare,
  HistBucket,
  HistSumCount,
  SummaryQuantile,
  SummarySumCount,
}

/** Parse and validate one payload. Throws ParseError, DuplicateSeriesError or LimitError. */
export function parseText(text: string, opts?: ParseOptions): ParsedPayload {
  return new TextParser(text, opts?.maxSeries ?? Infinity).run();
}

class TextParser {
  private readonly families: Family[] = [];
  private readonly byName = new Map<string, Family>();
  private readonly seen = new Set<string>();
  private series = 0;
  private line = 0;
  // One-entry cache: consecutive samples usually share a name.
  private prevName = '';
  private prevFamily: Family | undefined;
  private prevRole: Role = Role.Plain;
  // Previous sample's timestamp: an equal one (the usual case) reuses it.
  private prevTimestamp = '';

  constructor(
    private readonly text: string,
    private readonly maxSeries: number,
  ) {}

  run(): ParsedPayload {
    const text = this.text;
    const n = text.length;
    let pos = 0;
    while (pos < n) {
      this.line++;
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = n;
      let end = nl;
      if (end > pos && text.charCodeAt(end - 1) === CR) end--; // CRLF tolerance
      let i = pos;
      while (i < end && isBlank(text.charCodeAt(i))) i++;
      if (i < end) {
        if (text.charCodeAt(i) === HASH) this.comment(i + 1, end);
        else this.sample(i, end);
      }
      pos = nl + 1;
    }
    return { families: this.families, series: this.series };
  }

  private fail(detail: string): never {
    throw new ParseError(this.line, detail);
  }

  /** The character at i quoted, or "end of line", for "expected X, got Y". */
  private got(i: number, end: number): string {
    return i < end ? quote(this.text[i]!) : 'end of line';
  }

  private skipBlanks(i: number, end: number): number {
    const text = this.text;
    while (i < end && isBlank(text.charCodeAt(i))) i++;
    return i;
  }

  /** End of the token starting at i: the next blank or end of line. */
  private tokenEnd(i: number, end: number): number {
    const text = this.text;
    while (i < end && !isBlank(text.charCodeAt(i))) i++;
    return i;
  }

  private newFamily(name: string): Family {
    const f: Family = { name, type: 'untyped', typeDeclared: false, samples: [] };
    this.families.push(f);
    this.byName.set(name, f);
    return f;
  }

  /** The histogram/summary family that claims `name` via a suffix, if any. */
  private suffixOwner(name: string): Family | undefined {
    const n = name.length;
    let f: Family | undefined;
    if (n > 7 && name.endsWith('_bucket')) {
      f = this.byName.get(name.slice(0, n - 7));
      return f !== undefined && f.type === 'histogram' ? f : undefined;
    }
    if (n > 4 && name.endsWith('_sum')) f = this.byName.get(name.slice(0, n - 4));
    else if (n > 6 && name.endsWith('_count')) f = this.byName.get(name.slice(0, n - 6));
    return f !== undefined && (f.type === 'histogram' || f.type === 'summary') ? f : undefined;
  }

  // --- # lines --------------------------------------------------------------

  private comment(i: number, end: number): void {
    const text = this.text;
    i = this.skipBlanks(i, end);
    const kwEnd = this.tokenEnd(i, end);
    if (kwEnd - i !== 4) return;
    const isHelp = text.startsWith('HELP', i);
    if (!isHelp && !text.startsWith('TYPE', i)) return; // plain comment
    const kw = isHelp ? 'HELP' : 'TYPE';
    i = this.skipBlanks(kwEnd, end);
    if (i === end) return; // `# HELP` alone: a comment, as in expfmt
    const nameEnd = this.tokenEnd(i, end);
    const name = text.slice(i, nameEnd);
    if (!isValidMetricName(name)) this.fail(`invalid metric name ${quote(name)} in ${kw} line`);
    i = this.skipBlanks(nameEnd, end);

    let f = this.byName.get(name);
    if (f === undefined) {
      const owner = this.suffixOwner(name);
      if (owner !== undefined) {
        this.fail(`${kw} line for metric name ${quote(name)} conflicts with ${owner.type} ${quote(owner.name)}`);
      }
    }

    if (isHelp) {
      const help = text.slice(i, end);
      this.checkHelp(help);
      if (f !== undefined && f.help !== undefined) this.fail(`second HELP line for metric name ${quote(name)}`);
      if (f === undefined) f = this.newFamily(name);
      f.help = help;
      return;
    }

    if (i === end) this.fail(`missing type in TYPE line for metric name ${quote(name)}`);
    const typeEnd = this.tokenEnd(i, end);
    const type = text.slice(i, typeEnd);
    if (!TYPES.has(type)) this.fail(`invalid metric type ${quote(type)} for metric name ${quote(name)}`);
    const after = this.skipBlanks(typeEnd, end);
    if (after !== end) this.fail(`unexpected ${quote(text.slice(after, end))} after metric type ${quote(type)}`);
    if (f !== undefined) {
      if (f.typeDeclared) this.fail(`second TYPE line for metric name ${quote(name)}`);
      if (f.samples.length > 0) this.fail(`TYPE line for metric name ${quote(name)} after its samples`);
    }
    if (type === 'histogram' || type === 'summary') {
      const suffixes = type === 'histogram' ? ['_bucket', '_sum', '_count'] : ['_sum', '_count'];
      for (const sfx of suffixes) {
        if (this.byName.has(name + sfx)) {
          this.fail(`TYPE ${type} for metric name ${quote(name)} after a family named ${quote(name + sfx)}`);
        }
      }
    }
    if (f === undefined) f = this.newFamily(name);
    f.type = type as MetricType;
    f.typeDeclared = true;
  }

  private checkHelp(help: string): void {
    let i = help.indexOf('\\');
    while (i >= 0) {
      const c = help.charCodeAt(i + 1);
      if (c !== BSLASH && c !== 110 /* n */) {
        this.fail(`invalid escape sequence ${quote(help.slice(i, i + 2))} in HELP text`);
      }
      i = help.indexOf('\\', i + 2);
    }
    if (help.length > 0 && help.charCodeAt(help.length - 1) === CR) {
      this.fail('HELP text ends in a carriage return');
    }
  }

  // --- sample lines -----------------------------------------------------------

  private sample(i: number, end: number): void {
    const text = this.text;
    const start = i;

    // Metric name.
    if (isNameStart(text.charCodeAt(i))) {
      i++;
      while (i < end && isNameChar(text.charCodeAt(i))) i++;
    }
    if (i === start || (i < end && !isBlank(text.charCodeAt(i)) && text.charCodeAt(i) !== LBRACE)) {
      let t = start;
      while (t < end && !isBlank(text.charCodeAt(t)) && text.charCodeAt(t) !== LBRACE) t++;
      if (t === start) this.fail(`expected metric name, got ${this.got(start, end)}`);
      this.fail(`invalid metric name ${quote(text.slice(start, t))}`);
    }
    const prev = this.prevName;
    const name = i - start === prev.length && text.startsWith(prev, start) ? prev : text.slice(start, i);

    // Labels.
    const labels: Label[] = [];
    let seriesEnd = i;
    i = this.skipBlanks(i, end);
    if (i < end && text.charCodeAt(i) === LBRACE) {
      i = this.labels(i + 1, end, name, labels);
      seriesEnd = i;
    }

    // Value.
    i = this.skipBlanks(i, end);
    if (i === end) this.fail(`missing value for metric ${quote(name)}`);
    const valueEnd = this.tokenEnd(i, end);
    const value = text.slice(i, valueEnd);
    if (floatSyntax(value) === 0) this.fail(`expected float as value, got ${quote(value)}`);

    // Timestamp.
    let timestamp: string | undefined;
    i = this.skipBlanks(valueEnd, end);
    if (i < end) {
      const tsEnd = this.tokenEnd(i, end);
      const pt = this.prevTimestamp; // already validated
      if (tsEnd - i === pt.length && text.startsWith(pt, i)) {
        timestamp = pt;
      } else {
        timestamp = text.slice(i, tsEnd);
        if (!isValidTimestamp(timestamp)) this.fail(`expected integer as timestamp, got ${quote(timestamp)}`);
        this.prevTimestamp = timestamp;
      }
      i = this.skipBlanks(tsEnd, end);
      if (i < end) this.fail(`unexpected ${quote(text.slice(i, end))} after timestamp`);
    }

    // Family and role.
    let f: Family;
    let role: Role;
    if (name === prev && this.prevFamily !== undefined) {
      f = this.prevFamily;
      role = this.prevRole;
    } else {
      f = this.byName.get(name) ?? this.suffixOwner(name) ?? this.newFamily(name);
      role = roleOf(f, name);
      this.prevName = name;
      this.prevFamily = f;
      this.prevRole = role;
    }

    const key = this.checkRole(role, name, labels, start, seriesEnd);
    if (this.seen.size === this.seen.add(key).size) {
      throw new DuplicateSeriesError(`line ${this.line}: duplicate series ${quote(text.slice(start, seriesEnd))}`);
    }
    if (++this.series > this.maxSeries) {
      throw new LimitError(`line ${this.line}: more than ${this.maxSeries} series in one payload (maxSeries limit)`);
    }
    const s: Sample =
      timestamp === undefined ? { name, labels, value } : { name, labels, value, timestamp };
    f.samples.push(s);
  }

  /** Parses labels after `{`; returns the index just past `}`. */
  private labels(i: number, end: number, name: string, out: Label[]): number {
    const text = this.text;
    let names: Set<string> | undefined; // only for unusually many labels
    for (;;) {
      i = this.skipBlanks(i, end);
      if (i < end && text.charCodeAt(i) === RBRACE) return i + 1;
      // Label name.
      const ns = i;
      if (i < end && isLabelStart(text.charCodeAt(i))) {
        i++;
        while (i < end && isLabelChar(text.charCodeAt(i))) i++;
      }
      if (i === ns || (i < end && !isLabelNameEnd(text.charCodeAt(i)))) {
        let t = i;
        while (t < end && !isLabelNameEnd(text.charCodeAt(t))) t++;
        if (t === ns) this.fail(`expected label name for metric ${quote(name)}, got ${this.got(ns, end)}`);
        this.fail(`invalid label name ${quote(text.slice(ns, t))} for metric ${quote(name)}`);
      }
      const lname = text.slice(ns, i);
      if (lname === '__name__') this.fail(`label name "__name__" is reserved (metric ${quote(name)})`);
      i = this.skipBlanks(i, end);
      if (i >= end || text.charCodeAt(i) !== EQ) {
        this.fail(`expected "=" after label name ${quote(lname)}, got ${this.got(i, end)}`);
      }
      i = this.skipBlanks(i + 1, end);
      if (i >= end || text.charCodeAt(i) !== QUOTE) {
        this.fail(`expected '"' to start the value of label ${quote(lname)}, got ${this.got(i, end)}`);
      }
      // Label value, kept escaped.
      const vs = ++i;
      for (;;) {
        if (i >= end) this.fail(`unterminated value for label ${quote(lname)}`);
        const c = text.charCodeAt(i);
        if (c === QUOTE) break;
        if (c === BSLASH) {
          const e = text.charCodeAt(i + 1);
          if (i + 1 >= end || (e !== BSLASH && e !== QUOTE && e !== 110) /* n */) {
            this.fail(`invalid escape sequence ${quote(text.slice(i, Math.min(i + 2, end)))} in value of label ${quote(lname)}`);
          }
          i += 2;
        } else {
          i++;
        }
      }
      const value = text.slice(vs, i);
      i++;
      // Duplicate label names: linear scan while small, a Set beyond that.
      if (names === undefined) {
        for (let k = 0; k < out.length; k++) {
          if (out[k]!.name === lname) this.fail(`duplicate label name ${quote(lname)} for metric ${quote(name)}`);
        }
        if (out.length >= 16) {
          names = new Set();
          for (const l of out) names.add(l.name);
          names.add(lname);
        }
      } else {
        if (names.has(lname)) this.fail(`duplicate label name ${quote(lname)} for metric ${quote(name)}`);
        names.add(lname);
      }
      out.push({ name: lname, value });
      // Separator.
      i = this.skipBlanks(i, end);
      const c = i < end ? text.charCodeAt(i) : -1;
      if (c === RBRACE) return i + 1;
      if (c !== COMMA) {
        this.fail(`expected "," or "}" after value of label ${quote(lname)}, got ${this.got(i, end)}`);
      }
      i++;
    }
  }

  /**
   * Validates histogram/summary label rules and returns the duplicate-series
   * key (see below).
   */
  private checkRole(role: Role, name: string, labels: Label[], start: number, seriesEnd: number): string {
    const n = labels.length;
    if (n === 0) {
      if (role === Role.HistBare) this.failBare(start, seriesEnd);
      if (role === Role.HistBucket) this.fail(`missing "le" label on histogram bucket ${quote(name)}`);
      if (role === Role.SummaryQuantile) this.fail(`missing "quantile" label on summary sample ${quote(name)}`);
      return name;
    }
    let special = ''; // `le` / `quantile` whose value is compared numerically
    if (role !== Role.Plain) {
      if (role === Role.HistBare) this.failBare(start, seriesEnd);
      const want = role === Role.HistBucket || role === Role.HistSumCount ? 'le' : 'quantile';
      let found: Label | undefined;
      for (let k = 0; k < n; k++) if (labels[k]!.name === want) found = labels[k];
      if (role === Role.HistSumCount || role === Role.SummarySumCount) {
        if (found !== undefined) this.fail(`label ${quote(want)} is not allowed on ${quote(name)}`);
      } else {
        if (found === undefined) {
          this.fail(`missing ${quote(want)} label on ${role === Role.HistBucket ? 'histogram bucket' : 'summary sample'} ${quote(name)}`);
        }
        if (floatSyntax(found.value) === 0) this.fail(`expected float as value of label ${quote(want)}, got ${quote(found.value)}`);
        special = want;
      }
    }
    // The key is the series in canonical text form: labels sorted by name, no
    // blanks, no trailing comma. When the line already has exactly that form
    // (same tokens, same length), the key is a slice of the payload and no
    // string is built.
    let sorted = labels;
    let len = name.length + n + 1; // braces and commas
    for (let k = 0; k < n; k++) {
      const l = labels[k]!;
      len += l.name.length + l.value.length + 3; // ="..."
      if (k > 0 && sorted === labels && labels[k - 1]!.name > l.name) sorted = sortByName(labels);
    }
    if (sorted === labels && special === '' && seriesEnd - start === len) return this.text.slice(start, seriesEnd);
    let key = name + '{';
    for (let k = 0; k < n; k++) {
      const l = sorted[k]!;
      key += (k === 0 ? '' : ',') + l.name + '="' + (l.name === special ? floatKey(l.value) : l.value) + '"';
    }
    return key + '}';
  }

  private failBare(start: number, seriesEnd: number): never {
    this.fail(`histogram sample without _bucket/_sum/_count suffix: ${quote(this.text.slice(start, seriesEnd))}`);
  }
}

/** A sorted copy; insertion sort for the usual handful of labels. */
function sortByName(labels: Label[]): Label[] {
  const n = labels.length;
  if (n > 16) return labels.slice().sort((a, b) => (a.name < b.name ? -1 : 1));
  const out = labels.slice();
  for (let i = 1; i < n; i++) {
    const l = out[i]!;
    let j = i - 1;
    while (j >= 0 && out[j]!.name > l.name) {
      out[j + 1] = out[j]!;
      j--;
    }
    out[j + 1] = l;
  }
  return out;
}

function roleOf(f: Family, name: string): Role {
  if (f.type === 'histogram') {
    const d = name.length - f.name.length;
    return d === 0 ? Role.HistBare : d === 7 ? Role.HistBucket : Role.HistSumCount;
  }
  if (f.type === 'summary') return name.length === f.name.length ? Role.SummaryQuantile : Role.SummarySumCount;
  return Role.Plain;
}
