// The scrape port's protection over real sockets: auth (basic, bearer, from
// files), HTTPS with certificate rotation, slow clients, body size, and the
// reload route (applied, needs restart, refused).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { getText, tempDir } from '../helpers.js';
import { basic, closedWithin, connect, rejected, selfSignedCert, startFromFile, trickle } from '../durability_helpers.js';
import { accessClass, credentialsMatch } from '../../src/http/protection.js';

const scrapeBasic = 'scrape_auth = { basic = { username = "prom", password = "s3cret" } }\n';

test('access classes: probes open, reads need scrape_auth, everything else admin_auth', () => {
  const table: [string, string, string][] = [
    ['GET', '/-/healthy', 'open'],
    ['GET', '/-/ready?x=1', 'open'],
    ['GET', '/metrics', 'scrape'],
    ['HEAD', '/metrics', 'scrape'],
    ['GET', '/apps?format=json', 'scrape'],
    ['GET', '/targets/web/metrics', 'scrape'],
    ['GET', '/api/v1/metrics', 'scrape'],
    ['PUT', '/metrics/job/x', 'admin'],
    ['POST', '/metrics/job/x', 'admin'],
    ['DELETE', '/metrics/job/x', 'admin'],
    ['POST', '/-/reload', 'admin'],
    ['PUT', '/api/v1/admin/wipe', 'admin'],
    ['GET', '/api/v1/admin/anything', 'admin'],
    ['OPTIONS', '/metrics', 'admin'],
    ['POST', '/-/healthy', 'open'],
  ];
  for (const [m, u, want] of table) assert.equal(accessClass(m, u), want, `${m} ${u}`);
});

test('credentialsMatch: exact credentials only, either scheme spelling, never a prefix or a longer secret', () => {
  const b = { kind: 'basic' as const, username: 'u', password: 'p:w' };
  assert.equal(credentialsMatch(basic('u', 'p:w'), b), true);
  assert.equal(credentialsMatch('basic ' + Buffer.from('u:p:w').toString('base64'), b), true);
  for (const h of [undefined, '', 'Basic', basic('u', 'p'), basic('u', 'p:w2'), basic('U', 'p:w'), 'Bearer p:w', 'Basic !!!']) assert.equal(credentialsMatch(h, b), false, String(h));
  const t = { kind: 'bearer' as const, token: 'tok' };
  assert.equal(credentialsMatch('Bearer tok', t), true);
  assert.equal(credentialsMatch('bearer  tok ', t), true);
  for (const h of ['Bearer to', 'Bearer tokk', 'Basic tok', 'tok']) assert.equal(credentialsMatch(h, t), false, h);
});

