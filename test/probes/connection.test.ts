// Connection probes with real sockets: a listening TCP server and a unix
// socket on port 0 / in a temp dir, a port just closed, a path that does not
// exist; the config table's problems; and the proxy serving the results,
// following a reload.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { probeConnection, renderConnectionStatus, CONNECTION_APP } from '../../src/probes/connection.js';
import type { ConnectionSocket } from '../../src/probes/config.js';
import { configFromText } from '../../src/config/config.js';
import { parseText } from '../../src/exposition/text_parse.js';
import { assertConfigProblems, getText, refusedPort, send, startProxy, tempDir, testConfig, waitFor } from '../helpers.js';

async function listening(target: number | string): Promise<net.Server> {
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((resolve) => server.listen(target as number, resolve));
  return server;
}

const sock = (over: Partial<ConnectionSocket>): ConnectionSocket => ({ name: 'n', host: '127.0.0.1', port: 1, protocol: 'tcp', timeoutMs: 1000, ...over });

test('probeConnection: up for a listening TCP port and unix socket, down for a closed port, a missing path, an unknown host', async () => {
  const dir = tempDir();
  const tcp = await listening(0);
  const unixPath = path.join(dir, 'up.sock');
  const unix = await listening(unixPath);
  try {
    const port = (tcp.address() as net.AddressInfo).port;
    assert.equal(await probeConnection(sock({ port })), true);
    assert.equal(await probeConnection(sock({ port, protocol: 'tcp4' })), true);
    assert.equal(await probeConnection(sock({ host: unixPath, port: 0, protocol: 'unix' })), true);
    assert.equal(await probeConnection(sock({ port: await refusedPort() })), false);
    assert.equal(await probeConnection(sock({ host: path.join(dir, 'missing.sock'), port: 0, protocol: 'unix' })), false);
    assert.equal(await probeConnection(sock({ host: 'no-such-host.invalid', port: 80 })), false);
  } finally {
    tcp.close();
    unix.close();
  }
});

test('probeConnection: a handshake that never completes is down once the timeout passes, not later', async () => {
  // A listener that never accepts, with a backlog of 0: one connection
  // fills its queue, and Linux then drops the next SYN, so that connect
  // hangs (node cannot listen without accepting, so Python holds it).
  const py = spawn('/usr/bin/python3', ['-c', "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)"], { stdio: ['ignore', 'pipe', 'inherit'] });
  const filler: net.Socket[] = [];
  try {
    const port = Number(await new Promise<string>((resolve, reject) => {
      py.stdout!.once('data', (d) => resolve(String(d).trim()));
      py.once('error', reject);
    }));
    filler.push(net.connect(port, '127.0.0.1'));
    await new Promise((r) => filler[0]!.once('connect', r));
    const started = performance.now();
    assert.equal(await probeConnection(sock({ port, timeoutMs: 300 })), false);
    const took = performance.now() - started;
    assert.ok(took >= 290 && took < 1500, `took ${took} ms`);
  } finally {
    for (const f of filler) f.destroy();
    py.kill();
  }
});

test('renderConnectionStatus: the family and labels of the Go exporter, escaped; a unix socket has no port label', () => {
  const text = renderConnectionStatus(
    [sock({ name: 'db "primary"', host: 'db.example', port: 5432 }), sock({ name: 'app', host: '/run/app.sock', port: 0, protocol: 'unix' }), sock({ name: 'v6', host: '::1', port: 80, protocol: 'tcp6' })],
    [true, false, true],
  );
  assert.equal(
    text,
    '# HELP connection_status_up Connection status of the socket.\n# TYPE connection_status_up gauge\n' +
      'connection_status_up{host="db.example",name="db \\"primary\\"",port="5432",protocol="tcp"} 1\n' +
      'connection_status_up{host="/run/app.sock",name="app",protocol="unix"} 0\n' +
      'connection_status_up{host="::1",name="v6",port="80",protocol="tcp6"} 1\n',
  );
  assert.equal(parseText(text).series, 3);
});

