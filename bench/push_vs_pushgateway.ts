// Pushgateway API throughput: the proxy vs prometheus-pushgateway (with its
// default consistency check, and with --push.disable-consistency-check), in
// the same run, loopback only. Each target is preloaded with `groups` groups
// of `series` series (same 10 counter families in every group, as many
// instances of one job push them), then `clients` concurrent HTTP
// connections (undici Pool) PUT whole groups (a random group, new values)
// for `seconds`, the targets taking turns in slices. Reported: pushes/s
// (2xx only), latency p50/p99, and one scrape of /metrics at that size.
//
// Usage: node dist/bench/push_vs_pushgateway.js [groups] [series] [clients] [seconds]
//
// preloadGroups, waitForBenchSeries, pushPhase and pushBench are the
// measuring pieces bench/run.ts reuses.

import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { appText, changedAppText, benchStart, cpuSecondsOf, getProxyDefaults, getText, installCleanup, progress, setProxyDefaults, track, type ProxyOptions, quantiles, rssOf, startProxyProcess, startPushgatewayProcess, table, until, waitForIdle } from './lib.js';

export interface PushOptions {
  groups: number;
  series: number;
  clients: number;
  seconds: number;
  /** Every push with a series its group does not hold (changedAppText), rather than the group's series with new values. */
  changed?: boolean;
}

export interface PhaseResult {
  pushes: number;
  failed: number;
  seconds: number;
  p50: number;
  p99: number;
  /** Every 2xx latency, ms, sorted. */
  latencies: number[];
}

function phaseResult(latencies: number[], failed: number, seconds: number): PhaseResult {
  const pct = quantiles(latencies);
  return { pushes: latencies.length, failed, seconds, p50: pct(0.5), p99: pct(0.99), latencies };
}

/** Several push phases against one target as one. */
export function mergePhases(parts: PhaseResult[]): PhaseResult {
  return phaseResult(
    parts.flatMap((p) => p.latencies),
    parts.reduce((a, p) => a + p.failed, 0),
    parts.reduce((a, p) => a + p.seconds, 0),
  );
}

export function groupPath(g: number): string {
  return `/metrics/job/bench/instance/i${g}`;
}

async function pushOnce(pool: Pool, g: number, series: number, round: number, changed: boolean): Promise<number> {
  const res = await pool.request({ method: 'PUT', path: groupPath(g), body: (changed ? changedAppText : appText)(g, series, round) });
  await res.body.dump();
  return res.statusCode;
}

/**
 * PUT groups [from, to) once each (16 concurrent), failing on any non-2xx
 * or after `timeoutSeconds`. Returns the seconds taken. A Pushgateway
 * without its consistency check answers before applying: follow with
 * waitForBenchSeries.
 */
