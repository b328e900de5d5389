// Parser/validator for the Prometheus text exposition format 0.0.4.
//
// This is the ingest hot path, so it is a hand-written char-code scanner over
// the payload string: one indexOf('\n') per line, no regular expressions, no
// split(). Lines in canonical form (almost all, from client libraries) take a
// fast path that allocates a TextSample, the value and a duplicate key (a
// slice) and nothing per label; others get substrings and Label objects for
// every token. Everything is O(length of payload).
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

import { DuplicateSeriesError, LimitError, ParseError, quote } from '../errors.js';
import { METRIC_TYPES, TextSample, claimedNames, labelBit } from './model.js';
import type { DroppedSeries, Family, Label, MetricType, ParsedPayload } from './model.js';

export interface ParseOptions {
  /** Largest number of samples accepted in one payload; more throws LimitError. */
  maxSeries?: number;
  /** For tests: parse every sample line with the general path (no canonical-line fast path). */
  generalPathOnly?: boolean;
  /**
   * Leave a series seen again out (counted in ParsedPayload.dropped) rather
   * than throw DuplicateSeriesError: for reading the store's own render, in
   * which two apps without app_label may hold the same series. The first
   * one stays, as Prometheus keeps the first of a scrape.
   */
  keepFirstDuplicate?: boolean;
  /**
   * Series seen by earlier parses, for reading one family in parts (each
   * part its header and some of its lines): the series in it count as seen,
   * so a copy in this part is a duplicate, and this parse adds its own.
   */
  seen?: SeenSeries;
}

