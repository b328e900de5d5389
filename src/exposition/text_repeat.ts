// A text payload that repeats what its app already holds, read without a parse.
//
// Client libraries push the same families, with the same HELP and TYPE lines
// and the same series, every time; only the values (and timestamps) change.
// Such a payload is compared line by line with the lines the store holds for
// the app, and kept as sent (LinesAsSent) without building a sample object,
// a duplicate key or a family for any of it.
//
// The contract: when repeatAsSent returns lines, parsing the payload and
// rendering it (prepareEntry) would have given the same families and the
// same bytes. Blank lines are skipped where the parser skips them, and a
// family with a HELP or TYPE line and no samples where the parse would drop
// it with nothing else changed (see headerOnly). It returns undefined, and
// the caller parses, for anything else: a new, missing or reordered family
// or series, another header, a comment, a value or timestamp the canonical
// form does not allow, a payload that is not ASCII, added labels that
// differ.
//
// Why equal lines are enough. A held line is `P` + `E` + `} v[ t]` (or
// `name` + `{E'}` + ` v[ t]` without labels), where E is the added labels
// (the store's, spliced in) and P the series as the payload wrote it. Every
// held line is canonical text and a valid series of a valid family, and no
// two are the same series (the store holds nothing else). A new line
// `P} v2[ t2]` with a valid value and timestamp is then a valid sample of the
// same series, which the store renders as `P` + `E` + `} v2[ t2]`; being
// distinct, the new series are no duplicates; the headers, the same as held
// and in the same places, put every sample in the same family with the same
// type. (le and quantile among the added labels would change which samples
// are valid: such labels are never compared here.)

import { METRIC_TYPES, claimants, claimedNames, type Family, type Label, type MetricType } from './model.js';
import { helpProblem, isValidFloatAt, isValidMetricName, isValidTimestampAt } from './text_parse.js';
import { LinesAsSentBuilder, type AddedLabels, type LinesAsSent } from './text_render.js';

/** One family as the store holds it for an app (the store's chunk), as far as a repeat is compared with it. */
export interface HeldFamily {
  readonly type: MetricType;
  /** Whether the payload had a TYPE line for it. */
  readonly declared: boolean;
  /** Escaped HELP text, when the payload had a HELP line. */
  readonly help?: string;
  readonly series: number;
  /** Its rendered lines, data[start, start + bytes), each ending in a newline; unused while `asSent`. */
  readonly data: Uint8Array;
  readonly start: number;
  readonly bytes: number;
  /** Or its lines firstLine.. (`series` of them) of a push kept as sent. */
  readonly asSent: LinesAsSent | undefined;
  readonly firstLine: number;
}

const NL = 10;
const HASH = 35;
const CR = 13;
const SP = 32;
const TAB = 9;
const QUOTE = 34;
const COMMA = 44;
const LBRACE = 123;
const RBRACE = 125;

/**
 * `text` as the first `count` held families repeated (see the file's
 * comment), then `tail`'s samples (families the caller adds to every
 * update, such as the Pushgateway API's push time), each rendered whole:
 * the lines and each family's rendered size, as renderSamplesAsSent gives
 * them. Undefined when the text is not such a repeat.
 */
export function repeatAsSent(text: string, held: ReadonlyMap<string, HeldFamily>, count: number, added: AddedLabels, tail: readonly Family[]): { asSent: LinesAsSent; sizes: number[] } | undefined {
  if (hasNumericLabel(added.extraLabels) || hasNumericLabel(added.defaults)) return undefined;
  if (Buffer.byteLength(text) !== text.length) return undefined; // LinesAsSent holds ASCII payloads only
  const reader = new RepeatReader(text, added, held);
  const sizes: number[] = [];
  let i = 0;
  for (const [name, family] of held) {
    if (i === count) break;
    const size = reader.family(name, family);
    if (size < 0) return undefined;
    sizes.push(size);
    i++;
  }
  if (i < count || !reader.headersOnly('')) return undefined;
  if (reader.pos < text.length) return undefined;
  for (const f of tail) {
    let size = 0;
    for (const s of f.samples) size += reader.out.whole(added.renderLine(s));
    sizes.push(size);
  }
  return { asSent: reader.out.finish(), sizes };
}

class RepeatReader {
  /** Start of the next line of the text not compared yet. */
  pos = 0;
  readonly out: LinesAsSentBuilder;
  /** The added labels' comma form as UTF-8, as held lines have them. */
  private readonly comma: Uint8Array;
  /** The last LinesAsSent whose added labels were found equal to these. */
  private sameAdded: LinesAsSent | undefined;

  /** Families of the text with a header and no samples, by name: their declared type, if any. */
  private headerOnlyTypes: Map<string, string | undefined> | undefined;

