// Micro-benchmark: decoding 100-series InboundMetrics messages with
// CapnpStreamDecoder (plain and packed, one message per chunk and 64 KiB
// chunks) against JSON.parse of the equivalent {"app":"text"} object, and
// against capnp-ts reading the struct (its own Text reader, and as the
// decoder used it before capnp_read.ts); and JsonStreamDecoder on 64 KiB chunks
// of such objects back to back and one per line (each object's end guessed,
// then JSON.parse), side by side with the byte scan it falls back to (an app
// name holding `}{` makes every guess wrong). Bounded: about half a second
// per case.
//
//   npx tsc -p tsconfig.json && node dist/bench/capnp_decode.js

import { CapnpStreamDecoder } from '../src/codecs/capnp.js';
import { InboundMetrics, capnp, capnpEncode, capnpTsRead } from '../test/capnp_ts.js';
import { JsonStreamDecoder } from '../src/codecs/json.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.5);

function series(n: number): string {
  let s = '# HELP requests_total Requests served.\n# TYPE requests_total counter\n';
  for (let i = 0; i < n; i++) s += `requests_total{app="bench",path="/api/v${i}/users",code="200"} ${i * 17 + 0.5}\n`;
  return s;
}

function build(app: string, text: string): { plain: Buffer; packed: Buffer } {
  return { plain: Buffer.from(capnpEncode(app, text)), packed: Buffer.from(capnpEncode(app, text, true)) };
}

/** Run `step` (which handles `perStep` messages of `bytesPerStep` bytes) for SECONDS. */
function measure(name: string, perStep: number, bytesPerStep: number, step: () => number): void {
  let checksum = 0;
  for (let i = 0; i < 50; i++) checksum += step(); // warm-up
  const budget = SECONDS * 1e9;
  const t0 = process.hrtime.bigint();
  let steps = 0;
  let elapsed = 0;
  do {
    for (let i = 0; i < 20; i++) checksum += step();
    steps += 20;
    elapsed = Number(process.hrtime.bigint() - t0);
  } while (elapsed < budget);
  const secs = elapsed / 1e9;
  const msgs = (steps * perStep) / secs;
  const mb = (steps * bytesPerStep) / secs / 1e6;
  console.log(
    `${name.padEnd(56)} ${Math.round(msgs).toString().padStart(9)} msg/s ${mb.toFixed(1).padStart(8)} MB/s` +
      (checksum < 0 ? ' ' : ''),
  );
}

const text = series(100);
const app = 'bench-app';
const { plain, packed } = build(app, text);
const json = Buffer.from(JSON.stringify({ [app]: text }));

// Sanity: every path decodes to the same message.
const check = new CapnpStreamDecoder({ maxMessageBytes: 1 << 20 }).push(plain)[0];
if (check.app !== app || check.text !== text) throw new Error('capnp round trip failed');
const checkPacked = new CapnpStreamDecoder({ maxMessageBytes: 1 << 20, packed: true }).push(packed)[0];
if (checkPacked.text !== text) throw new Error('packed round trip failed');

const perChunk = Math.max(1, Math.floor(65536 / plain.length));
const batch = Buffer.concat(Array.from({ length: perChunk }, () => plain));
const perChunkPacked = Math.max(1, Math.floor(65536 / packed.length));
const batchPacked = Buffer.concat(Array.from({ length: perChunkPacked }, () => packed));

console.log(
  `100-series message: exposition text ${Buffer.byteLength(text)} B, capnp ${plain.length} B, ` +
    `packed ${packed.length} B, JSON ${json.length} B; ${SECONDS}s per case (MB/s of input bytes)`,
);

const dec = new CapnpStreamDecoder({ maxMessageBytes: 1 << 20 });
measure('CapnpStreamDecoder, one message per chunk', 1, plain.length, () => dec.push(plain)[0].text.length);
const decB = new CapnpStreamDecoder({ maxMessageBytes: 1 << 20 });
measure(`CapnpStreamDecoder, ${perChunk} messages per chunk`, perChunk, batch.length, () => decB.push(batch).length);
const decP = new CapnpStreamDecoder({ maxMessageBytes: 1 << 20, packed: true });
measure('CapnpStreamDecoder packed, one message per chunk', 1, packed.length, () => decP.push(packed)[0].text.length);
const decPB = new CapnpStreamDecoder({ maxMessageBytes: 1 << 20, packed: true });
measure(`CapnpStreamDecoder packed, ${perChunkPacked} per chunk`, perChunkPacked, batchPacked.length, () => decPB.push(batchPacked).length);
measure('capnp-ts alone: Message + getRoot + getText', 1, plain.length, () => {
  const root = new capnp.Message(plain, false, false).getRoot(InboundMetrics);
  return root.getAppName().length + root.getData().length;
});
// What the decoder did before reading the struct in place (capnp_read.ts): capnp-ts over a copy, Data views, NUL and UTF-8 checks.
measure('capnp-ts reader with our Text checks (before capnp_read)', 1, plain.length, () => capnpTsRead(plain)!.text.length);
measure('JSON.parse of {"app":"text"} (Buffer -> string)', 1, json.length, () => {
  const o = JSON.parse(json.toString('utf8')) as Record<string, string>;
  return o[app].length;
});
const jsonStr = json.toString('utf8');
measure('JSON.parse of {"app":"text"} (string only)', 1, json.length, () => {
  const o = JSON.parse(jsonStr) as Record<string, string>;
  return o[app].length;
});

/** `objects` repeated to fill a 64 KiB chunk (whole objects only), and how many that is. */
function jsonChunk(object: string, separator: string): { chunk: Buffer; count: number } {
  const one = Buffer.from(object + separator);
  const count = Math.max(1, Math.floor(65536 / one.length));
  return { chunk: Buffer.concat(Array.from({ length: count }, () => one)), count };
}
const jsonCases: [string, string, string][] = [
  ['back to back', JSON.stringify({ [app]: text }), ''],
  ['one per line', JSON.stringify({ [app]: text }), '\n'],
  ['byte scan (every guess wrong)', JSON.stringify({ [`${app}}{`]: text }), ''],
];
for (const [name, object, separator] of jsonCases) {
  const { chunk, count } = jsonChunk(object, separator);
  const decJ = new JsonStreamDecoder({ maxMessageBytes: 1 << 20 });
  if (decJ.push(chunk).length !== count) throw new Error(`JsonStreamDecoder ${name}: not ${count} messages`);
  measure(`JsonStreamDecoder ${count}/chunk, ${name}`, count, chunk.length, () => decJ.push(chunk).length);
}
