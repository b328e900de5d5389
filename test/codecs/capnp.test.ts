// CapnpStreamDecoder: framing at every chunk boundary, multi-segment (far and
// double-far pointers), packed framing, and every hostile case.
//
// Messages come from the real encoder (`capnp encode`, Debian's capnp tool)
// where possible. The committed fixtures in test/fixtures/capnp/ were made with
//   echo '(appName = "a", data = "x 1\n")' | capnp encode [opts] schema/metric_data.capnp InboundMetrics
// single.bin (no opts), multi.bin (--segment-size=1: 4 segments, far pointers),
// packed.bin (-p). Their bytes are spelled out below.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CapnpStreamDecoder, MAX_SEGMENTS } from '../../src/codecs/capnp.js';
import { InboundMetrics, capnp, capnpEncode } from '../capnp_ts.js';
import { detectFormat } from '../../src/codecs/detect.js';
import type { InboundMessage } from '../../src/codecs/types.js';
import { withFarText } from '../fuzz/properties.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCHEMA = ROOT + 'schema/metric_data.capnp';
const FIXTURES = ROOT + 'test/fixtures/capnp/';
const MAX = 1 << 20;

/** A string literal in capnp's text format. */
function lit(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

/** One `capnp encode` run per message (capnp 0.9.2 mis-parses inputs holding several large literals). */
function encode(msgs: { app: string; text: string }[], opts: string[] = []): Buffer {
  return Buffer.concat(msgs.map((m) => encodeRaw(`(appName = ${lit(m.app)}, data = ${lit(m.text)})`, opts)));
}

function encodeRaw(input: string, opts: string[] = []): Buffer {
  return execFileSync('capnp', ['encode', ...opts, SCHEMA, 'InboundMetrics'], { input });
}

function decodeChunks(chunks: Buffer[], packed = false, max = MAX): InboundMessage[] {
  const d = new CapnpStreamDecoder({ maxMessageBytes: max, packed });
  const out: InboundMessage[] = [];
  for (const c of chunks) out.push(...d.push(c));
  out.push(...d.end());
  return out;
}

/** Run `fn` and return the thrown error's code. */
function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
  return 'no error';
}

function throwsCode(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

/** Every split of `stream` into two chunks, and one byte at a time. */
function checkAllSplits(stream: Buffer, expected: InboundMessage[], packed = false): void {
  for (let k = 0; k <= stream.length; k++) {
    const got = decodeChunks([stream.subarray(0, k), stream.subarray(k)], packed);
    assert.deepEqual(got, expected, `split at ${k}`);
  }
  const bytes: Buffer[] = [];
  for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1));
  assert.deepEqual(decodeChunks(bytes, packed), expected, 'one byte at a time');
  // Three-way splits around every offset, with a small fixed middle chunk.
  for (let k = 0; k + 3 <= stream.length; k += 7) {
    const got = decodeChunks([stream.subarray(0, k), stream.subarray(k, k + 3), stream.subarray(k + 3)], packed);
    assert.deepEqual(got, expected, `three-way split at ${k}`);
  }
}

const SMALL: InboundMessage[] = [
  { app: 'a', text: 'x 1\n' },
  { app: 'app-two', text: 'up{job="j"} 1\nreq_total 42\n' },
  { app: 'ünïcode', text: 'temp{room="küche"} 21.5\n' },
];
const SERIES = Array.from({ length: 40 }, (_, i) => `series_${i}{label="value é ${i}"} ${i}\n`).join('');
const MIXED: InboundMessage[] = [SMALL[0], { app: 'big', text: SERIES }, SMALL[2]];