  constructor(
    private readonly text: string,
    added: AddedLabels,
    private readonly held: ReadonlyMap<string, HeldFamily>,
  ) {
    this.out = new LinesAsSentBuilder(text, added);
    this.comma = Buffer.from(added.comma, 'utf8');
  }

  /** Compare the family's header and lines; its rendered size, or -1 where the text differs. */
  family(name: string, f: HeldFamily): number {
    if (!this.headersOnly(name)) return -1;
    if (f.help !== undefined && !this.header('# HELP ', name, f.help)) return -1;
    if (f.declared && !this.header('# TYPE ', name, f.type)) return -1;
    const a = f.asSent;
    if (a !== undefined && a !== this.sameAdded) {
      if (a.commaLength !== this.comma.length || !rangeEquals(a.bytes, a.commaAt, this.comma, 0, a.commaLength)) return -1;
      this.sameAdded = a;
    }
    let size = 0;
    let at = f.start; // the next held line, when rendered
    const end = f.start + f.bytes;
    for (let n = 0; n < f.series; n++) {
      let line: number;
      if (a !== undefined) {
        const k = 3 * (f.firstLine + n);
        const splice = a.lines[k + 1]!;
        // A line held as sent is the payload's own text, the added labels not in it yet.
        line = splice >= 0 ? this.sample(a.bytes, a.lines[k]!, splice - a.lines[k]!, a.bytes[splice] === RBRACE) : this.heldLine(a.bytes, a.lines[k]!, a.lines[k + 2]!);
      } else {
        const nl = f.data.indexOf(NL, at);
        if (nl < 0 || nl >= end) return -1;
        line = this.heldLine(f.data, at, nl);
        at = nl + 1;
      }
      if (line < 0) return -1;
      size += line;
    }
    return size;
  }

  /**
   * Skips the families at pos that have a HELP or TYPE line and no samples
   * (client libraries write them for a labelled metric with no series yet),
   * up to a header of `name` or the first sample line, as the store drops
   * such families. False when one of them could change what the parse
   * decides for the others, or is not valid (see headerOnly).
   */
  headersOnly(name: string): boolean {
    const text = this.text;
    for (this.skipBlankLines(); text.charCodeAt(this.pos) === HASH && !this.isHeaderOf(name); this.skipBlankLines()) if (!this.headerOnly()) return false;
    return true;
  }

  /** Moves pos past blank lines (blanks only, a trailing carriage return), which the parser skips; prom-client ends each family with one. */
  private skipBlankLines(): void {
    const text = this.text;
    for (;;) {
      let q = this.pos;
      let c;
      while ((c = text.charCodeAt(q)) === SP || c === TAB) q++;
      if (c === CR) c = text.charCodeAt(++q);
      if (c === NL) this.pos = q + 1;
      else {
        if (q >= text.length) this.pos = text.length;
        return;
      }
    }
  }

  /** A HELP or TYPE line of `name` at pos ('' matches none). */
  private isHeaderOf(name: string): boolean {
    const text = this.text;
    const p = this.pos;
    return name !== '' && (text.startsWith('# HELP ', p) || text.startsWith('# TYPE ', p)) && text.startsWith(name, p + 7) && text.charCodeAt(p + 7 + name.length) === SP;
  }

  /**
   * One family without samples at pos: `# HELP n help`, `# TYPE n type` or
   * both in that order. Taken when the parse would take it and drop it
   * with nothing else changed: a valid name, help and type; a name no other
   * family of the text has; no held family among the names a histogram or
   * summary `n` claims for its samples, and `n` not among those of a held
   * (or earlier header-only) histogram or summary.
   */
  private headerOnly(): boolean {
    const text = this.text;
    let p = this.pos;
    let name: string | undefined;
    let type: string | undefined;
    for (const kw of ['# HELP ', '# TYPE ']) {
      if (!text.startsWith(kw, p)) continue;
      const ns = p + kw.length;
      let ne = ns;
      while (ne < text.length && !isBlankOrEnd(text.charCodeAt(ne))) ne++;
      if (text.charCodeAt(ne) !== SP) return false;
      const n = text.slice(ns, ne);
      if (name !== undefined && n !== name) break; // the next family's
      let nl = text.indexOf('\n', ne);
      if (nl < 0) nl = text.length;
      const rest = text.slice(ne + 1, nl > ne && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl);
      if (kw === '# HELP ' ? helpProblem(rest) !== undefined : !METRIC_TYPES.has(rest)) return false;
      if (kw === '# TYPE ') type = rest;
      name = n;
      p = nl + 1;
    }
    if (name === undefined || !isValidMetricName(name) || this.held.has(name) || this.headerOnlyTypes?.has(name)) return false;
    for (const claimed of claimedNames(name, type ?? '')) if (this.held.has(claimed) || this.headerOnlyTypes?.has(claimed)) return false;
    for (const { base, type } of claimants(name)) if (this.held.get(base)?.type === type || this.headerOnlyTypes?.get(base) === type) return false;
    (this.headerOnlyTypes ??= new Map()).set(name, type);
    this.pos = p;
    return true;
  }

