// What a stored push group keeps on the V8 heap. Names the parser hands out
// are slices of the payload string, and V8 keeps the whole payload alive for
// any slice of it: one kept anywhere (the store, the push service) pins every
// group's last payload, ~7.5 KB here, which then gets promoted on each push
// and collected by full GCs (it once cost a third of the HTTP push rate).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Store } from '../../src/store/store.js';
import { PushService } from '../../src/push/service.js';
import { parseBody } from '../../src/push/body.js';
import { parseGroupingPath } from '../../src/push/grouping.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function payload(group: number): string {
  let out = '';
  for (let f = 0; f < 10; f++) {
    out += `# HELP retained_family_${f}_total A counter with a long enough name.\n# TYPE retained_family_${f}_total counter\n`;
    for (let i = 0; i < 10; i++) out += `retained_family_${f}_total{app="app${group}",path="/api/v1/resource/${i}",code="200"} ${group * 10 + i}\n`;
  }
  return out;
}

function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test('a stored push group keeps far less heap than its payload (no slice pins it)', () => {
  const store = new Store({ ttlMs: 0, appLabel: '', reservedPrefix: 'exporter_proxy_' });
  const push = new PushService({ store });
  const putGroup = (g: number) => push.push(parseGroupingPath(`/metrics/job/retained/instance/i${g}`), parseBody(Buffer.from(payload(g)), 'text/plain'), g % 2 === 0, '127.0.0.1:1');
  for (let g = 0; g < 200; g++) putGroup(g); // warm up: code, shapes and the families' slots
  const groups = 2000;
  const before = liveHeap();
  for (let g = 200; g < 200 + groups; g++) putGroup(g);
  const perGroup = (liveHeap() - before) / groups;
  const payloadBytes = payload(1000).length;
  assert.equal(store.appCount, 200 + groups);
  assert.ok(perGroup < payloadBytes / 2, `each stored group grew the heap by ${perGroup.toFixed(0)} bytes; its payload is ${payloadBytes}`);
});
