import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { FIXTURES, startProxy, send, waitFor, getText, tempDir, testConfig } from '../helpers.js';
import { ExporterProxy } from '../../src/app.js';
import { memoryLogger } from '../../src/log.js';
import { ListenError } from '../../src/errors.js';
import { StreamServer } from '../../src/receivers/stream.js';
import { decoderFactory } from '../../src/receivers/sockets.js';

const arrayPayload = fs.readFileSync(path.join(FIXTURES, 'json_array.json'));
const stringPayload = fs.readFileSync(path.join(FIXTURES, 'json_string.json'));

test('TCP and unix socket receivers store the reference payloads with their source', async () => {
  const p = await startProxy();
  try {
    await send({ port: p.addr.tcp!.port }, stringPayload);
    await send({ path: p.addr.unix! }, arrayPayload);
    const apps = await waitFor(() => (p.proxy.store.appCount === 2 ? p.proxy.store.listApps() : undefined));
    const byApp = Object.fromEntries(apps.map((a) => [a.app, a]));
    assert.equal(byApp.foo_bar_app0_metrics.receiver, 'tcp');
    assert.equal(byApp.foo_bar_app1_metrics.source, p.addr.unix);
    const { body } = await getText(`${p.url}/metrics`);
    assert.match(body, /http_requests_total_foo_bar_app0\{method="post",code="400"\} 3 1395066363000\n/);
    assert.match(body, /http_requests_total_foo_bar_app1\{method="post",code="200"\} 1027 1395066363000\n/);
  } finally {
    await p.stop();
  }
});

test('the unix socket gets the configured mode and is removed on stop', async () => {
  const p = await startProxy({ receiver: 'unix_socket_mode = "0600"' });
  const sock = p.addr.unix!;
  assert.equal(fs.statSync(sock).mode & 0o777, 0o600);
  await p.stop();
  assert.equal(fs.existsSync(sock), false);
});

test('many objects on one long-lived connection; a framing error keeps what came before', async () => {
  const p = await startProxy();
  try {
    await send({ port: p.addr.tcp!.port }, ['{"a":"x 1"}', '{"b":"y 1"}\n{"c": 42}', '{"d":"never 1"}']);
    await waitFor(() => p.proxy.store.appCount === 2);
    assert.deepEqual(p.proxy.store.listApps().map((a) => a.app).sort(), ['a', 'b']);
    const { body } = await getText(`${p.url}/metrics`);
    assert.match(body, /exporter_proxy_rejected_total\{receiver="tcp",reason="json"\} 1/);
    assert.match(body, /exporter_proxy_received_total\{receiver="tcp"\} 2/);
    assert.ok(p.logs.some((l) => l.includes('code=E_JSON') && l.includes('receiver=tcp')), p.logs.join('\n'));
  } finally {
    await p.stop();
  }
});

test('an invalid exposition for one app rejects that app only; the connection goes on', async () => {
  const p = await startProxy();
  try {
    await send({ port: p.addr.tcp!.port }, '{"good":"a 1","bad":"b{ 1"}{"later":"c 1"}');
    await waitFor(() => p.proxy.store.appCount === 2);
    const bad = p.proxy.store.listApps().find((a) => a.app === 'bad')!;
    assert.equal(bad.lastError?.code, 'E_PARSE');
  } finally {
    await p.stop();
  }
});

test('oversized message: connection closed, counted, nothing stored changes', async () => {
  const p = await startProxy({ receiver: 'max_payload_bytes = 2048' });
  try {
    await send({ port: p.addr.tcp!.port }, '{"a":"x 1"}');
    await waitFor(() => p.proxy.store.appCount === 1);
    await send({ port: p.addr.tcp!.port }, '{"a":"' + 'x'.repeat(4096) + ' 1"}');
    await waitFor(() => p.logs.some((l) => l.includes('E_TOO_LARGE')));
    assert.match((await getText(`${p.url}/metrics`)).body, /^x 1$/m);
  } finally {
    await p.stop();
  }
});

