// Renderer for the Prometheus text exposition format 0.0.4.
//
// Inputs are the model as text_parse.ts produces it: names already valid,
// label values and HELP already escaped, values and timestamps as written.
// Nothing is re-validated or re-escaped here; output is canonical (single
// spaces, no whitespace inside braces, no trailing comma, no `{}`).
//
// A TextSample still linked to its canonical line (model.ts) renders as that
// line: without extra labels, consecutive such lines of one payload are copied
// as one slice; with extra labels, the extras are spliced in before the `}`
// unless a label of the line may be overridden (then the labels are parsed).
// The result is never a bare slice of the payload: without extra labels it is
// a fresh flat string, with them a concatenation, which flattening (the
// store's Buffer.byteLength does) turns into one; either way nothing keeps
// the payload alive.

import { TextSample, labelNamesMask } from './model.js';
import type { Family, Label, MetricType, Sample } from './model.js';

/** `# HELP name help\n` (only when help is defined) and always `# TYPE name type\n`. */
export function renderHeader(name: string, type: MetricType, help?: string): string {
  const typeLine = '# TYPE ' + name + ' ' + type + '\n';
  return help === undefined ? typeLine : '# HELP ' + name + ' ' + help + '\n' + typeLine;
}

/**
 * The sample lines of one family, each ending in "\n". `extraLabels` (escaped
 * values) replace a sample label of the same name and are appended after the
 * sample's remaining labels, in the order given. `defaultLabels` are added,
 * before the extras, to samples that have no label of that name (a default
 * that is also an extra label is the extra).
 */
export function renderSamples(family: Family, extraLabels: readonly Label[], defaultLabels: readonly Label[] = []): string {
  if (extraLabels.length === 0 && defaultLabels.length === 0) return renderPlain(family.samples);
  return renderWithExtra(family.samples, new AddedLabels(extraLabels, defaultLabels));
}

const NONE: readonly Label[] = [];

function renderPlain(samples: readonly Sample[]): string {
  // Joined once: the result is a fresh flat string (measured faster here
  // than a rope of slices, which Buffer.byteLength then has to flatten).
  const out: string[] = [];
  // The current run of adjacent canonical lines: runText[runStart..runEnd).
  let runText: string | undefined;
  let runStart = 0;
  let runEnd = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const text = TextSample.lineText(s);
    if (text !== undefined) {
      const start = TextSample.lineStart(s);
      // The next line of the same payload (ints first: === on two distinct equal payloads compares them).
      if (start === runEnd + 1 && text === runText && text.charCodeAt(runEnd) === 10 /* \n */) {
        runEnd = TextSample.lineEnd(s);
        continue;
      }
      if (runText !== undefined) out.push(runText.slice(runStart, runEnd), '\n');
      runText = text;
      runStart = start;
      runEnd = TextSample.lineEnd(s);
      continue;
    }
    if (runText !== undefined) {
      out.push(runText.slice(runStart, runEnd), '\n');
      runText = undefined;
    }
    out.push(renderLine(s, NONE, NONE), '\n');
  }
  if (runText !== undefined) out.push(runText.slice(runStart, runEnd), '\n');
  return out.join('');
}

/** (Appending to a rope measured faster here than joining an array.) */
function renderWithExtra(samples: readonly Sample[], added: AddedLabels): string {
  // The added labels are the same on every line where the line has none of
  // their names: rendered once.
  const extra = added.comma;
  const inner = extra.slice(1);
  let out = '';
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const text = TextSample.lineText(s);
    if (text !== undefined && (TextSample.labelMask(s) & added.mask) === 0) {
      // No label of the line can be one of the added names: splice them in.
      const start = TextSample.lineStart(s);
      const close = TextSample.lineClose(s);
      const end = TextSample.lineEnd(s);
      if (close >= 0) out += text.slice(start, close) + extra + text.slice(close, end) + '\n';
      else out += s.name + '{' + inner + '}' + text.slice(start + s.name.length, end) + '\n';
      continue;
    }
    out += added.renderLine(s) + '\n';
  }
  return out;
}

/** `,name="value"` for each label (values already escaped). */
function labelsText(labels: readonly Label[]): string {
  let out = '';
  for (let k = 0; k < labels.length; k++) out += ',' + labels[k]!.name + '="' + labels[k]!.value + '"';
  return out;
}