const CASES: [toml: string, problems: RegExp[]][] = [
  ['[connection_status]\n[[connection_status.sockets]]\nname = "a"\nhost = "h"\nport = 1\nprotocol = "udp"\n', [/connection_status\.sockets\[0\]\.protocol: must be one of tcp, tcp4, tcp6, unix; got "udp"/]],
  ['[[connection_status.sockets]]\nname = "a"\nhost = "h"\n', [/connection_status\.sockets\[0\]\.port: must be 1 to 65535 for tcp/]],
  ['[[connection_status.sockets]]\nname = "a"\nhost = "/s"\nport = 5\nprotocol = "unix"\n', [/sockets\[0\]\.port: a unix socket has no port/]],
  ['[[connection_status.sockets]]\nhost = "h"\nport = 70000\n', [/sockets\[0\]\.port: must be at most 65535, got 70000/, /sockets\[0\]\.name: must be set/]],
  ['[[connection_status.sockets]]\nname = ""\nhost = "h"\nport = 0\n', [/sockets\[0\]\.name: must not be empty/, /sockets\[0\]\.port: must be 1 to 65535 for tcp/]],
  ['[[connection_status.sockets]]\nname = "a"\nhost = "h"\nport = 1\n[[connection_status.sockets]]\nname = "a"\nhost = "h"\nport = 1\n', [/connection_status\.sockets\[1\]: the same labels as connection_status\.sockets\[0\]/]],
  ['[[connection_status.sockets]]\nname = "a"\nhost = "h"\nport = 1\nretries = 3\n', [/connection_status\.sockets\[0\]\.retries: unknown key/]],
  ['[connection_status]\nsockets = "h:1"\n', [/connection_status\.sockets: must be an array of tables/]],
  ['[connection_status]\ninterval = 0\n', [/connection_status\.interval: must be at least 0\.1, got 0/]],
];

test('[connection_status] config: every problem names its key', () => {
  assertConfigProblems(CASES);
  const c = configFromText('[connection_status]\ninterval = 2\ntimeout = 0.5\n[[connection_status.sockets]]\nname = "db"\nhost = "db.example"\nport = 5432\n[[connection_status.sockets]]\nname = "app"\nhost = "/run/app.sock"\nprotocol = "unix"\ntimeout = 3\n');
  assert.deepEqual(c.connectionStatus, {
    intervalMs: 2000,
    sockets: [
      { name: 'db', host: 'db.example', port: 5432, protocol: 'tcp', timeoutMs: 500 },
      { name: 'app', host: '/run/app.sock', port: 0, protocol: 'unix', timeoutMs: 3000 },
    ],
  });
  assert.deepEqual(configFromText('').connectionStatus, { intervalMs: 15000, sockets: [] });
});

