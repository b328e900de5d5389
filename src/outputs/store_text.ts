// The store's rendered exposition text read back as families, a section at a
// time, for the outputs: parsing 100,000 series in one go held the event
// loop for 100-170 ms (measured), a stall for every scrape and push that
// arrived meanwhile, once per send interval.

import type { DroppedSeries, Family } from '../exposition/model.js';
import { parseText } from '../exposition/text_parse.js';
import type { Slices } from '../slices.js';

const HASH = 35;

/** Offset after the line starting at `pos` (past its newline). */
function nextLine(text: string, pos: number): number {
  const nl = text.indexOf('\n', pos);
  return nl < 0 ? text.length : nl + 1;
}

/**
 * The families of `text`, the store's own render (every family a block of
 * `#` lines, then its sample lines), parsed a section at a time with
 * `slices.pause()` before each: whole families, as many as make at least
 * `minLines` sample lines. A family is never split, so a series twice in it
 * is found however long it is: the first stays, the others are left out and
 * counted in `dropped`. The longest stretch is the largest section's parse.
 */
export async function* familiesInSlices(text: string, slices: Pick<Slices, 'pause'>, dropped: DroppedSeries, minLines = 2048): AsyncGenerator<Family> {
  let pos = 0;
  while (pos < text.length) {
    const start = pos;
    let lines = 0;
    // On to the end of a family once the section is long enough.
    while (pos < text.length && (lines < minLines || text.charCodeAt(pos) !== HASH)) {
      if (text.charCodeAt(pos) !== HASH) lines++;
      pos = nextLine(text, pos);
    }
    await slices.pause();
    const parsed = parseText(text.slice(start, pos), { keepFirstDuplicate: true });
    if (parsed.dropped) {
      dropped.series += parsed.dropped.series;
      dropped.first ??= parsed.dropped.first;
    }
    yield* parsed.families;
  }
}