export async function preloadGroups(base: string, opts: { from?: number; to: number; series: number; timeoutSeconds?: number }): Promise<number> {
  const pool = new Pool(base, { connections: 16 });
  const started = performance.now();
  const deadline = started + (opts.timeoutSeconds ?? 600) * 1000;
  let next = opts.from ?? 0;
  try {
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let g = next++; g < opts.to; g = next++) {
          if (performance.now() > deadline) throw new Error(`preload ${base}: not done after ${opts.timeoutSeconds ?? 600} s`);
          const status = await pushOnce(pool, g, opts.series, 0, false);
          if (status >= 300) throw new Error(`preload ${base}${groupPath(g)}: HTTP ${status}`);
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return (performance.now() - started) / 1000;
}

/** One plain scrape of /metrics: its time, size and number of bench series. */
export async function scrapeOnce(base: string): Promise<{ ms: number; bytes: number; series: number }> {
  const t = performance.now();
  const body = await getText(`${base}/metrics`);
  const ms = performance.now() - t;
  let samples = body.startsWith('bench_family_') ? 1 : 0;
  for (let i = body.indexOf('\nbench_family_'); i >= 0; i = body.indexOf('\nbench_family_', i + 1)) samples++;
  return { ms, bytes: Buffer.byteLength(body), series: samples };
}

/** Scrape until /metrics holds `expected` bench series (bounded). */
export async function waitForBenchSeries(base: string, expected: number, ms = 120_000): Promise<{ ms: number; bytes: number; series: number }> {
  return until(() => scrapeOnce(base), (s) => s.series === expected, ms);
}

/** `clients` connections PUT random groups with new values for `seconds`. */
export async function pushPhase(base: string, opts: PushOptions): Promise<PhaseResult> {
  const pool = new Pool(base, { connections: opts.clients, pipelining: 1 });
  const latencies: number[] = [];
  let failed = 0;
  let round = 1;
  const started = performance.now();
  const end = started + opts.seconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        while (performance.now() < end) {
          const g = Math.floor(Math.random() * opts.groups);
          const t = performance.now();
          const status = await pushOnce(pool, g, opts.series, round++, opts.changed === true);
          if (status >= 200 && status < 300) latencies.push(performance.now() - t);
          else failed++;
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return phaseResult(latencies, failed, (performance.now() - started) / 1000);
}

export const PUSH_TARGETS = ['exporter-proxy', 'pushgateway', 'pushgateway --push.disable-consistency-check'] as const;
export type PushTarget = (typeof PUSH_TARGETS)[number];

async function startTarget(name: PushTarget): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  if (name === 'exporter-proxy') {
    const p = await startProxyProcess();
    return { url: p.http, pid: p.child.pid!, stop: () => p.stop() };
  }
  const p = await startPushgatewayProcess(name === 'pushgateway' ? [] : ['--push.disable-consistency-check']);
  return { url: p.url, pid: p.child.pid!, stop: () => p.stop() };
}

/** One process to push to: which program, and how many groups it holds. */
export interface PushTargetSpec {
  label: string;
  target: PushTarget;
  groups: number;
  /** Push bodies with a series changed in each (PushOptions.changed). */
  changed?: boolean;
}

export interface PushBenchResult extends PushTargetSpec {
  pushesPerSecond: number;
  seriesPerSecond: number;
  p50: number;
  p99: number;
  failed: number;
  preloadSeconds: number;
  scrapeMs: number;
  rssMiB: number;
  /**
   * The target's CPU time (all its threads) per 2xx push, µs: from the start
   * of each timed turn until it is idle again, so a Pushgateway without its
   * check, still applying what it answered 202 to, is charged for it.
   */
  cpuPerPushUs: number;
}

/**
 * Start every target (its own process), preload each with its groups, then
 * push to them in turns: `slices` rounds of `seconds / slices` each, waiting
 * after every slice until that process is idle again (a Pushgateway without
 * its check is still applying what it answered 202 to), so the machine's
 * other load hits all targets alike. Before the timed turns every target
 * gets one untimed warm-up turn of `warmupSeconds` (default: one slice) under
 * the same load, as the socket rows have warm-up rounds: the proxy's JIT
 * and both programs' heaps are sized for the load before the clock runs
 * (measured: the proxy's first turn after the preload ran 25-35% below its
 * later ones). The processes are stopped at the end.
 */
export interface PushBenchOptions {
  series: number;
  clients: number;
  seconds: number;
  slices?: number;
  warmupSeconds?: number;
  targets: PushTargetSpec[];
}

export async function pushBench(opts: PushBenchOptions): Promise<PushBenchResult[]> {
  const slices = opts.slices ?? 4;
  const warmupSeconds = opts.warmupSeconds ?? opts.seconds / slices;
  const running: { spec: PushTargetSpec; url: string; pid: number; stop(): Promise<void>; preloadSeconds: number; scrapeMs: number; phases: PhaseResult[]; cpuSeconds: number }[] = [];
  try {
    for (const spec of opts.targets) {
      progress(`HTTP push: ${spec.label}, preloading ${spec.groups} groups x ${opts.series} series`);
      const t = await startTarget(spec.target);
      running.push({ spec, ...t, preloadSeconds: NaN, scrapeMs: NaN, phases: [], cpuSeconds: 0 });
      const r = running[running.length - 1];
      r.preloadSeconds = await preloadGroups(t.url, { to: spec.groups, series: opts.series });
      r.scrapeMs = (await waitForBenchSeries(t.url, spec.groups * opts.series)).ms;
      await waitForIdle(t.pid);
    }
    for (const r of running) {
      progress(`HTTP push: warming up ${r.spec.label} for ${warmupSeconds.toFixed(1)} s`);
      await pushPhase(r.url, { groups: r.spec.groups, series: opts.series, clients: opts.clients, seconds: warmupSeconds, changed: r.spec.changed });
      await waitForIdle(r.pid);
    }
    progress(`HTTP push: ${opts.clients} clients, ${running.length} targets taking turns, ${slices} x ${(opts.seconds / slices).toFixed(1)} s each`);
    for (let i = 0; i < slices; i++) {
      for (const r of running) {
        const cpuBefore = cpuSecondsOf(r.pid);
        r.phases.push(await pushPhase(r.url, { groups: r.spec.groups, series: opts.series, clients: opts.clients, seconds: opts.seconds / slices, changed: r.spec.changed }));
        await waitForIdle(r.pid);
        r.cpuSeconds += cpuSecondsOf(r.pid) - cpuBefore;
      }
    }
    return running.map((r) => {
      const m = mergePhases(r.phases);
      return {
        ...r.spec,
        pushesPerSecond: m.pushes / m.seconds,
        seriesPerSecond: (m.pushes * opts.series) / m.seconds,
        p50: m.p50,
        p99: m.p99,
        failed: m.failed,
        preloadSeconds: r.preloadSeconds,
        scrapeMs: r.scrapeMs,
        rssMiB: rssOf(r.pid) / 2 ** 20,
        cpuPerPushUs: (r.cpuSeconds / m.pushes) * 1e6,
      };
    });
  } finally {
    for (const r of running) await r.stop();
  }
}

/**
 * pushBench in a fresh node process (this file, with --child), its result
 * sent back over IPC. The load generator is then the same whatever the
 * calling process did before: after run.ts's socket ingest rows, the push
 * loop in the same process took about twice the CPU per push (136-142 vs
 * 67-72 µs, measured), which took CPU from whichever target was faster.
 * The child stops its targets when it ends, or when this process goes.
 */
export async function pushBenchInFreshProcess(opts: PushBenchOptions): Promise<PushBenchResult[]> {
  const child = fork(fileURLToPath(import.meta.url), ['--child'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_START: String(benchStart), BENCH_PUSH: JSON.stringify({ opts, proxyDefaults: getProxyDefaults() }) },
  });
  track(child, undefined, 'SIGTERM'); // (its SIGTERM handler kills its own children)
  return new Promise((resolve, reject) => {
    let result: PushBenchResult[] | undefined;
    child.on('message', (m) => (result = m as PushBenchResult[]));
    child.on('error', reject);
    child.on('exit', (code, signal) => (result ? resolve(result) : reject(new Error(`push bench child process ended (${signal ?? `exit ${code}`}) without a result`))));
  });
}

