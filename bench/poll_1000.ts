// Poller benchmark: 1,000 local HTTP targets (~100 series each, gzip) polled
// at a 5 s interval for ~20 s by an in-process ExporterProxy; the targets run
// in a child process so the proxy's CPU is measured alone.
//
//   npx tsc -p tsconfig.json && node dist/bench/poll_1000.js [--targets 1000] [--interval 5] [--seconds 20] [--series 100] [--scrape 0]
//
// Prints polls/s achieved vs required, missed and late polls (proxy side and
// as seen by the targets), p50/p99 poll duration, CPU% and RSS of the proxy
// process, and the cost of a /metrics scrape of the result. Loopback only;
// bounded in time (a watchdog ends the run).

import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { ExporterProxy } from '../src/app.js';
import { configFromText } from '../src/config/config.js';
import { memoryLogger } from '../src/log.js';
import type { PollEvent } from '../src/poller/poller.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const TARGETS = Number(args.get('targets') ?? 1000);
const INTERVAL_S = Number(args.get('interval') ?? 5);
const SECONDS = Number(args.get('seconds') ?? 20);
const SERIES = Number(args.get('series') ?? 100);
const SCRAPE = args.get('scrape') !== '0';

// ---------------------------------------------------------------- targets (child)

function targetBody(port: number): string {
  // ~100 series: counters, gauges and a histogram, unique per target by `port`.
  let out = '# HELP bench_requests_total Requests served.\n# TYPE bench_requests_total counter\n';
  const perFamily = Math.max(1, Math.floor((SERIES - 14) / 3));
  for (let i = 0; i < perFamily; i++) out += `bench_requests_total{port="${port}",handler="/api/v1/h${i}",code="200"} ${1000 + i * port}\n`;
  out += '# HELP bench_queue_depth Items waiting.\n# TYPE bench_queue_depth gauge\n';
  for (let i = 0; i < perFamily; i++) out += `bench_queue_depth{port="${port}",queue="q${i}"} ${i * 0.5}\n`;
  out += '# HELP bench_temperature_celsius A float gauge.\n# TYPE bench_temperature_celsius gauge\n';
  for (let i = 0; i < perFamily; i++) out += `bench_temperature_celsius{port="${port}",sensor="s${i}"} ${20 + i / 7}\n`;
  out += '# HELP bench_latency_seconds Latency.\n# TYPE bench_latency_seconds histogram\n';
  let cum = 0;
  for (const le of ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']) {
    cum += 7;
    out += `bench_latency_seconds_bucket{port="${port}",le="${le}"} ${cum}\n`;
  }
  out += `bench_latency_seconds_sum{port="${port}"} 12.5\nbench_latency_seconds_count{port="${port}"} ${cum}\n`;
  return out;
}

async function runTargets(): Promise<void> {
  const bodies = new Map<number, { plain: Buffer; gzip: Buffer }>();
  const arrivals = new Map<number, number[]>();
  // One HTTP server answering on every port; keep-alive like a Go exporter (no short idle timeout).
  const server = http.createServer((req, res) => {
    const port = req.socket.localPort!;
    arrivals.get(port)!.push(Date.now());
    const b = bodies.get(port)!;
    const gz = /gzip/.test(String(req.headers['accept-encoding'] ?? ''));
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', ...(gz ? { 'content-encoding': 'gzip' } : {}) });
    res.end(gz ? b.gzip : b.plain);
  });
  server.keepAliveTimeout = 60_000;
  const ports: number[] = [];
  for (let i = 0; i < TARGETS; i++) {
    const l = net.createServer((sock) => server.emit('connection', sock));
    await new Promise<void>((resolve) => l.listen(0, '127.0.0.1', resolve));
    const port = (l.address() as net.AddressInfo).port;
    const plain = Buffer.from(targetBody(port));
    bodies.set(port, { plain, gzip: zlib.gzipSync(plain) });
    arrivals.set(port, []);
    ports.push(port);
  }
  const sample = bodies.get(ports[0]!)!;
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  process.send!({ ports, bodyBytes: sample.plain.length, gzipBytes: sample.gzip.length });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd !== 'report') return;
    const cpu = process.cpuUsage(cpu0);
    process.send!({ arrivals: [...arrivals.entries()], cpuMs: (cpu.user + cpu.system) / 1000, wallMs: Date.now() - t0 }, () => process.exit(0));
  });
}

