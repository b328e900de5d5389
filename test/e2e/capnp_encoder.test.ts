// End to end against real encoders: `capnp encode` output for large messages
// (100 series), multi-segment and packed, several per stream; and
// python_test_clients/send_capnp.py over TCP and a unix socket into a tiny
// server that feeds CapnpStreamDecoder, with its hand-encoded bytes compared
// to `capnp encode` for the same input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CapnpStreamDecoder } from '../../src/codecs/capnp.js';
import type { InboundMessage } from '../../src/codecs/types.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCHEMA = ROOT + 'schema/metric_data.capnp';
const SENDER = ROOT + 'python_test_clients/send_capnp.py';
const PYTHON = '/usr/bin/python3';
const MAX = 4 << 20;
const run = promisify(execFile);

function lit(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

/**
 * One `capnp encode` run per message, concatenated: capnp 0.9.2 fails with
 * "Input does not contain a struct" when one input holds several large
 * struct literals (seen above ~8 KiB), while each encodes fine on its own.
 */
function encode(msgs: InboundMessage[], opts: string[] = []): Buffer {
  return Buffer.concat(
    msgs.map((m) =>
      execFileSync('capnp', ['encode', ...opts, SCHEMA, 'InboundMetrics'], {
        input: `(appName = ${lit(m.app)}, data = ${lit(m.text)})`,
        maxBuffer: 64 << 20,
      }),
    ),
  );
}

function series(n: number, tag: string): string {
  let s = '# HELP requests_total Requests served.\n# TYPE requests_total counter\n';
  for (let i = 0; i < n; i++) s += `requests_total{app="${tag}",path="/api/v${i}/ünïcode",code="200"} ${i * 17 + 0.5}\n`;
  return s;
}

const MSGS: InboundMessage[] = Array.from({ length: 6 }, (_, i) => ({ app: `app-${i}`, text: series(100, `a${i}`) }));

/** Deterministic pseudo-random chunk sizes (1..max). */
function* chunked(buf: Buffer, seed: number, max: number): Generator<Buffer> {
  let x = seed;
  for (let i = 0; i < buf.length; ) {
    x = (x * 1103515245 + 12345) >>> 0;
    const n = 1 + (x % max);
    yield buf.subarray(i, i + n);
    i += n;
  }
}

function decodeAll(chunks: Iterable<Buffer>, packed: boolean): InboundMessage[] {
  const d = new CapnpStreamDecoder({ maxMessageBytes: MAX, packed });
  const out: InboundMessage[] = [];
  for (const c of chunks) out.push(...d.push(c));
  out.push(...d.end());
  return out;
}

const VARIANTS: { name: string; opts: string[]; packed: boolean }[] = [
  { name: 'single segment', opts: [], packed: false },
  { name: 'segment size 32', opts: ['--segment-size=32'], packed: false },
  { name: 'segment size 1', opts: ['--segment-size=1'], packed: false },
  { name: 'packed', opts: ['-p'], packed: true },
  { name: 'packed, segment size 32', opts: ['-p', '--segment-size=32'], packed: true },
];

for (const v of VARIANTS) {
  test(`capnp encode, 100 series x ${MSGS.length} messages, ${v.name}`, () => {
    const stream = encode(MSGS, v.opts);
    if (v.opts.includes('--segment-size=32') && !v.packed) assert.ok(stream.readUInt32LE(0) >= 1, 'multi-segment');
    assert.deepEqual(decodeAll([stream], v.packed), MSGS, 'one chunk');
    for (const max of [1, 3, 64, 1500, 65536]) {
      assert.deepEqual(decodeAll(chunked(stream, max * 31 + 7, max), v.packed), MSGS, `chunks of up to ${max} bytes`);
    }
  });
}

/** A TCP or unix server whose connections feed a CapnpStreamDecoder each. */
async function withServer(
  listen: string | number,
  packed: boolean,
  body: (address: string) => Promise<void>,
): Promise<{ messages: InboundMessage[]; errors: Error[] }> {
  const messages: InboundMessage[] = [];
  const errors: Error[] = [];
  const closed: Promise<void>[] = [];
  const server = net.createServer((sock) => {
    const d = new CapnpStreamDecoder({ maxMessageBytes: MAX, packed });
    closed.push(
      new Promise((resolve) => {
        sock.on('data', (chunk) => {
          try {
            messages.push(...d.push(chunk));
          } catch (e) {
            errors.push(e as Error);
            sock.destroy();
          }
        });
        sock.on('end', () => {
          try {
            messages.push(...d.end());
          } catch (e) {
            errors.push(e as Error);
          }
          sock.end();
        });
        sock.on('close', () => resolve());
      }),
    );
  });
  await new Promise<void>((resolve) =>
    typeof listen === 'number' ? server.listen(listen, '127.0.0.1', resolve) : server.listen(listen, resolve),
  );
  const addr = server.address();
  const address = typeof addr === 'string' ? addr : `127.0.0.1:${addr!.port}`;
  try {
    await body(address);
    await Promise.all(closed);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  return { messages, errors };
}

test('send_capnp.py over TCP: --count messages on one connection, plain and packed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capnp-e2e-'));
  try {
    const file = join(dir, 'metrics.txt');
    const text = series(100, 'py');
    writeFileSync(file, text);
    for (const packed of [false, true]) {
      const { messages, errors } = await withServer(0, packed, async (address) => {
        const args = [SENDER, '--tcp', address, '--app', 'py-app', '--count', '5', file];
        await run(PYTHON, packed ? [...args, '--packed'] : args);
      });
      assert.deepEqual(errors, []);
      assert.equal(messages.length, 5);
      for (const m of messages) assert.deepEqual(m, { app: 'py-app', text });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('send_capnp.py over a unix socket, text on stdin', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'capnp-e2e-'));
  try {
    const path = join(dir, 'proxy.sock');
    const text = 'up 1\nreq_total{k="v"} 2\n';
    const { messages, errors } = await withServer(path, false, async (address) => {
      await new Promise<void>((resolve, reject) => {
        const child = execFile(PYTHON, [SENDER, '--unix', address, '--app', 'sock-app', '--count', '2'], (err) =>
          err ? reject(err) : resolve(),
        );
        child.stdin!.end(text);
      });
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(messages, [
      { app: 'sock-app', text },
      { app: 'sock-app', text },
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('send_capnp.py hand encoding matches capnp encode, plain and packed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capnp-e2e-'));
  try {
    const cases: InboundMessage[] = [
      { app: 'a', text: 'x 1\n' },
      { app: 'ünïcode app', text: series(100, 'cmp') },
      { app: 'seven77', text: '' },
      { app: 'eight888', text: '1234567' },
    ];
    for (const m of cases) {
      const file = join(dir, 'in.txt');
      writeFileSync(file, m.text);
      for (const packed of [false, true]) {
        const args = [SENDER, '--out', '-', '--no-pycapnp', '--app', m.app, '--count', '3', file];
        const py = execFileSync(PYTHON, packed ? [...args, '--packed'] : args, { maxBuffer: 64 << 20 });
        const ref = encode([m, m, m], packed ? ['-p'] : []);
        assert.deepEqual(decodeAll([py], packed), [m, m, m]);
        assert.deepEqual(decodeAll([py], packed), decodeAll([ref], packed));
        // The hand encoder lays out the segment exactly like the C++ one, and packs the same way.
        assert.equal(py.toString('hex'), ref.toString('hex'), `${m.app}, packed=${packed}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
