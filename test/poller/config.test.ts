// [poll_external] targets: the Rust endpoints list resolved like the Rust
// proxy names them, [[poll_external.targets]] defaults, and problems named by key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { configFromText, loadConfig } from '../../src/config/config.js';
import { FIXTURES, ROOT, configProblems as problems } from '../helpers.js';


test('the Rust config: endpoints become targets named "external_poll: host:port", polling off', () => {
  const c = loadConfig(path.join(FIXTURES, 'rust-exporter-proxy.config.toml'));
  assert.equal(c.poller.enabled, false);
  assert.equal(c.poller.maxBodyBytes, 16 * 1024 * 1024);
  assert.deepEqual(
    c.poller.targets.map((t) => [t.app, t.source, t.url, t.intervalMs, t.timeoutMs, t.tlsSkipVerify, t.staleAfter]),
    [1025, 1026, 1027].map((p) => [`external_poll: 127.0.0.1:${p}`, `external_poll: 127.0.0.1:${p}`, `http://127.0.0.1:${p}/${p}.html`, 5000, 2000, true, 3]),
  );
  assert.deepEqual(c.fanout, []);
  assert.deepEqual(c.dns, { servers: [] });
});

test('the shipped config.toml loads with its new sections', () => {
  const c = loadConfig(path.join(ROOT, 'config.toml'));
  assert.equal(c.poller.enabled, false);
});

test('endpoint names: default ports, IPv6, user info moved to a Basic header, exact duplicates polled once', () => {
  const c = configFromText(`[poll_external]\nother_scrape_endpoints = ["https://example.com/m", "http://[::1]/m", "http://u:p%40ss@h:9/m", "http://h:9/n", "https://example.com/m"]`);
  assert.deepEqual(
    c.poller.targets.map((t) => [t.app, t.url, t.headers.authorization]),
    [
      ['external_poll: example.com:443', 'https://example.com/m', undefined],
      ['external_poll: [::1]:80', 'http://[::1]/m', undefined],
      ['external_poll: h:9', 'http://h:9/m', 'Basic ' + Buffer.from('u:p@ss').toString('base64')],
      // Same host:port as the one above: the same app, as in the Rust proxy.
      ['external_poll: h:9', 'http://h:9/n', undefined],
    ],
  );
});

test('[[poll_external.targets]]: defaults from [poll_external], every key', () => {
  const c = configFromText(`
[poll_external]
poll_other_scrape_endpoints = true
poll_interval = 10
client_timeout = 3
allow_invalid_certs = true
max_body_bytes = 2048
[[poll_external.targets]]
url = "http://a:1/metrics"
[[poll_external.targets]]
url = "https://b:2/x"
app = "bee"
labels = { env = "prod", team = "x\\"y" }
interval = 0.5
timeout = 0.25
headers = { X-Scope = "s" }
basic_auth = { username = "user", password = "pw" }
tls_skip_verify = false
stale_after = 5
[[poll_external.targets]]
url = "http://c:3/"
bearer_token = "tok"
`);
  assert.equal(c.poller.enabled, true);
  assert.equal(c.poller.maxBodyBytes, 2048);
  const [a, b, cc] = c.poller.targets;
  assert.deepEqual(a, { url: 'http://a:1/metrics', app: 'external_poll: a:1', source: 'http://a:1/metrics', labels: [], intervalMs: 10_000, timeoutMs: 3000, headers: {}, tlsSkipVerify: true, staleAfter: 3 });
  assert.deepEqual(b, {
    url: 'https://b:2/x',
    app: 'bee',
    source: 'https://b:2/x',
    labels: [{ name: 'env', value: 'prod' }, { name: 'team', value: 'x"y' }],
    intervalMs: 500,
    timeoutMs: 250,
    headers: { 'x-scope': 's', authorization: 'Basic ' + Buffer.from('user:pw').toString('base64') },
    tlsSkipVerify: false,
    staleAfter: 5,
  });
  assert.equal(cc!.headers.authorization, 'Bearer tok');
});

test('target problems name the key: poll_external.targets[N].x', () => {
  const got = problems(`
[poll_external]
other_scrape_endpoints = ["http://h:1/m"]
[[poll_external.targets]]
url = "http://ok:1/"
[[poll_external.targets]]
app = "no-url"
[[poll_external.targets]]
url = "ftp://x/"
[[poll_external.targets]]
url = "http://x:1/"
labels = { "1bad" = "v", __meta = "v", le = "1", good = 1 }
headers = { Host = "h", "X-Bad" = "a\\nb" }
basic_auth = { password = "pw" }
bearer_token = "t"
colour = "red"
[[poll_external.targets]]
url = "http://h:1/other"
[[poll_external.targets]]
url = "http://y:1/"
interval = 0
stale_after = 0.5
`);
  assert.deepEqual(got, [
    'poll_external.targets[1].url: required',
    'poll_external.targets[2].url: must be an http or https URL, got "ftp://x/"',
    'poll_external.targets[3].colour: unknown key',
    'poll_external.targets[3].labels.1bad: invalid label name "1bad" (must match [a-zA-Z_][a-zA-Z0-9_]*)',
    'poll_external.targets[3].labels.__meta: label names starting with "__" are reserved',
    'poll_external.targets[3].labels.le: label le is reserved for histogram and summary samples',
    'poll_external.targets[3].labels.good: must be a string, got 1',
    'poll_external.targets[3].headers.Host: header Host is set by the proxy and cannot be configured',
    'poll_external.targets[3].headers.X-Bad: must not contain CR, LF or NUL',
    'poll_external.targets[3].basic_auth.username: required',
    'poll_external.targets[3]: set basic_auth or bearer_token, not both',
    'poll_external.targets[4].app: "external_poll: h:1" is already used by poll_external.other_scrape_endpoints[0]; set app to tell them apart',
    'poll_external.targets[5].interval: must be at least 0.05, got 0',
    'poll_external.targets[5].stale_after: must be at least 1, got 0.5',
  ]);
  assert.deepEqual(problems('[poll_external]\ntargets = "x"'), ['poll_external.targets: must be an array of tables ([[poll_external.targets]])']);
});
