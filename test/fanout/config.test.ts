// [[fanout]] groups and [dns]: parsed shapes and problems named by key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configProblems as problems } from '../helpers.js';
import { configFromText } from '../../src/config/config.js';

test('[[fanout]] groups: static, dns and file_sd with defaults; [dns] servers', () => {
  const c = configFromText(`
[dns]
servers = ["127.0.0.1:5353", "10.0.0.1", "[::1]:53"]
[[fanout]]
name = "web"
instances = ["http://h:1", "https://g:2/custom"]
labels = { job = "web" }
[[fanout]]
name = "by_dns-1"
dns = "_m._tcp.example.org"
[[fanout]]
name = "a"
dns = "example.org"
dns_type = "A"
port = 9100
scheme = "https"
path = "/m"
timeout = 0.5
tls_skip_verify = true
[[fanout]]
name = "files"
file_sd = "/etc/targets.json"
max_body_bytes = 4096
`);
  assert.deepEqual(c.dns, { servers: ['127.0.0.1:5353', '10.0.0.1', '[::1]:53'] });
  assert.deepEqual(c.fanout, [
    { name: 'web', discovery: { kind: 'static', instances: ['http://h:1', 'https://g:2/custom'] }, path: '/metrics', labels: [{ name: 'job', value: 'web' }], timeoutMs: 5000, tlsSkipVerify: false, maxBodyBytes: 16 * 1024 * 1024 },
    { name: 'by_dns-1', discovery: { kind: 'dns', name: '_m._tcp.example.org', type: 'SRV', port: 0, scheme: 'http' }, path: '/metrics', labels: [], timeoutMs: 5000, tlsSkipVerify: false, maxBodyBytes: 16 * 1024 * 1024 },
    { name: 'a', discovery: { kind: 'dns', name: 'example.org', type: 'A', port: 9100, scheme: 'https' }, path: '/m', labels: [], timeoutMs: 500, tlsSkipVerify: true, maxBodyBytes: 16 * 1024 * 1024 },
    { name: 'files', discovery: { kind: 'file_sd', path: '/etc/targets.json', scheme: 'http' }, path: '/metrics', labels: [], timeoutMs: 5000, tlsSkipVerify: false, maxBodyBytes: 4096 },
  ]);
});

test('[[fanout]] problems name the group index and key', () => {
  assert.deepEqual(
    problems(`
[dns]
servers = ["dns.example.org"]
[[fanout]]
instances = ["http://h:1"]
[[fanout]]
name = "bad name"
[[fanout]]
name = "two"
instances = ["http://h:1"]
dns = "x.org"
[[fanout]]
name = "a"
dns = "x.org"
dns_type = "A"
[[fanout]]
name = "lbl"
instances = ["http://h:1"]
labels = { instance = "x", ok = "y" }
port = 3
[[fanout]]
name = "lbl"
file_sd = "f.json"
dns_type = "MX"
`),
    [
      'fanout[0].name: required',
      'fanout[1].name: must match [a-zA-Z0-9_-]+, got "bad name"',
      'fanout[1]: set exactly one of instances, dns, file_sd',
      'fanout[2]: set exactly one of instances, dns, file_sd (got instances, dns)',
      'fanout[3].port: required with dns_type = "A"',
      'fanout[4].port: only used with dns',
      'fanout[4].labels.instance: label instance is set per instance by the proxy',
      'fanout[5].dns_type: must be one of A, AAAA, SRV; got "MX"',
      'fanout[5].dns_type: only used with dns',
      'fanout[5].name: "lbl" is already used by fanout[4]',
      'dns.servers: must be an IP address with an optional port ("1.2.3.4", "1.2.3.4:53", "[::1]:53"), got "dns.example.org"',
    ],
  );
  assert.deepEqual(problems('fanout = 3'), ['fanout: must be an array of tables ([[fanout]])']);
});
