// Benchmark plumbing shared by the bench scripts: the proxy as a real child
// process, payload generators, socket senders, a scrape load loop, and a bare
// Node server as the in-run baseline. Loopback only; every loop is bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { ScrapeConnection } from './scrape_client.js';
import { capnpEncode } from '../test/capnp_ts.js';
import { startPushgateway, requirePushgateway, type PushgatewayProcess } from '../test/e2e/pushgateway_process.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------------------------------------------------------------- child processes

/** Every live child, with the signal that stops it. */
const children = new Map<ChildProcess, NodeJS.Signals>();
const tmpDirs = new Set<string>();
let cleanupInstalled = false;

/**
 * Remember a child (and its temporary directory) so it is killed on any exit
 * of the bench: with SIGKILL, or `signal` for a child that must stop children
 * of its own (a bench child process, see pushBenchInFreshProcess).
 */
export function track(child: ChildProcess, dir?: string, signal: NodeJS.Signals = 'SIGKILL'): void {
  children.set(child, signal);
  if (dir) tmpDirs.add(dir);
  child.once('exit', () => children.delete(child));
  installCleanup();
}

function killChildren(): void {
  for (const [c, signal] of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  children.clear();
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
  tmpDirs.clear();
}

/** Kill every tracked child on exit, SIGINT/SIGTERM and uncaught errors (idempotent). */
export function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killChildren);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(sig, () => {
      console.error(`bench: ${sig}, stopping children`);
      killChildren();
      process.exit(130);
    });
  const fail = (e: unknown) => {
    console.error('bench failed:', e);
    killChildren();
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
}

/** The Pushgateway binary's path, or an error saying how to install it. */
export function requirePushgatewayBinary(): string {
  try {
    return requirePushgateway();
  } catch (e) {
    throw new Error(`${(e as Error).message}\nRun scripts/install-test-deps.sh (as root or with sudo) to install it.`);
  }
}

/** prometheus-pushgateway as a tracked child; a clear message when it is not installed. */
export async function startPushgatewayProcess(flags: string[] = []): Promise<PushgatewayProcess> {
  requirePushgatewayBinary();
  const p = await startPushgateway(flags);
  track(p.child);
  return p;
}

export interface ProxyProcess {
  child: ChildProcess;
  http: string;
  tcpPort: number;
  unixPath: string;
  dir: string;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** V8 heap limit of the child; generous so 1,000,000 series fit. */
  maxOldSpaceMb?: number;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  nodeArgs?: string[];
  /** Extra keys of the [exporter] section, e.g. 'worker_threads = 2'. */
  exporterToml?: string;
}

let proxyDefaults: ProxyOptions = {};

/** Options every later startProxyProcess starts with (run.ts: --cpu-prof DIR). */
export function setProxyDefaults(opts: ProxyOptions): void {
  proxyDefaults = opts;
}
export function getProxyDefaults(): ProxyOptions {
  return proxyDefaults;
}

/**
 * The node flags on the first line of bin/exporter-proxy.js (`#!/usr/bin/env
 * -S node <flags>`): the proxy is measured as its launcher runs it.
 */
export function launcherNodeFlags(): string[] {
  const first = fs.readFileSync(path.join(ROOT, 'bin', 'exporter-proxy.js'), 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --\S+)*)$/.exec(first);
  if (!m) throw new Error(`bin/exporter-proxy.js: unexpected first line ${JSON.stringify(first)}`);
  return m[1]!.split(' ').filter(Boolean);
}

