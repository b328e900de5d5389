// The probes through the CLI: the proxy started from a config file probes a
// socket that `nc -l` holds open and one nobody listens on, pings the
// loopback with the system's ping, and reads an `nc` client's connection
// to that listener with ss; promtool accepts what /metrics serves, without
// lint findings on it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { waitFor, getText, refusedPort } from '../helpers.js';
import { requireCommand, startCli, freePort } from './e2e_helpers.js';

test('nc -l is up, a free port is down, the loopback pings, ss sees the nc connection; promtool finds nothing', async () => {
  requireCommand('nc', 'netcat-openbsd');
  requireCommand('promtool', 'prometheus');
  requireCommand('ping', 'iputils-ping');
  requireCommand('ss', 'iproute2');
  const open = await freePort();
  const closed = await refusedPort(); // (a port just released could go to the proxy's own listeners)
  const listener = spawn('nc', ['-lk', '127.0.0.1', String(open)], { stdio: 'ignore' });
  const p = await startCli(
    `[connection_status]\ninterval = 0.2\ntimeout = 1\n` +
      `[[connection_status.sockets]]\nname = "listening"\nhost = "127.0.0.1"\nport = ${open}\n` +
      `[[connection_status.sockets]]\nname = "nobody"\nhost = "127.0.0.1"\nport = ${closed}\n` +
      `[ping]\ninterval = 1\n[[ping.targets]]\nname = "loopback"\nhost = "127.0.0.1"\n` +
      `[socket_stats]\nenabled = true\ninterval = 1\nports = [${open}]\n`,
  );
  // A client that stays connected (its stdin stays open) until the end.
  const client = spawn('nc', ['127.0.0.1', String(open)], { stdio: ['pipe', 'ignore', 'ignore'] });
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
      return body.includes('ping_up{host="127.0.0.1",name="loopback"} 1') && /^tcp_flows 2$/m.test(body) ? body : undefined;
    }, 10_000, 'the loopback pinged and both ends of the nc connection seen');
    assert.match(scraped, new RegExp(`^tcp_flow_rtt_seconds\\{local="127\\.0\\.0\\.1:${open}",peer="127\\.0\\.0\\.1:\\d+"\\} `, 'm'));
    assert.match(scraped, /^ping_rtt_seconds\{host="127\.0\.0\.1",name="loopback"\} /m);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: scraped, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    client.kill();
    listener.kill();
    await p.stop();
  }
});