/** One sample line, without its newline, from the sample's fields (how a line that cannot be copied or spliced is rendered). */
function renderLine(s: Sample, extraLabels: readonly Label[], defaults: readonly Label[]): string {
  const labels = s.labels;
  let own = '';
  for (let k = 0; k < labels.length; k++) {
    const l = labels[k]!;
    if (!hasLabel(extraLabels, l.name)) own += ',' + l.name + '="' + l.value + '"';
  }
  for (let k = 0; k < defaults.length; k++) {
    const d = defaults[k]!;
    if (!hasLabel(labels, d.name)) own += ',' + d.name + '="' + d.value + '"';
  }
  own += labelsText(extraLabels);
  // Every part starts with ","; drop the first one (no braces when nothing is left).
  const line = own === '' ? s.name + ' ' + s.value : s.name + '{' + own.slice(1) + '} ' + s.value;
  return s.timestamp === undefined ? line : line + ' ' + s.timestamp;
}

function hasLabel(labels: readonly Label[], name: string): boolean {
  for (let k = 0; k < labels.length; k++) if (labels[k]!.name === name) return true;
  return false;
}

/** Header plus samples for each family; families without samples are skipped. */
export function renderFamilies(families: Family[], extraLabels: readonly Label[] = []): string {
  let out = '';
  for (let i = 0; i < families.length; i++) {
    const f = families[i]!;
    if (f.samples.length === 0) continue;
    out += renderHeader(f.name, f.type, f.help) + renderSamples(f, extraLabels);
  }
  return out;
}

/**
 * Sample lines of one payload as it was sent, the added labels not yet
 * spliced in: renderSamples' output, deferred. Rendering a push means
 * building a string per line; the store keeps a push in this form instead,
 * until something reads its text (a scrape, a snapshot), so a group pushed
 * again before that costs no render at all. writeAsSent gives the bytes
 * renderSamples would have.
 */
export interface LinesAsSent {
  /**
   * The payload's bytes (ASCII, so character offsets are byte offsets), then
   * each line that could not be spliced, rendered whole with its newline,
   * then the added labels twice: `,a="x",b="y"` and `{a="x",b="y"}`.
   */
  readonly bytes: Uint8Array;
  /** Per line, in family order: start, splice point (-1: none), end (before its newline) in `bytes`. A view of the same ArrayBuffer as `bytes`, after them. */
  readonly lines: Int32Array;
  /** `,a="x"...` at bytes[commaAt, commaAt + commaLength): spliced in before a line's `}`. */
  readonly commaAt: number;
  readonly commaLength: number;
  /** `{a="x"...}`, one byte longer, right after the comma form: spliced in after the name of a line without labels. */
  readonly bareAt: number;
}

/**
 * renderSamples of each family (each with samples), deferred: the lines as
 * sent and each family's rendered size in bytes. Undefined when there is
 * nothing to gain or it cannot be done: no added labels (the lines are
 * copied as they are), no canonical line, or a payload that is not ASCII.
 */
export function renderSamplesAsSent(families: readonly Family[], extraLabels: readonly Label[], defaultLabels: readonly Label[] = []): { asSent: LinesAsSent; sizes: number[] } | undefined {
  const added = new AddedLabels(extraLabels, defaultLabels);
  if (added.comma === '') return undefined;
  const text = payloadText(families);
  if (text === undefined || Buffer.byteLength(text) !== text.length) return undefined;
  const out = new LinesAsSentBuilder(text, added);
  const sizes: number[] = [];
  for (const f of families) {
    let size = 0;
    for (const s of f.samples) {
      if (TextSample.lineText(s) === text && (TextSample.labelMask(s) & added.mask) === 0) {
        const close = TextSample.lineClose(s);
        const start = TextSample.lineStart(s);
        size += out.spliced(start, close >= 0 ? close : start + s.name.length, TextSample.lineEnd(s), close >= 0);
      } else {
        size += out.whole(added.renderLine(s));
      }
    }
    sizes.push(size);
  }
  return { asSent: out.finish(), sizes };
}

/** The labels a store adds to every line of a payload, rendered once. */
export class AddedLabels {
  /** The defaults that are not also extra labels (an extra label wins). */
  readonly defaults: readonly Label[];
  /** `,d="x",e="y"`: the defaults, then the extras, as spliced in before a line's `}` ('' when none). */
  readonly comma: string;
  /** Its UTF-8 length in bytes. */
  readonly commaLength: number;
  /** labelNamesMask of every added name: a line whose mask shares no bit with it has none of them. */
  readonly mask: number;

