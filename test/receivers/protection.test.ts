// Socket receiver protection over real sockets: read timeout against slow
// senders (JSON and Cap'n Proto, TCP and unix), the TCP allow-list, per-
// receiver TTL, store limits from the config, and their reload.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { getText, send, waitFor } from '../helpers.js';
import { closedWithin, connect, rejected, startFromFile, trickle } from '../durability_helpers.js';
import { capnpEncode } from '../capnp_ts.js';

function capnpMessage(app: string, text: string): Buffer {
  return Buffer.from(capnpEncode(app, text));
}

test('read_timeout: a JSON message trickled byte by byte is cut off read_timeout after its first byte; counted; nothing half-applied', async () => {
  const p = await startFromFile({ receiver: 'read_timeout = 0.4\nidle_timeout = 60\n' });
  try {
    const s = await connect(p.addr.tcp!.port);
    const stop = trickle(s, JSON.stringify({ slow: 'm 1\n'.repeat(500) }), 20);
    const r = await closedWithin(s, 3000);
    stop();
    assert.ok(r.afterMs >= 350 && r.afterMs < 1500, `closed after ${r.afterMs} ms`);
    const m = (await getText(`${p.url}/metrics`)).body;
    assert.equal(rejected(m, 'tcp', 'read_timeout'), 1);
    assert.equal(p.proxy.store.getApp('slow'), undefined);
    assert.ok(p.logs.some((l) => l.includes('code=E_READ_TIMEOUT') && l.includes('receiver.read_timeout')), p.logs.join('\n'));
  } finally {
    await p.stop();
  }
});

test('read_timeout does not touch a long-lived connection whose messages each complete in time, nor an idle one', async () => {
  const p = await startFromFile({ receiver: 'read_timeout = 0.3\nidle_timeout = 60\n' });
  try {
    const busy = await connect(p.addr.tcp!.port);
    const idle = await connect(p.addr.tcp!.port);
    let closed = false;
    busy.on('close', () => (closed = true));
    idle.on('close', () => (closed = true));
    for (let i = 0; i < 10; i++) {
      // Each message arrives in two halves 50 ms apart: incomplete for a moment, complete well within 300 ms.
      const msg = JSON.stringify({ steady: `m ${i}\n` });
      busy.write(msg.slice(0, 5));
      await new Promise((r) => setTimeout(r, 50));
      busy.write(msg.slice(5));
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => p.proxy.store.getApp('steady')?.families[0].text === 'm 9\n', 2000, 'the last message');
    assert.equal(closed, false);
    busy.destroy();
    idle.destroy();
  } finally {
    await p.stop();
  }
});

test("read_timeout on the unix socket with Cap'n Proto: a message stalled after its segment table is closed", async () => {
  const p = await startFromFile({ receiver: 'format = "capnp"\nread_timeout = 0.3\n' });
  try {
    const whole = capnpMessage('stalled', 'm 1\n');
    const s = await new Promise<net.Socket>((resolve) => {
      const c = net.connect({ path: p.addr.unix! }, () => resolve(c));
    });
    s.write(whole.subarray(0, 12));
    const r = await closedWithin(s, 3000);
    assert.ok(r.afterMs >= 250 && r.afterMs < 1500, `closed after ${r.afterMs} ms`);
    assert.equal(rejected((await getText(`${p.url}/-/metrics`)).body, 'unix', 'read_timeout'), 1);
  } finally {
    await p.stop();
  }
});

test('allowed_cidrs: a TCP peer outside the list is refused at connect (counted, logged); a reload that allows it takes effect for new connections', async () => {
  const p = await startFromFile({ receiver: 'allowed_cidrs = ["10.0.0.0/8", "::1/128"]\n' });
  try {
    const s = await connect(p.addr.tcp!.port);
    s.write(JSON.stringify({ outsider: 'm 1\n' }));
    await closedWithin(s, 2000);
    const m = (await getText(`${p.url}/metrics`)).body;
    assert.equal(rejected(m, 'tcp', 'access_denied'), 1);
    assert.equal(p.proxy.store.getApp('outsider'), undefined);
    assert.ok(p.logs.some((l) => l.includes('code=E_ACCESS_DENIED') && l.includes('not in receiver.allowed_cidrs')));

    p.write({ receiver: 'allowed_cidrs = ["127.0.0.0/8"]\n' });
    const r = p.proxy.reloadFromFile();
    assert.deepEqual(r.ok && r.applied, ['receiver.allowed_cidrs']);
    await send({ port: p.addr.tcp!.port }, JSON.stringify({ insider: 'm 1\n' }));
    await waitFor(() => p.proxy.store.getApp('insider'), 2000, 'insider applied');
  } finally {
    await p.stop();
  }
});

