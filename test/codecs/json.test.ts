import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { JsonStreamDecoder } from '../../src/codecs/json.js';
import type { InboundMessage } from '../../src/codecs/types.js';
import { ProxyError } from '../../src/errors.js';
import { FIXTURES } from '../helpers.js';

const arrayPayload = fs.readFileSync(path.join(FIXTURES, 'json_array.json'));
const stringPayload = fs.readFileSync(path.join(FIXTURES, 'json_string.json'));

function decodeAll(chunks: Buffer[], max = 1 << 20): InboundMessage[] {
  const d = new JsonStreamDecoder({ maxMessageBytes: max });
  const out: InboundMessage[] = [];
  for (const c of chunks) out.push(...d.push(c));
  out.push(...d.end());
  return out;
}

function errorOf(chunks: Buffer[], max?: number): { code: string; message: string; before: InboundMessage[] } {
  const d = new JsonStreamDecoder({ maxMessageBytes: max ?? 1 << 20 });
  const before: InboundMessage[] = [];
  try {
    for (const c of chunks) before.push(...d.push(c));
    before.push(...d.end());
  } catch (err) {
    assert.ok(err instanceof ProxyError);
    return { code: err.code, message: err.message, before };
  }
  assert.fail('expected an error');
}

test('the reference array payload (as nc sends it) becomes one message with lines joined', () => {
  const [m] = decodeAll([arrayPayload]);
  assert.equal(m.app, 'foo_bar_app1_metrics');
  assert.equal(m.text.split('\n').length, 4);
  assert.match(m.text, /^# HELP http_requests_total_foo_bar_app1 /);
});

test('the reference string payload becomes one message', () => {
  const [m] = decodeAll([stringPayload]);
  assert.equal(m.app, 'foo_bar_app0_metrics');
  assert.match(m.text, /code="400"\} {4}3 1395066363000$/);
});

test('a stream of objects, cut at every byte offset, gives the same messages', () => {
  // `}{` and `}` + newline end most objects, and are tried as the end first:
  // here also inside strings, where that guess is wrong.
  const tail = '{"a":"x 1","b":["y 2","z 3"]}{"c":"{}[]\\"}"}\n{"d":"a}{b 1"}{"e":["w}{v 1","}"]}\n{"f":"}\\n{ 1"}{"é":"m{l=\\"ü€\\"} 1"}';
  const stream = Buffer.concat([arrayPayload, Buffer.from('\n  '), stringPayload, Buffer.from(tail)]);
  const whole = decodeAll([stream]);
  assert.deepEqual(
    whole.map((m) => m.app),
    ['foo_bar_app1_metrics', 'foo_bar_app0_metrics', 'a', 'b', 'c', 'd', 'e', 'f', 'é'],
  );
  assert.deepEqual(
    whole.slice(4).map((m) => m.text),
    ['{}[]"}', 'a}{b 1', 'w}{v 1\n}', '}\n{ 1', 'm{l="ü€"} 1'],
  );
  for (let i = 1; i < stream.length; i++) {
    assert.deepEqual(decodeAll([stream.subarray(0, i), stream.subarray(i)]), whole, `cut at ${i}`);
  }
  assert.deepEqual(decodeAll([...stream].map((b) => Buffer.from([b]))), whole, 'one byte per chunk');
});

const bad: [string, string, string, RegExp][] = [
  ['not an object', '["a"]', 'E_JSON', /expected "\{" at byte 0/],
  ['garbage between objects', '{"a":"x 1"} nope', 'E_JSON', /expected "\{" at byte 12, got "n"/],
  ['invalid JSON inside braces', '{"a": nope}', 'E_JSON', /invalid JSON object/],
  ['wrong value type', '{"a": 3}', 'E_JSON', /value for app "a" must be a string or an array of strings/],
  ['empty app name', '{"": "x 1"}', 'E_APP_NAME', /empty app name/],
  ['truncated at close', '{"a": "x 1"', 'E_JSON', /truncated JSON object/],
];

for (const [name, input, code, re] of bad) {
  test(`framing error: ${name}`, () => {
    const e = errorOf([Buffer.from(input)]);
    assert.equal(e.code, code);
    assert.match(e.message, re);
  });
}

test('objects completed before a framing error in the same chunk are returned, then the error', () => {
  const d = new JsonStreamDecoder({ maxMessageBytes: 1024 });
  const out = d.push(Buffer.from('{"a":"x 1"}{"b":"y 1"} garbage'));
  assert.deepEqual(out.map((m) => m.app), ['a', 'b']);
  assert.equal(d.pendingError?.code, 'E_JSON');
  assert.throws(() => d.push(Buffer.from('{"c":"z 1"}')), /expected "\{"/);
});

test('invalid UTF-8 is an error, not a replacement character', () => {
  assert.equal(errorOf([Buffer.concat([Buffer.from('{"a":"x'), Buffer.from([0xff]), Buffer.from(' 1"}')])]).message, 'JSON object is not valid UTF-8');
});

test('an object over maxMessageBytes is refused while it streams in; earlier objects stand', () => {
  const big = '{"big":"' + 'x'.repeat(5000) + '"}';
  const e = errorOf([Buffer.from('{"a":"x 1"}'), Buffer.from(big.slice(0, 3000)), Buffer.from(big.slice(3000))], 2048);
  assert.equal(e.code, 'E_TOO_LARGE');
  assert.match(e.message, /exceeds receiver\.max_payload_bytes \(2048 bytes\)/);
  assert.deepEqual(e.before.map((m) => m.app), ['a']);
});

test('an object over maxMessageBytes within one chunk is refused; the objects before it stand', () => {
  const e = errorOf([Buffer.from('{"a":"x 1"}{"big":"' + 'x'.repeat(3000) + '"}{"b":"y 1"}')], 2048);
  assert.equal(e.code, 'E_TOO_LARGE');
  assert.deepEqual(e.before.map((m) => m.app), ['a']);
});

test('hasPartial is true only inside an object', () => {
  const d = new JsonStreamDecoder({ maxMessageBytes: 1024 });
  assert.equal(d.hasPartial(), false);
  d.push(Buffer.from('{"a":'));
  assert.equal(d.hasPartial(), true);
  d.push(Buffer.from('"x 1"}  '));
  assert.equal(d.hasPartial(), false);
});