  constructor(
    readonly extraLabels: readonly Label[],
    defaultLabels: readonly Label[],
  ) {
    this.defaults = defaultLabels.filter((d) => !hasLabel(extraLabels, d.name));
    this.comma = labelsText(this.defaults) + labelsText(extraLabels);
    this.commaLength = Buffer.byteLength(this.comma);
    this.mask = labelNamesMask(extraLabels) | labelNamesMask(this.defaults);
  }

  /** A sample's line with these labels (without its newline), built from its fields: for a line that cannot be spliced. */
  renderLine(s: Sample): string {
    return renderLine(s, this.extraLabels, this.defaults);
  }
}

/**
 * Builds one LinesAsSent: the lines of an ASCII payload in order, each
 * either spliced (the added labels go in at its splice point) or rendered
 * whole. Each call returns the line's rendered size in bytes, its newline
 * included. One allocation, in finish().
 */
export class LinesAsSentBuilder {
  private lines = lineScratch;
  private k = 0;
  private readonly general: string[] = [];
  /** Where the next line rendered whole goes: after the payload's bytes. */
  private generalAt: number;

  constructor(
    private readonly text: string,
    private readonly added: AddedLabels,
  ) {
    this.generalAt = text.length;
  }

  /**
   * text[start, end), the added labels spliced in at `splice`: its `}`
   * (`labeled`) or the space after its name. (Without added labels the
   * line is copied as it is.)
   */
  spliced(start: number, splice: number, end: number, labeled: boolean): number {
    const n = this.added.commaLength;
    this.record(start, n === 0 ? -1 : splice, end);
    return end - start + 1 + (n === 0 || labeled ? n : n + 1);
  }

  /** A line rendered whole, without its newline. */
  whole(line: string): number {
    const n = Buffer.byteLength(line);
    this.general.push(line);
    this.record(this.generalAt, -1, this.generalAt + n);
    this.generalAt += n + 1;
    return n + 1;
  }

  private record(start: number, splice: number, end: number): void {
    const k = this.k;
    if (k + 3 > this.lines.length) {
      const grown = new Int32Array(2 * this.lines.length);
      grown.set(this.lines);
      this.lines = grown;
      if (grown.length <= LINE_SCRATCH_MAX) lineScratch = grown; // a huge payload's table is not kept
    }
    this.lines[k] = start;
    this.lines[k + 1] = splice;
    this.lines[k + 2] = end;
    this.k = k + 3;
  }

  /** The LinesAsSent of the lines given so far (as many as `count`). */
  finish(): LinesAsSent {
    const { text, added } = this;
    const count = this.k / 3;
    // Off-heap, of its own: never a slice of Buffer's pool, which a stored entry would pin.
    const byteLength = this.generalAt + 2 * added.commaLength + 1;
    const linesAt = Math.ceil(byteLength / 4) * 4;
    const buffer = spareBuffers.take(linesAt + 12 * count);
    const bytes = Buffer.from(buffer, 0, byteLength) as RawBuffer;
    const table = new Int32Array(buffer, linesAt, 3 * count);
    table.set(this.lines.subarray(0, 3 * count));
    bytes.latin1Write(text, 0, text.length);
    let at = text.length;
    for (const line of this.general) {
      at += bytes.utf8Write(line, at);
      bytes[at++] = NL;
    }
    if (added.commaLength > 0) {
      bytes.utf8Write(added.comma, at);
      bytes.utf8Write('{' + added.comma.slice(1) + '}', at + added.commaLength);
    }
    return { bytes, lines: table, commaAt: at, commaLength: added.commaLength, bareAt: at + added.commaLength };
  }
}

/**
 * Write lines [first, first + count) of `a` as renderSamples renders them
 * into `dst` at `at`; returns the offset after them. Bytes of the payload
 * that go out unchanged and in order (from one line's splice point across
 * its newline to the next line's) are copied as one run.
 */
