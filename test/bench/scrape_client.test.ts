// The bench's scrape client counts what it measures: every response framing a
// scrape target uses, in any split of reads, and a clear error on the rest.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ResponseReader, ScrapeConnection, type ScrapeResponse } from '../../bench/scrape_client.js';

const head = (headers: string) => `HTTP/1.1 200 OK\r\n${headers}\r\n`;
const CASES: { name: string; bytes: string; want: ScrapeResponse | RegExp }[] = [
  { name: 'Content-Length', bytes: `${head('Content-Length: 5\r\n')}hello`, want: { status: 200, contentEncoding: '', bytes: 5 } },
  { name: 'empty body', bytes: head('Content-Length: 0\r\n'), want: { status: 200, contentEncoding: '', bytes: 0 } },
  { name: 'gzip, any case', bytes: `${head('content-encoding: GZIP\r\nContent-Length: 3\r\n')}abc`, want: { status: 200, contentEncoding: 'gzip', bytes: 3 } },
  { name: 'status kept', bytes: `HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno`, want: { status: 404, contentEncoding: '', bytes: 2 } },
  { name: 'chunked, with an extension', bytes: `${head('Transfer-Encoding: chunked\r\n')}5\r\nhello\r\n3;x=1\r\nabc\r\n0\r\n\r\n`, want: { status: 200, contentEncoding: '', bytes: 8 } },
  { name: 'chunked, hex size and a trailer', bytes: `${head('Transfer-Encoding: chunked\r\n')}a\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n`, want: { status: 200, contentEncoding: '', bytes: 10 } },
  { name: 'no framing', bytes: head('Connection: close\r\n'), want: /neither Content-Length nor chunked/ },
  { name: 'bad Content-Length', bytes: head('Content-Length: 5x\r\n'), want: /bad Content-Length "5x"/ },
  { name: 'bad chunk size', bytes: `${head('Transfer-Encoding: chunked\r\n')}zz\r\n`, want: /bad chunk size line "zz"/ },
  { name: 'chunk longer than its size', bytes: `${head('Transfer-Encoding: chunked\r\n')}2\r\nabc\r\n`, want: /chunk data longer than its size/ },
  { name: 'bytes after the response', bytes: `${head('Content-Length: 1\r\n')}ab`, want: /1 bytes after the end/ },
  { name: 'not HTTP', bytes: 'SSH-2.0-OpenSSH\r\n\r\n', want: /bad status line "SSH-2.0-OpenSSH"/ },
];

/** Feeds `bytes` cut at `cuts` (offsets), as reads would hand them over. */
function readInPieces(bytes: Buffer, cuts: number[]): ScrapeResponse | undefined {
  const r = new ResponseReader();
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    // Each piece sits in a larger reused buffer, stale bytes after it, as in onread.
    const buf = Buffer.concat([bytes.subarray(at, c), Buffer.from('\n\r\n0\r\n')]);
    r.feed(buf, 0, c - at);
    at = c;
  }
  return r.complete;
}

for (const c of CASES) {
  test(`scrape client reads ${c.name}, in every split`, () => {
    const bytes = Buffer.from(c.bytes, 'latin1');
    const splits: number[][] = [[], Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)];
    for (let i = 1; i < bytes.length; i++) splits.push([i]);
    for (const cuts of splits) {
      if (c.want instanceof RegExp) assert.throws(() => readInPieces(bytes, cuts), c.want, `cuts ${cuts.join(',')}`);
      else assert.deepEqual(readInPieces(bytes, cuts), c.want, `cuts ${cuts.join(',')}`);
    }
  });
}

test('scrape client: an incomplete response is not complete', () => {
  const bytes = Buffer.from(`${head('Content-Length: 5\r\n')}hell`);
  assert.equal(readInPieces(bytes, []), undefined);
});

test('scrape client: keep-alive GETs of a real server, Content-Length and chunked, several MB', async () => {
  const body = Buffer.alloc(3 * 1024 * 1024 + 7, 'metric{a="b"} 1\n');
  const server = http.createServer((req, res) => {
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-encoding': req.headers['accept-encoding'] === 'gzip' ? 'gzip' : 'identity' });
      for (let at = 0; at < body.length; at += 100_000) res.write(body.subarray(at, at + 100_000));
      res.end();
    } else {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const plain = await ScrapeConnection.open(new URL(`http://127.0.0.1:${port}/`));
  const chunked = await ScrapeConnection.open(new URL(`http://127.0.0.1:${port}/chunked`));
  try {
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await plain.get(), { status: 200, contentEncoding: '', bytes: body.length });
      assert.deepEqual(await chunked.get({ 'accept-encoding': 'gzip' }), { status: 200, contentEncoding: 'gzip', bytes: body.length });
    }
  } finally {
    plain.close();
    chunked.close();
    await new Promise((r) => server.close(r));
  }
});

test('scrape client: a server that closes mid-body fails the GET, naming it', async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': 100 });
    res.write('only part');
    setImmediate(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const conn = await ScrapeConnection.open(new URL(`http://127.0.0.1:${port}/`));
  try {
    await assert.rejects(conn.get(), new RegExp(`127.0.0.1:${port} closed the connection`));
    await assert.rejects(conn.get(), /closed the connection/);
  } finally {
    conn.close();
    await new Promise((r) => server.close(r));
  }
});
