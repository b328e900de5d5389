// Pushgateway API throughput: the proxy vs prometheus-pushgateway (with its
// default consistency check, and with --push.disable-consistency-check), in
// the same run, loopback only. Each target is preloaded with `groups` groups
// of `series` series (same 10 counter families in every group, as many
// instances of one job push them), then `clients` concurrent HTTP
// connections (undici Pool) PUT whole groups (a random group, new values)
// for `seconds`. Reported: pushes/s (2xx only), latency p50/p99, and one
// scrape of /metrics at that size.
//
// Usage: node dist/bench/push_vs_pushgateway.js [groups] [series] [clients] [seconds]

import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { appText, rssOf, startProxyProcess, table } from './lib.js';
import { startPushgateway } from '../test/e2e/pushgateway_process.js';

const groups = Number(process.argv[2] ?? 1000);
const series = Number(process.argv[3] ?? 100);
const clients = Number(process.argv[4] ?? 8);
const seconds = Number(process.argv[5] ?? 10);

interface PhaseResult {
  pushes: number;
  failed: number;
  seconds: number;
  p50: number;
  p99: number;
}

function groupPath(g: number): string {
  return `/metrics/job/bench/instance/i${g}`;
}

async function pushOnce(pool: Pool, g: number, round: number): Promise<number> {
  const res = await pool.request({ method: 'PUT', path: groupPath(g), body: appText(g, series, round) });
  await res.body.dump();
  return res.statusCode;
}

async function preload(base: string): Promise<number> {
  const pool = new Pool(base, { connections: 16 });
  const started = performance.now();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let g = next++; g < groups; g = next++) {
          const status = await pushOnce(pool, g, 0);
          if (status >= 300) throw new Error(`preload ${base}${groupPath(g)}: HTTP ${status}`);
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return (performance.now() - started) / 1000;
}

async function phase(base: string): Promise<PhaseResult> {
  const pool = new Pool(base, { connections: clients, pipelining: 1 });
  const latencies: number[] = [];
  let failed = 0;
  let round = 1;
  const started = performance.now();
  const until = started + seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < until) {
          const g = Math.floor(Math.random() * groups);
          const t = performance.now();
          const status = await pushOnce(pool, g, round++);
          if (status >= 200 && status < 300) latencies.push(performance.now() - t);
          else failed++;
        }
      }),
    );
  } finally {
    await pool.close();
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return { pushes: latencies.length, failed, seconds: elapsed, p50: pct(0.5), p99: pct(0.99) };
}

async function scrapeOnce(base: string): Promise<{ ms: number; bytes: number; series: number }> {
  const t = performance.now();
  const body = await (await fetch(`${base}/metrics`)).text();
  const ms = performance.now() - t;
  const samples = body.split('\n').filter((l) => l.startsWith('bench_family_')).length;
  return { ms, bytes: Buffer.byteLength(body), series: samples };
}

interface Target {
  name: string;
  start(): Promise<{ url: string; pid: number; stop(): Promise<void> }>;
}

const targets: Target[] = [
  {
    name: 'exporter-proxy',
    async start() {
      const p = await startProxyProcess();
      return { url: p.http, pid: p.child.pid!, stop: () => p.stop() };
    },
  },
  {
    name: 'pushgateway',
    async start() {
      const p = await startPushgateway();
      return { url: p.url, pid: p.child.pid!, stop: () => p.stop() };
    },
  },
  {
    name: 'pushgateway --push.disable-consistency-check',
    async start() {
      const p = await startPushgateway(['--push.disable-consistency-check']);
      return { url: p.url, pid: p.child.pid!, stop: () => p.stop() };
    },
  },
];

export async function pushBenchRows(): Promise<(string | number)[][]> {
  const rows: (string | number)[][] = [];
  for (const target of targets) {
    const t = await target.start();
    try {
      const preloadSeconds = await preload(t.url);
      const scrape = await scrapeOnce(t.url);
      if (scrape.series !== groups * series) throw new Error(`${target.name}: scrape holds ${scrape.series} bench series, expected ${groups * series}`);
      const r = await phase(t.url);
      rows.push([target.name, r.pushes / r.seconds, (r.pushes * series) / r.seconds, r.p50, r.p99, String(r.failed), preloadSeconds, scrape.ms, rssOf(t.pid) / 2 ** 20]);
    } finally {
      await t.stop();
    }
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`PUT whole groups at ${groups * series} stored series (${groups} groups x ${series}), ${clients} clients, ${seconds} s per target, node ${process.version}`);
  const rows = await pushBenchRows();
  console.log(table([['target', 'pushes/s', 'series/s', 'p50 ms', 'p99 ms', 'non-2xx', 'preload s', 'scrape ms', 'RSS MiB'], ...rows]));
  console.log('(without the consistency check the Pushgateway answers 202 before applying a push: its pushes/s is queueing, not applied updates)');
}
