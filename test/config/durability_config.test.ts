// The durability and protection keys: defaults, values, and every problem
// naming its key; the reload planner's classification of changed keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { configFromText } from '../../src/config/config.js';
import { planReload } from '../../src/reload.js';
import { tempDir, configProblems as problems } from '../helpers.js';
import { selfSignedCert } from '../durability_helpers.js';


test('defaults: no persistence, no limits, no auth, no TLS, every peer allowed, socket ttl follows the store', () => {
  const c = configFromText('');
  assert.deepEqual(c.store, { ttlMs: 0, appLabel: '', maxSeriesPerApp: 0, maxApps: 0, persistenceFile: '', persistenceIntervalMs: 5000 });
  assert.equal(c.receiver.readTimeoutMs, 30_000);
  assert.equal(c.receiver.ttlMs, undefined);
  assert.deepEqual(c.receiver.allowedCidrs, []);
  assert.deepEqual(c.http, { readTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 65_000, idleTimeoutMs: 300_000, maxBodyBytes: 16 * 1024 * 1024, scrapeAuth: undefined, adminAuth: undefined });
});

test('values: persistence, limits, per-receiver ttl (0 = never, distinct from absent), auth from inline values and files', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'pw'), 'from-file\n');
  fs.writeFileSync(path.join(dir, 'tok'), '  tok-from-file \n');
  const c = configFromText(`
[receiver]
ttl = 0
read_timeout = 2.5
allowed_cidrs = ["127.0.0.0/8", "::1/128"]
[store]
persistence_file = "${path.join(dir, 'snap')}"
persistence_interval = 0.5
max_series_per_app = 100
max_apps = 10
[http]
read_timeout = 20
headers_timeout = 20
scrape_auth = { basic = { username = "prom", password_file = "${path.join(dir, 'pw')}" } }
admin_auth = { bearer_token_file = "${path.join(dir, 'tok')}" }
`);
  assert.equal(c.receiver.ttlMs, 0);
  assert.equal(c.receiver.readTimeoutMs, 2500);
  assert.deepEqual(c.receiver.allowedCidrs, ['127.0.0.0/8', '::1/128']);
  assert.equal(c.store.persistenceFile, path.join(dir, 'snap'));
  assert.equal(c.store.persistenceIntervalMs, 500);
  assert.equal(c.store.maxSeriesPerApp, 100);
  assert.deepEqual(c.http.scrapeAuth, { kind: 'basic', username: 'prom', password: 'from-file' });
  assert.deepEqual(c.http.adminAuth, { kind: 'bearer', token: 'tok-from-file' });
  assert.equal(configFromText('[http]\nadmin_auth = { bearer_token = "inline" }\n').http.adminAuth?.kind, 'bearer');
  fs.rmSync(dir, { recursive: true });
});

test('TLS files load and are checked as a pair', () => {
  const dir = tempDir();
  const a = selfSignedCert(dir, 'a');
  const b = selfSignedCert(dir, 'b');
  const c = configFromText(`[http]\ntls_cert_file = "${a.cert}"\ntls_key_file = "${a.key}"\n`);
  assert.equal(c.http.tls?.certFile, a.cert);
  assert.match(c.http.tls!.cert, /BEGIN CERTIFICATE/);
  assert.match(problems(`[http]\ntls_cert_file = "${a.cert}"\ntls_key_file = "${b.key}"\n`).join('\n'), /^http\.tls_cert_file: certificate and key do not load together/);
  fs.rmSync(dir, { recursive: true });
});

