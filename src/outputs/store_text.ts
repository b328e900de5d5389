// The store's rendered exposition read back as families, a section at a
// time, for the outputs: parsing 100,000 series in one go held the event
// loop for 100-170 ms (measured), a stall for every scrape and push that
// arrived meanwhile, once per send interval.

import type { DroppedSeries, Family } from '../exposition/model.js';
import { SeenSeries, parseText } from '../exposition/text_parse.js';
import type { Slices } from '../slices.js';
import { utf8Text } from '../codecs/utf8.js';

const NL = 10;
const HASH = 35;

/** Offset after the line starting at `pos` (past its newline). */
function nextLine(bytes: Buffer, pos: number): number {
  const nl = bytes.indexOf(NL, pos);
  return nl < 0 ? bytes.length : nl + 1;
}

/** A family of the store's render: its `#` lines start at `start`, its sample lines at `samples`, up to `end` (byte offsets). */
interface FamilyRange {
  start: number;
  samples: number;
  end: number;
}

/** The families of the store's render (each a block of `#` lines, then its sample lines), in order. */
function* familyRanges(bytes: Buffer): Generator<FamilyRange> {
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    while (pos < bytes.length && bytes[pos] === HASH) pos = nextLine(bytes, pos);
    const samples = pos;
    while (pos < bytes.length && bytes[pos] !== HASH) pos = nextLine(bytes, pos);
    yield { start, samples, end: pos };
  }
}

/** The store's own bytes as text (ASCII, the usual, without the UTF-8 decoder, several times slower here). */
function textOf(bytes: Buffer): string {
  const text = utf8Text(bytes);
  if (text === undefined) throw new Error('the store rendered bytes that are not UTF-8'); // a bug, not input
  return text;
}

/** A family as familiesInSlices yields it: whole, or one part of a long one. */
export interface FamilyPart {
  family: Family;
  /** More lines of the family the previous part was (its header already given). */
  continued: boolean;
  /**
   * Where in the render the text this part was parsed from starts (with the
   * other families of its section): everything before it was read already.
   */
  readFrom: number;
}

/**
 * Text read per parse, at most (one line longer is read alone): about 1,300
 * sample lines, a few ms of parsing. Strings this small are made in V8's
 * young generation; a larger one is a fresh allocation each time, and
 * touching fresh memory on this VM ran at ~150 MB/s (decoding the 7 MB
 * render of 100,000 series as one string took 27 ms, measured).
 */
const SECTION_BYTES = 96 * 1024;

/**
 * The families of `rendered`, the store's own render (UTF-8), parsed a
 * section at a time with `slices.pause()` before each: whole families, as
 * many as fit in `maxBytes`; a family longer than that is parsed in parts
 * (its header with each). A series in a family twice is found wherever the
 * copies are (a part knows the series of the parts before it): the first
 * stays, the others are left out and counted in `dropped`. The longest
 * stretch is about the parse of `maxBytes` of text.
 */
export async function* familiesInSlices(rendered: Buffer, slices: Pick<Slices, 'pause'>, dropped: DroppedSeries, maxBytes = SECTION_BYTES): AsyncGenerator<FamilyPart> {
  const parse = async function* (readFrom: number, text: string, seen: SeenSeries | undefined, continued: boolean): AsyncGenerator<FamilyPart> {
    await slices.pause();
    const parsed = parseText(text, { keepFirstDuplicate: true, seen });
    if (parsed.dropped) {
      dropped.series += parsed.dropped.series;
      dropped.first ??= parsed.dropped.first;
    }
    for (const family of parsed.families) yield { family, continued, readFrom };
  };
  const wholeFamilies = (start: number, end: number) => parse(start, textOf(rendered.subarray(start, end)), undefined, false);
  let section = 0; // whole families [section, sectionEnd) not parsed yet
  let sectionEnd = 0;
  for (const f of familyRanges(rendered)) {
    if (f.end - section > maxBytes && sectionEnd > section) {
      yield* wholeFamilies(section, sectionEnd);
      section = sectionEnd;
    }
    if (f.end - section <= maxBytes) {
      sectionEnd = f.end;
      continue;
    }
    // A family longer than a section: in parts, each with the family's header.
    const header = rendered.subarray(f.start, f.samples);
    const seen = new SeenSeries();
    for (let from = f.samples, k = 0; from < f.end; k++) {
      let to = nextLine(rendered, from); // at least one line a part
      while (to < f.end) {
        const next = nextLine(rendered, to);
        if (header.length + next - from > maxBytes) break;
        to = next;
      }
      yield* parse(k > 0 ? from : f.start, textOf(Buffer.concat([header, rendered.subarray(from, to)])), seen, k > 0);
      from = to;
    }
    section = sectionEnd = f.end;
  }
  if (sectionEnd > section) yield* wholeFamilies(section, sectionEnd);
}
