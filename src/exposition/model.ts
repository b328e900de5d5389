// The family model every source produces and the store renders from.
// Label values and HELP text are kept *escaped* exactly as the text format
// writes them (`\\`, `\"`, `\n` in label values; `\\`, `\n` in HELP), because
// the text format's escapes are canonical: keeping them avoids unescaping on
// ingest and re-escaping on every render, and makes the escaped form a valid
// identity for duplicate detection.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** Every MetricType, as a TYPE line writes it. */
export const METRIC_TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** The sample names a histogram or summary family claims, as suffixes of its name (other types claim none). */
const TYPE_SUFFIXES: Readonly<Record<string, readonly string[]>> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] };

/** The names other than its own that a family `name` of `type` claims for its samples (none but for a histogram or summary). */
export function claimedNames(name: string, type: string): string[] {
  return (TYPE_SUFFIXES[type] ?? []).map((suffix) => name + suffix);
}

/** Each histogram or summary family that would claim `name` for its samples: its name and type. */
export function claimants(name: string): { base: string; type: MetricType }[] {
  const out: { base: string; type: MetricType }[] = [];
  for (const [type, suffixes] of Object.entries(TYPE_SUFFIXES)) {
    for (const suffix of suffixes) if (name.endsWith(suffix)) out.push({ base: name.slice(0, -suffix.length), type: type as MetricType });
  }
  return out;
}

export interface Label {
  name: string;
  /** Escaped as in the text format, without the surrounding quotes. */
  value: string;
}

/**
 * One sample. Sources may build plain objects; the text parser returns
 * TextSample instances (below). Consumers treat samples as read-only, except
 * that `labels` may be replaced by assigning a new array (never mutate the
 * array or its Label objects in place).
 */
export interface Sample {
  /** Full sample name, including a histogram/summary suffix (`_bucket`, `_sum`, `_count`). */
  readonly name: string;
  labels: readonly Label[];
  /** The value as written (validated as a Go ParseFloat-compatible float). */
  readonly value: string;
  /** Integer milliseconds as written, kept as sent; undefined when absent. */
  readonly timestamp?: string;
}

export interface Family {
  name: string;
  type: MetricType;
  /** True when the payload had a `# TYPE` line for this family. */
  typeDeclared: boolean;
  /** Escaped HELP text; undefined when the payload had no `# HELP` line. */
  help?: string;
  samples: Sample[];
}

export interface ParsedPayload {
  /** Families in order of first appearance; never two with the same name. */
  families: Family[];
  /** Total number of samples over all families. */
  series: number;
  /** Only with ParseOptions.keepFirstDuplicate, when some series were left out. */
  dropped?: DroppedSeries;
}

/**
 * Series left out as copies of one seen before (ParseOptions.keepFirstDuplicate;
 * the outputs reading a store in which two apps without app_label hold the
 * same series): how many, and the first of them as written.
 */
export interface DroppedSeries {
  series: number;
  first?: string;
}

/** A Sample as a plain object, `timestamp` present only when defined (as the parsers and JSON give it). */
export function plainSample(name: string, labels: readonly Label[], value: string, timestamp: string | undefined): Sample {
  return timestamp === undefined ? { name, labels, value } : { name, labels, value, timestamp };
}

/**
 * A sample as the text parser produces it. Most lines arrive in canonical form
 * (`name{a="x",b="y"} value[ timestamp]`: single spaces, no blanks inside the
 * braces, no trailing comma, no `{}`), which is exactly what the renderer
 * writes for them. For such a line the sample keeps a reference to the
 * payload and the line's offsets instead of Label objects: `labels` is parsed
 * from the line on first access, and the renderer copies the line itself.
 *
 * `name` and `timestamp` are own data properties; `labels` and `value` are
 * accessors on the prototype (the value, too, is read from the line when
 * first asked), so a copy reads them through the Sample interface: `{ ...s }`
 * would miss both. Assigning `labels` drops the link to the line, so the
 * renderer then builds the line from the labels. The payload text is held
 * in a private field, invisible to spread, JSON.stringify (toJSON gives the
 * Sample fields) and assert's key comparison; assert.deepStrictEqual still
 * sees the class, so tests compare plain copies (test/exposition/plain.ts).
 */
export class TextSample implements Sample {
  readonly name: string;
  /** Given, or (a canonical line) taken from the line when first asked: ingest never asks, so a push allocates no string per value. */
  #value: string | undefined;
  readonly timestamp: string | undefined;
  #labels: readonly Label[] | undefined;
  /** The payload while the line is canonical and `labels` was not replaced. */
  #text: string | undefined;
  /** Line offsets in #text: first char, the closing brace (-1 without labels), end (exclusive, no newline). */
  #start: number;
  #close: number;
  #end: number;
  /** labelBit() of every label name, OR-ed (a superset test for "has a label named x"). */
  #mask: number;

