// The push fast path (push/raw_route.ts) on a real server on port 0, in
// front of fastify as in the proxy: what it takes it answers exactly as
// fastify's route does (compared with inject on a twin rig), and what it
// must not take reaches fastify untouched.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { rawPushRoute, type RawPushRouteOptions } from '../../src/push/raw_route.js';
import { PROTOBUF_CT, gzip, protobufFixture, pushRig, type PushRig } from './push_helpers.js';

interface Served {
  rig: PushRig;
  url: string;
  /** `METHOD url` of each request the fast path handed on to fastify. */
  handedOn: string[];
  close(): Promise<void>;
}

async function serve(opts: Partial<RawPushRouteOptions> & { maxBodyBytes?: number } = {}): Promise<Served> {
  const rig = pushRig({ maxBodyBytes: opts.maxBodyBytes });
  await rig.app.ready();
  const route = rawPushRoute(rig.handler, { maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024, allowed: opts.allowed ?? (() => true), closing: opts.closing ?? (() => false) });
  const handedOn: string[] = [];
  const server = http.createServer((req, res) => {
    if (route(req, res)) return;
    handedOn.push(`${req.method} ${req.url}`);
    rig.app.routing(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    rig,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    handedOn,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rig.close();
    },
  };
}

interface Req {
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
}

interface Res {
  status: number;
  type: string | undefined;
  body: string;
}

function request(base: string, r: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : Buffer.from(r.body);
    const headers = { ...r.headers, ...(body && !r.chunked ? { 'content-length': String(body.length) } : {}) };
    const req = http.request(`${base}${r.path}`, { method: r.method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body: text }));
    });
    req.on('error', reject);
    if (body && r.chunked) req.write(body);
    req.end(r.chunked ? undefined : body);
  });
}

async function injected(rig: PushRig, r: Req): Promise<Res> {
  const res = await rig.app.inject({ method: r.method as 'PUT', url: r.path, payload: r.body, headers: r.headers });
  return { status: res.statusCode, type: res.headers['content-type'] as string | undefined, body: res.body };
}

// One sequence of pushes to one group and another: each answer and the
// store after it must be the same whichever way the requests come in.
const SEQUENCE: Req[] = [
  { method: 'PUT', path: '/metrics/job/j/instance/a', body: '# TYPE m counter\nm{x="1"} 1\nm{x="2"} 2\n' },
  { method: 'POST', path: '/metrics/job/j/instance/a', body: 'n 5\n' },
  { method: 'PUT', path: '/metrics/job/j/instance/a', body: 'm{x="1"} 1\nm{x="1"} 2\n' }, // duplicate series: 400, the failure time set
  { method: 'PUT', path: '/metrics/job/j/x/9', body: 'm{x="1"} 1\nm{x="2"} 2\n' }, // collapsed by the grouping label
  { method: 'PUT', path: '/metrics/job/j/instance/a', body: 'm{x="1"} one\n' }, // syntax: 400
  { method: 'PUT', path: '/metrics/job/j/instance/a', body: Buffer.from([0x6d, 0x20, 0xff, 0x0a]) }, // not UTF-8
  { method: 'PUT', path: '/metrics/job/', body: 'm 1\n' }, // no job name
  { method: 'PUT', path: '/metrics/job@base64/ag/instance@base64/Yg', body: 'm{x="3"} 3\n' },
  { method: 'PUT', path: '/metrics/job/j/instance/p', body: protobufFixture('counter.bin'), headers: { 'content-type': PROTOBUF_CT } },
  { method: 'POST', path: '/metrics/job/j/instance/a', body: '' },
  { method: 'PUT', path: '/metrics/job/j/instance/a?x=1', body: 'q 1\n' },
  { method: 'DELETE', path: '/metrics/job/j/instance/p' },
  { method: 'DELETE', path: '/metrics/job/j/instance/never' },
];

