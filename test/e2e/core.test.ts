// The core data path with the programs a user has: nc sending the Rust
// proxy's reference payloads, promtool linting /metrics, and a real
// Prometheus scraping the proxy while two apps push the same family.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FIXTURES, ROOT, waitFor, getText, tempDir } from '../helpers.js';
import { requireCommand, startCli, startPrometheus, sh, type PortProgram } from './e2e_helpers.js';

test('nc sends both reference payloads over TCP and the unix socket; SIGTERM exits 0 and removes the socket', async () => {
  requireCommand('nc', 'netcat-openbsd');
  const p = await startCli();
  try {
    sh(`cat ${path.join(FIXTURES, 'json_string.json')} | nc -s 127.0.0.1 127.0.0.1 ${p.tcpPort} -q 0`);
    sh(`cat ${path.join(FIXTURES, 'json_array.json')} | nc -U ${p.unixPath} -q 0`);
    const body = await waitFor(async () => {
      const { body } = await getText(`${p.http}/metrics`);
      return body.includes('foo_bar_app0') && body.includes('foo_bar_app1') ? body : undefined;
    });
    assert.match(body, /^http_requests_total_foo_bar_app0\{method="post",code="200"\} 1027 1395066363000$/m);
    assert.match(body, /^http_requests_total_foo_bar_app1\{method="post",code="400"\} 3 1395066363000$/m);
    const apps = (await getText(`${p.http}/apps`)).body;
    assert.match(apps, /foo_bar_app0_metrics .*│ 127\.0\.0\.1:\d+/);
    assert.ok(apps.includes(p.unixPath));
  } finally {
    assert.equal(await p.stop(), 0);
    assert.equal(fs.existsSync(p.unixPath), false);
  }
});