export function writeAsSent(a: LinesAsSent, first: number, count: number, dst: Uint8Array, at: number): number {
  const src = a.bytes;
  const lines = a.lines;
  // src[from, to) is not written yet; `to` is a line's end, its newline not written either.
  let from = -1;
  let to = -1;
  for (let k = 3 * first, last = 3 * (first + count); k < last; k += 3) {
    const start = lines[k]!;
    if (!(from >= 0 && start === to + 1 && src[to] === NL)) {
      if (from >= 0) {
        at = copyBytes(src, from, to, dst, at);
        dst[at++] = NL;
      }
      from = start;
    }
    to = lines[k + 2]!;
    const splice = lines[k + 1]!;
    if (splice < 0) continue;
    at = copyBytes(src, from, splice, dst, at);
    at = src[splice] === RBRACE ? copyBytes(src, a.commaAt, a.commaAt + a.commaLength, dst, at) : copyBytes(src, a.bareAt, a.bareAt + a.commaLength + 1, dst, at);
    from = splice;
  }
  if (from >= 0) {
    at = copyBytes(src, from, to, dst, at);
    dst[at++] = NL;
  }
  return at;
}

/**
 * The buffers of LinesAsSent the store no longer holds (an entry replaced,
 * rendered or removed), for the next ones: a repeated push needs one of
 * about the size its group's last push just gave up. Allocating and
 * freeing an ArrayBuffer costs ~5-6 µs on this VM (glibc's arena lock,
 * contended with V8's ArrayBuffer sweeper thread). A new buffer has room
 * for a little more than asked (values grow by a digit), and a spare one is
 * taken only for a size it fits without more than that room to spare. At
 * most SPARE_COUNT buffers, SPARE_BYTES in all, each under SPARE_ONE.
 */
class SpareBuffers {
  private readonly spare: ArrayBuffer[] = [];
  private bytes = 0;

  /** A buffer of at least `size` bytes, of its own (not a slice of another). */
  take(size: number): ArrayBuffer {
    const spare = this.spare;
    for (let i = spare.length - 1; i >= 0; i--) {
      const b = spare[i]!;
      if (b.byteLength >= size && b.byteLength <= withRoom(size)) {
        spare[i] = spare[spare.length - 1]!;
        spare.pop();
        this.bytes -= b.byteLength;
        return b;
      }
    }
    return Buffer.allocUnsafeSlow(withRoom(size)).buffer as ArrayBuffer;
  }

  /** `a`'s buffer, which no one else holds or will read. */
  give(a: LinesAsSent): void {
    const b = a.bytes.buffer as ArrayBuffer;
    if (b.byteLength > SPARE_ONE || this.spare.length >= SPARE_COUNT || this.bytes + b.byteLength > SPARE_BYTES) return;
    this.spare.push(b);
    this.bytes += b.byteLength;
  }
}

const SPARE_COUNT = 64;
const SPARE_BYTES = 1 << 20;
const SPARE_ONE = 64 << 10;

/** `size` and 1/16 more, in 64-byte steps. */
function withRoom(size: number): number {
  return (size + (size >> 4) + 63) & ~63;
}

export const spareBuffers = new SpareBuffers();

/** Node's Buffer with its undocumented direct read and write methods (no per-call argument checks). */
export type RawBuffer = Buffer & { latin1Write(s: string, offset: number, length: number): number; utf8Write(s: string, offset: number, length?: number): number; latin1Slice(start: number, end: number): string };

/** Write `bytes` bytes of `text` (its UTF-8 length) at `at`; returns the bytes written. ASCII, the usual case, is a plain copy. */
export function writeText(data: RawBuffer, text: string, at: number, bytes: number): number {
  // bytes === length only for pure ASCII; utf8Write scans every character.
  return bytes === text.length ? data.latin1Write(text, at, bytes) : data.utf8Write(text, at, bytes);
}

const NL = 10;
const RBRACE = 125;
/** The line table of the LinesAsSentBuilder being filled (one at a time: each is filled and finished synchronously); reused up to LINE_SCRATCH_MAX entries (1 MB). */
const LINE_SCRATCH_MAX = 1 << 18;
let lineScratch = new Int32Array(3 * 1024);

/** The payload of the first canonical sample line, if any. */
function payloadText(families: readonly Family[]): string | undefined {
  for (const f of families) {
    for (const s of f.samples) {
      const text = TextSample.lineText(s);
      if (text !== undefined) return text;
    }
  }
  return undefined;
}

/** src[from, to) into dst at `at`; returns the offset after it. Short runs, the usual, by a loop rather than a native call. */
function copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): number {
  if (to - from > 32) {
    dst.set(src.subarray(from, to), at);
    return at + to - from;
  }
  while (from < to) dst[at++] = src[from++]!;
  return at;
}