test('scrape_auth (basic): reads refused without the right credentials (401 + WWW-Authenticate, counted); probes stay open', async () => {
  const p = await startFromFile({ http: scrapeBasic });
  try {
    const none = await getText(`${p.url}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm="exporter-proxy"/);
    assert.match(none.body, /needs http\.scrape_auth credentials/);
    assert.equal((await getText(`${p.url}/apps`, { authorization: basic('prom', 'wrong') })).status, 401);
    assert.equal((await getText(`${p.url}/apps`, { authorization: basic('prom', 's3cret') })).status, 200);
    assert.equal((await getText(`${p.url}/-/healthy`)).status, 200);
    assert.equal((await getText(`${p.url}/-/ready`)).status, 200);
    const ok = await getText(`${p.url}/metrics`, { authorization: basic('prom', 's3cret') });
    assert.equal(ok.status, 200);
    assert.equal(rejected(ok.body, 'http', 'unauthorized'), 2);
    assert.ok(p.logs.some((l) => l.includes('http request refused') && l.includes('reason=unauthorized')));
  } finally {
    await p.stop();
  }
});

test('admin_auth (bearer_token_file) guards POST /-/reload; admin credentials also open reads; the token file is re-read on reload', async () => {
  const dir = tempDir();
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, 'first-token\n');
  const http = `${scrapeBasic}admin_auth = { bearer_token_file = "${tokenFile}" }\n`;
  const p = await startFromFile({ http }, { dir });
  try {
    const post = (headers: Record<string, string>) => fetch(`${p.url}/-/reload`, { method: 'POST', headers });
    assert.equal((await post({})).status, 401);
    assert.equal((await post({ authorization: basic('prom', 's3cret') })).status, 401, 'scrape credentials do not open admin routes');
    assert.equal((await post({ authorization: 'Bearer first-token' })).status, 200);
    assert.equal((await getText(`${p.url}/metrics`, { authorization: 'Bearer first-token' })).status, 200);
    // Pushes (served before fastify when allowed: push/raw_route.ts) need the same credentials.
    const push = async (headers: Record<string, string>) => (await fetch(`${p.url}/metrics/job/guarded`, { method: 'PUT', headers, body: 'm 1\n' })).status;
    assert.equal(await push({}), 401);
    assert.equal(p.proxy.store.has('job="guarded"'), false);
    assert.equal(await push({ authorization: 'Bearer first-token' }), 200);
    assert.equal(p.proxy.store.has('job="guarded"'), true);
    fs.writeFileSync(tokenFile, 'second-token\n');
    const r = await post({ authorization: 'Bearer first-token' });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /applied: http\.admin_auth/);
    assert.equal((await post({ authorization: 'Bearer first-token' })).status, 401);
    assert.equal((await post({ authorization: 'Bearer second-token' })).status, 200);
    assert.equal(await push({ authorization: 'Bearer first-token' }), 401);
    assert.equal(await push({ authorization: 'Bearer second-token' }), 200);
  } finally {
    await p.stop();
  }
});

test('POST /-/reload: live keys applied, restart-only keys reported and ignored, an invalid file refused with every problem (400) and the old config kept', async () => {
  const p = await startFromFile({ store: 'ttl = 0\n' });
  try {
    p.write({ store: 'ttl = 30\nmax_apps = 1\nmax_series_per_app = 5\n', exporter: 'concurrent_requests = 10\n', http: scrapeBasic, receiver: 'format = "capnp"\nread_timeout = 5\n' });
    const r = await fetch(`${p.url}/-/reload?format=json`, { method: 'POST' });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { applied: string[]; needs_restart: string[] };
    assert.deepEqual(body.applied, ['exporter.concurrent_requests', 'http.scrape_auth', 'receiver.read_timeout', 'store.max_apps', 'store.max_series_per_app', 'store.ttl']);
    assert.deepEqual(body.needs_restart, ['receiver.format']);
    // Applied: auth now needed, ttl and limits in force.
    assert.equal((await getText(`${p.url}/metrics`)).status, 401);
    assert.equal(p.proxy.ingest({ app: 'a', text: 'm 1\n', source: 's', receiver: 'tcp' }), true);
    assert.ok(p.proxy.store.getApp('a')!.info.expiresAt! > Date.now() + 29_000);
    assert.equal(p.proxy.ingest({ app: 'b', text: 'm 1\n', source: 's', receiver: 'tcp' }), false, 'max_apps = 1');

    p.write({ store: 'ttl = -1\nmax_apps = "many"\n', http: 'read_timeout = 1\nheaders_timeout = 2\nbogus = 1\n' });
    const bad = await fetch(`${p.url}/-/reload`, { method: 'POST' });
    assert.equal(bad.status, 400);
    const text = await bad.text();
    for (const key of ['store.ttl: must be at least 0', 'store.max_apps: must be a number', 'http.headers_timeout: must be at most http.read_timeout', 'http.bogus: unknown key']) assert.ok(text.includes(key), text);
    assert.match(text, /^config not reloaded; the running config stays/);
    assert.equal((await getText(`${p.url}/metrics`, { authorization: basic('prom', 's3cret') })).status, 200, 'the old auth still runs');
    assert.ok(p.logs.some((l) => l.includes('config reload refused')));

    p.write({ exporter: 'scrape_expose_endpoint = "127.0.0.1:1"\n', http: scrapeBasic });
    const again = await fetch(`${p.url}/-/reload`, { method: 'POST' });
    assert.match(await again.text(), /needs restart \(ignored until then\): exporter\.scrape_expose_endpoint/);
  } finally {
    await p.stop();
  }
});

test('slow HTTP clients: headers trickled past headers_timeout and a body trickled past read_timeout are cut off with 408 and counted', async () => {
  const p = await startFromFile({ http: 'headers_timeout = 0.3\nread_timeout = 0.6\n' });
  try {
    const s1 = await connect(p.addr.http.port);
    const stop1 = trickle(s1, 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(1000), 20);
    const r1 = await closedWithin(s1, 3000);
    stop1();
    assert.ok(r1.afterMs >= 250 && r1.afterMs < 1500, `closed after ${r1.afterMs} ms`);
    assert.match(r1.received, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(r1.received.endsWith('\r\n\r\nE_READ_TIMEOUT: request not received in time (http.headers_timeout for its headers, http.read_timeout for all of it); connection closed\n'), r1.received);

    const s2 = await connect(p.addr.http.port);
    s2.write('POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n');
    const stop2 = trickle(s2, 'x'.repeat(1000), 20);
    const r2 = await closedWithin(s2, 3000);
    stop2();
    assert.ok(r2.afterMs >= 500 && r2.afterMs < 2000, `closed after ${r2.afterMs} ms`);
    const m = (await getText(`${p.url}/metrics`)).body;
    assert.equal(rejected(m, 'http', 'read_timeout'), 2);
  } finally {
    await p.stop();
  }
});

test('a request node cannot parse gets a plain-text 400, headers over the size limit a 431, each counted', async () => {
  const p = await startFromFile({});
  try {
    const garbage = await connect(p.addr.http.port);
    garbage.write('HELLO THERE\r\n\r\n');
    const r1 = await closedWithin(garbage, 3000);
    assert.match(r1.received, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(r1.received, /content-type: text\/plain; charset=utf-8\r\n/i);
    assert.ok(r1.received.endsWith('\r\n\r\nE_BAD_REQUEST: malformed HTTP request (HPE_INVALID_METHOD); connection closed\n'), r1.received);

    const huge = await connect(p.addr.http.port);
    huge.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const r2 = await closedWithin(huge, 3000);
    assert.match(r2.received, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    assert.match(r2.received, /E_TOO_LARGE: request headers are larger than \d+ bytes/);

    const m = (await getText(`${p.url}/metrics`)).body;
    assert.equal(rejected(m, 'http', 'bad_request'), 1);
    assert.equal(rejected(m, 'http', 'too_large'), 1);
  } finally {
    await p.stop();
  }
});

test('a body over http.max_body_bytes is refused with 413 and counted', async () => {
  const p = await startFromFile({ http: 'max_body_bytes = 2048\n' });
  try {
    const r = await fetch(`${p.url}/-/reload`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(5000) });
    assert.equal(r.status, 413);
    assert.equal(await r.text(), 'E_TOO_LARGE: request body is larger than http.max_body_bytes (2048 bytes)\n');
    assert.equal(rejected((await getText(`${p.url}/metrics`)).body, 'http', 'too_large'), 1);
  } finally {
    await p.stop();
  }
});

function httpsGet(url: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, fingerprint: (res.socket as tls.TLSSocket).getPeerCertificate().fingerprint256 }));
    });
    req.on('error', reject);
  });
}

test('HTTPS on the scrape port (tls_cert_file/tls_key_file); a rotated certificate is picked up by a reload', async () => {
  const dir = tempDir();
  const one = selfSignedCert(dir, 'one');
  const two = selfSignedCert(dir, 'two');
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  fs.copyFileSync(one.cert, certFile);
  fs.copyFileSync(one.key, keyFile);
  const http = `tls_cert_file = "${certFile}"\ntls_key_file = "${keyFile}"\n${scrapeBasic}`;
  const p = await startFromFile({ http }, { dir, scheme: 'https' });
  try {
    const ca = fs.readFileSync(one.cert, 'utf8') + fs.readFileSync(two.cert, 'utf8');
    const a = await httpsGet(`${p.url}/metrics`, ca, { authorization: basic('prom', 's3cret') });
    assert.equal(a.status, 200);
    assert.match(a.body, /exporter_proxy_apps/);
    assert.equal((await httpsGet(`${p.url}/metrics`, ca)).status, 401);
    await assert.rejects(fetch(`${p.url.replace('https', 'http')}/metrics`), 'plain HTTP is not served');
    fs.copyFileSync(two.cert, certFile);
    fs.copyFileSync(two.key, keyFile);
    assert.equal(p.proxy.reloadFromFile().ok, true);
    const b = await httpsGet(`${p.url}/metrics`, ca, { authorization: basic('prom', 's3cret') });
    assert.equal(b.status, 200);
    assert.notEqual(b.fingerprint, a.fingerprint, 'the new certificate is served');
  } finally {
    await p.stop();
  }
});