export async function startProxyProcess(extraToml = '', receiverToml = 'format = "auto"', options: ProxyOptions = {}): Promise<ProxyProcess> {
  const opts = { ...proxyDefaults, ...options, nodeArgs: [...(proxyDefaults.nodeArgs ?? []), ...(options.nodeArgs ?? [])] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exporter-proxy-bench-'));
  const unixPath = path.join(dir, 'receiver.sock');
  const configPath = path.join(dir, 'config.toml');
  fs.writeFileSync(
    configPath,
    `[exporter]\nscrape_expose_endpoint = "127.0.0.1:0"\n${opts.exporterToml ?? ''}\n[receiver]\nreceiver_tcp_socket = "127.0.0.1:0"\nreceiver_unix_socket = "${unixPath}"\nidle_timeout = 0\n${receiverToml}\n${extraToml}\n`,
  );
  const child = spawn(process.execPath, [...launcherNodeFlags(), `--max-old-space-size=${opts.maxOldSpaceMb ?? 8192}`, ...(opts.nodeArgs ?? []), path.join(ROOT, 'bin', 'exporter-proxy.js'), '--config', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  track(child, dir);
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
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
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

/**
 * appText with one series that is new in every round (its path label holds
 * the round): never what the app holds, so the proxy parses every such
 * payload, where it stores a payload of the series it holds, new values
 * only (appText's later rounds), without a parse (exposition/text_repeat.ts).
 */
export function changedAppText(app: number, series: number, round = 0): string {
  return appText(app, series, round).replace('/api/v1/resource/0"', `/api/v1/resource/0-${round}"`);
}

export function jsonMessage(app: number, series: number, round = 0): Buffer {
  return Buffer.from(JSON.stringify({ [`app${app}`]: appText(app, series, round) }));
}

/** jsonMessage of changedAppText. */
export function changedJsonMessage(app: number, series: number, round = 0): Buffer {
  return Buffer.from(JSON.stringify({ [`app${app}`]: changedAppText(app, series, round) }));
}

/** The same payload as one InboundMetrics message, standard framing (capnp-ts encoder). */
export function capnpMessage(app: number, series: number, round = 0): Buffer {
  return Buffer.from(capnpEncode(`app${app}`, appText(app, series, round)));
}

export interface IngestResult {
  firstFillSeconds: number;
  pushesPerSecond: number;
  seriesPerSecond: number;
}

/**
 * Push `apps` payloads of `series` series `rounds` times over `connections`
 * sockets; round 0 fills the store, later rounds replace every app; the
 * first `warmupRounds` (default 1: the fill) are not timed, so the JIT has
 * compiled the hot path before the clock runs. A round is timed from its
 * first write to the moment the proxy stored its last payload: once the
 * proxy counted every payload as received, the newest update time in
 * /apps (the store's own clock, Date.now() as here) ends the round. So the
 * poll for completion neither adds its interval to the time nor, polling
 * seldom, takes much of the proxy's time: each poll of /-/metrics costs the
 * proxy ~1 ms of CPU (measured), 3-4% of a 130-160 ms round at one poll
 * every 25 ms, under 1% at one every 100 ms.
 */
export async function measureSocketIngest(
  proxy: ProxyProcess,
  transport: 'tcp' | 'unix',
  encode: (app: number, series: number, round: number) => Buffer,
  opts: { apps: number; series: number; rounds: number; connections: number; firstApp?: number; warmupRounds?: number },
): Promise<IngestResult> {
  const first = opts.firstApp ?? 0;
  const target = transport === 'tcp' ? { port: proxy.tcpPort } : { path: proxy.unixPath };
  const counter = `exporter_proxy_received_total\\{receiver="${transport}"\\}`;
  let expected = await ownMetric(proxy.http, counter);
  if (Number.isNaN(expected)) expected = 0;
  const timings: number[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const msgs = Array.from({ length: opts.apps }, (_, a) => encode(first + a, opts.series, round));
    expected += opts.apps;
    const t0 = Date.now();
    await sendOverSockets(target, msgs, opts.connections);
    await until(() => ownMetric(proxy.http, counter), (n) => n >= expected, 120_000, 100);
    timings.push((Math.max(t0 + 1, await lastUpdate(proxy.http)) - t0) / 1000);
  }
  const steady = timings.slice(Math.min(opts.warmupRounds ?? 1, timings.length - 1)); // at least the last round
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

/** Poll `read` every `intervalMs` until `done(value)`; bounded. */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 120_000, intervalMs = 5): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error('bench: timed out waiting');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * GET `url`'s body as text, with undici, the client the load loops use.
 * (Not the global fetch: after a few hundred fetches to several origins, as
 * the socket ingest rows' polling made, the same process's undici push loop
 * took 2-3x the CPU per push, 204-225 vs 67-72 µs, measured.)
 */
export async function getText(url: string): Promise<string> {
  return (await getBytes(url)).toString('utf8');
}

/** GET `url`'s body as bytes, untimed (getText's client). */
export async function getBytes(url: string): Promise<Buffer> {
  const res = await request(url);
  const body = Buffer.from(await res.body.arrayBuffer());
  if (res.statusCode !== 200) throw new Error(`bench: GET ${url}: HTTP ${res.statusCode}`);
  return body;
}

/** The newest update time (ms since epoch, the proxy's clock) of any app in /apps. */
export async function lastUpdate(base: string): Promise<number> {
  const apps = JSON.parse(await getText(`${base}/apps?format=json`)) as { last_update: string | null }[];
  let newest = NaN;
  for (const a of apps) if (a.last_update !== null) newest = Number.isNaN(newest) ? Date.parse(a.last_update) : Math.max(newest, Date.parse(a.last_update));
  if (Number.isNaN(newest)) throw new Error(`bench: ${base}/apps lists no update time`);
  return newest;
}

/** A value of one of the proxy's own metrics, from /-/metrics (which does not render the store). */
export async function ownMetric(base: string, name: string): Promise<number> {
  const text = await getText(`${base}/-/metrics`);
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

export interface ScrapeStats {
  scrapes: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  bytes: number;
  /** Wall time of the load, seconds. */
  seconds: number;
  /** Every latency, ms, sorted. */
  latencies: number[];
}

/** Sorts `latencies` in place and returns the p-quantile picker over them (NaN when empty). */
export function quantiles(latencies: number[]): (p: number) => number {
  latencies.sort((a, b) => a - b);
  return (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
}

function scrapeStats(latencies: number[], seconds: number, bytes: number): ScrapeStats {
  const q = quantiles(latencies);
  return { scrapes: latencies.length, perSecond: latencies.length / seconds, p50ms: q(0.5), p99ms: q(0.99), bytes: bytes / Math.max(1, latencies.length), seconds, latencies };
}

/** Several loads of the same URL as one (e.g. slices taken in turn with another target's). */
export function mergeScrapeStats(parts: ScrapeStats[]): ScrapeStats {
  const seconds = parts.reduce((a, p) => a + p.seconds, 0);
  const bytes = parts.reduce((a, p) => a + p.bytes * p.scrapes, 0);
  return scrapeStats(parts.flatMap((p) => p.latencies), seconds, bytes);
}

/**
 * Scrape `url` with `connections` concurrent keep-alive connections for
 * `seconds` (at most `maxScrapes`; past `seconds` until `minScrapes` were
 * done, but never longer than 5 x `seconds`). The client is ScrapeConnection,
 * which costs a fraction of what the server does (see scrape_client.ts).
 */
export async function scrapeLoad(url: string, opts: { seconds: number; connections: number; gzip: boolean; maxScrapes?: number; minScrapes?: number }): Promise<ScrapeStats> {
  const u = new URL(url);
  const conns = await Promise.all(Array.from({ length: opts.connections }, () => ScrapeConnection.open(u)));
  const headers: Record<string, string> = opts.gzip ? { 'accept-encoding': 'gzip' } : {};
  const latencies: number[] = [];
  let bytes = 0;
  const started = performance.now();
  const end = started + opts.seconds * 1000;
  const hardEnd = started + opts.seconds * 5000;
  const max = opts.maxScrapes ?? Infinity;
  const min = opts.minScrapes ?? 0;
  const more = () => latencies.length < max && performance.now() < hardEnd && (performance.now() < end || latencies.length < min);
  try {
    await Promise.all(
      conns.map(async (conn) => {
        while (more()) {
          const t0 = process.hrtime.bigint();
          const res = await conn.get(headers);
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          if (res.status !== 200) throw new Error(`scrape ${url}: HTTP ${res.status}`);
          if (opts.gzip !== (res.contentEncoding === 'gzip')) throw new Error(`scrape ${url}: gzip ${opts.gzip ? 'asked for but not sent' : 'sent unasked'}`);
          bytes += res.bytes;
        }
      }),
    );
  } finally {
    for (const c of conns) c.close();
  }
  const elapsed = (performance.now() - started) / 1000;
  return scrapeStats(latencies, elapsed, bytes);
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
  track(child, dir);
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    close: async () => {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The longest gap between ticks of a 1 ms timer since start() (or reset()):
 * the longest the event loop was held, as a request arriving then would wait.
 */
export function timerGaps(): { reset(): void; longest(): number; stop(): number } {
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  return {
    reset: () => {
      longest = 0;
      last = performance.now();
    },
    longest: () => Math.max(longest, performance.now() - last),
    stop: () => {
      clearInterval(ticker);
      return Math.max(longest, performance.now() - last);
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

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** When the bench began; a bench child process continues its parent's clock. */
export const benchStart = Number(process.env.BENCH_START) || Date.now();

/** A progress line on stderr, with the time since the bench started. */
export function progress(msg: string): void {
  const s = Math.round((Date.now() - benchStart) / 1000);
  console.error(`[${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}] ${msg}`);
}

/** nproc, CPU model and node version of this machine. */
export function machineInfo(): { nproc: number; cpu: string; node: string } {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  return {
    nproc: os.availableParallelism(),
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    node: process.version,
  };
}

/** CPU time (user + system) a process used so far, seconds (Linux /proc). */
export function cpuSecondsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * Wait until `pid` uses under `busyShare` of a core over `windowMs` (e.g. a
 * Pushgateway that answered 202 still applying its queue, or a GC after a
 * fill), at most `maxMs`. Returns the ms waited.
 */
export async function waitForIdle(pid: number, opts: { windowMs?: number; busyShare?: number; maxMs?: number } = {}): Promise<number> {
  const windowMs = opts.windowMs ?? 300;
  const started = Date.now();
  let before = cpuSecondsOf(pid);
  while (Date.now() - started < (opts.maxMs ?? 30_000)) {
    await sleep(windowMs);
    const now = cpuSecondsOf(pid);
    if ((now - before) * 1000 <= windowMs * (opts.busyShare ?? 0.05)) break;
    before = now;
  }
  return Date.now() - started;
}
