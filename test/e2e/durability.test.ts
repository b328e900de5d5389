// Durability with the real CLI as a child process: SIGTERM writes a final
// snapshot, kill -9 loses at most the last interval, TTLs keep counting
// across a restart, a corrupt snapshot is set aside, and SIGHUP reloads.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { getText, send, tempDir, waitFor } from '../helpers.js';
import { startCli, type CliProxy } from './e2e_helpers.js';
import { basic } from '../durability_helpers.js';

interface AppJson {
  app: string;
  last_update: string;
  expires: string | null;
  series: number;
}

async function apps(p: CliProxy, headers: Record<string, string> = {}): Promise<Map<string, AppJson>> {
  const r = await getText(`${p.http}/apps?format=json`, headers);
  assert.equal(r.status, 200, r.body);
  return new Map((JSON.parse(r.body) as AppJson[]).map((a) => [a.app, a]));
}

function push(p: CliProxy, apps: Record<string, string>): Promise<void> {
  return send({ port: p.tcpPort }, JSON.stringify(apps));
}

function kill9(p: CliProxy): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) {
    throw new Error(`the proxy had already exited (${p.child.exitCode ?? p.child.signalCode}) before kill -9:\n${p.stderr()}`);
  }
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGKILL');
  return exited;
}

const persist = (file: string, interval: number, more = '') => `[store]\npersistence_file = "${file}"\npersistence_interval = ${interval}\n${more}`;