test('[receiver] ttl: socket pushes expire on their own clock; other sources keep the store ttl', async () => {
  const p = await startFromFile({ receiver: 'ttl = 0.3\n', store: 'ttl = 0\n' });
  try {
    await send({ port: p.addr.tcp!.port }, JSON.stringify({ pushed: 'm_pushed 1\n' }));
    await waitFor(() => p.proxy.store.getApp('pushed'), 2000, 'push applied');
    p.proxy.ingest({ app: 'polled', text: 'm_polled 1\n', source: 'http://x', receiver: 'poll' });
    const apps = JSON.parse((await getText(`${p.url}/apps?format=json`)).body) as { app: string; expires: string | null }[];
    assert.ok(apps.find((a) => a.app === 'pushed')!.expires, 'the expiry is shown in /apps');
    assert.equal(apps.find((a) => a.app === 'polled')!.expires, null);
    await waitFor(() => !p.proxy.store.getApp('pushed'), 3000, 'pushed app expired');
    assert.ok(p.proxy.store.getApp('polled'));
  } finally {
    await p.stop();
  }
});

test('[store] max_series_per_app and max_apps from the config: refused with E_LIMIT, counted, shown in /apps; raised by a reload', async () => {
  const p = await startFromFile({ store: 'max_series_per_app = 2\nmax_apps = 2\n' });
  try {
    const port = p.addr.tcp!.port;
    await send({ port }, JSON.stringify({ small: 'a 1\nb 1\n', big: 'a 1\nb 1\nc 1\n' }));
    await waitFor(() => p.proxy.store.listApps().length === 2, 2000, 'both apps seen');
    await send({ port }, JSON.stringify({ second: 'z 1\n', third: 'y 1\n' }));
    await waitFor(() => p.proxy.store.listApps().length === 4, 2000, 'all four seen');
    const apps = JSON.parse((await getText(`${p.url}/apps?format=json`)).body) as { app: string; series: number; last_error: { code: string; message: string } | null }[];
    const by = Object.fromEntries(apps.map((a) => [a.app, a]));
    assert.equal(by.small.series, 2);
    assert.equal(by.big.last_error?.code, 'E_LIMIT');
    assert.match(by.big.last_error!.message, /sent more than 2 series; the limit per app is 2 \(store\.max_series_per_app\)/);
    assert.equal(by.second.series, 1);
    assert.match(by.third.last_error!.message, /store holds 2 apps, the limit \(store\.max_apps\)/);
    assert.equal(rejected((await getText(`${p.url}/-/metrics`)).body, 'tcp', 'limit'), 2);

    p.write({ store: 'max_series_per_app = 10\nmax_apps = 10\n' });
    assert.equal(p.proxy.reloadFromFile().ok, true);
    await send({ port }, JSON.stringify({ big: 'a 1\nb 1\nc 1\n', third: 'y 1\n' }));
    await waitFor(() => p.proxy.store.getApp('big') && p.proxy.store.getApp('third'), 2000, 'accepted after the reload');
  } finally {
    await p.stop();
  }
});

test('max_payload_bytes and concurrent_requests are reloadable limits for new connections', async () => {
  const p = await startFromFile({ receiver: 'max_payload_bytes = 1024\n' });
  try {
    const port = p.addr.tcp!.port;
    const big = JSON.stringify({ big: `m{x="${'v'.repeat(1500)}"} 1\n` });
    await send({ port }, big);
    await waitFor(async () => rejected((await getText(`${p.url}/-/metrics`)).body, 'tcp', 'too_large') === 1, 2000, 'too_large counted');
    p.write({ receiver: 'max_payload_bytes = 4096\n', exporter: 'concurrent_requests = 1\n' });
    assert.equal(p.proxy.reloadFromFile().ok, true);
    await send({ port }, big);
    await waitFor(() => p.proxy.store.getApp('big'), 2000, 'accepted after the reload');
    const first = await connect(port);
    const second = await connect(port);
    await closedWithin(second, 2000);
    assert.equal(rejected((await getText(`${p.url}/-/metrics`)).body, 'tcp', 'limit'), 1);
    first.destroy();
  } finally {
    await p.stop();
  }
});