test('committed fixtures document the bytes and decode', () => {
  const single = readFileSync(FIXTURES + 'single.bin');
  assert.equal(
    single.toString('hex'),
    // segment table: count-1 = 0, segment 0 = 5 words
    '00000000' + '05000000' +
      // root: struct pointer, offset 0, 0 data words, 2 pointers
      '0000000000000200' +
      // appName: list pointer offset 1, byte elements, 2 bytes ("a\0")
      '0500000012000000' +
      // data: list pointer offset 1, byte elements, 5 bytes ("x 1\n\0")
      '050000002a000000' +
      '6100000000000000' +
      '7820310a00000000',
  );
  assert.deepEqual(decodeChunks([single]), [{ app: 'a', text: 'x 1\n' }]);
  assert.deepEqual(single, encode([{ app: 'a', text: 'x 1\n' }]), 'fixture matches the installed encoder');

  const multi = readFileSync(FIXTURES + 'multi.bin');
  assert.equal(multi.readUInt32LE(0) + 1, 4, 'four segments');
  // segment 0 holds only a far pointer (type 2) to segment 1
  assert.equal(multi.readUInt32LE(24) & 3, 2);
  assert.deepEqual(decodeChunks([multi]), [{ app: 'a', text: 'x 1\n' }]);

  const packed = readFileSync(FIXTURES + 'packed.bin');
  assert.equal(packed.toString('hex'), '10054002110512110' + '52a01610f7820310a');
  assert.deepEqual(decodeChunks([packed], true), [{ app: 'a', text: 'x 1\n' }]);
});

test('single-segment stream: every chunk boundary', () => {
  const stream = encode(SMALL);
  assert.equal(stream.readUInt32LE(0), 0, 'single segment');
  checkAllSplits(stream, SMALL);
});

test('multi-segment stream (far pointers): every chunk boundary', () => {
  const seg1 = encode(MIXED, ['--segment-size=1']);
  assert.equal(seg1.readUInt32LE(0) + 1, 4, 'first message has 4 segments');
  checkAllSplits(seg1, MIXED);
  const seg32 = encode(MIXED, ['--segment-size=32']);
  const firstLen = 8 + 8 * seg32.readUInt32LE(4);
  assert.ok(seg32.readUInt32LE(firstLen) > 0, 'second message is multi-segment');
  checkAllSplits(seg32, MIXED);
});

test('packed stream: every chunk boundary', () => {
  const packed = encode(MIXED, ['-p']);
  checkAllSplits(packed, MIXED, true);
  const packedMulti = encode(MIXED, ['-p', '--segment-size=1']);
  checkAllSplits(packedMulti, MIXED, true);
});

test('several messages in one chunk, many messages per connection', () => {
  const one = encode(SMALL);
  const many = Buffer.concat(Array.from({ length: 200 }, () => one));
  const d = new CapnpStreamDecoder({ maxMessageBytes: MAX });
  const got = d.push(many);
  assert.equal(got.length, 600);
  assert.deepEqual(got.slice(0, 3), SMALL);
  assert.equal(d.hasPartial(), false);
  assert.deepEqual(d.end(), []);
  // A chunk ending mid-message keeps the rest for later.
  const d2 = new CapnpStreamDecoder({ maxMessageBytes: MAX });
  assert.deepEqual(d2.push(Buffer.concat([one, one.subarray(0, 10)])), SMALL);
  assert.equal(d2.hasPartial(), true);
  assert.deepEqual(d2.push(one.subarray(10)), SMALL);
  assert.equal(d2.hasPartial(), false);
});

test('a large message trickled one byte per chunk', () => {
  const one = encode([{ app: 'big', text: SERIES.repeat(50) }]);
  assert.ok(one.length > 60_000);
  const d = new CapnpStreamDecoder({ maxMessageBytes: MAX });
  const t0 = performance.now();
  for (let i = 0; i < one.length - 1; i++) assert.deepEqual(d.push(one.subarray(i, i + 1)), []);
  const got = d.push(one.subarray(one.length - 1));
  assert.equal(got.length, 1);
  assert.equal(got[0].text, SERIES.repeat(50));
  assert.ok(performance.now() - t0 < 5000, 'linear in the bytes');
});