  /** `kw` `name` ` ` `rest`, then the line's end, at pos; moves pos past it. */
  private header(kw: string, name: string, rest: string): boolean {
    const text = this.text;
    this.skipBlankLines();
    let p = this.pos;
    if (!text.startsWith(kw, p) || !text.startsWith(name, (p += kw.length)) || text.charCodeAt((p += name.length)) !== SP || !text.startsWith(rest, ++p)) return false;
    p += rest.length;
    if (text.charCodeAt(p) === CR) p++;
    if (text.charCodeAt(p) !== NL) return false;
    this.pos = p + 1;
    return true;
  }

  /**
   * A held line rendered with the added labels, src[ls, le): the text's
   * next line must be it without them. Its rendered size, or -1.
   */
  private heldLine(src: Uint8Array, ls: number, le: number): number {
    const q = seriesEnd(src, ls, le);
    if (q < 0) return -1;
    const e = this.comma;
    const n = e.length;
    if (n === 0) return this.sample(src, ls, q - ls, src[q] === RBRACE);
    // `P` + `,E` + `}`, or `name` + `{E` + `}`: the added labels end at the series' `}`.
    const at = q - n;
    if (src[q] !== RBRACE || at <= ls || !rangeEquals(src, at + 1, e, 1, n - 1)) return -1;
    const first = src[at];
    if (first !== COMMA && first !== LBRACE) return -1;
    return this.sample(src, ls, at - ls, first === COMMA);
  }

  /**
   * The text's next line is src[ps, ps + plen) (name, and labels without
   * the `}` when `labeled`), then `} ` or ` `, a valid value and an
   * optional valid timestamp, in the canonical form the parser's fast path
   * takes. Records it and returns its rendered size, or -1.
   */
  private sample(src: Uint8Array, ps: number, plen: number, labeled: boolean): number {
    const text = this.text;
    this.skipBlankLines();
    const pos = this.pos;
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = text.length;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === CR) end--;
    const splice = pos + plen;
    const vs = splice + (labeled ? 2 : 1);
    if (vs >= end) return -1;
    for (let j = 0; j < plen; j++) if (text.charCodeAt(pos + j) !== src[ps + j]) return -1;
    // Labels end with a value's closing quote (a held line never has `{}`, a trailing comma or a blank in its braces).
    if (labeled ? text.charCodeAt(splice) !== RBRACE || text.charCodeAt(splice + 1) !== SP || src[ps + plen - 1] !== QUOTE : text.charCodeAt(splice) !== SP) return -1;
    let ve = vs;
    for (let c; ve < end && (c = text.charCodeAt(ve)) !== SP; ve++) if (c === TAB) return -1;
    if (!isValidFloatAt(text, vs, ve)) return -1;
    if (ve < end && !isValidTimestampAt(text, ve + 1, end)) return -1;
    this.pos = nl + 1;
    return this.out.spliced(pos, splice, end, labeled);
  }
}

function isBlankOrEnd(c: number): boolean {
  return c === SP || c === TAB || c === NL || c === CR;
}

/**
 * In a held line src[ls, le) (`series value[ timestamp]`, single spaces,
 * neither value nor timestamp with a space in it): the series' last
 * character, its `}`, or the space after a name without labels. -1 if the
 * line is not of that form.
 */
function seriesEnd(src: Uint8Array, ls: number, le: number): number {
  let k = le;
  while (k > ls && src[k - 1] !== SP) k--;
  if (k < ls + 2) return -1;
  if (src[k - 2] === RBRACE) return k - 2; // `} value`
  // `name value`, or a timestamp after the value
  let j = k - 1;
  while (j > ls && src[j - 1] !== SP) j--;
  if (j === ls) return k - 1;
  if (j < ls + 2) return -1;
  return src[j - 2] === RBRACE ? j - 2 : j - 1;
}

function hasNumericLabel(labels: readonly Label[]): boolean {
  for (const l of labels) if (l.name === 'le' || l.name === 'quantile') return true;
  return false;
}

/** a[ai, ai + n) equals b[bi, bi + n). */
function rangeEquals(a: Uint8Array, ai: number, b: Uint8Array, bi: number, n: number): boolean {
  for (let j = 0; j < n; j++) if (a[ai + j] !== b[bi + j]) return false;
  return true;
}
