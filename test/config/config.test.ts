import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { configFromText, loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';
import { FIXTURES, ROOT, tempDir } from '../helpers.js';

test('the Rust proxy config loads unchanged and means the same', () => {
  const c = loadConfig(path.join(FIXTURES, 'rust-exporter-proxy.config.toml'));
  assert.equal(c.exporter.workerThreads, 0);
  assert.equal(c.exporter.concurrentRequests, 2048);
  assert.deepEqual(c.exporter.listen, { host: '0.0.0.0', port: 6555 });
  assert.equal(c.receiver.format, 'json');
  assert.deepEqual(c.receiver.unix, { enabled: true, path: '/var/run/exporter-proxy-receiver.sock', user: 'current_user', group: 'current_group', mode: 0o660 });
  assert.deepEqual(c.receiver.tcp, { enabled: true, host: '127.0.0.1', port: 6554 });
  assert.deepEqual(c.pollExternal, {
    enabled: false,
    endpoints: ['http://127.0.0.1:1025/1025.html', 'http://127.0.0.1:1026/1026.html', 'http://127.0.0.1:1027/1027.html'],
    allowInvalidCerts: true,
    intervalMs: 5000,
    timeoutMs: 2000,
  });
});

test('the shipped config.toml is valid', () => {
  const c = loadConfig(path.join(ROOT, 'config.toml'));
  assert.equal(c.receiver.unix.path, '/tmp/exporter-proxy-receiver.sock');
  assert.equal(c.receiver.maxPayloadBytes, 16 * 1024 * 1024);
});

test('the Docker image config is valid and listens for other containers', () => {
  const c = loadConfig(path.join(ROOT, 'docker', 'config.toml'));
  assert.equal(c.receiver.tcp.host, '0.0.0.0');
  assert.equal(c.receiver.unix.path, '/run/exporter-proxy/receiver.sock');
});

test('defaults for an empty file', () => {
  const c = configFromText('');
  assert.equal(c.store.ttlMs, 0);
  assert.equal(c.store.appLabel, '');
  assert.equal(c.receiver.idleTimeoutMs, 300_000);
});

const bad: [string, string, RegExp][] = [
  ['unknown key', '[receiver]\nformatt = "json"', /^receiver\.formatt: unknown key$/],
  ['unknown section', '[recevier]\nformat = "json"', /^recevier: unknown section$/],
  ['bad enum', '[receiver]\nformat = "xml"', /^receiver\.format: must be one of json, capnp, capnp_packed, auto; got "xml"$/],
  ['bad type', '[exporter]\nconcurrent_requests = "many"', /^exporter\.concurrent_requests: must be a number, got "many"$/],
  ['out of range', '[exporter]\nconcurrent_requests = 70000', /^exporter\.concurrent_requests: must be at most 65534, got 70000$/],
  ['bad address', '[exporter]\nscrape_expose_endpoint = "6555"', /^exporter\.scrape_expose_endpoint: must be host:port, got "6555"$/],
  ['bad url', '[poll_external]\nother_scrape_endpoints = ["ftp://x/"]', /^poll_external\.other_scrape_endpoints: must be an http or https URL/],
  ['bad label', '[store]\napp_label = "1app"', /^store\.app_label: must be a valid label name/],
  ['bad mode', '[receiver]\nunix_socket_mode = "rw"', /^receiver\.unix_socket_mode: must be an octal mode/],
  ['bad toml', '[receiver\nformat = 1', /invalid TOML/],
];

for (const [name, text, re] of bad) {
  test(`config problem: ${name}`, () => {
    assert.throws(() => configFromText(text), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'E_CONFIG');
      assert.match(err.problems[0], re);
      return true;
    });
  });
}

test('every problem is reported, one per line', () => {
  assert.throws(() => configFromText('[receiver]\nformat = "x"\nnope = 1\n[store]\nttl = -1'), (err: ConfigError) => err.problems.length === 3);
});

const bin = path.join(ROOT, 'bin', 'exporter-proxy.js');

test('--check-config exits 0 for a valid file and 2 with one line per problem', () => {
  const dir = tempDir();
  const good = path.join(dir, 'good.toml');
  const badFile = path.join(dir, 'bad.toml');
  fs.writeFileSync(good, '[store]\nttl = 60\n');
  fs.writeFileSync(badFile, '[receiver]\nformat = "xml"\nbogus = true\n');
  assert.match(execFileSync(process.execPath, [bin, '--check-config', good], { encoding: 'utf8' }), /valid/);
  const r = spawnSync(process.execPath, [bin, '--check-config', badFile], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(r.stderr, /receiver\.format: must be one of/);
  assert.match(r.stderr, /receiver\.bogus: unknown key/);
  fs.rmSync(dir, { recursive: true });
});

test('--version, --help and a bad flag', () => {
  assert.match(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }), /^exporter-proxy \d+\.\d+\.\d+/);
  assert.match(execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' }), /--check-config FILE/);
  const r = spawnSync(process.execPath, [bin, '--frobnicate'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown argument "--frobnicate"/);
});

test('a missing config file is exit 2 naming the path', () => {
  const r = spawnSync(process.execPath, [bin, '--config', '/nonexistent/x.toml'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /\/nonexistent\/x\.toml: cannot read config file/);
});
