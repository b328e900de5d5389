// Benchmark plumbing shared by the bench scripts: the proxy as a real child
// process, payload generators, socket senders, a scrape load loop, and a bare
// Node server as the in-run baseline. Loopback only; every loop is bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { InboundMetrics, capnp } from '../src/codecs/capnp.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ProxyProcess {
  child: ChildProcess;
  http: string;
  tcpPort: number;
  unixPath: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startProxyProcess(extraToml = '', receiverToml = 'format = "auto"'): Promise<ProxyProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exporter-proxy-bench-'));
  const unixPath = path.join(dir, 'receiver.sock');
  const configPath = path.join(dir, 'config.toml');
  fs.writeFileSync(
    configPath,
    `[exporter]\nscrape_expose_endpoint = "127.0.0.1:0"\n[receiver]\nreceiver_tcp_socket = "127.0.0.1:0"\nreceiver_unix_socket = "${unixPath}"\nidle_timeout = 0\n${receiverToml}\n${extraToml}\n`,
  );
  const child = spawn(process.execPath, ['--max-old-space-size=8192', path.join(ROOT, 'bin', 'exporter-proxy.js'), '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const line = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      err += d;
      const l = err.split('\n').find((x) => x.includes('exporter-proxy started'));
      if (l) resolve(l);
    });
    child.on('exit', (code) => reject(new Error(`proxy exited ${code}: ${err}`)));
  });
  child.stderr!.resume();
  return {
    child,
    http: `http://${/http=(\S+)/.exec(line)![1]}`,
    tcpPort: Number(/tcp=\S+:(\d+)/.exec(line)![1]),
    unixPath,
    dir,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resident set size of a process, bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Exposition text of `series` series for one app (10 families x series/10 samples). */
export function appText(app: number, series: number, round = 0): string {
  const perFamily = Math.max(1, Math.floor(series / 10));
  let out = '';
  for (let f = 0; f < 10 && f * perFamily < series; f++) {
    out += `# HELP bench_family_${f}_total A benchmark counter.\n# TYPE bench_family_${f}_total counter\n`;
    for (let i = 0; i < perFamily; i++) out += `bench_family_${f}_total{app="app${app}",path="/api/v1/resource/${i}",code="200"} ${round * 1000 + i}\n`;
  }
  return out;
}

export function jsonMessage(app: number, series: number, round = 0): Buffer {
  return Buffer.from(JSON.stringify({ [`app${app}`]: appText(app, series, round) }));
}

/** The same payload as one InboundMetrics message, standard framing (capnp-ts encoder). */
export function capnpMessage(app: number, series: number, round = 0): Buffer {
  const m = new capnp.Message();
  const root = m.initRoot(InboundMetrics);
  root.setAppName(`app${app}`);
  root.setData(appText(app, series, round));
  return Buffer.from(m.toArrayBuffer());
}

export interface IngestResult {
  firstFillSeconds: number;
  pushesPerSecond: number;
  seriesPerSecond: number;
}

/**
 * Push `apps` payloads of `series` series `rounds` times over `connections`
 * sockets; round 0 fills the store, later rounds replace every app (steady
 * state). Timed until the proxy counted every payload as received.
 */
export async function measureSocketIngest(
  proxy: ProxyProcess,
  transport: 'tcp' | 'unix',
  encode: (app: number, series: number, round: number) => Buffer,
  opts: { apps: number; series: number; rounds: number; connections: number },
): Promise<IngestResult> {
  const target = transport === 'tcp' ? { port: proxy.tcpPort } : { path: proxy.unixPath };
  const counter = `exporter_proxy_received_total\\{receiver="${transport}"\\}`;
  let expected = await ownMetric(proxy.http, counter);
  if (Number.isNaN(expected)) expected = 0;
  const timings: number[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const msgs = Array.from({ length: opts.apps }, (_, a) => encode(a, opts.series, round));
    expected += opts.apps;
    const t0 = performance.now();
    await sendOverSockets(target, msgs, opts.connections);
    await until(() => ownMetric(proxy.http, counter), (n) => n >= expected);
    timings.push((performance.now() - t0) / 1000);
  }
  const steady = timings.length > 1 ? timings.slice(1) : timings;
  const seconds = steady.reduce((a, b) => a + b, 0) / steady.length;
  return { firstFillSeconds: timings[0], pushesPerSecond: opts.apps / seconds, seriesPerSecond: (opts.apps * opts.series) / seconds };
}

/**
 * Send `messages` over `connections` sockets (round-robin), waiting for
 * each write to drain. Resolves when all sockets are closed by us.
 */
export async function sendOverSockets(target: { port: number } | { path: string }, messages: Buffer[], connections: number): Promise<void> {
  const groups: Buffer[][] = Array.from({ length: connections }, () => []);
  messages.forEach((m, i) => groups[i % connections].push(m));
  await Promise.all(
    groups.map(
      (msgs) =>
        new Promise<void>((resolve, reject) => {
          const sock = net.connect(target as net.NetConnectOpts, async () => {
            for (const m of msgs) if (!sock.write(m)) await new Promise((r) => sock.once('drain', r));
            sock.end();
          });
          sock.on('error', reject);
          sock.on('close', () => resolve());
          sock.resume();
        }),
    ),
  );
}

/** Poll `read` until `done(value)`; bounded. */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error('bench: timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A value of one of the proxy's own metrics, from /-/metrics (which does not render the store). */
export async function ownMetric(base: string, name: string): Promise<number> {
  const res = await fetch(`${base}/-/metrics`);
  const text = await res.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

export interface ScrapeStats {
  scrapes: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  bytes: number;
}

/** Scrape `url` with `connections` concurrent keep-alive connections for `seconds`. */
export async function scrapeLoad(url: string, opts: { seconds: number; connections: number; gzip: boolean; maxScrapes?: number }): Promise<ScrapeStats> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: opts.connections, pipelining: 1 });
  const latencies: number[] = [];
  let bytes = 0;
  const end = Date.now() + opts.seconds * 1000;
  const max = opts.maxScrapes ?? Infinity;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      while (Date.now() < end && latencies.length < max) {
        const t0 = process.hrtime.bigint();
        const res = await pool.request({ path: u.pathname, method: 'GET', headers: opts.gzip ? { 'accept-encoding': 'gzip' } : {} });
        for await (const chunk of res.body) bytes += (chunk as Buffer).length;
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const elapsed = (Date.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { scrapes: latencies.length, perSecond: latencies.length / elapsed, p50ms: q(0.5), p99ms: q(0.99), bytes: bytes / Math.max(1, latencies.length) };
}

/**
 * The in-run baseline: a bare node:http server in its own process (as the
 * proxy is) answering with fixed bytes, or a cached gzip copy of them.
 */
export async function startBareServer(body: Buffer): Promise<{ url: string; close(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exporter-proxy-bare-'));
  fs.writeFileSync(path.join(dir, 'body'), body);
  const script = `
    const http = require('node:http'), fs = require('node:fs'), zlib = require('node:zlib');
    const body = fs.readFileSync(${JSON.stringify(path.join(dir, 'body'))}), gz = zlib.gzipSync(body);
    const server = http.createServer((req, res) => {
      const gzip = (req.headers['accept-encoding'] || '').includes('gzip');
      const b = gzip ? gz : body;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': b.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
      res.end(b);
    });
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    close: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = cells[0].map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 1) return n.toFixed(1);
  return n.toFixed(3);
}
