// Probes that read a system tool (ping, ss): without it on PATH, or when it
// fails, a round stores nothing (nothing measured is not everything down)
// and logs an error saying why (the Debian package, the tool's message)
// when that starts (see prober.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startProxy, tempDir, waitFor } from '../helpers.js';

const CASES: [probe: string, toml: string, debianPackage: string][] = [
  ['ping', '[ping]\ninterval = 1\n[[ping.targets]]\nname = "self"\nhost = "127.0.0.1"\n', 'iputils-ping'],
  ['socket_stats', '[socket_stats]\nenabled = true\ninterval = 1\n', 'iproute2'],
];

for (const [probe, toml, debianPackage] of CASES) {
  test(`${probe} without its tool on PATH: an error naming ${debianPackage}, nothing stored`, async () => {
    const path = process.env.PATH;
    process.env.PATH = tempDir(); // an empty directory
    const r = await startProxy({ extra: toml });
    try {
      await waitFor(() => r.logs.some((l) => l.includes(`${probe} probes cannot run`) && l.includes(`apt-get install ${debianPackage}`)), 5000, 'the error');
      assert.equal(r.proxy.store.has(probe), false);
    } finally {
      process.env.PATH = path;
      await r.stop();
    }
  });
}

test('socket_stats with an ss that fails (no netlink permission, say): the tool\'s message logged, no "0 flows" stored', async () => {
  const bin = tempDir();
  fs.writeFileSync(path.join(bin, 'ss'), '#!/bin/sh\necho "Cannot open netlink socket: Permission denied" >&2\nexit 1\n', { mode: 0o755 });
  const saved = process.env.PATH;
  process.env.PATH = `${bin}:${saved}`;
  const r = await startProxy({ extra: '[socket_stats]\nenabled = true\ninterval = 1\n' });
  try {
    await waitFor(() => r.logs.some((l) => l.includes('socket_stats probes cannot run') && l.includes('ss failed (exit status 1): Cannot open netlink socket')), 5000, 'the error');
    assert.equal(r.proxy.store.has('socket_stats'), false);
  } finally {
    process.env.PATH = saved;
    await r.stop();
  }
});