/** The --child side of pushBenchInFreshProcess. */
async function runAsChild(): Promise<void> {
  installCleanup();
  process.on('disconnect', () => process.exit(1)); // the parent is gone: the exit handler stops the targets
  const { opts, proxyDefaults } = JSON.parse(process.env.BENCH_PUSH ?? '') as { opts: PushBenchOptions; proxyDefaults: ProxyOptions };
  setProxyDefaults(proxyDefaults);
  const results = await pushBench(opts);
  process.send!(results, () => process.exit(0));
}

export const NO_CHECK_FOOTNOTE = 'without the consistency check the Pushgateway answers 202 before applying a push: its pushes/s is queueing, not applied updates';

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === '--child') {
  await runAsChild();
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const groups = Number(process.argv[2] ?? 1000);
  const series = Number(process.argv[3] ?? 100);
  const clients = Number(process.argv[4] ?? 8);
  const seconds = Number(process.argv[5] ?? 10);
  const results = await pushBench({ series, clients, seconds, targets: PUSH_TARGETS.map((target) => ({ label: target, target, groups })) });
  console.log(`PUT whole groups at ${groups * series} stored series (${groups} groups x ${series}), ${clients} clients, ${seconds} s per target (4 turns each), node ${process.version}`);
  const rows = results.map((r) => [r.label, r.pushesPerSecond, r.seriesPerSecond, r.p50, r.p99, String(r.failed), r.cpuPerPushUs, r.preloadSeconds, r.scrapeMs, r.rssMiB]);
  console.log(table([['target', 'pushes/s', 'series/s', 'p50 ms', 'p99 ms', 'non-2xx', 'CPU µs/push', 'preload s', 'scrape ms', 'RSS MiB'], ...rows]));
  console.log(`(${NO_CHECK_FOOTNOTE})`);
}
