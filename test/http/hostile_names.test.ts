// App names and label values chosen to break output: newline, quote,
// backslash, an ANSI escape, a box-drawing bar, bidi overrides. Pushed over
// a real socket; every place they are printed must stay well-formed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getText, send, startProxy, waitFor } from '../helpers.js';
import { parseText, unescapeLabelValue } from '../../src/exposition/text_parse.js';
import { cellText } from '../../src/http/apps_route.js';
import { logfmt } from '../../src/log.js';

const HOSTILE: [what: string, name: string][] = [
  ['newline', 'evil\napp 1\n# TYPE x counter'],
  ['carriage return', 'evil\rover'],
  ['quote', 'say "hi"'],
  ['backslash', 'C:\\path\\n'],
  ['ANSI escape', 'red\u001b[31mALERT\u001b[0m'],
  ['box-drawing bar', 'left│right'],
  ['table corner', '┼fake row┤'],
  ['bidi override', 'abc\u202edcba'],
  ['C1 control (CSI)', 'csi\u009b31m'],
  ['line separator', 'a\u2028b'],
  ['logfmt injection', 'x level=error msg=forged'],
];

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('hostile app names over a real socket: /metrics parses and round-trips them as label values; /apps table and JSON stay well-formed', async () => {
  const p = await startProxy({ extra: '[store]\napp_label = "app"\n' });
  try {
    const payload = Object.fromEntries(HOSTILE.map(([, name], i) => [name, `# HELP hostile_total Help with \\\\ and \\n escapes.\n# TYPE hostile_total counter\nhostile_total{i="${i}",v="q\\"b\\\\n\\n"} ${i}\n`]));
    await send({ port: p.addr.tcp!.port }, JSON.stringify(payload));
    await waitFor(() => p.proxy.store.appCount === HOSTILE.length, 3000, 'all hostile apps stored');

    const metrics = (await getText(`${p.url}/metrics`)).body;
    const families = parseText(metrics).families;
    const hostile = families.find((f) => f.name === 'hostile_total')!;
    assert.equal(hostile.samples.length, HOSTILE.length);
    const apps = hostile.samples.map((s) => unescapeLabelValue(s.labels.find((l) => l.name === 'app')!.value)).sort();
    assert.deepEqual(apps, HOSTILE.map(([, n]) => n).sort());
    assert.equal(metrics.match(/^# TYPE /gm)!.length, new Set(families.map((f) => f.name)).size, 'no forged TYPE line');

    const table = (await getText(`${p.url}/apps`)).body;
    assert.doesNotMatch(table, CONTROL);
    assert.ok(!table.includes('left│right') && table.includes('left\\u2502right'), 'the bar in a name is escaped, not a column border');
    const lines = table.trimEnd().split('\n');
    const widths = new Set(lines.map((l) => [...l].length));
    assert.equal(widths.size, 1, `every table line has the same width:\n${table}`);
    // One row per app: its name cell starts every row line between the borders.
    for (const [, name] of HOSTILE) assert.ok(table.includes(cellText(name)), `row for ${JSON.stringify(name)}`);

    const json = JSON.parse((await getText(`${p.url}/apps?format=json`)).body) as { app: string }[];
    assert.deepEqual(json.map((a) => a.app).sort(), HOSTILE.map(([, n]) => n).sort());
  } finally {
    await p.stop();
  }
});

test('hostile names in logs: one line per event, nothing a terminal would act on, values quoted and escaped', () => {
  for (const [what, name] of HOSTILE) {
    const line = logfmt('warn', 'payload rejected', { app: name, err: `bad "${name}"` }, new Date(0));
    assert.equal(line.split('\n').length, 1, what);
    assert.doesNotMatch(line, CONTROL, what);
    const value = /^ts=\S+ level=warn msg="payload rejected" app=("(?:[^"\\]|\\.)*"|[^\s"=\\]+) err=/.exec(line)?.[1];
    assert.ok(value, `${what}: ${line}`);
    assert.equal(value.startsWith('"') ? JSON.parse(value) : value, name, `${what}: the logged value decodes back to the name`);
  }
});

test('cellText escapes what could fake table structure or recolour a terminal, and nothing else', () => {
  assert.equal(cellText('a\nb\tc\u001b[0m'), 'a\\nb\\tc\\u001b[0m');
  assert.equal(cellText('│┼─'), '\\u2502\\u253c\\u2500');
  assert.equal(cellText('\u202e'), '\\u202e');
  assert.equal(cellText('plain ünïcödé ✓ "q" \\'), 'plain ünïcödé ✓ "q" \\');
  assert.equal(cellText('x'.repeat(300)).length, 201);
});