/** Duplicate detection carried from one parse to the next (ParseOptions.seen). */
export class SeenSeries {
  /** Per sample name, the state the last parse that saw it left (a NameState). */
  readonly byName = new Map<string, unknown>();
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

/**
 * What is wrong with HELP text as written (escapes `\\` and `\n` only; no
 * carriage return at its end, which rendering would turn into a CRLF line
 * ending), or undefined when it is valid.
 */
export function helpProblem(help: string): string | undefined {
  let i = help.indexOf('\\');
  while (i >= 0) {
    const c = help.charCodeAt(i + 1);
    if (c !== BSLASH && c !== 110 /* n */) return `invalid escape sequence ${quote(help.slice(i, i + 2))} in HELP text`;
    i = help.indexOf('\\', i + 2);
  }
  if (help.length > 0 && help.charCodeAt(help.length - 1) === CR) return 'HELP text ends in a carriage return';
  return undefined;
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
  return floatSyntax(s, 0, s.length) !== 0;
}

// 0 = invalid, 1 = plain decimal, 2 = special (NaN/Inf). Checks s[from..n).
function floatSyntax(s: string, from: number, n: number): number {
  let i = from;
  let c = s.charCodeAt(i);
  let signed = false;
  if (c === PLUS || c === MINUS) {
    signed = true;
    i++;
    c = s.charCodeAt(i);
  }
  if (i >= n) return 0;
  if (!isDigit(c) && c !== DOT) return isSpecial(s, i, n, signed) ? 2 : 0;
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
  if ((exp || intDigits > 308) && !Number.isFinite(Number(s.slice(from, n)))) return 0;
  return 1;
}

function isSpecial(s: string, i: number, n: number, signed: boolean): boolean {
  const rest = n - i;
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
export function floatKey(s: string): string {
  let v: number;
  if (floatSyntax(s, 0, s.length) === 2) {
    const c = s.charCodeAt(0);
    const l = (c === PLUS || c === MINUS ? s.charCodeAt(1) : c) | 0x20;
    v = l === 110 ? NaN : c === MINUS ? -Infinity : Infinity;
  } else {
    v = Number(s);
  }
  return Object.is(v, -0) ? '-0' : String(v);
}

/**
 * A quick sufficient test for floatKey(s) === s on s[from..to): `0`, or an
 * unsigned decimal without exponent, leading or trailing zeros, at most 15
 * significant digits (so the shortest round-trip form is these digits) and
 * within 1e-6..1e15 (so JS prints it without an exponent). False means "maybe
 * not": the caller then compares with floatKey.
 */
function plainNormalDecimal(s: string, from: number, to: number): boolean {
  let i = from;
  let c = s.charCodeAt(i);
  if (c === 48 /* 0 */) {
    i++;
    if (i === to) return true; // "0"
    if (s.charCodeAt(i) !== DOT) return false;
    i++;
    const z = i;
    while (i < to && s.charCodeAt(i) === 48) i++;
    if (i - z > 5) return false; // below 1e-6
    from = i; // significant digits start here
  } else {
    if (!(c >= 49 && c <= 57)) return false;
    while (i < to && isDigit(s.charCodeAt(i))) i++;
    if (i === to) return to - from <= 15;
    if (s.charCodeAt(i) !== DOT) return false;
    i++;
  }
  const fracStart = i;
  while (i < to && isDigit(s.charCodeAt(i))) i++;
  if (i !== to || i === fracStart || s.charCodeAt(to - 1) === 48) return false;
  return to - from - (fracStart > from ? 1 : 0) <= 15;
}

const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';

/** `-?[0-9]{1,19}` within int64 range. */
export function isValidTimestamp(s: string): boolean {
  return isValidTimestampAt(s, 0, s.length);
}

/** isValidTimestamp of s[from..to), without a slice. */
export function isValidTimestampAt(s: string, from: number, to: number): boolean {
  let i = from;
  const neg = s.charCodeAt(i) === MINUS;
  if (neg) i++;
  const digits = to - i;
  if (digits < 1 || digits > 19) return false;
  for (let k = i; k < to; k++) if (!isDigit(s.charCodeAt(k))) return false;
  if (digits === 19) return s.slice(i, to) <= (neg ? INT64_MIN_ABS : INT64_MAX);
  return true;
}

/** isValidFloat of s[from..to), without a slice. */
export function isValidFloatAt(s: string, from: number, to: number): boolean {
  return from < to && floatSyntax(s, from, to) !== 0;
}

// ---------------------------------------------------------------------------
// The parser.
//
// Each sample line is first tried by canonicalSample(), a fast path for the
// canonical form client libraries emit (`name{a="x",b="y"} value[ ts]`). It
// only accepts lines in that form that are valid, never throws a syntax
// error, and returns false (before any side effect but looking up or creating
// the family and state of the sample name, which the general path would too)
// for anything else, which sample(), the general path, then parses: so every
// error, with its message and line, comes from the same code as before.
// Canonical lines become TextSamples that keep their offsets instead of Label
// objects (see model.ts).


/** Sample role inside its family, decided once when the family is resolved. */
const enum Role {
  Plain,
  HistBare,
  HistBucket,
  HistSumCount,
  SummaryQuantile,
  SummarySumCount,
}

// Character classes for the fast path (ASCII only; anything else is not a name char).
const C_NAME_START = 1;
const C_NAME = 2;
const C_LABEL_START = 4;
const C_LABEL = 8;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if (isNameStart(c)) CLASS[c]! |= C_NAME_START;
  if (isNameChar(c)) CLASS[c]! |= C_NAME;
  if (isLabelStart(c)) CLASS[c]! |= C_LABEL_START;
  if (isLabelChar(c)) CLASS[c]! |= C_LABEL;
}

/**
 * Fast path scratch, per label of the current line: name start, name end,
 * value start, value end. Shared by all parses (parsing is synchronous).
 */
let ranges = new Int32Array(64);

/** Unsorted label lists up to this long get a pairwise duplicate check on the fast path; longer ones take the general path. */
const FAST_UNSORTED_MAX = 16;

/**
 * Duplicate detection for one sample name. Two samples are the same series
 * when their label sets are equal (in any order; `le` on buckets and
 * `quantile` on quantiles compared as numbers). The key of a sample is its
 * labels as canonical text (`a="x",b="y"`, normalized le/quantile values)
 * in an order fixed per label set: the order of `pattern` (the label names of
 * the name's first sample with labels) for that set, sorted by name for any
 * other set. Different sets never give equal keys, and the usual payload,
 * whose lines all list the same labels in the same order, sorted or not, has
 * its keys as slices of the payload, with nothing to build.
 */
interface NameState {
  /** The family the name belongs to and its role there (fixed once a sample has the name). */
  family: Family;
  role: Role;
  // The keys seen, in one of two forms (see addKey).
  ordered: string[];
  seen: Set<string> | undefined;
  /** undefined: no sample with labels yet; null: that sample had more than PATTERN_MAX labels. */
  pattern: readonly string[] | null | undefined;
  /** TextSample's label mask for the pattern's names. */
  patternMask: number;
}

const PATTERN_MAX = 16;

function newNameState(family: Family, role: Role): NameState {
  return { family, role, ordered: [], seen: undefined, pattern: undefined, patternMask: 0 };
}

function setPattern(st: NameState, names: string[] | null): void {
  st.pattern = names;
  if (names !== null) for (const name of names) st.patternMask |= labelBit(name, 0, name.length);
}

/**
 * Records the key; false when it was already there (a duplicate series).
 * While each key is greater than the one before (exporters that sort their
 * series), the keys are kept in `ordered` and a new key is compared with the
 * last one only; the first key out of order moves them all into `seen`.
 * (A Set costs a hash of the whole key per series, V8 hashing ~2 ns a char;
 * hashing only the label values in JS did not pay.)
 */
function addKey(st: NameState, key: string): boolean {
  let seen = st.seen;
  if (seen === undefined) {
    const ordered = st.ordered;
    const n = ordered.length;
    if (n === 0 || key > ordered[n - 1]!) {
      ordered.push(key);
      return true;
    }
    st.seen = seen = new Set(ordered);
    st.ordered = [];
  }
  return seen.size !== seen.add(key).size;
}

/** Parse and validate one payload. Throws ParseError, DuplicateSeriesError or LimitError. */
export function parseText(text: string, opts?: ParseOptions): ParsedPayload {
  return new TextParser(text, opts?.maxSeries ?? Infinity, opts?.generalPathOnly !== true, opts?.keepFirstDuplicate === true, opts?.seen?.byName as Map<string, NameState> | undefined).run();
}

class TextParser {
  private readonly families: Family[] = [];
  private readonly byName = new Map<string, Family>();
  /** Duplicate detection per sample name (see NameState). */
  private readonly names = new Map<string, NameState>();
  private series = 0;
  private line = 0;
  // One-entry cache: consecutive samples usually share a name.
  private prevName = '';
  private prevState: NameState | undefined;
  // Previous sample's timestamp: an equal one (the usual case) reuses it.
  private prevTimestamp = '';
  /**
   * Sample lines to leave to the general path before trying the fast path
   * again: a payload that is not canonical seldom has canonical lines, and a
   * failed attempt costs about a tenth of a general parse. Doubled (up to 64)
   * on each miss in a row, reset by a hit. Which path takes a line changes
   * nothing but the time.
   */
  private fastSkip: number;
  private fastBackoff = 0;
  /** Offset of the first backslash at or after some earlier offset (text.length: none). */
  private backslashAt = -1;

