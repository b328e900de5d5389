// The probes through the CLI: the proxy started from a config file probes a
// socket that `nc -l` holds open and one nobody listens on, and pings the
// loopback with the system's ping; promtool accepts what /metrics serves,
// without lint findings on it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { waitFor, getText } from '../helpers.js';
import { requireCommand, startCli, freePort } from './e2e_helpers.js';

test('nc -l is up, a free port is down, the loopback pings; promtool check metrics passes with no findings', async () => {
  requireCommand('nc', 'netcat-openbsd');
  requireCommand('promtool', 'prometheus');
  requireCommand('ping', 'iputils-ping');
  const open = await freePort();
  const closed = await freePort();
  const listener = spawn('nc', ['-lk', '127.0.0.1', String(open)], { stdio: 'ignore' });
  const p = await startCli(
    `[connection_status]\ninterval = 0.2\ntimeout = 1\n` +
      `[[connection_status.sockets]]\nname = "listening"\nhost = "127.0.0.1"\nport = ${open}\n` +
      `[[connection_status.sockets]]\nname = "nobody"\nhost = "127.0.0.1"\nport = ${closed}\n` +
      `[ping]\ninterval = 1\n[[ping.targets]]\nname = "loopback"\nhost = "127.0.0.1"\n`,
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
    const scraped = await waitFor(async () => {
      const body = (await getText(`${p.http}/metrics`)).body;
      return body.includes('ping_up{host="127.0.0.1",name="loopback"} 1') ? body : undefined;
    }, 10_000, 'the loopback pinged');
    assert.match(scraped, /^ping_rtt_seconds\{host="127\.0\.0\.1",name="loopback"\} /m);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: scraped, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    listener.kill();
    await p.stop();
  }
});
