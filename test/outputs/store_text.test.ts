// familiesInSlices: the store's text read back a few whole families at a
// time gives exactly the whole text's parse, with a pause before each section.

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

async function read(text: string, minLines: number, dropped: DroppedSeries = { series: 0 }): Promise<{ families: Family[]; pauses: number }> {
  let pauses = 0;
  const families: Family[] = [];
  for await (const f of familiesInSlices(text, { pause: async () => void pauses++ }, dropped, minLines)) families.push(f);
  return { families, pauses };
}

test('familiesInSlices: whole families, at least minLines sample lines a section, the same families as one parse', async () => {
  const whole = parseText(TEXT).families.map(plainFamily);
  const cases: [minLines: number, sections: number][] = [
    [1, 3], // every family a section
    [3, 3], // a_total has 3 lines: a section of its own
    [4, 2], // a_total and b, then c
    [8, 1], // a_total and b make 7: c joins them
    [9, 1],
    [10_000, 1],
  ];
  for (const [minLines, sections] of cases) {
    const got = await read(TEXT, minLines);
    assert.deepEqual(got.families.map(plainFamily), whole, `minLines ${minLines}`);
    assert.equal(got.pauses, sections, `minLines ${minLines}: sections`);
  }
  assert.deepEqual(await read('', 5), { families: [], pauses: 0 });
});

test('familiesInSlices: a series twice within one family is found however long the family: the first stays, the copies are counted', async () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `m{i="${i}"} 1`);
  const text = `# TYPE m gauge\n${lines.join('\n')}\nm{i="3"} 2\n# TYPE n gauge\nn 1\nn 2\n`;
  assert.throws(() => parseText(text), DuplicateSeriesError);
  const dropped: DroppedSeries = { series: 0 };
  const got = await read(text, 10, dropped);
  assert.deepEqual(got.families.map((f) => [f.name, f.samples.length]), [['m', 5000], ['n', 1]]);
  assert.equal(got.families[0]!.samples[3]!.value, '1', 'the first m{i="3"} stays');
  assert.equal(got.families[1]!.samples[0]!.value, '1');
  assert.deepEqual(dropped, { series: 2, first: 'm{i="3"}' });
});