test('double-far pointer (hand-built; capnp encode never emits one)', () => {
  // Segment 0: double-far pointer -> landing pad at segment 1 word 0.
  // Segment 1: [far pointer -> segment 2 word 0][tag: struct, 0 data, 2 pointers].
  // Segment 2: the struct's two pointers, then "a\0" and "x 1\n\0".
  const w = (lo: number, hi: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(lo >>> 0, 0);
    b.writeUInt32LE(hi >>> 0, 4);
    return b;
  };
  const header = Buffer.alloc(16);
  header.writeUInt32LE(2, 0);
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(2, 8);
  header.writeUInt32LE(4, 12);
  const msg = Buffer.concat([
    header,
    w((0 << 3) | 4 | 2, 1),
    w((0 << 3) | 2, 2),
    w(0, 2 << 16),
    w((1 << 2) | 1, (2 << 3) | 2),
    w((1 << 2) | 1, (5 << 3) | 2),
    Buffer.from('6100000000000000', 'hex'),
    Buffer.from('7820310a00000000', 'hex'),
  ]);
  assert.deepEqual(decodeChunks([msg]), [{ app: 'a', text: 'x 1\n' }]);
  // Far pointer to a segment that does not exist.
  const bad = Buffer.from(msg);
  bad.writeUInt32LE(9, 20);
  throwsCode(() => decodeChunks([bad]), 'E_CAPNP');
  // Landing pad beyond the end of its segment.
  const bad2 = Buffer.from(msg);
  bad2.writeUInt32LE((5 << 3) | 4 | 2, 16);
  throwsCode(() => decodeChunks([bad2]), 'E_CAPNP');
});

test('a Text behind a far or double-far pointer, in either field, reads as in one segment; a far pointer to a missing segment does not', () => {
  for (const [app, text] of [['edge', 'm{a="b"} 1\n'], ['a', 'x'.repeat(9000)]]) {
    const one = capnpEncode(app, text);
    for (const k of [0, 1] as const) {
      for (const double of [false, true]) {
        const far = Buffer.from(withFarText(one, k, double));
        assert.equal(far.readUInt32LE(0), double ? 2 : 1, 'segments - 1');
        assert.deepEqual(decodeChunks([far]), [{ app, text }], `field ${k}, ${double ? 'double far' : 'far'}`);
        const lost = Buffer.from(far);
        lost.writeUInt32LE(7, 16 + 8 * (1 + k) + 4); // the far pointer's segment id (after a 16-byte segment table)
        throwsCode(() => decodeChunks([lost]), 'E_CAPNP', /segment 7 does not exist/);
      }
    }
  }
});

test('hostile: absurd segment count', () => {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(MAX_SEGMENTS, 0); // 513 segments
  throwsCode(() => decodeChunks([h]), 'E_CAPNP', /513 segments/);
  h.writeUInt32LE(0xffffffff, 0);
  // Rejected from the first 4 bytes, without waiting for the table.
  const d = new CapnpStreamDecoder({ maxMessageBytes: MAX });
  throwsCode(() => d.push(h.subarray(0, 4)), 'E_CAPNP', /4294967296 segments/);
  // The limit itself is accepted (if the table fits the byte limit).
  const ok = Buffer.alloc(8);
  ok.writeUInt32LE(MAX_SEGMENTS - 1, 0);
  assert.deepEqual(new CapnpStreamDecoder({ maxMessageBytes: MAX }).push(ok), []);
});

