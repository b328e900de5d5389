// The InboundMetrics struct of one framed Cap'n Proto message, read in place.
//
// capnp.ts frames the stream (segment table, limits, packing); this file
// resolves the root pointer and the struct's two Text pointers (far and
// double-far included) directly in the message bytes, checking every
// position against its segment. capnp-ts did the same through a Message
// object over a copy of the message (and of each segment again) and a few
// objects per pointer: 2.3-3.9x the time of this reader for a 100-series
// message (bench/capnp_decode.ts, both in one run).
//
// Pointers (little-endian words, https://capnproto.org/encoding.html):
//   struct  lo: offset << 2 | 0      hi: data words | pointer words << 16
//   list    lo: offset << 2 | 1      hi: element size | count << 3
//   far     lo: pad << 3 | double << 2 | 2   hi: segment id
// A struct's or list's content starts `offset` (signed) words after the
// pointer's own word; a far pointer's landing pad is a regular pointer
// (double: a far pointer to the content, then a tag describing it).

import { AppNameError, CapnpFramingError } from '../errors.js';
import type { InboundMessage } from './types.js';
import { utf8Text } from './utf8.js';

const STRUCT = 0;
const LIST = 1;
const FAR = 2;
/** List element size code of a byte list (Text, Data). */
const BYTE_ELEMENTS = 2;
const FIELDS = ['appName', 'data'] as const;