const PROBLEMS: [toml: string, problem: RegExp][] = [
  ['[store]\nmax_apps = -1', /^store\.max_apps: must be at least 0, got -1$/],
  ['[store]\nmax_series_per_app = 1.5', /^store\.max_series_per_app: must be a whole number/],
  ['[store]\npersistence_file = "/nonexistent-dir-xyz/snap"', /^store\.persistence_file: directory "\/nonexistent-dir-xyz" does not exist$/],
  ['[store]\npersistence_interval = 0', /^store\.persistence_interval: must be at least 0\.05/],
  ['[receiver]\nallowed_cidrs = ["10.0.0.0/8", "nope"]', /^receiver\.allowed_cidrs: must be an IPv4 or IPv6 address or prefix/],
  ['[receiver]\nallowed_cidrs = ["10.0.0.0/40"]', /^receiver\.allowed_cidrs: prefix length must be 0 to 32/],
  ['[receiver]\nread_timeout = 0', /^receiver\.read_timeout: must be at least 0\.01/],
  ['[receiver]\nttl = -5', /^receiver\.ttl: must be at least 0/],
  ['[http]\nheaders_timeout = 40', /^http\.headers_timeout: must be at most http\.read_timeout \(30\), got 40$/],
  ['[http]\nmax_body_bytes = 10', /^http\.max_body_bytes: must be at least 1024/],
  ['[http]\nnope = 1', /^http\.nope: unknown key$/],
  ['[http]\nscrape_auth = "secret"', /^http\.scrape_auth: must be a table/],
  ['[http]\nscrape_auth = {}', /^http\.scrape_auth: needs exactly one of basic, bearer_token, bearer_token_file$/],
  ['[http]\nscrape_auth = { bearer_token = "a", bearer_token_file = "b" }', /^http\.scrape_auth: needs exactly one of .*; got bearer_token and bearer_token_file$/],
  ['[http]\nscrape_auth = { token = "a" }', /^http\.scrape_auth\.token: unknown key$/],
  ['[http]\nadmin_auth = { bearer_token = "" }', /^http\.admin_auth\.bearer_token: must be a non-empty string$/],
  ['[http]\nadmin_auth = { bearer_token_file = "/nonexistent-token" }', /^http\.admin_auth\.bearer_token_file: cannot read "\/nonexistent-token": ENOENT$/],
  ['[http]\nadmin_auth = { basic = { username = "u" } }', /^http\.admin_auth\.basic: needs exactly one of password, password_file$/],
  ['[http]\nadmin_auth = { basic = { username = "u:x", password = "p" } }', /^http\.admin_auth\.basic\.username: must be a non-empty string without ":"$/],
  ['[http]\nadmin_auth = { basic = { username = "u", password = "p", realm = "x" } }', /^http\.admin_auth\.basic\.realm: unknown key$/],
  ['[http]\ntls_cert_file = "/x.crt"', /^http\.tls_key_file: must be set together with http\.tls_cert_file$/],
  ['[http]\ntls_cert_file = "/nonexistent.crt"\ntls_key_file = "/nonexistent.key"', /^http\.tls_cert_file: cannot read "\/nonexistent\.crt": ENOENT$/],
];

for (const [toml, problem] of PROBLEMS) {
  test(`config problem names the key: ${toml.replace(/\n/g, ' ')}`, () => {
    const p = problems(toml);
    assert.ok(p.some((x) => problem.test(x)), p.join('\n'));
  });
}

test('reload plan: live keys applied, restart-only keys reported against the boot config until the restart', () => {
  const boot = configFromText('');
  const next = configFromText('[exporter]\nscrape_expose_endpoint = "0.0.0.0:7000"\n[receiver]\nttl = 5\nformat = "auto"\n[store]\nttl = 10\napp_label = "app"\n[http]\nadmin_auth = { bearer_token = "t" }\nmax_body_bytes = 2048\n');
  assert.deepEqual(planReload(boot, boot, next), {
    applied: ['http.admin_auth', 'receiver.ttl', 'store.ttl'],
    needsRestart: ['exporter.scrape_expose_endpoint', 'http.max_body_bytes', 'receiver.format', 'store.app_label'],
  });
  // Reloading the same file again: nothing new to apply, the restart is still needed.
  assert.deepEqual(planReload(boot, next, next), { applied: [], needsRestart: ['exporter.scrape_expose_endpoint', 'http.max_body_bytes', 'receiver.format', 'store.app_label'] });
  assert.deepEqual(planReload(boot, boot, boot), { applied: [], needsRestart: [] });
});