test('hostile: announced size over maxMessageBytes is rejected before the body', () => {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(0, 0);
  h.writeUInt32LE(0x10000000, 4); // 2 GiB segment
  const d = new CapnpStreamDecoder({ maxMessageBytes: 4096 });
  throwsCode(() => d.push(h), 'E_TOO_LARGE', /2147483656 bytes.*limit of 4096 bytes \(receiver\.max_payload_bytes\)/);
  assert.deepEqual(d.push(Buffer.alloc(100)), [], 'dead after the error');
  // Sum over many segments, each small.
  const t = Buffer.alloc(8 + 8 * 4);
  t.writeUInt32LE(7, 0);
  for (let i = 0; i < 8; i++) t.writeUInt32LE(100, 4 + 4 * i);
  throwsCode(() => decodeChunks([t], false, 4096), 'E_TOO_LARGE', /6440 bytes/);
  // Exactly at the limit is fine.
  const one = encode([SMALL[0]]);
  assert.equal(decodeChunks([one], false, one.length).length, 1);
  throwsCode(() => decodeChunks([one], false, one.length - 1), 'E_TOO_LARGE');
  // Packed: the check applies to the unpacked size.
  throwsCode(() => decodeChunks([encode([{ app: 'a', text: SERIES }], ['-p'])], true, 200), 'E_TOO_LARGE');
});

test('hostile: truncated message at end()', () => {
  const one = encode([SMALL[0]]);
  for (const k of [1, 3, 8, 12, one.length - 1]) {
    const d = new CapnpStreamDecoder({ maxMessageBytes: MAX });
    assert.deepEqual(d.push(one.subarray(0, k)), []);
    assert.equal(d.hasPartial(), true);
    const re = k >= 8 ? new RegExp(`truncated message: expected ${one.length} bytes, got ${k}$`) : /truncated message: expected at least 8 bytes/;
    throwsCode(() => d.end(), 'E_CAPNP', re);
  }
  // Completed messages first, then the cut one.
  const d = new CapnpStreamDecoder({ maxMessageBytes: MAX });
  assert.deepEqual(d.push(Buffer.concat([one, one.subarray(0, 20)])), [SMALL[0]]);
  throwsCode(() => d.end(), 'E_CAPNP', /expected 48 bytes, got 20/);
  // Packed stream cut inside a word.
  const p = encode([SMALL[0]], ['-p']);
  const dp = new CapnpStreamDecoder({ maxMessageBytes: MAX, packed: true });
  assert.deepEqual(dp.push(p.subarray(0, 1)), []);
  assert.equal(dp.hasPartial(), true);
  throwsCode(() => dp.end(), 'E_CAPNP', /truncated message.*inside a word/);
});

test('hostile: pointers out of bounds', () => {
  const one = encode([SMALL[0]]);
  // data list pointer claims 1000 bytes
  const longList = Buffer.from(one);
  longList.writeUInt32LE((1000 << 3) | 2, 28);
  throwsCode(() => decodeChunks([longList]), 'E_CAPNP', /data.*out of bounds/);
  // appName list pointer offset far past the segment
  const farOff = Buffer.from(one);
  farOff.writeUInt32LE((100 << 2) | 1, 16);
  throwsCode(() => decodeChunks([farOff]), 'E_CAPNP', /appName: pointer out of bounds/);
  // negative offset
  const neg = Buffer.from(one);
  neg.writeInt32LE((-10 << 2) | 1, 16);
  throwsCode(() => decodeChunks([neg]), 'E_CAPNP', /out of bounds/);
  // root struct pointer past the segment end
  const rootOff = Buffer.from(one);
  rootOff.writeUInt32LE(20 << 2, 8);
  throwsCode(() => decodeChunks([rootOff]), 'E_CAPNP', /out of bounds/);
  // root struct whose pointer section starts at the segment end
  const rootBig = Buffer.from(one);
  rootBig.writeUInt32LE(4 << 2, 8);
  throwsCode(() => decodeChunks([rootBig]), 'E_CAPNP', /out of bounds/);
});