test('what the fast path takes, it answers and stores as fastify does, request by request', async () => {
  const fast = await serve();
  const slow = pushRig();
  try {
    for (const r of SEQUENCE) {
      const what = `${r.method} ${r.path}`;
      const got = await request(fast.url, r);
      const want = await injected(slow, r);
      assert.deepEqual(got, want, what);
      assert.equal(fast.rig.metrics(), slow.metrics(), what);
      assert.deepEqual(fast.rig.rejected, slow.rejected, what);
    }
    assert.deepEqual(fast.handedOn, []);
    // The sequence did reach the store, and did get refused where it should.
    assert.deepEqual(
      fast.rig.lines().filter((l) => !l.startsWith('push_')),
      ['m{instance="b",job="j",x="3"} 3', 'q{instance="a",job="j"} 1'], // the last PUT to a replaced it; p was deleted
    );
    assert.deepEqual(fast.rig.rejected.map((e) => e.code), ['E_DUPLICATE_SERIES', 'E_DUPLICATE_SERIES', 'E_PARSE', 'E_PARSE', 'E_GROUPING_KEY']);
  } finally {
    await fast.close();
    await slow.close();
  }
});

test('encoded, chunked, too large, other methods and paths, malformed paths are left to fastify, which answers them', async () => {
  const s = await serve({ maxBodyBytes: 64 });
  try {
    const cases: [Req, number][] = [
      [{ method: 'PUT', path: '/metrics/job/j', body: gzip('m 1\n'), headers: { 'content-encoding': 'gzip' } }, 200],
      [{ method: 'PUT', path: '/metrics/job/j', body: 'm 2\n', chunked: true }, 200],
      [{ method: 'PUT', path: '/metrics/job/j', body: 'm 3\n'.repeat(20) }, 413],
      [{ method: 'GET', path: '/metrics/job/j' }, 404],
      [{ method: 'PUT', path: '/metrics/jobs/j', body: 'm 4\n' }, 404],
      [{ method: 'PUT', path: '/metrics/job/j/l/%ZZ', body: 'm 5\n' }, 400], // the router's to refuse (E_BAD_URL in the proxy)
    ];
    for (const [r, status] of cases) assert.equal((await request(s.url, r)).status, status, `${r.method} ${r.path}`);
    assert.deepEqual(s.handedOn, ['PUT /metrics/job/j', 'PUT /metrics/job/j', 'PUT /metrics/job/j', 'GET /metrics/job/j', 'PUT /metrics/jobs/j', 'PUT /metrics/job/j/l/%ZZ']);
    assert.deepEqual(s.rig.lines().filter((l) => l.startsWith('m')), ['m{instance="",job="j"} 2']);
    assert.equal((await request(s.url, { method: 'PUT', path: '/metrics/job/j', body: 'm 5\n' })).status, 200);
    assert.equal((await request(s.url, { method: 'PUT', path: '/metrics/job/j/l/%C3%A9', body: 'm 6\n' })).status, 200);
    assert.equal(s.handedOn.length, 6); // plain pushes under the limit, on paths that decode: the fast path's
  } finally {
    await s.close();
  }
});

test('a request not allowed, or arriving while the server closes, is left to fastify', async () => {
  let allowed = false;
  let closing = false;
  const s = await serve({ allowed: () => allowed, closing: () => closing });
  try {
    const push: Req = { method: 'PUT', path: '/metrics/job/j', body: 'm 1\n' };
    await request(s.url, push);
    closing = true;
    allowed = true;
    await request(s.url, push);
    closing = false;
    await request(s.url, push);
    assert.deepEqual(s.handedOn, ['PUT /metrics/job/j', 'PUT /metrics/job/j']);
  } finally {
    await s.close();
  }
});

test('a client that stops mid-body changes nothing, and the server goes on', async () => {
  const s = await serve();
  try {
    assert.equal((await request(s.url, { method: 'PUT', path: '/metrics/job/j', body: 'm 1\n' })).status, 200);
    const before = s.rig.metrics();
    const { port } = new URL(s.url);
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => {
        sock.write('PUT /metrics/job/j HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nm 2\nn 3\n');
        setTimeout(() => sock.destroy(), 50);
      });
      sock.on('close', () => resolve());
      sock.on('error', reject);
    });
    assert.equal(s.rig.metrics(), before);
    assert.equal((await request(s.url, { method: 'PUT', path: '/metrics/job/j', body: 'm 3\n' })).status, 200);
    assert.ok(s.rig.lines().includes('m{instance="",job="j"} 3'));
    assert.deepEqual(s.handedOn, []);
  } finally {
    await s.close();
  }
});
