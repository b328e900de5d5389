import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressBytes, cidrMatcher, cidrProblem, parseCidr } from '../../src/net/cidr.js';

const MATCHES: [list: string[], address: string, allowed: boolean][] = [
  [[], '203.0.113.9', true],
  [['127.0.0.0/8'], '127.0.0.1', true],
  [['127.0.0.0/8'], '127.255.255.254', true],
  [['127.0.0.0/8'], '128.0.0.1', false],
  [['127.0.0.0/8'], '::ffff:127.0.0.1', true],
  [['127.0.0.0/8'], '::1', false],
  [['::1/128'], '::1', true],
  [['::1/128'], '0:0:0:0:0:0:0:1', true],
  [['::1/128'], '::2', false],
  [['::1'], '::1', true],
  [['10.1.2.3'], '10.1.2.3', true],
  [['10.1.2.3'], '10.1.2.4', false],
  [['10.0.0.0/9'], '10.127.255.255', true],
  [['10.0.0.0/9'], '10.128.0.0', false],
  [['192.168.1.77/24'], '192.168.1.200', true],
  [['0.0.0.0/0'], '8.8.8.8', true],
  [['0.0.0.0/0'], '::ffff:8.8.8.8', true],
  [['0.0.0.0/0'], '2001:db8::1', false],
  [['::/0'], '2001:db8::1', true],
  [['::/0'], '8.8.8.8', true],
  [['::ffff:0:0/96'], '1.2.3.4', true],
  [['::ffff:10.0.0.0/104'], '10.9.9.9', true],
  [['::ffff:10.0.0.0/104'], '11.9.9.9', false],
  [['2001:db8::/32'], '2001:db8:ffff::1', true],
  [['2001:db8::/32'], '2001:db9::1', false],
  [['2001:db8::/33'], '2001:db8:8000::1', false],
  [['2001:db8::/33'], '2001:db8:7fff::1', true],
  [['fe80::/10'], 'fe80::1%eth0', true],
  [['fe80::/10'], 'febf::1', true],
  [['fe80::/10'], 'fec0::1', false],
  [['10.0.0.0/8', '::1/128'], '::1', true],
  [['10.0.0.0/8', '::1/128'], '127.0.0.1', false],
  [['127.0.0.0/8'], 'not-an-address', false],
  [['127.0.0.0/8'], '', false],
];

for (const [list, address, allowed] of MATCHES) {
  test(`allowed_cidrs ${JSON.stringify(list)}: ${JSON.stringify(address)} -> ${allowed ? 'allowed' : 'refused'}`, () => {
    assert.equal(cidrMatcher(list)(address), allowed);
  });
}

test('IPv4 and IPv4-mapped IPv6 give the same 16 bytes; embedded dotted quads parse', () => {
  assert.deepEqual(addressBytes('192.0.2.1'), addressBytes('::ffff:192.0.2.1'));
  assert.deepEqual(addressBytes('::ffff:192.0.2.1'), addressBytes('::ffff:c000:201'));
  assert.deepEqual(addressBytes('64:ff9b::192.0.2.1'), addressBytes('64:ff9b::c000:201'));
  assert.deepEqual([...addressBytes('1:2:3:4:5:6:7:8')!], [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
});

test('host bits of a configured prefix are cleared', () => {
  const c = parseCidr('10.1.2.3/16');
  assert.ok(typeof c !== 'string');
  assert.deepEqual([...c.bytes.slice(12)], [10, 1, 0, 0]);
  assert.equal(c.bits, 112);
});

const PROBLEMS: [string, RegExp][] = [
  ['10.0.0.0/33', /prefix length must be 0 to 32/],
  ['::/129', /prefix length must be 0 to 128/],
  ['10.0.0.0/', /prefix length/],
  ['10.0.0.0/-1', /prefix length/],
  ['10.0.0/8', /must be an IPv4 or IPv6 address/],
  ['localhost', /must be an IPv4 or IPv6 address/],
  ['1.2.3.4/8/8', /prefix length/],
  ['', /must be an IPv4 or IPv6 address/],
];
for (const [text, why] of PROBLEMS) {
  test(`allowed_cidrs entry ${JSON.stringify(text)} is a config problem`, () => {
    assert.match(cidrProblem(text) ?? '', why);
  });
}