test('hostile: wrong root and missing fields', () => {
  const one = encode([SMALL[0]]);
  // root is a list pointer
  const list = Buffer.from(one);
  list.writeUInt32LE(1, 8);
  list.writeUInt32LE((2 << 3) | 2, 12);
  throwsCode(() => decodeChunks([list]), 'E_CAPNP', /root is not an InboundMetrics struct/);
  // root pointer null / empty segment 0
  const nul = Buffer.from('00000000010000000000000000000000', 'hex');
  throwsCode(() => decodeChunks([nul]), 'E_CAPNP', /root pointer is null/);
  const empty = Buffer.from('0000000000000000', 'hex');
  throwsCode(() => decodeChunks([empty]), 'E_CAPNP', /no root pointer/);
  // root struct with one data word and no pointers (some other struct)
  const other = Buffer.from('00000000020000000000000001000000' + '2a00000000000000', 'hex');
  throwsCode(() => decodeChunks([other]), 'E_CAPNP', /missing field appName/);
  // Text fields that are struct pointers
  const structField = Buffer.from(one);
  structField.writeUInt32LE(1 << 2, 16);
  structField.writeUInt32LE(1, 20);
  throwsCode(() => decodeChunks([structField]), 'E_CAPNP', /appName is not Text/);
  // Text with the wrong element size (list of u16)
  const u16 = Buffer.from(one);
  u16.writeUInt32LE((2 << 3) | 3, 28);
  throwsCode(() => decodeChunks([u16]), 'E_CAPNP', /data is not Text/);
  // missing fields from the real encoder
  throwsCode(() => decodeChunks([encodeRaw('(appName = "a")')]), 'E_CAPNP', /missing field data/);
  throwsCode(() => decodeChunks([encodeRaw('(data = "x 1\\n")')]), 'E_CAPNP', /missing field appName/);
  // empty appName: E_APP_NAME; empty data is fine
  throwsCode(() => decodeChunks([encode([{ app: '', text: 'x 1\n' }])]), 'E_APP_NAME');
  assert.deepEqual(decodeChunks([encode([{ app: 'a', text: '' }])]), [{ app: 'a', text: '' }]);
});

test('hostile: non-UTF-8 and unterminated text', () => {
  const one = encode([SMALL[0]]);
  const cases: [string, number[]][] = [
    ['lone continuation byte', [0x80]],
    ['invalid byte', [0xff]],
    ['overlong NUL', [0xc0, 0x80]],
    ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['truncated sequence', [0xe2, 0x82]],
  ];
  for (const [name, bytes] of cases) {
    const bad = Buffer.from(one);
    Buffer.from(bytes).copy(bad, 40); // inside "x 1\n"
    assert.equal(codeOf(() => decodeChunks([bad])), 'E_CAPNP', name);
    throwsCode(() => decodeChunks([bad]), 'E_CAPNP', /data: Text is not valid UTF-8/);
  }
  const badApp = Buffer.from(one);
  badApp[32] = 0xfe;
  throwsCode(() => decodeChunks([badApp]), 'E_CAPNP', /appName: Text is not valid UTF-8/);
  // no NUL terminator
  const unterminated = Buffer.from(one);
  unterminated[44] = 0x41;
  throwsCode(() => decodeChunks([unterminated]), 'E_CAPNP', /NUL-terminated/);
  // zero-length list
  const zero = Buffer.from(one);
  zero.writeUInt32LE((0 << 3) | 2, 28);
  throwsCode(() => decodeChunks([zero]), 'E_CAPNP', /NUL-terminated/);
});