test('idle connections are closed after idle_timeout', async () => {
  const p = await startProxy({ receiver: 'idle_timeout = 0.2' });
  try {
    const sock = net.connect({ port: p.addr.tcp!.port });
    sock.write('{"a":');
    const closed = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      sock.on('close', () => resolve(Date.now() - t0));
      sock.on('error', () => {});
    });
    assert.ok(closed >= 150, `closed after ${closed} ms`);
    assert.ok(p.logs.some((l) => l.includes('E_IDLE_TIMEOUT') && l.includes('(receiver.idle_timeout)')), p.logs.join('\n'));
  } finally {
    await p.stop();
  }
});

test('concurrent_requests caps open connections per receiver', async () => {
  const dir = tempDir();
  const config = testConfig(dir);
  config.exporter.concurrentRequests = 1;
  const proxy = new ExporterProxy({ config, logger: memoryLogger(), defaultMetrics: false });
  const addr = await proxy.start();
  try {
    const first = net.connect({ port: addr.tcp!.port });
    await new Promise((r) => first.on('connect', r));
    await waitFor(() => proxy['receivers'][0].server.connections === 1);
    const second = net.connect({ port: addr.tcp!.port });
    second.on('error', () => {});
    await new Promise((r) => second.on('close', r));
    first.end('{"a":"x 1"}');
    await waitFor(() => proxy.store.appCount === 1);
  } finally {
    await proxy.stop(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a port in use is a ListenError naming the address; a live unix socket is not stolen', async () => {
  const p = await startProxy();
  try {
    const dir = tempDir();
    const config = testConfig(dir);
    config.receiver.tcp.port = p.addr.tcp!.port;
    const other = new ExporterProxy({ config, logger: memoryLogger(), defaultMetrics: false });
    await assert.rejects(other.start(), (e: unknown) => e instanceof ListenError && /cannot listen on tcp 127\.0\.0\.1:\d+: address already in use/.test(e.message));
    const config2 = testConfig(dir);
    config2.receiver.unix.path = p.addr.unix!;
    const third = new ExporterProxy({ config: config2, logger: memoryLogger(), defaultMetrics: false });
    await assert.rejects(third.start(), /another process is listening on it/);
    assert.ok(fs.existsSync(p.addr.unix!), 'the running proxy keeps its socket');
    fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    await p.stop();
  }
});

test('a stale socket file from a crashed run is replaced', async () => {
  const dir = tempDir();
  const sockPath = path.join(dir, 'receiver.sock');
  // A process that listens on the path and is killed with SIGKILL leaves the file behind.
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sockPath)}, () => console.log('up'))`]);
  await new Promise((r) => child.stdout.once('data', r));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(fs.existsSync(sockPath));
  const config = testConfig(dir);
  const proxy = new ExporterProxy({ config, logger: memoryLogger(), defaultMetrics: false });
  const addr = await proxy.start();
  await send({ path: addr.unix! }, '{"a":"x 1"}');
  await waitFor(() => proxy.store.appCount === 1);
  await proxy.stop(1000);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('setPaused stops reading on open and new connections until resumed (backpressure)', async () => {
  const got: string[] = [];
  const server = new StreamServer({
    receiver: 'tcp',
    source: 'test',
    newDecoder: decoderFactory('json', 1 << 20),
    onMessage: (m) => got.push(m.app),
    onError: () => undefined,
    maxConnections: 10,
    idleTimeoutMs: 0,
  });
  await new Promise<void>((r) => server.server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as net.AddressInfo).port;
  const open = net.connect(port, '127.0.0.1');
  try {
    await new Promise((r) => open.once('connect', r));
    await waitFor(() => server.connections === 1, 2000, 'connection accepted');
    server.setPaused(true);
    open.write(JSON.stringify({ before: 'm 1\n' }));
    const late = net.connect(port, '127.0.0.1', () => late.end(JSON.stringify({ later: 'm 2\n' })));
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(got, [], 'nothing read while paused');
    server.setPaused(false);
    await waitFor(() => got.length === 2, 2000, 'both read once resumed');
    assert.deepEqual(got.sort(), ['before', 'later']);
  } finally {
    open.destroy();
    await server.stop(Date.now());
  }
});
