// What a stored push group keeps on the V8 heap. Names the parser hands out
// are slices of the payload string, and V8 keeps the whole payload alive for
// any slice of it: one kept anywhere (the store, the push service) pins every
// group's last payload, ~7.5 KB here, which then gets promoted on each push
// and collected by full GCs (it once cost a third of the HTTP push rate).
// And HELP, the same text in every group of a job, is kept once, not once a group.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Store } from '../../src/store/store.js';
import { PushService } from '../../src/push/service.js';
import { parseText } from '../../src/exposition/text_parse.js';
import { parseGroupingPath } from '../../src/push/grouping.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function payload(group: number, help = 'A counter with a long enough name.', seriesPerFamily = 10): string {
  let out = '';
  for (let f = 0; f < 10; f++) {
    out += `# HELP retained_family_${f}_total ${help}\n# TYPE retained_family_${f}_total counter\n`;
    for (let i = 0; i < seriesPerFamily; i++) out += `retained_family_${f}_total{app="app${group}",path="/api/v1/resource/${i}",code="200"} ${group * 10 + i}\n`;
  }
  return out;
}

/** Heap growth per group over `groups` pushes of payload(g) (after 200 warm-up groups). */
function heapPerGroup(payloadOf: (g: number) => string, groups = 2000): { perGroup: number; store: Store } {
  const store = new Store({ ttlMs: 0, appLabel: '', reservedPrefix: 'exporter_proxy_' });
  const push = new PushService({ store });
  const putGroup = (g: number) => push.push(parseGroupingPath(`/metrics/job/retained/instance/i${g}`), parseText(payloadOf(g)), g % 2 === 0, '127.0.0.1:1');
  for (let g = 0; g < 200; g++) putGroup(g); // warm up: code, shapes and the families' slots
  const before = liveHeap();
  for (let g = 200; g < 200 + groups; g++) putGroup(g);
  const perGroup = (liveHeap() - before) / groups;
  assert.equal(store.appCount, 200 + groups);
  return { perGroup, store };
}

function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test('a stored push group keeps far less heap than its payload (no slice pins it)', () => {
  const { perGroup } = heapPerGroup((g) => payload(g));
  const payloadBytes = payload(1000).length;
  assert.ok(perGroup < payloadBytes / 2, `each stored group grew the heap by ${perGroup.toFixed(0)} bytes; its payload is ${payloadBytes}`);
});

test('groups pushing the same HELP keep one copy of it', () => {
  const help = 'A long help text. '.repeat(50); // 900 characters, 10 families: 9 KB a group if each kept its own
  const { perGroup, store } = heapPerGroup((g) => payload(g, help, 1));
  assert.ok(perGroup < (10 * help.length) / 2, `each stored group grew the heap by ${perGroup.toFixed(0)} bytes; its 10 HELP texts are ${10 * help.length}`);
  assert.equal(store.getApp('job="retained",instance="i300"')?.families.find((f) => f.name === 'retained_family_3_total')?.help, help);
});