test('messages completed before an error are returned, the error follows', () => {
  const good = encode(SMALL);
  const bad = Buffer.alloc(8);
  bad.writeUInt32LE(1000, 0);
  // All in one chunk: the good ones come back, the error is thrown next call.
  const d = new CapnpStreamDecoder({ maxMessageBytes: MAX });
  assert.deepEqual(d.push(Buffer.concat([good, bad])), SMALL);
  assert.equal(d.pendingError?.code, 'E_CAPNP');
  throwsCode(() => d.end(), 'E_CAPNP', /1001 segments/);
  assert.deepEqual(d.end(), []);
  // The next push throws too (and the chunk is discarded).
  const d2 = new CapnpStreamDecoder({ maxMessageBytes: MAX });
  assert.deepEqual(d2.push(Buffer.concat([good, bad])), SMALL);
  throwsCode(() => d2.push(good), 'E_CAPNP');
  assert.deepEqual(d2.push(good), []);
  // Separate chunks: earlier pushes returned their messages, the bad one throws at once.
  const d3 = new CapnpStreamDecoder({ maxMessageBytes: MAX });
  assert.deepEqual(d3.push(good), SMALL);
  throwsCode(() => d3.push(bad), 'E_CAPNP');
  // Same for a too-large header after good messages, and in packed mode.
  const big = Buffer.alloc(8);
  big.writeUInt32LE(1 << 20, 4);
  const d4 = new CapnpStreamDecoder({ maxMessageBytes: 4096 });
  assert.deepEqual(d4.push(Buffer.concat([good, big])), SMALL);
  throwsCode(() => d4.end(), 'E_TOO_LARGE');
  const d5 = new CapnpStreamDecoder({ maxMessageBytes: MAX, packed: true });
  const goodPacked = encode(SMALL, ['-p']);
  // tag 0x08 + 0x05: a header word whose byte 3 is 5, i.e. 0x05000001 segments
  assert.deepEqual(d5.push(Buffer.concat([goodPacked, Buffer.from([0x08, 0x05])])), SMALL);
  throwsCode(() => d5.end(), 'E_CAPNP', /83886081 segments/);
});

test('packed: hostile zero runs are rejected without unbounded output', () => {
  // Each "00 ff" unpacks to 256 zero words; the first 8 zero bytes already form
  // an invalid message (one empty segment).
  const bomb = Buffer.alloc(200_000);
  for (let i = 0; i < bomb.length; i += 2) bomb[i + 1] = 0xff;
  const before = process.memoryUsage().arrayBuffers;
  throwsCode(() => decodeChunks([bomb], true), 'E_CAPNP', /no root pointer/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 50 << 20);
  // Two packed bytes that unpack to a header announcing 2 GiB: tag 0x80, byte 7 = 0x10.
  const d = new CapnpStreamDecoder({ maxMessageBytes: 4096, packed: true });
  throwsCode(() => d.push(Buffer.from([0x80, 0x10])), 'E_TOO_LARGE', /2147483656 bytes/);
});

test('InboundMetrics built with capnp-ts decodes; capnp-ts text reader is lax', () => {
  const m = new capnp.Message();
  const root = m.initRoot(InboundMetrics);
  root.setAppName('app');
  root.setData('x 1\n');
  const bytes = Buffer.from(m.toArrayBuffer());
  assert.deepEqual(decodeChunks([bytes]), [{ app: 'app', text: 'x 1\n' }]);
  assert.deepEqual(decodeChunks([Buffer.from(m.toPackedArrayBuffer())], true), [{ app: 'app', text: 'x 1\n' }]);
  // The reason Text is validated here: capnp-ts's getText() returns a string for an overlong form.
  const one = encode([SMALL[0]]);
  const bad = Buffer.from(one);
  Buffer.from([0xc0, 0x80]).copy(bad, 40);
  const lax = new capnp.Message(bad, false, false).getRoot(InboundMetrics);
  assert.equal(codeOf(() => lax.getData()), 'no error');
  throwsCode(() => decodeChunks([bad]), 'E_CAPNP');
});

test('detectFormat', () => {
  for (const c of '{ \t\r\n') assert.equal(detectFormat(c.charCodeAt(0)), 'json');
  for (const b of [0x00, 0x01, 0x10, 0xff, 0x5b, 0x22]) assert.equal(detectFormat(b), 'capnp');
  assert.equal(detectFormat(encode([SMALL[0]])[0]), 'capnp');
  assert.equal(detectFormat(encode([SMALL[0]], ['-p'])[0]), 'capnp');
});
