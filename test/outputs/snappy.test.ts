// Our snappy block encoder, decoded by the reference implementation's
// Python binding (Debian's python3-snappy, /usr/bin/python3): every input of
// the table must come back byte for byte. Sizes show it compresses.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { maxCompressedLength, snappyCompress } from '../../src/outputs/snappy.js';
import { tempDir } from '../helpers.js';

const PYTHON = '/usr/bin/python3';

/** Deterministic pseudo-random bytes (xorshift), incompressible. */
function noise(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function exposition(series: number): Buffer {
  let s = '';
  for (let i = 0; i < series; i++) s += `http_requests_total{code="200",method="get",path="/api/v1/items/${i}",instance="host-${i % 7}:9100"} ${i * 3}\n`;
  return Buffer.from(s);
}

const CASES: [name: string, input: Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['1 byte', Buffer.from('x')],
  ['16 bytes, one literal (below the smallest block that is searched)', Buffer.from('abcdabcdabcdabcd')],
  ['17 bytes, the smallest block searched', Buffer.from('abcdabcdabcdabcda')],
  ['one byte repeated: copies at offset 1, longer than 64', Buffer.alloc(5000, 0x61)],
  ['a 4-byte pattern: 1-byte-offset copies', Buffer.from('wxyz'.repeat(300))],
  ['exposition text, several blocks', exposition(3000)],
  ['noise, several blocks (literals of 2-byte lengths)', noise(200_000)],
  ['exactly one block', noise(1 << 16, 7)],
  ['one block and 1 byte', Buffer.concat([noise(1 << 16, 9), Buffer.from('z')])],
  ['noise then repeats across a block boundary', Buffer.concat([noise(60_000, 3), Buffer.alloc(20_000, 0x20), noise(60_000, 3)])],
];

test('snappyCompress: Python snappy (the reference implementation) decodes every case to its input', async () => {
  assert.ok(fs.existsSync(PYTHON), 'needs /usr/bin/python3');
  const check = spawnSync(PYTHON, ['-c', 'import snappy'], { encoding: 'utf8' });
  assert.equal(check.status, 0, `python3-snappy is not installed: apt-get install python3-snappy (scripts/install-test-deps.sh does it)\n${check.stderr}`);
  const dir = tempDir();
  const files: string[] = [];
  for (const [i, [, input]] of CASES.entries()) {
    const out = await snappyCompress(input);
    assert.ok(out.length <= maxCompressedLength(input.length), `${CASES[i]![0]}: ${out.length} bytes is over the bound`);
    files.push(path.join(dir, `case${i}`));
    fs.writeFileSync(files.at(-1)! + '.snappy', out);
  }
  const py = 'import snappy, sys\nfor f in sys.argv[1:]:\n    open(f + ".out", "wb").write(snappy.uncompress(open(f + ".snappy", "rb").read()))\n';
  const run = spawnSync(PYTHON, ['-c', py, ...files], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  for (const [i, [name, input]] of CASES.entries()) assert.ok(fs.readFileSync(files[i]! + '.out').equals(input), name);
});

test('snappyCompress: repetitive input shrinks, noise grows only by its framing', async () => {
  const text = exposition(3000);
  const packed = await snappyCompress(text);
  assert.ok(packed.length * 4 < text.length, `exposition text: ${text.length} -> ${packed.length} bytes`);
  assert.ok((await snappyCompress(Buffer.alloc(5000, 0x61))).length < 300);
  const random = noise(200_000);
  const out = await snappyCompress(random);
  // Per 64 KiB block a 3-byte literal tag; 3 bytes for the length up front.
  assert.ok(out.length <= random.length + 3 + 4 * 3, `noise: ${random.length} -> ${out.length} bytes`);
});

test('snappyCompress awaits the pause between blocks, so a caller can let the event loop in', async () => {
  let pauses = 0;
  const out = await snappyCompress(noise(16 << 16), async () => {
    pauses++;
    await new Promise((r) => setImmediate(r));
  });
  assert.equal(pauses, 15, '16 blocks, a pause between each two');
  assert.equal(out.length, 16 * ((1 << 16) + 3) + 3);
});