  /** Series left out (keepFirstDuplicate), and the first of them as written. */
  private dropped: DroppedSeries | undefined;

  constructor(
    private readonly text: string,
    private readonly maxSeries: number,
    fast: boolean,
    private readonly keepFirstDuplicate: boolean,
    private readonly seen: Map<string, NameState> | undefined,
  ) {
    this.fastSkip = fast ? 0 : Infinity;
  }

  private generalSample(i: number, end: number): void {
    if (this.fastSkip > 0) {
      this.fastSkip--;
    } else {
      this.fastBackoff = this.fastBackoff === 0 ? 1 : Math.min(this.fastBackoff * 2, 64);
      this.fastSkip = this.fastBackoff;
    }
    this.sample(i, end);
  }

  run(): ParsedPayload {
    try {
      return this.lines();
    } finally {
      if (ranges.length > 4096) ranges = new Int32Array(64); // after a line with very many labels
    }
  }

  private lines(): ParsedPayload {
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
        else if (this.fastSkip > 0 || !this.canonicalSample(i, end)) this.generalSample(i, end);
      }
      pos = nl + 1;
    }
    return this.dropped ? { families: this.families, series: this.series, dropped: this.dropped } : { families: this.families, series: this.series };
  }

  /** A duplicate of an earlier series at text[start..seriesEnd): an error, or left out and counted (keepFirstDuplicate). */
  private duplicate(start: number, seriesEnd: number): void {
    if (!this.keepFirstDuplicate) throw new DuplicateSeriesError(`line ${this.line}: duplicate series ${quote(this.text.slice(start, seriesEnd))}`);
    if (this.dropped) this.dropped.series++;
    else this.dropped = { series: 1, first: this.text.slice(start, seriesEnd) };
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

  /** The state of a sample name: its family, role and duplicate detection. */
  private resolve(name: string): NameState {
    if (name === this.prevName) return this.prevState!;
    let st = this.names.get(name);
    if (st === undefined) {
      const f = this.byName.get(name) ?? this.suffixOwner(name) ?? this.newFamily(name);
      this.names.set(name, (st = newNameState(f, roleOf(f, name))));
      const earlier = this.seen?.get(name);
      if (earlier !== undefined) {
        // The same keys, in the same label order (the pattern decides it).
        st.ordered = earlier.ordered;
        st.seen = earlier.seen;
        st.pattern = earlier.pattern;
        st.patternMask = earlier.patternMask;
      }
      this.seen?.set(name, st);
    }
    this.prevName = name;
    this.prevState = st;
    return st;
  }

  // --- # lines --------------------------------------------------------------

  private comment(i: number, end: number): void {
    const text = this.text;
    i = this.skipBlanks(i, end);
    // The first word must be exactly HELP or TYPE, else this is a plain comment.
    const kwEnd = i + 4;
    if (kwEnd > end || (kwEnd < end && !isBlank(text.charCodeAt(kwEnd)))) return;
    const c = text.charCodeAt(i);
    const isHelp = c === 72 && text.charCodeAt(i + 1) === 69 && text.charCodeAt(i + 2) === 76 && text.charCodeAt(i + 3) === 80; // HELP
    if (!isHelp && !(c === 84 && text.charCodeAt(i + 1) === 89 && text.charCodeAt(i + 2) === 80 && text.charCodeAt(i + 3) === 69)) return; // TYPE
    const kw = isHelp ? 'HELP' : 'TYPE';
    i = this.skipBlanks(kwEnd, end);
    if (i === end) return; // `# HELP` alone: a comment, as in expfmt
    // The name: the token up to the next blank, validated in the same pass.
    let nameEnd = i;
    let d = text.charCodeAt(i);
    if (d < 128 && CLASS[d]! & C_NAME_START) {
      nameEnd++;
      while (nameEnd < end && (d = text.charCodeAt(nameEnd)) < 128 && CLASS[d]! & C_NAME) nameEnd++;
    }
    if (nameEnd === i || (nameEnd < end && !isBlank(text.charCodeAt(nameEnd)))) {
      this.fail(`invalid metric name ${quote(text.slice(i, this.tokenEnd(i, end)))} in ${kw} line`);
    }
    const name = text.slice(i, nameEnd);
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
    if (!METRIC_TYPES.has(type)) this.fail(`invalid metric type ${quote(type)} for metric name ${quote(name)}`);
    const after = this.skipBlanks(typeEnd, end);
    if (after !== end) this.fail(`unexpected ${quote(text.slice(after, end))} after metric type ${quote(type)}`);
    if (f !== undefined) {
      if (f.typeDeclared) this.fail(`second TYPE line for metric name ${quote(name)}`);
      if (f.samples.length > 0) this.fail(`TYPE line for metric name ${quote(name)} after its samples`);
    }
    for (const claimed of claimedNames(name, type)) {
      if (this.byName.has(claimed)) this.fail(`TYPE ${type} for metric name ${quote(name)} after a family named ${quote(claimed)}`);
    }
    if (f === undefined) f = this.newFamily(name);
    f.type = type as MetricType;
    f.typeDeclared = true;
  }

  private checkHelp(help: string): void {
    const problem = helpProblem(help);
    if (problem !== undefined) this.fail(problem);
  }

  // --- sample lines: the fast path --------------------------------------------

  /**
   * A canonical sample line starting at `start` (not blank) and ending at
   * `end`: validated, checked for duplicates and the limit, and stored as a
   * TextSample without Label objects. Returns false, having changed nothing
   * but possibly the family lookup, when the line is not canonical or not
   * valid; sample() then parses it (and throws the error, if any).
   */
  private canonicalSample(start: number, end: number): boolean {
    const text = this.text;

    // Metric name: usually the previous sample's (an already validated string,
    // compared natively), otherwise validated here.
    const prev = this.prevName;
    const pn = prev.length;
    let i = start + pn;
    let c = text.charCodeAt(i);
    let name: string;
    if (pn > 0 && (c === LBRACE || c === SP) && text.slice(start, i) === prev) {
      name = prev;
    } else {
      c = text.charCodeAt(start);
      if (!(c < 128 && CLASS[c]! & C_NAME_START)) return false;
      i = start + 1;
      while ((c = text.charCodeAt(i)) < 128 && CLASS[c]! & C_NAME) i++;
      name = text.slice(start, i);
    }
    if (i >= end) return false;
    const st = this.resolve(name);

    // Labels: no blanks, no trailing comma, not `{}`. Names that are the
    // pattern's (the usual case) are compared rather than validated.
    c = text.charCodeAt(i);
    let close = -1;
    let n = 0;
    const pattern = st.pattern;
    let exact = pattern !== undefined && pattern !== null; // the names so far are the pattern's
    if (c === LBRACE) {
      let r = ranges;
      let j = i + 1;
      for (;;) {
        const ns = j;
        let ne = exact && n < pattern!.length ? nameAt(text, j, pattern![n]!) : -1;
        if (ne < 0) {
          exact = false;
          c = text.charCodeAt(j);
          if (!(c < 128 && CLASS[c]! & C_LABEL_START)) return false;
          j++;
          while ((c = text.charCodeAt(j)) < 128 && CLASS[c]! & C_LABEL) j++;
          // text[end] is "\r", "\n" or past the end, so none of these matches there.
          if (c !== EQ) return false;
          ne = j;
          if (ne - ns === 8 && text.startsWith('__name__', ns)) return false;
        }
        if (text.charCodeAt(ne + 1) !== QUOTE) return false;
        const vs = ne + 2;
        let q = text.indexOf('"', vs);
        if (q < 0 || q >= end) return false; // unterminated: an error, reported by sample()
        if (q === vs) return false; // an empty value: not part of the series identity (labelsKey)
        if (this.backslashAt < vs) {
          const b = text.indexOf('\\', vs);
          this.backslashAt = b < 0 ? text.length : b;
        }
        if (this.backslashAt < q) {
          // Escapes in this value: find the closing quote the slow way.
          q = vs;
          for (;;) {
            if (q >= end) return false;
            const d = text.charCodeAt(q);
            if (d === QUOTE) break;
            if (d === BSLASH) {
              const e = text.charCodeAt(q + 1);
              if (q + 1 >= end || (e !== BSLASH && e !== QUOTE && e !== 110) /* n */) return false;
              q += 2;
            } else {
              q++;
            }
          }
        }
        if (r.length < 4 * n + 4) {
          const grown = new Int32Array(r.length * 2);
          grown.set(r);
          ranges = r = grown;
        }
        const o = 4 * n;
        r[o] = ns;
        r[o + 1] = ne;
        r[o + 2] = vs;
        r[o + 3] = q;
        n++;
        j = q + 1;
        c = text.charCodeAt(j);
        if (c === COMMA) {
          j++;
          continue;
        }
        if (c !== RBRACE) return false;
        close = j;
        i = j + 1;
        break;
      }
      if (i >= end) return false;
      c = text.charCodeAt(i);
    }
    if (c !== SP) return false;
    exact &&= n === pattern!.length;
    const seriesEnd = close >= 0 ? close + 1 : i;

    // Value, then an optional timestamp, each after exactly one space.
    const vs = i + 1;
    let ve = vs;
    while (ve < end && (c = text.charCodeAt(ve)) !== SP) {
      if (c === TAB) return false;
      ve++;
    }
    if (ve === vs || floatSyntax(text, vs, ve) === 0) return false;
    let timestamp: string | undefined;
    if (ve < end) {
      const ts = ve + 1;
      const len = end - ts;
      if (len === 0) return false; // trailing blank
      const pt = this.prevTimestamp;
      let same = len === pt.length;
      for (let t = 0; same && t < len; t++) same = text.charCodeAt(ts + t) === pt.charCodeAt(t);
      if (same) {
        timestamp = pt;
      } else {
        timestamp = text.slice(ts, end);
        if (!isValidTimestamp(timestamp)) return false; // also a blank in it: not canonical
        this.prevTimestamp = timestamp;
      }
    }

    // le/quantile rules (any violation: sample() reports it).
    const role = st.role;
    let special = -1; // index of the `le`/`quantile` label compared numerically
    if (role !== Role.Plain) {
      if (role === Role.HistBare) return false;
      const want = role === Role.HistBucket || role === Role.HistSumCount ? 'le' : 'quantile';
      const r = ranges;
      let found = -1;
      for (let t = 0; t < n; t++) {
        const o = 4 * t;
        if (rangeIs(text, r[o]!, r[o + 1]!, want)) found = t;
      }
      if (role === Role.HistSumCount || role === Role.SummarySumCount) {
        if (found >= 0) return false;
      } else {
        if (found < 0 || floatSyntax(text, r[4 * found + 2]!, r[4 * found + 3]!) === 0) return false;
        special = found;
      }
    }

    // Duplicate-series key, the same as sample() computes (see NameState):
    // the line's label text itself when its labels are in the key's order and
    // no le/quantile value needs normalizing.
    let key = '';
    let mask = 0;
    if (n > 0) {
      // The label names are distinct when they are the pattern's.
      let order: number[] | undefined; // undefined: the line's order
      if (exact) {
        mask = st.patternMask;
      } else {
        for (let t = 0; t < n; t++) mask |= labelBit(text, r0(ranges, t), r1(ranges, t));
        let sorted = true;
        for (let t = 1; t < n && sorted; t++) sorted = compareRanges(text, r0(ranges, t - 1), r1(ranges, t - 1), r0(ranges, t), r1(ranges, t)) < 0;
        if (!sorted && !this.distinctLabelNames(n)) return false; // (also when two sorted names are equal)
        if (pattern === undefined) {
          setPattern(st, n <= PATTERN_MAX ? this.rangeNames(n) : null);
        } else if (pattern !== null && n === pattern.length && (order = this.patternOrder(pattern, n)) !== undefined) {
          // Same label set as the pattern in another order: the pattern's order.
        } else if (!sorted) {
          order = this.sortedOrder(n);
        }
      }
      key =
        order === undefined && (special < 0 || this.normalFloat(special))
          ? text.slice(start + name.length + 1, close)
          : this.rangeKey(n, order, special);
    }
    if (!addKey(st, key)) {
      this.duplicate(start, seriesEnd);
      return true;
    }
    if (++this.series > this.maxSeries) {
      throw new LimitError(`line ${this.line}: more than ${this.maxSeries} series in one payload (maxSeries limit)`);
    }
    st.family.samples.push(new TextSample(name, undefined, timestamp, undefined, text, start, close, end, mask));
    this.fastBackoff = 0;
    return true;
  }

  /** No two of the first n label names (fast-path ranges) are equal; false also when n is large. */
  private distinctLabelNames(n: number): boolean {
    if (n > FAST_UNSORTED_MAX) return false;
    const r = ranges;
    const text = this.text;
    for (let a = 1; a < n; a++) {
      for (let b = 0; b < a; b++) {
        if (compareRanges(text, r0(r, a), r1(r, a), r0(r, b), r1(r, b)) === 0) return false;
      }
    }
    return true;
  }

  /** For each name of `names`, the index of the fast-path label of that name; undefined if one is missing. */
  private patternOrder(names: readonly string[], n: number): number[] | undefined {
    const r = ranges;
    const order: number[] = [];
    for (let k = 0; k < names.length; k++) {
      let t = 0;
      while (t < n && !rangeIs(this.text, r0(r, t), r1(r, t), names[k]!)) t++;
      if (t === n) return undefined;
      order.push(t);
    }
    return order;
  }

  /** Label indexes 0..n-1 ordered by label name (the names are distinct). */
  private sortedOrder(n: number): number[] {
    const text = this.text;
    const r = ranges;
    const order: number[] = [];
    for (let a = 0; a < n; a++) {
      let b = a - 1;
      while (b >= 0 && compareRanges(text, r0(r, order[b]!), r1(r, order[b]!), r0(r, a), r1(r, a)) > 0) {
        order[b + 1] = order[b]!;
        b--;
      }
      order[b + 1] = a;
    }
    return order;
  }

  private rangeNames(n: number): string[] {
    const out: string[] = [];
    for (let k = 0; k < n; k++) out.push(this.text.slice(r0(ranges, k), r1(ranges, k)));
    return out;
  }

  /** The value of fast-path label k is already in floatKey form. */
  private normalFloat(k: number): boolean {
    const r = ranges;
    const vs = r[4 * k + 2]!;
    const ve = r[4 * k + 3]!;
    if (plainNormalDecimal(this.text, vs, ve)) return true;
    const v = this.text.slice(vs, ve);
    return floatKey(v) === v;
  }

  /** The duplicate-series key from fast-path ranges in the given order (undefined: the line's). */
  private rangeKey(n: number, order: number[] | undefined, special: number): string {
    const text = this.text;
    const r = ranges;
    let key = '';
    for (let t = 0; t < n; t++) {
      const k = order === undefined ? t : order[t]!;
      const o = 4 * k;
      const v = text.slice(r[o + 2]!, r[o + 3]!);
      key += (t === 0 ? '' : ',') + text.slice(r[o]!, r[o + 1]!) + '="' + (k === special ? floatKey(v) : v) + '"';
    }
    return key;
  }

  // --- sample lines: the general path ----------------------------------------

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
    if (floatSyntax(value, 0, value.length) === 0) this.fail(`expected float as value, got ${quote(value)}`);

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
    const st = this.resolve(name);
    const special = this.checkRole(st.role, name, labels, start, seriesEnd);
    const key = this.labelsKey(st, name, labels, special, start, seriesEnd);
    if (!addKey(st, key)) return this.duplicate(start, seriesEnd);
    if (++this.series > this.maxSeries) {
      throw new LimitError(`line ${this.line}: more than ${this.maxSeries} series in one payload (maxSeries limit)`);
    }
    st.family.samples.push(new TextSample(name, value, timestamp, labels));
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
   * Validates histogram/summary label rules; returns the name of the label
   * whose value is compared as a number (`le`/`quantile`), or ''.
   */
  private checkRole(role: Role, name: string, labels: Label[], start: number, seriesEnd: number): string {
    const n = labels.length;
    if (n === 0) {
      if (role === Role.HistBare) this.failBare(start, seriesEnd);
      if (role === Role.HistBucket) this.fail(`missing "le" label on histogram bucket ${quote(name)}`);
      if (role === Role.SummaryQuantile) this.fail(`missing "quantile" label on summary sample ${quote(name)}`);
      return '';
    }
    if (role === Role.Plain) return '';
    if (role === Role.HistBare) this.failBare(start, seriesEnd);
    const want = role === Role.HistBucket || role === Role.HistSumCount ? 'le' : 'quantile';
    let found: Label | undefined;
    for (let k = 0; k < n; k++) if (labels[k]!.name === want) found = labels[k];
    if (role === Role.HistSumCount || role === Role.SummarySumCount) {
      if (found !== undefined) this.fail(`label ${quote(want)} is not allowed on ${quote(name)}`);
      return '';
    }
    if (found === undefined) {
      this.fail(`missing ${quote(want)} label on ${role === Role.HistBucket ? 'histogram bucket' : 'summary sample'} ${quote(name)}`);
    }
    if (floatSyntax(found.value, 0, found.value.length) === 0) this.fail(`expected float as value of label ${quote(want)}, got ${quote(found.value)}`);
    return want;
  }

  /**
   * The duplicate-series key of a general-path sample (see NameState). When
   * the line's label text already is the key (labels in the key's order, no
   * blanks, no trailing comma, no value to normalize), it is a slice of the
   * payload and no string is built. The line's `name{...}` text is
   * text[start..seriesEnd).
   */
  private labelsKey(st: NameState, name: string, labels: Label[], special: string, start: number, seriesEnd: number): string {
    // A label with an empty value is no label to Prometheus: `m{a=""}` is `m`.
    if (labels.some((l) => l.value === '')) labels = labels.filter((l) => l.value !== '');
    const n = labels.length;
    if (n === 0) return '';
    const pattern = st.pattern;
    let arranged = labels;
    if (pattern === undefined) {
      setPattern(st, n <= PATTERN_MAX ? labels.map((l) => l.name) : null);
    } else if (pattern === null || n !== pattern.length || !labels.every((l, k) => l.name === pattern[k])) {
      arranged = (pattern !== null && n === pattern.length && byPattern(labels, pattern)) || sortedByName(labels);
    }
    let len = name.length + n + 1; // braces and commas
    for (let k = 0; k < n; k++) len += labels[k]!.name.length + labels[k]!.value.length + 3; // ="..."
    if (arranged === labels && special === '' && seriesEnd - start === len) return this.text.slice(start + name.length + 1, seriesEnd - 1);
    let key = '';
    for (let k = 0; k < n; k++) {
      const l = arranged[k]!;
      key += (k === 0 ? '' : ',') + l.name + '="' + (l.name === special ? floatKey(l.value) : l.value) + '"';
    }
    return key;
  }

  private failBare(start: number, seriesEnd: number): never {
    this.fail(`histogram sample without _bucket/_sum/_count suffix: ${quote(this.text.slice(start, seriesEnd))}`);
  }
}