test('promtool check metrics: /metrics parses; lint findings only on names users pushed', async () => {
  requireCommand('promtool', 'prometheus');
  const p = await startCli();
  try {
    const payload = JSON.stringify({
      app_one: ['# HELP shared_requests_total Requests.', '# TYPE shared_requests_total counter', 'shared_requests_total{code="200"} 5'],
      app_two: '# TYPE shared_requests_total counter\nshared_requests_total{code="500"} 1\n# TYPE badly_named counter\nbadly_named 3\n# TYPE lat histogram\nlat_bucket{le="0.1"} 1\nlat_bucket{le="+Inf"} 2\nlat_sum 0.3\nlat_count 2\n',
    });
    sh(`nc -q 0 127.0.0.1 ${p.tcpPort}`, { input: payload });
    await waitFor(async () => (await getText(`${p.http}/metrics`)).body.includes('badly_named'));
    const scraped = (await getText(`${p.http}/metrics`)).body;
    const r = spawnSync('promtool', ['check', 'metrics'], { input: scraped, encoding: 'utf8' });
    const findings = (r.stdout + r.stderr).trim().split('\n').filter(Boolean);
    assert.doesNotMatch(r.stderr, /error while linting|parse/i, r.stderr);
    assert.ok(findings.some((l) => l.startsWith('badly_named')), `expected the user's counter without _total to be linted: ${findings}`);
    for (const l of findings) assert.doesNotMatch(l, /^exporter_proxy_/, `lint finding on our own metric: ${l}`);
    assert.equal(scraped.match(/^# TYPE shared_requests_total counter$/gm)?.length, 1);
  } finally {
    await p.stop();
  }
});

test('a real Prometheus scrapes the proxy while two apps push the same family: target up, every series present', async () => {
  requireCommand('prometheus', 'prometheus');
  const p = await startCli('[store]\napp_label = "app"\n');
  const dir = tempDir();
  const pushers: NodeJS.Timeout[] = [];
  let prom: PortProgram | undefined;
  try {
    prom = await startPrometheus(dir, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: proxy\n    static_configs:\n      - targets: ['${new URL(p.http).host}']\n`);
    // Two apps push the same family (and identical series, kept apart by app_label) every 200 ms.
    for (const app of ['edge_a', 'edge_b']) {
      const push = () => sh(`nc -q 0 127.0.0.1 ${p.tcpPort}`, { input: JSON.stringify({ [app]: `# TYPE jobs_done_total counter\njobs_done_total{queue="q1"} ${Date.now() % 1000}\njobs_done_total{queue="q2"} 1\n` }) });
      push();
      pushers.push(setInterval(push, 200));
    }
    const api = `${prom.url}/api/v1`;
    const target = await waitFor(
      async () => {
        try {
          const t = (await (await fetch(`${api}/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
          const [first] = t.data.activeTargets;
          return first?.health === 'up' ? first : undefined;
        } catch {
          return undefined;
        }
      },
      30_000,
      'Prometheus to report the proxy target up',
    );
    assert.equal(target.lastError, '');
    const series = await waitFor(
      async () => {
        const q = (await (await fetch(`${api}/query?query=jobs_done_total`)).json()) as { data: { result: { metric: Record<string, string> }[] } };
        return q.data.result.length === 4 ? q.data.result : undefined;
      },
      15_000,
      'all four series in Prometheus',
    );
    assert.deepEqual(series.map((s) => `${s.metric.app}/${s.metric.queue}`).sort(), ['edge_a/q1', 'edge_a/q2', 'edge_b/q1', 'edge_b/q2']);
    const up = (await (await fetch(`${api}/query?query=exporter_proxy_apps`)).json()) as { data: { result: { value: [number, string] }[] } };
    assert.equal(up.data.result[0].value[1], '2');
  } finally {
    pushers.forEach(clearInterval);
    await prom?.stop();
    await p.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: a port in use or an unwritable socket path is one line and exit 1', async () => {
  const p = await startCli();
  const dir = tempDir();
  try {
    const cases: [string, RegExp][] = [
      [`[exporter]\nscrape_expose_endpoint = "${new URL(p.http).host}"\n[receiver]\nreceive_on_unix_socket = false\nreceive_on_tcp_socket = false\n`, /^exporter-proxy: cannot listen on http 127\.0\.0\.1:\d+: address already in use$/],
      [`[exporter]\nscrape_expose_endpoint = "127.0.0.1:0"\n[receiver]\nreceive_on_tcp_socket = false\nreceiver_unix_socket = "/nonexistent-dir/x.sock"\n`, /^exporter-proxy: cannot listen on unix socket \/nonexistent-dir\/x\.sock: directory \/nonexistent-dir does not exist$/],
    ];
    for (const [toml, re] of cases) {
      const file = path.join(dir, 'c.toml');
      fs.writeFileSync(file, toml);
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'exporter-proxy.js'), '--config', file], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.trim().split('\n').filter((l) => !l.includes('level='));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], re);
    }
  } finally {
    await p.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: the SIGHUP, SIGTERM and SIGINT handlers are installed before "started" is logged', () => {
  // Deterministic: the CLI's own process counts its listeners at the moment
  // the line is written (a signal sent on that line must find them).
  const dir = tempDir();
  const config = path.join(dir, 'c.toml');
  fs.writeFileSync(config, `[exporter]\nscrape_expose_endpoint = "127.0.0.1:0"\n[receiver]\nreceive_on_unix_socket = false\nreceiver_tcp_socket = "127.0.0.1:0"\n`);
  const script = `
    import { main } from ${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli.js'))};
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk, ...rest) => {
      if (String(chunk).includes('msg="exporter-proxy started"')) {
        process.stdout.write(JSON.stringify(['SIGHUP', 'SIGTERM', 'SIGINT'].map((s) => process.listenerCount(s))));
        process.exit(0);
      }
      return write(chunk, ...rest);
    };
    await main(['--config', ${JSON.stringify(config)}]);`;
  try {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [1, 1, 1], r.stdout);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CLI: SIGHUP and SIGTERM sent the moment "started" is logged are handled, not fatal', async () => {
  for (let i = 0; i < 3; i++) {
    const p = await startCli('', { onStartedLine: (child) => child.kill('SIGHUP') });
    try {
      await waitFor(() => p.stderr().includes('msg="reloading config" signal=SIGHUP'), 5000, `reload logged:\n${p.stderr()}`);
      assert.equal(p.child.signalCode, null, `killed by ${p.child.signalCode}:\n${p.stderr()}`);
    } finally {
      assert.equal(await p.stop(), 0, p.stderr());
    }
  }
  const q = await startCli('', { onStartedLine: (child) => child.kill('SIGTERM') });
  const code = await new Promise((r) => (q.child.exitCode !== null || q.child.signalCode !== null ? r(q.child.exitCode ?? q.child.signalCode) : q.child.once('exit', (c, sig) => r(c ?? sig))));
  assert.equal(code, 0, q.stderr());
});
