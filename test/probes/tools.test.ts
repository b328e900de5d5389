// Probes that read a system tool (ping, ss): without it on PATH a round
// stores nothing (nothing measured is not everything down) and logs an
// error naming the Debian package, every round until it is installed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
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