/** A pointer that cannot be followed, reported by the caller with its context. */
class BadPointer extends Error {
  constructor(
    readonly kind: 'bounds' | 'type' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/** A resolved struct or list pointer: its tag words and where its content starts. */
interface Target {
  lo: number;
  hi: number;
  segment: number;
  /** Word index of the content in `segment`. */
  word: number;
}

class MessageReader {
  private readonly view: DataView;
  /** Byte offset of each segment in the message, and its length in words. */
  private readonly starts: number[] = [];
  private readonly words: number[] = [];

  /** `bytes`: the segment table (`headerBytes`, consistent with the bytes: checked by the framer) and the segments. */
  constructor(bytes: Uint8Array, headerBytes: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = this.view.getUint32(0, true) + 1;
    let at = headerBytes;
    for (let i = 0; i < count; i++) {
      const words = this.view.getUint32(4 + 4 * i, true);
      this.starts.push(at);
      this.words.push(words);
      at += words * 8;
    }
  }

  /** The pointer at word `word` of `segment` (in bounds), far pointers followed; undefined for a null pointer. */
  resolve(segment: number, word: number): Target | undefined {
    const lo = this.lo(segment, word);
    const hi = this.hi(segment, word);
    if (lo === 0 && hi === 0) return undefined;
    const type = lo & 3;
    if (type === STRUCT || type === LIST) return { lo, hi, segment, word: word + 1 + (lo >> 2) };
    if (type !== FAR) throw new BadPointer('type', 'a capability pointer');
    const pad = lo >>> 3;
    const padSegment = hi;
    const double = (lo & 4) !== 0;
    this.checkWords(padSegment, pad, double ? 2 : 1, 'far pointer landing pad');
    const padLo = this.lo(padSegment, pad);
    const padHi = this.hi(padSegment, pad);
    if (!double) {
      const padType = padLo & 3;
      if (padType !== STRUCT && padType !== LIST) throw new BadPointer('invalid', 'far pointer landing pad is not a struct or list pointer');
      return { lo: padLo, hi: padHi, segment: padSegment, word: pad + 1 + (padLo >> 2) };
    }
    // Double far: the pad is a (single) far pointer to the content, then the content's tag.
    if ((padLo & 7) !== FAR) throw new BadPointer('invalid', 'double-far landing pad does not start with a single far pointer');
    const tagLo = this.lo(padSegment, pad + 1);
    const tagHi = this.hi(padSegment, pad + 1);
    const tagType = tagLo & 3;
    if (tagType !== STRUCT && tagType !== LIST) throw new BadPointer('invalid', 'double-far tag is not a struct or list pointer');
    const contentSegment = padHi;
    this.checkSegment(contentSegment);
    return { lo: tagLo, hi: tagHi, segment: contentSegment, word: padLo >>> 3 };
  }

  /** The struct a root pointer points to: where its pointer section starts and how many pointers it has. */
  struct(t: Target): { segment: number; pointers: number; count: number } {
    if ((t.lo & 3) !== STRUCT) throw new BadPointer('type', 'a list pointer');
    const dataWords = t.hi & 0xffff;
    const count = t.hi >>> 16;
    this.checkWords(t.segment, t.word, dataWords + count, 'struct');
    return { segment: t.segment, pointers: t.word + dataWords, count };
  }

  /** The bytes of a byte list (Text), a view of the message. */
  bytes(t: Target): Uint8Array {
    if ((t.lo & 3) !== LIST) throw new BadPointer('type', 'a struct pointer');
    if ((t.hi & 7) !== BYTE_ELEMENTS) throw new BadPointer('type', `a list of element size ${t.hi & 7}, not of bytes`);
    const length = t.hi >>> 3;
    this.checkWords(t.segment, t.word, Math.ceil(length / 8), 'list');
    const at = this.starts[t.segment]! + t.word * 8;
    return new Uint8Array(this.view.buffer, this.view.byteOffset + at, length);
  }

  private lo(segment: number, word: number): number {
    return this.view.getInt32(this.starts[segment]! + word * 8, true);
  }

  private hi(segment: number, word: number): number {
    return this.view.getUint32(this.starts[segment]! + word * 8 + 4, true);
  }

  /** True for a segment of no words. */
  isEmpty(segment: number): boolean {
    return this.words[segment] === 0;
  }

  private checkSegment(segment: number): void {
    if (segment >= this.words.length) throw new BadPointer('bounds', `segment ${segment} does not exist (the message has ${this.words.length})`);
  }

  /** Words [word, word + count) lie in `segment`. */
  private checkWords(segment: number, word: number, count: number, what: string): void {
    this.checkSegment(segment);
    if (word < 0 || word + count > this.words[segment]!) throw new BadPointer('bounds', `${what} at word ${word} (${count} words) is outside segment ${segment} of ${this.words[segment]} words`);
  }
}

/**
 * The app name and the exposition text of one complete framed (unpacked)
 * message. `bytes` holds exactly the segment table and the segments, already
 * checked for consistency. Throws CapnpFramingError naming what is wrong, or
 * AppNameError for an empty name.
 */
export function readInboundMetrics(bytes: Uint8Array, headerBytes: number): InboundMessage {
  const m = new MessageReader(bytes, headerBytes);
  let root: { segment: number; pointers: number; count: number };
  try {
    if (m.isEmpty(0)) throw new CapnpFramingError('message has no root pointer (segment 0 is empty)');
    const t = m.resolve(0, 0);
    if (t === undefined) throw new CapnpFramingError('root pointer is null');
    root = m.struct(t);
  } catch (e) {
    if (!(e instanceof BadPointer)) throw e;
    if (e.kind === 'bounds') throw new CapnpFramingError(`root pointer out of bounds (${e.message})`);
    if (e.kind === 'type') throw new CapnpFramingError(`root is not an InboundMetrics struct (${e.message})`);
    throw new CapnpFramingError(`root: invalid pointer (${e.message})`);
  }
  const app = readText(m, root, 0);
  const text = readText(m, root, 1);
  if (app === '') throw new AppNameError('empty appName in capnp message');
  return { app, text };
}

/** Text field `index` of the root struct: non-null, NUL-terminated, strict UTF-8. */
function readText(m: MessageReader, root: { segment: number; pointers: number; count: number }, index: 0 | 1): string {
  const name = FIELDS[index];
  let bytes: Uint8Array;
  try {
    // A pointer the struct does not have (an older or other struct) reads as null.
    const t = index < root.count ? m.resolve(root.segment, root.pointers + index) : undefined;
    if (t === undefined) throw new CapnpFramingError(`missing field ${name} (null pointer; is the root struct InboundMetrics?)`);
    bytes = m.bytes(t);
  } catch (e) {
    if (!(e instanceof BadPointer)) throw e;
    if (e.kind === 'bounds') throw new CapnpFramingError(`field ${name}: pointer out of bounds (${e.message})`);
    if (e.kind === 'type') throw new CapnpFramingError(`field ${name} is not Text (${e.message})`);
    throw new CapnpFramingError(`field ${name}: invalid pointer (${e.message})`);
  }
  const n = bytes.length;
  if (n === 0 || bytes[n - 1] !== 0) throw new CapnpFramingError(`field ${name}: Text is not NUL-terminated`);
  const text = utf8Text(bytes.subarray(0, n - 1));
  if (text === undefined) throw new CapnpFramingError(`field ${name}: Text is not valid UTF-8`);
  return text;
}
