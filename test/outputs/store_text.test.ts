// familiesInSlices: the store's render read back a few whole families at a
// time, a long family in parts, gives exactly the whole text's parse (with
// copies of a series left out wherever they are), with a pause before each
// section or part.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { familiesInSlices } from '../../src/outputs/store_text.js';
import { parseText } from '../../src/exposition/text_parse.js';
import { DuplicateSeriesError } from '../../src/errors.js';
import type { DroppedSeries, Family } from '../../src/exposition/model.js';
import { plainFamily } from '../exposition/plain.js';

const TEXT =
  '# HELP a_total Requests.\n# TYPE a_total counter\na_total{code="200"} 1\na_total{code="500"} 2\na_total{code="503"} 3\n' +
  '# TYPE b histogram\nb_bucket{le="1"} 1\nb_bucket{le="+Inf"} 2\nb_sum 3\nb_count 2\n' +
  '# TYPE c gauge\nc 7 1700000000000\n';

/** The parts read, joined into families again; `largestPart`: the most sample lines one part had. */
async function read(text: string, maxBytes: number, dropped: DroppedSeries = { series: 0 }): Promise<{ families: Family[]; pauses: number; largestPart: number }> {
  let pauses = 0;
  let largestPart = 0;
  const families: Family[] = [];
  for await (const { family, continued } of familiesInSlices(Buffer.from(text), { pause: async () => void pauses++ }, dropped, maxBytes)) {
    largestPart = Math.max(largestPart, family.samples.length);
    if (!continued) families.push(family);
    else {
      const last = families.at(-1)!;
      assert.equal(last.name, family.name, 'a continued part follows its family');
      last.samples.push(...family.samples);
    }
  }
  return { families, pauses, largestPart };
}

test('familiesInSlices: whole families, as many as fit in maxBytes a section, a longer family in parts; the same families as one parse', async () => {
  // Families of 114 (a_total: 48 bytes of header, 3 lines of 22), 78 (b) and 33 bytes (c).
  const whole = parseText(TEXT).families.map(plainFamily);
  const cases: [maxBytes: number, parses: number][] = [
    [1, 8], // every line a part of its own (a part has at least one line)
    [80, 5], // a_total in 3 parts (header and one line each), b, then c
    [114, 2], // a_total, then b and c
    [224, 2], // a_total and b, then c
    [225, 1],
    [10_000, 1],
  ];
  for (const [maxBytes, parses] of cases) {
    const got = await read(TEXT, maxBytes);
    assert.deepEqual(got.families.map(plainFamily), whole, `maxBytes ${maxBytes}`);
    assert.equal(got.pauses, parses, `maxBytes ${maxBytes}: sections and parts`);
  }
  assert.deepEqual(await read('', 5), { families: [], pauses: 0, largestPart: 0 });
});

test('familiesInSlices: a long family in parts knows the series of the parts before it, in any label order, le compared as a number', async () => {
  const lines = Array.from({ length: 30 }, (_, i) => `h_bucket{a="${i}",le="1"} ${i}`);
  const copies = ['h_bucket{le="1.0",a="2"} 9', 'h_bucket{a="7",le="1e0"} 9'];
  const text = `# TYPE h histogram\n${lines.slice(0, 20).join('\n')}\n${copies.join('\n')}\n${lines.slice(20).join('\n')}\nh_sum 1\nh_count 1\n`;
  const dropped: DroppedSeries = { series: 0 };
  const got = await read(text, 100, dropped); // the header and 3 bucket lines a part (4 with h_sum and h_count)
  assert.deepEqual(dropped, { series: 2, first: 'h_bucket{le="1.0",a="2"}' });
  assert.deepEqual(got.families.map(plainFamily), parseText(`# TYPE h histogram\n${lines.join('\n')}\nh_sum 1\nh_count 1\n`).families.map(plainFamily));
  assert.equal(got.largestPart, 4);
  assert.ok(got.pauses >= 11, `${got.pauses} parts`);
});

test('familiesInSlices: a series twice within one family is found however long the family: the first stays, the copies are counted', async () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `m{i="${i}"} 1`);
  const text = `# TYPE m gauge\n${lines.join('\n')}\nm{i="3"} 2\n# TYPE n gauge\nn 1\nn 2\n`;
  assert.throws(() => parseText(text), DuplicateSeriesError);
  const dropped: DroppedSeries = { series: 0 };
  const got = await read(text, 200, dropped);
  assert.deepEqual(got.families.map((f) => [f.name, f.samples.length]), [['m', 5000], ['n', 1]]);
  assert.ok(got.pauses > 300, `m in parts (${got.pauses} parses)`);
  assert.equal(got.families[0]!.samples[3]!.value, '1', 'the first m{i="3"} stays');
  assert.equal(got.families[1]!.samples[0]!.value, '1');
  assert.deepEqual(dropped, { series: 2, first: 'm{i="3"}' });
});