// ---------------------------------------------------------------- proxy (parent)

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error('watchdog: benchmark took too long, giving up');
    process.exit(2);
  }, (SECONDS + 3 * INTERVAL_S + 60) * 1000);
  watchdog.unref();
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [...process.argv.slice(2), '--role', 'targets'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ ports: number[]; bodyBytes: number; gzipBytes: number }>((resolve) => child.once('message', resolve as never));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exporter-proxy-bench-'));
  const endpoints = ready.ports.map((p) => `"http://127.0.0.1:${p}/metrics"`).join(', ');
  const config = configFromText(`
[exporter]
scrape_expose_endpoint = "127.0.0.1:0"
[receiver]
receive_on_tcp_socket = false
receiver_unix_socket = "${path.join(dir, 'r.sock')}"
[poll_external]
poll_other_scrape_endpoints = true
other_scrape_endpoints = [${endpoints}]
poll_interval = ${INTERVAL_S}
client_timeout = 2
`);
  const events: PollEvent[] = [];
  const proxy = new ExporterProxy({ config, logger: memoryLogger(), defaultMetrics: false, onPoll: (e) => events.push(e) });
  const addr = await proxy.start();
  const startedAt = Date.now();
  // The first interval is the ramp-up (every target waits for its slot); measure after it.
  const warmMs = INTERVAL_S * 1000;
  await sleep(warmMs);
  const cpu0 = process.cpuUsage();
  const w0 = Date.now();
  let rssPeak = 0;
  const scrapes: { ms: number; bytes: number }[] = [];
  const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 250);
  // A Prometheus-like scrape of the merged result every interval (its cost is part of the CPU figure).
  const scrapeTimer = setInterval(async () => {
    if (!SCRAPE) return;
    const s = performance.now();
    const body = await getBody(`http://127.0.0.1:${addr.http.port}/metrics`);
    scrapes.push({ ms: performance.now() - s, bytes: body });
  }, INTERVAL_S * 1000);
  await sleep(SECONDS * 1000);
  const wallMs = Date.now() - w0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(rssTimer);
  clearInterval(scrapeTimer);
  const rssEnd = process.memoryUsage().rss;
  const apps = proxy.store.appCount;
  const series = proxy.store.seriesCount;
  await proxy.stop(2000);
  child.send({ cmd: 'report' });
  const report = await new Promise<{ arrivals: [number, number[]][]; cpuMs: number; wallMs: number }>((resolve) => child.once('message', resolve as never));
  fs.rmSync(dir, { recursive: true, force: true });

  const inWindow = events.filter((e) => e.plannedAt >= w0 && e.plannedAt < w0 + wallMs);
  const ok = inWindow.filter((e) => e.ok).length;
  const failed = inWindow.length - ok;
  const required = TARGETS / INTERVAL_S;
  const durations = inWindow.map((e) => e.durationMs).sort((a, b) => a - b);
  const lateness = inWindow.map((e) => e.startedAt - e.plannedAt).sort((a, b) => a - b);
  const lateThresholdMs = Math.min(1000, INTERVAL_S * 100); // 10% of the interval
  const late = lateness.filter((l) => l > lateThresholdMs).length;
  const skipped = inWindow.reduce((n, e) => n + e.skipped, 0);
  // Target side: gaps between consecutive requests to one target inside the window.
  let gaps = 0;
  let missedGaps = 0;
  let maxGap = 0;
  for (const [, times] of report.arrivals) {
    const t = times.filter((x) => x >= w0 && x < w0 + wallMs);
    for (let i = 1; i < t.length; i++) {
      const g = t[i]! - t[i - 1]!;
      gaps++;
      maxGap = Math.max(maxGap, g);
      if (g > INTERVAL_S * 1000 * 1.5) missedGaps++;
    }
  }
  const expectedPolls = Math.round((TARGETS * wallMs) / (INTERVAL_S * 1000));
  const firstPoll = new Map<string, number>();
  for (const e of events) if (!firstPoll.has(e.target.url)) firstPoll.set(e.target.url, e.startedAt - startedAt);
  const firsts = [...firstPoll.values()].sort((a, b) => a - b);
  const cpuPct = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
  const mb = (b: number) => (b / 1024 / 1024).toFixed(1) + ' MiB';
  const ms = (x: number) => x.toFixed(2) + ' ms';
  const rows: [string, string][] = [
    ['targets / interval / window', `${TARGETS} / ${INTERVAL_S} s / ${(wallMs / 1000).toFixed(1)} s (after ${warmMs / 1000} s ramp-up)`],
    ['body per target', `${SERIES} series, ${ready.bodyBytes} B (${ready.gzipBytes} B gzip)`],
    ['polls/s achieved vs required', `${(inWindow.length / (wallMs / 1000)).toFixed(1)} vs ${required.toFixed(1)} (${inWindow.length} of ${expectedPolls} expected)`],
    ['failed polls', String(failed)],
    ['missed polls (skipped slots)', String(skipped)],
    [`late polls (> ${lateThresholdMs} ms after slot)`, `${late}; lateness p50 ${ms(pct(lateness, 50))}, p99 ${ms(pct(lateness, 99))}, max ${ms(lateness.at(-1) ?? NaN)}`],
    ['target side: gaps > 1.5 x interval', `${missedGaps} of ${gaps}; max gap ${maxGap} ms`],
    ['poll duration p50 / p99 / max', `${ms(pct(durations, 50))} / ${ms(pct(durations, 99))} / ${ms(durations.at(-1) ?? NaN)}`],
    ['proxy CPU (1 core = 100%)', `${cpuPct.toFixed(1)}% (${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU in ${wallMs} ms)`],
    ['proxy RSS end / peak', `${mb(rssEnd)} / ${mb(Math.max(rssPeak, rssEnd))}`],
    ['store', `${apps} apps, ${series} series`],
    ['/metrics scrape (each interval)', scrapes.map((s) => `${ms(s.ms)} for ${mb(s.bytes)}`).join('; ') || 'off'],
    ['targets process CPU', `${((report.cpuMs / report.wallMs) * 100).toFixed(1)}%`],
    ['first polls after start', `p1 ${pct(firsts, 1)} ms, p50 ${pct(firsts, 50)} ms, p99 ${pct(firsts, 99)} ms (spread over the interval)`],
    ['cores', String(os.cpus().length)],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`poll_1000: node ${process.version}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  const keepsUp = inWindow.length >= expectedPolls * 0.99 && skipped === 0 && failed === 0;
  console.log(keepsUp ? 'RESULT: keeps up' : 'RESULT: does NOT keep up');
  process.exit(keepsUp ? 0 : 1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function getBody(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve(n));
      })
      .on('error', reject);
  });
}

if (args.get('role') === 'targets') void runTargets();
else await main();