/** The labels sorted by name: `labels` itself when already sorted, else a copy. */
function sortedByName(labels: Label[]): Label[] {
  for (let k = 1; k < labels.length; k++) if (labels[k - 1]!.name > labels[k]!.name) return sortByName(labels);
  return labels;
}

/** The labels in the order of `names` (same length), or undefined when their names are another set. */
function byPattern(labels: Label[], names: readonly string[]): Label[] | undefined {
  const out: Label[] = [];
  for (const want of names) {
    const l = labels.find((x) => x.name === want);
    if (l === undefined) return undefined;
    out.push(l);
  }
  return out;
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

/** Start and end of the name of fast-path label k. */
function r0(r: Int32Array, k: number): number {
  return r[4 * k]!;
}
function r1(r: Int32Array, k: number): number {
  return r[4 * k + 1]!;
}

/** When text at `at` is `name` followed by "=", the offset of that "="; else -1. */
function nameAt(text: string, at: number, name: string): number {
  const n = name.length;
  for (let k = 0; k < n; k++) if (text.charCodeAt(at + k) !== name.charCodeAt(k)) return -1;
  return text.charCodeAt(at + n) === EQ ? at + n : -1;
}

/** text[start..end) equals s. */
function rangeIs(text: string, start: number, end: number, s: string): boolean {
  const n = end - start;
  if (n !== s.length) return false;
  for (let k = 0; k < n; k++) if (text.charCodeAt(start + k) !== s.charCodeAt(k)) return false;
  return true;
}

/** Compares text[a0..a1) with text[b0..b1) as JS compares strings: <0, 0 or >0. */
function compareRanges(text: string, a0: number, a1: number, b0: number, b1: number): number {
  const la = a1 - a0;
  const lb = b1 - b0;
  const m = la < lb ? la : lb;
  for (let k = 0; k < m; k++) {
    const d = text.charCodeAt(a0 + k) - text.charCodeAt(b0 + k);
    if (d !== 0) return d;
  }
  return la - lb;
}

function roleOf(f: Family, name: string): Role {
  if (f.type === 'histogram') {
    const d = name.length - f.name.length;
    return d === 0 ? Role.HistBare : d === 7 ? Role.HistBucket : Role.HistSumCount;
  }
  if (f.type === 'summary') return name.length === f.name.length ? Role.SummaryQuantile : Role.SummarySumCount;
  return Role.Plain;
}