test('the proxy serves each round in /metrics and /apps, follows a reload, and drops the app with the last socket', async () => {
  const tcp = await listening(0);
  const port = (tcp.address() as net.AddressInfo).port;
  const down = await refusedPort();
  const sockets = (ports: number[]) => ports.map((p, i) => `[[connection_status.sockets]]\nname = "s${i}"\nhost = "127.0.0.1"\nport = ${p}\n`).join('');
  const r = await startProxy({ extra: `[connection_status]\ninterval = 0.1\ntimeout = 1\n${sockets([port, down])}` });
  try {
    const series = async () => (await getText(`${r.url}/metrics`)).body.split('\n').filter((l) => l.startsWith('connection_status_up{'));
    assert.deepEqual(await waitFor(async () => ((await series()).length === 2 ? series() : undefined), 5000, 'two probe series'), [
      `connection_status_up{host="127.0.0.1",name="s0",port="${port}",protocol="tcp"} 1`,
      `connection_status_up{host="127.0.0.1",name="s1",port="${down}",protocol="tcp"} 0`,
    ]);
    assert.match((await getText(`${r.url}/apps`)).body, new RegExp(CONNECTION_APP));
    // A socket push of the probe's app name is refused: the probe results stay.
    await send(r.addr.tcp!, JSON.stringify({ [CONNECTION_APP]: 'impostor 1\n' }));
    await waitFor(async () => r.logs.some((l) => l.includes('E_APP_NAME') && l.includes('taken by the built-in connection_status probes')), 3000, 'the refusal logged');
    assert.equal((await series()).length, 2);
    assert.doesNotMatch((await getText(`${r.url}/metrics`)).body, /impostor/);
    await waitFor(async () => /^exporter_proxy_probe_round_duration_seconds\{probe="connection_status"\} \d/m.test((await getText(`${r.url}/metrics`)).body), 3000, 'the round gauge');

    // The open port closes: the next rounds read 0.
    await new Promise((res) => tcp.close(res));
    await waitFor(async () => (await series())[0]?.endsWith(' 0'), 5000, 's0 down');

    const dir = tempDir();
    const outcome = r.proxy.reload(testConfig(dir, `[connection_status]\ninterval = 0.1\n${sockets([down])}`));
    assert.ok(outcome.ok && outcome.applied.includes('connection_status'), JSON.stringify(outcome));
    await waitFor(async () => ((await series()).length === 1 ? true : undefined), 5000, 'one probe series after the reload');

    r.proxy.reload(testConfig(dir));
    assert.equal(r.proxy.store.has(CONNECTION_APP), false);
    assert.deepEqual(await series(), []);
  } finally {
    tcp.close();
    await r.stop();
  }
});

test('a probe no longer configured: its results restored from a snapshot go at start; a configured one keeps them until its round', async () => {
  const tcp = await listening(0);
  const port = (tcp.address() as net.AddressInfo).port;
  const store = `[store]\npersistence_file = "${path.join(tempDir(), 'snapshot')}"\npersistence_interval = 3600\n`;
  const probe = `[connection_status]\ninterval = 3600\n[[connection_status.sockets]]\nname = "s"\nhost = "127.0.0.1"\nport = ${port}\n`;
  try {
    const a = await startProxy({ extra: store + probe });
    await waitFor(() => a.proxy.store.has(CONNECTION_APP), 5000, 'the first round');
    await a.stop(); // the final snapshot
    const b = await startProxy({ extra: store + probe });
    assert.equal(b.proxy.store.has(CONNECTION_APP), true, 'restored, the probe still configured');
    await b.stop();
    const c = await startProxy({ extra: store });
    try {
      assert.equal(c.proxy.store.has(CONNECTION_APP), false, 'dropped: no probe would ever replace it');
    } finally {
      await c.stop();
    }
  } finally {
    tcp.close();
  }
});

test('probe results the store refuses, round after round, are logged once and counted each round', async () => {
  const tcp = await listening(0);
  const port = (tcp.address() as net.AddressInfo).port;
  const r = await startProxy({ extra: `[connection_status]\ninterval = 0.1\n[[connection_status.sockets]]\nname = "s"\nhost = "127.0.0.1"\nport = ${port}\n` });
  try {
    await waitFor(() => r.proxy.store.has(CONNECTION_APP), 3000, 'the first round');
    r.proxy.store.remove(CONNECTION_APP);
    // Another app now holds the probe's gauge as a counter: every round is refused.
    await send(r.addr.tcp!, JSON.stringify({ other: '# TYPE connection_status_up counter\nconnection_status_up 1\n' }));
    const refused = async () => Number(/^exporter_proxy_rejected_total\{receiver="probe",reason="type_conflict"\} (\d+)/m.exec((await getText(`${r.url}/-/metrics`)).body)?.[1] ?? 0);
    await waitFor(async () => (await refused()) >= 5, 5000, 'five refused rounds');
    const logged = r.logs.filter((l) => l.includes(CONNECTION_APP) && l.includes('E_TYPE_CONFLICT') || l.includes('probe results not stored'));
    assert.equal(logged.length, 1, logged.join('\n'));
    assert.match(logged[0]!, /level=warn msg="probe results not stored; retrying every interval" app=connection_status err="family \\"connection_status_up\\" is declared gauge/);
  } finally {
    await r.stop();
    await new Promise((res) => tcp.close(res));
  }
});
