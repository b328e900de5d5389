// Push paths -> grouping keys, matching what prometheus-pushgateway 1.5.1
// does with the same URL (checked by hand against the binary; the
// comparison test replays some of these against it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupingKeyCache, decodeBase64Value, labelsFromApp, parseGroupingPath } from '../../src/push/grouping.js';
import { GroupingKeyError } from '../../src/errors.js';

function labels(path: string): [string, string][] {
  return parseGroupingPath(path).labels.map(([n, v]) => [n, v]);
}

function rejects(path: string, message: RegExp): void {
  assert.throws(() => parseGroupingPath(path), (e: unknown) => e instanceof GroupingKeyError && message.test(e.message), path);
}

test('plain paths: job first, the rest sorted by name, query ignored', () => {
  assert.deepEqual(labels('/metrics/job/some_job'), [['job', 'some_job']]);
  assert.deepEqual(labels('/metrics/job/some_job/instance/some_instance'), [
    ['job', 'some_job'],
    ['instance', 'some_instance'],
  ]);
  assert.deepEqual(labels('/metrics/job/j/zeta/1/alpha/2?x=y'), [
    ['job', 'j'],
    ['alpha', '2'],
    ['zeta', '1'],
  ]);
});

test('the app name is the grouping key as label pairs, escaped, and reads back', () => {
  const k = parseGroupingPath('/metrics/job/batch/instance/h1/path@base64/' + Buffer.from('a"b\\c\nd').toString('base64url'));
  assert.equal(k.app, 'job="batch",instance="h1",path="a\\"b\\\\c\\nd"');
  assert.deepEqual(labelsFromApp(k.app), { job: 'batch', instance: 'h1', path: 'a"b\\c\nd' });
  assert.equal(k.hasInstance, true);
  assert.equal(parseGroupingPath('/metrics/job/batch').hasInstance, false);
  assert.equal(labelsFromApp('plain_tcp_app'), undefined);
});

test('percent-encoding is decoded before splitting, as the Pushgateway does', () => {
  assert.deepEqual(labels('/metrics/job/titan/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82'), [
    ['job', 'titan'],
    ['name', 'Προμηθεύς'],
  ]);
  // An encoded slash still separates components: odd count.
  rejects('/metrics/job/x/inst/a%2Fb', /odd number of components in label string "\/inst\/a\/b"/);
  rejects('/metrics/job/x/l/%ZZ', /invalid percent-encoding/);
  assert.deepEqual(labels('/metrics/job/x/l/a+b'), [
    ['job', 'x'],
    ['l', 'a+b'],
  ]);
});

test('base64 forms: job and labels, URL-safe, padding optional, "=" is the empty value', () => {
  assert.deepEqual(labels('/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA'), [
    ['job', 'directory_cleaner'],
    ['path', '/var/tmp'],
  ]);
  assert.deepEqual(labels('/metrics/job/example/first_label@base64/=/second_label/foobar'), [
    ['job', 'example'],
    ['first_label', ''],
    ['second_label', 'foobar'],
  ]);
  assert.deepEqual(labels('/metrics/job/titan/name@base64/zqDPgc6_zrzOt864zrXPjc-C'), [
    ['job', 'titan'],
    ['name', 'Προμηθεύς'],
  ]);
  assert.deepEqual(labels('/metrics/job@base64/L3Zhci90bXA/a@base64/YQ=='), [
    ['job', '/var/tmp'],
    ['a', 'a'],
  ]);
  for (const v of ['YQ', 'YQ=', 'YQ==', 'YQ===']) assert.equal(decodeBase64Value(v, 'x'), 'a');
  assert.equal(decodeBase64Value('==', 'x'), '');
});

test('bad base64 is a 400-class error naming the label', () => {
  rejects('/metrics/job/x/l@base64/!!', /invalid base64 encoding for label l "!!"/);
  rejects('/metrics/job/x/l@base64/Y', /invalid base64 encoding for label l "Y": truncated/);
  rejects('/metrics/job/x/l@base64/YW=Jj', /invalid base64 encoding for label l/);
  rejects('/metrics/job/x/l@base64/YWJj+w', /illegal character/); // standard alphabet, not URL-safe
  rejects('/metrics/job@base64/!!', /invalid base64 encoding for job name/);
  // Decodes, but not to UTF-8: the Pushgateway accepts this and then fails every scrape.
  rejects('/metrics/job/x/l@base64/_-8', /not valid UTF-8/);
});

test('missing or empty job', () => {
  rejects('/metrics/job/', /job name is required/);
  rejects('/metrics/job@base64/=', /job name is required/);
  rejects('/metrics/job@base64/', /job name is required/);
  rejects('/metrics/jobs/x', /path must start with/);
});

test('trailing slashes and empty components follow splitLabels', () => {
  assert.deepEqual(labels('/metrics/job/x/'), [['job', 'x']]);
  // "/inst/" splits into ["inst", ""]: an empty value, as the Pushgateway stores it.
  assert.deepEqual(labels('/metrics/job/x/inst/'), [
    ['job', 'x'],
    ['inst', ''],
  ]);
  rejects('/metrics/job/x/a/1/', /odd number of components/);
  rejects('/metrics/job/x/inst', /odd number of components/);
  rejects('/metrics/job/x//inst/y', /odd number of components/);
  rejects('/metrics/job/x//y', /improper label name ""/);
});

test('label names: valid, not reserved; repeated labels keep the last value; job in the path is overridden', () => {
  rejects('/metrics/job/x/__a/2', /improper label name "__a"/);
  rejects('/metrics/job/x/1a/2', /improper label name "1a"/);
  rejects('/metrics/job/x/a-b/2', /improper label name "a-b"/);
  assert.deepEqual(labels('/metrics/job/x/l/1/l/2'), [
    ['job', 'x'],
    ['l', '2'],
  ]);
  assert.deepEqual(labels('/metrics/job/x/job/2'), [['job', 'x']]);
});

test('GroupingKeyCache: a path seen before gives the same key object; bad paths throw every time; the oldest path goes first', () => {
  const cache = new GroupingKeyCache(2);
  const a = cache.parse('/metrics/job/a/instance/1');
  assert.equal(cache.parse('/metrics/job/a/instance/1'), a, 'remembered');
  assert.deepStrictEqual(a, parseGroupingPath('/metrics/job/a/instance/1'));
  assert.equal(a.app, 'job="a",instance="1"');
  assert.deepStrictEqual([...a.names], ['job', 'instance']);
  for (let i = 0; i < 2; i++) assert.throws(() => cache.parse('/metrics/job//x'), GroupingKeyError);
  const b = cache.parse('/metrics/job/b');
  cache.parse('/metrics/job/c'); // evicts a, the oldest
  assert.equal(cache.parse('/metrics/job/b'), b);
  const a2 = cache.parse('/metrics/job/a/instance/1');
  assert.notEqual(a2, a, 'parsed again after eviction');
  assert.deepStrictEqual(a2, a);
});
