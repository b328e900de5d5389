// Sender: the store body an output sends stays held (the render cache may
// not reuse its memory) until the request is done, however long the build
// takes; and released when the build fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sender, type OutputKind, type OutputSettings } from '../../src/outputs/sender.js';
import { memoryLogger } from '../../src/log.js';
import { RenderCache } from '../../src/store/render_cache.js';
import { Store } from '../../src/store/store.js';
import { waitFor } from '../helpers.js';

test('the body is held through a slow build: the bytes sent are the store as it was when the send began', async () => {
  const store = new Store({ ttlMs: 0, appLabel: '' });
  const text = (v: number) => Array.from({ length: 5_000 }, (_, i) => `m{i="${i}",pad="${'x'.repeat(40)}"} ${v}`).join('\n') + '\n';
  store.put({ app: 'a', text: text(1), source: 't', receiver: 'tcp' });
  const cache = new RenderCache(store);
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let releases = 0;
  const kind: OutputKind<OutputSettings> = {
    name: 'test_out',
    what: 'test output',
    build: async (config, store) => {
      await new Promise((r) => setTimeout(r, 400)); // a build in slices, longer than the two renders below
      return { url: config.url, method: 'PUT', headers: {}, body: store.body };
    },
  };
  // What the app hands its senders, with the releases counted.
  const storeBody = () => {
    const held = cache.currentHeld();
    return { ...held, release: () => (releases++, held.release()) };
  };
  const sender = new Sender({ kind, config: { url, intervalMs: 60_000, timeoutMs: 10_000 }, storeBody, logger: memoryLogger() });
  const sent = cache.current().body.toString();
  sender.start();
  try {
    // Meanwhile the store changes twice and is rendered twice: without the hold, the second render reuses the body being sent.
    for (const v of [2, 3]) {
      await new Promise((r) => setTimeout(r, 60));
      store.put({ app: 'a', text: text(v), source: 't', receiver: 'tcp' });
      cache.current();
    }
    await waitFor(() => received.length === 1 && releases === 1, 5000, 'the request received and the body released');
    assert.equal(received[0]!.length, sent.length);
    assert.ok(received[0] === sent, 'the bytes of the store as it was when the send began');
  } finally {
    await sender.stop();
    server.close();
  }
});

test('a build that throws releases the body too', async () => {
  let releases = 0;
  const kind: OutputKind<OutputSettings> = { name: 'test_out', what: 'test output', build: async () => Promise.reject(new Error('no')) };
  const logger = memoryLogger();
  const sender = new Sender({ kind, config: { url: 'http://127.0.0.1:1', intervalMs: 60_000, timeoutMs: 1000 }, storeBody: () => ({ body: Buffer.from('x 1\n'), overlappingFamilies: 0, release: () => void releases++ }), logger });
  sender.start();
  try {
    await waitFor(() => releases === 1, 5000, 'the release');
    assert.match(logger.lines.join('\n'), /reason=invalid err=no/);
  } finally {
    await sender.stop();
  }
});