  /**
   * With `labels`: a sample whose labels are already materialized (a
   * non-canonical line). With `text` instead: the canonical line
   * text[start..end) (the parser validated it), labels and value (when
   * `value` is undefined) read from it on demand.
   */
  constructor(name: string, value: string | undefined, timestamp: string | undefined, labels: readonly Label[] | undefined, text?: string, start = 0, close = -1, end = 0, mask = 0) {
    this.name = name;
    this.#value = value;
    this.timestamp = timestamp;
    this.#labels = labels ?? (text === undefined ? [] : undefined);
    this.#text = text;
    this.#start = start;
    this.#close = close;
    this.#end = end;
    this.#mask = mask;
  }

  get labels(): readonly Label[] {
    return (this.#labels ??= parseCanonicalLabels(this.#text!, this.#start + this.name.length + 1, this.#close));
  }

  set labels(labels: readonly Label[]) {
    this.#value = this.value; // (read from the line while there is one)
    this.#labels = labels;
    this.#text = undefined;
  }

  /**
   * In a canonical line exactly one space follows the series (name and
   * labels), and one precedes a timestamp: the value lies between.
   */
  get value(): string {
    if (this.#value === undefined) {
      const from = (this.#close >= 0 ? this.#close + 1 : this.#start + this.name.length) + 1;
      const to = this.timestamp === undefined ? this.#end : this.#end - this.timestamp.length - 1;
      this.#value = this.#text!.slice(from, to);
    }
    return this.#value;
  }

  /** JSON.stringify gives the Sample fields, as for a plain object. */
  toJSON(): Sample {
    return plainSample(this.name, this.labels, this.value, this.timestamp);
  }

  /** The payload holding the sample's canonical line, or undefined (not a TextSample, not canonical, or labels replaced). */
  static lineText(s: Sample): string | undefined {
    return s instanceof TextSample ? s.#text : undefined;
  }
  /** Offset of the line's first character (only after lineText returned a string). */
  static lineStart(s: Sample): number {
    return (s as TextSample).#start;
  }
  /** Offset of the line's `}`, or -1 when it has no labels. */
  static lineClose(s: Sample): number {
    return (s as TextSample).#close;
  }
  /** Offset just past the line's last character (a "\n" or the end of the payload follows). */
  static lineEnd(s: Sample): number {
    return (s as TextSample).#end;
  }
  static labelMask(s: Sample): number {
    return (s as TextSample).#mask;
  }

  /**
   * False when `s` surely has no label whose name is in `mask` (see
   * labelNamesMask): a TextSample whose labels were not replaced, tested
   * without parsing them. True means "maybe": look at `s.labels`.
   */
  static mayHaveLabelIn(s: Sample, mask: number): boolean {
    return !(s instanceof TextSample) || s.#text === undefined || (s.#mask & mask) !== 0;
  }
}

/**
 * Whether some sample has a label named in `names`; `mask` is their
 * labelNamesMask, which rules most samples out without parsing their labels.
 */
export function someSampleHasLabelIn(samples: readonly Sample[], mask: number, names: ReadonlySet<string>): boolean {
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (!TextSample.mayHaveLabelIn(s, mask)) continue;
    const labels = s.labels;
    for (let k = 0; k < labels.length; k++) if (names.has(labels[k]!.name)) return true;
  }
  return false;
}

/** The label mask of these label names, for TextSample.mayHaveLabelIn. */
export function labelNamesMask(names: Iterable<{ readonly name: string }>): number {
  let mask = 0;
  for (const { name } of names) mask |= labelBit(name, 0, name.length);
  return mask;
}

/** One of 32 bits for a label name (text[start..end)), for TextSample's label mask. */
export function labelBit(text: string, start: number, end: number): number {
  return 1 << ((text.charCodeAt(start) * 7 + text.charCodeAt(end - 1) * 3 + end - start) & 31);
}

/** Labels of a canonical, already validated line: `a="x",b="y"` between `{` (exclusive, at start-1) and `}` at close. */
function parseCanonicalLabels(text: string, start: number, close: number): Label[] {
  const out: Label[] = [];
  let i = start;
  while (i < close) {
    const eq = text.indexOf('=', i);
    const vs = eq + 2;
    let j = vs;
    for (;;) {
      const c = text.charCodeAt(j);
      if (c === 34 /* " */) break;
      j += c === 92 /* \ */ ? 2 : 1;
    }
    out.push({ name: text.slice(i, eq), value: text.slice(vs, j) });
    i = j + 2; // past `",`
  }
  return out;
}
