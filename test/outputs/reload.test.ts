// Both outputs follow a reload the same way (Sender.update): a new url
// takes over at the next send, an empty one stops sending.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startProxy, testConfig, waitFor } from '../helpers.js';

const CASES: { section: string; extra: string; path: (base: string) => string; secondPath: string }[] = [
  { section: 'push_out', extra: 'job = "moved"\n', path: (base) => base, secondPath: '/metrics/job/moved' },
  { section: 'remote_write', extra: '', path: (base) => `${base}/api/v1/write`, secondPath: '/api/v1/write' },
];

for (const c of CASES) {
  test(`[${c.section}]: a reload moves the sends to another url, and an empty url stops them`, async () => {
    const seen: string[][] = [[], []];
    const servers = await Promise.all(
      seen.map(async (log) => {
        const s = http.createServer((req, res) => {
          log.push(req.url!);
          req.resume();
          req.on('end', () => res.writeHead(200).end());
        });
        await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
        return { s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}` };
      }),
    );
    const r = await startProxy({ extra: `[${c.section}]\nurl = "${c.path(servers[0]!.url)}"\ninterval = 1\n` });
    try {
      await waitFor(() => seen[0]!.length > 0, 5000, 'a send to the first url');
      const outcome = r.proxy.reload(testConfig(r.dir, `[${c.section}]\nurl = "${c.path(servers[1]!.url)}"\ninterval = 1\n${c.extra}`));
      assert.ok(outcome.ok && outcome.applied.includes(c.section), JSON.stringify(outcome));
      await waitFor(() => seen[1]!.includes(c.secondPath), 5000, 'a send to the second url');
      r.proxy.reload(testConfig(r.dir, `[${c.section}]\ninterval = 1\n`));
      const count = seen[1]!.length;
      await new Promise((res) => setTimeout(res, 2500));
      assert.ok(seen[1]!.length <= count + 1, `sends went on after url = "": ${seen[1]!.length - count}`); // one may have been in flight
    } finally {
      await r.stop();
      for (const { s } of servers) s.close();
    }
  });
}
