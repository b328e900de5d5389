// The connection probe through the CLI: the proxy started from a config
// file probes a socket that `nc -l` holds open, then one nobody listens on,
// and promtool accepts what /metrics serves, without lint findings on it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { waitFor, getText } from '../helpers.js';
import { requireCommand, startCli, freePort } from './e2e_helpers.js';

test('nc -l is up, a free port is down; promtool check metrics passes with no findings on connection_status_up', async () => {
  requireCommand('nc', 'netcat-openbsd');
  requireCommand('promtool', 'prometheus');
  const open = await freePort();
  const closed = await freePort();
  const listener = spawn('nc', ['-lk', '127.0.0.1', String(open)], { stdio: 'ignore' });
  const p = await startCli(
    `[connection_status]\ninterval = 0.2\ntimeout = 1\n` +
      `[[connection_status.sockets]]\nname = "listening"\nhost = "127.0.0.1"\nport = ${open}\n` +
      `[[connection_status.sockets]]\nname = "nobody"\nhost = "127.0.0.1"\nport = ${closed}\n`,
  );
  try {
    const lines = await waitFor(
      async () => {
        const got = (await getText(`${p.http}/metrics`)).body.split('\n').filter((l) => l.startsWith('connection_status_up{'));
        return got.length === 2 && got[0]!.endsWith(' 1') ? got : undefined;
      },
      10_000,
      'nc -l seen up',
    );
    assert.deepEqual(lines, [
      `connection_status_up{host="127.0.0.1",name="listening",port="${open}",protocol="tcp"} 1`,
      `connection_status_up{host="127.0.0.1",name="nobody",port="${closed}",protocol="tcp"} 0`,
    ]);
    const scraped = (await getText(`${p.http}/metrics`)).body;
    const r = spawnSync('promtool', ['check', 'metrics'], { input: scraped, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    listener.kill();
    await p.stop();
  }
});