test('SIGTERM writes a final snapshot; the next start restores every app with its original receive time before listening', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'store.snap');
  const a = await startCli(persist(file, 3600));
  await push(a, { alpha: '# TYPE jobs_total counter\njobs_total{q="a"} 1\n', beta: 'temp_c{room="x"} 21.5\n' });
  const before = await waitFor(async () => {
    const m = await apps(a);
    return m.size === 2 ? m : undefined;
  });
  assert.equal(fs.existsSync(file), false, 'the interval has not passed: no periodic snapshot yet');
  assert.equal(await a.stop(), 0);
  assert.ok(fs.existsSync(file), 'SIGTERM wrote the final snapshot');

  const b = await startCli(persist(file, 3600));
  try {
    // The first scrape after "started" already has them.
    const after = await apps(b);
    assert.deepEqual([...after.keys()].sort(), ['alpha', 'beta']);
    for (const name of ['alpha', 'beta']) assert.equal(after.get(name)!.last_update, before.get(name)!.last_update);
    const metrics = (await getText(`${b.http}/metrics`)).body;
    assert.match(metrics, /^jobs_total\{q="a"\} 1$/m);
    assert.match(b.stderr(), /msg="snapshot restored" .*apps=2 series=2/);
  } finally {
    await b.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kill -9 at any moment: every app stored more than one interval before the kill comes back', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'store.snap');
  const interval = 0.2;
  let p = await startCli(persist(file, interval));
  const confirmed = new Map<string, number>();
  try {
    for (let round = 0; round < 4; round++) {
      // Apps of this round, each confirmed by a scrape, then more than one interval passes.
      const batch = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`r${round}_app${i}`, `round_value{i="${i}"} ${round}\n`]));
      await push(p, batch);
      await waitFor(async () => (await apps(p)).has(`r${round}_app19`));
      for (const k of Object.keys(batch)) confirmed.set(k, round);
      await new Promise((r) => setTimeout(r, interval * 1000 * 1.5 + 100));
      // A last push right before the kill may or may not survive; it must not break the file.
      await push(p, { [`r${round}_late`]: 'late 1\n' });
      await kill9(p);
      p = await startCli(persist(file, interval));
      const restored = await apps(p);
      for (const k of confirmed.keys()) assert.ok(restored.has(k), `round ${round}: ${k} lost after kill -9`);
      assert.doesNotMatch(p.stderr(), /snapshot unusable/);
    }
  } finally {
    await p.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('TTL keeps counting across a restart; apps already expired are dropped on load', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'store.snap');
  // startCli's config ends inside [receiver]: bare keys first land there.
  const a = await startCli(`ttl = 4\n${persist(file, 3600)}`);
  await push(a, { short: 'm_short 1\n' });
  const expires = await waitFor(async () => (await apps(a)).get('short')?.expires);
  await a.stop();
  const b = await startCli(`ttl = 60\n${persist(file, 3600)}`);
  try {
    assert.equal((await apps(b)).get('short')?.expires, expires, 'the original expiry, not a new ttl from now');
    await waitFor(async () => !(await apps(b)).has('short'), 8000, 'expired after the restart on the original clock');
  } finally {
    await b.stop();
  }

  const c = await startCli(`ttl = 3\n${persist(file, 3600)}`);
  await push(c, { gone: 'm_gone 1\n' });
  const goneAt = Date.parse(await waitFor(async () => (await apps(c)).get('gone')?.expires ?? undefined));
  // SIGTERM before it expires: the final snapshot holds it, with its expiry.
  await c.stop();
  assert.ok(Date.now() < goneAt, 'stopped before the expiry (machine too slow for this test)');
  await new Promise((r) => setTimeout(r, goneAt - Date.now() + 100));
  const d = await startCli(persist(file, 3600));
  try {
    assert.equal((await apps(d)).size, 0);
    assert.match(d.stderr(), /msg="snapshot restored" .*apps=0 .*expired=1/);
  } finally {
    await d.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a corrupt snapshot is moved aside with a warning and the proxy starts empty; the next snapshot is good', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'store.snap');
  fs.writeFileSync(file, 'exporter-proxy-snapshot v1 ' + '0'.repeat(64) + ' 5\nhello');
  const p = await startCli(persist(file, 0.1));
  try {
    assert.equal((await apps(p)).size, 0);
    assert.match(p.stderr(), /level=warn msg="snapshot unusable; moved aside, starting empty" .*reason="checksum mismatch"/);
    const aside = fs.readdirSync(dir).filter((n) => n.startsWith('store.snap.corrupt-'));
    assert.equal(aside.length, 1);
    await push(p, { fresh: 'm 1\n' });
    await waitFor(() => fs.existsSync(file), 3000, 'a new snapshot');
  } finally {
    await p.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGHUP reloads: new auth and ttl apply, an invalid file is logged and refused, restart-only keys are reported', async () => {
  const base = (p: CliProxy, extra: string) => `[exporter]\nscrape_expose_endpoint = "127.0.0.1:0"\n[receiver]\nreceiver_tcp_socket = "127.0.0.1:0"\nreceiver_unix_socket = "${p.unixPath}"\n${extra}\n`;
  const p = await startCli();
  const config = path.join(p.dir, 'config.toml');
  const hup = async (expect: RegExp) => {
    const seen = p.stderr().length;
    p.child.kill('SIGHUP');
    await waitFor(() => expect.test(p.stderr().slice(seen)), 8000, `log ${expect} in:\n${p.stderr().slice(seen)}`).catch((e: Error) => {
      throw new Error(`${e.message}\n${p.stderr().slice(seen)}`);
    });
  };
  try {
    fs.writeFileSync(config, base(p, '[store]\nttl = 30\n[http]\nscrape_auth = { basic = { username = "prom", password = "pw" } }\n'));
    await hup(/msg="config reloaded" applied=http.scrape_auth,store.ttl/);
    assert.equal((await getText(`${p.http}/metrics`)).status, 401);
    const auth = { authorization: basic('prom', 'pw') };
    await push(p, { a: 'm 1\n' });
    const a = await waitFor(async () => (await apps(p, auth)).get('a'));
    assert.ok(Date.parse(a.expires!) - Date.parse(a.last_update) === 30_000);

    fs.writeFileSync(config, base(p, '[store]\nttl = "soon"\n[http]\nread_timeout = -1\n'));
    await hup(/level=error msg="config reload refused; the running config stays" .*problems="store.ttl: must be a number, got \\"soon\\"; http.read_timeout: must be at least 0.01, got -1"/);
    assert.equal((await getText(`${p.http}/metrics`, auth)).status, 200, 'still serving with the old config');
    assert.equal((await getText(`${p.http}/metrics`)).status, 401);

    fs.writeFileSync(config, base(p, 'format = "capnp"\n[store]\nttl = 30\n[http]\nscrape_auth = { basic = { username = "prom", password = "pw" } }\n').replace('receiver_tcp_socket = "127.0.0.1:0"', 'receiver_tcp_socket = "127.0.0.1:1"'));
    await hup(/msg="config keys changed that need a restart; ignored until then" keys=receiver.format,receiver.receiver_tcp_socket/);
    await push(p, { b: 'm 1\n' });
    await waitFor(async () => (await apps(p, auth)).has('b'), 3000, 'JSON still accepted on the old port');
  } finally {
    assert.equal(await p.stop(), 0);
  }
});
