// What one HTTP push may cost the proxy for the "2x the Pushgateway" target
// to be reachable on this machine. Stand-ins for the proxy that do nothing
// but read the 100-series body, spend a fixed CPU time (a busy loop), and
// answer 200, take turns with the real proxy and the Pushgateway with its
// consistency check off, under the same load as bench/run.ts's HTTP rows
// (8 clients, undici, PUT of a random group). Each stand-in is its own
// process, as the proxy is; the load generator shares the cores with them.
//
// Rows "main N µs": the busy loop on the main thread. Rows "main N + worker
// M µs": N µs on the main thread, M µs in a worker thread before the answer
// (what parsing pushes in a worker would move off the main thread).
// Reported: pushes/s and the server's CPU time per push (all its threads).
//
// Usage: node dist/bench/push_budget.js [seconds per target = 8]

import { spawn } from 'node:child_process';
import { cpuSecondsOf, progress, startProxyProcess, startPushgatewayProcess, stopChild, table, track, waitForIdle } from './lib.js';
import { preloadGroups, pushPhase } from './push_vs_pushgateway.js';

const GROUPS = 1000;
const SERIES = 100;
const CLIENTS = 8;
const SLICES = 4;

/** A node:http server that reads each body, busy-loops `mainUs` (and `workerUs` in a worker thread), then answers 200. */
const STAND_IN = `
const http = require('node:http');
const { Worker } = require('node:worker_threads');
const [mainUs, workerUs] = process.argv.slice(1).map(Number);
const spin = (us) => { const end = process.hrtime.bigint() + BigInt(us * 1000); while (process.hrtime.bigint() < end); };
const waiting = new Map();
let next = 0;
const worker = workerUs > 0 ? new Worker(\`
  const { parentPort } = require('node:worker_threads');
  parentPort.on('message', ({ id, text }) => {
    const end = process.hrtime.bigint() + BigInt(\${workerUs * 1000});
    while (process.hrtime.bigint() < end);
    parentPort.postMessage({ id, bytes: text.length });
  });\`, { eval: true }) : undefined;
worker?.on('message', ({ id }) => { const done = waiting.get(id); waiting.delete(id); done(); });
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('latin1');
    const answer = () => { spin(mainUs); res.writeHead(200, { 'content-length': 0 }); res.end(); };
    if (!worker) return answer();
    const id = next++;
    waiting.set(id, answer);
    worker.postMessage({ id, text });
  });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;

interface Target {
  label: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startStandIn(mainUs: number, workerUs: number): Promise<Target> {
  const child = spawn(process.execPath, ['-e', STAND_IN, String(mainUs), String(workerUs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  track(child);
  const port = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
  const label = workerUs > 0 ? `stand-in: main ${mainUs} + worker ${workerUs} µs` : `stand-in: main ${mainUs} µs`;
  return { label, url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => stopChild(child) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 8);
  const targets: Target[] = [];
  try {
    const proxy = await startProxyProcess();
    targets.push({ label: 'exporter-proxy', url: proxy.http, pid: proxy.child.pid!, stop: () => proxy.stop() });
    const pg = await startPushgatewayProcess(['--push.disable-consistency-check']);
    targets.push({ label: 'pushgateway, check off', url: pg.url, pid: pg.child.pid!, stop: () => pg.stop() });
    for (const [mainUs, workerUs] of [[0, 0], [50, 0], [100, 0], [150, 0], [30, 120]] as const) targets.push(await startStandIn(mainUs, workerUs));
    for (const t of targets) {
      progress(`push budget: preloading ${t.label}`);
      await preloadGroups(t.url, { to: GROUPS, series: SERIES });
      await waitForIdle(t.pid);
    }
    for (const t of targets) {
      progress(`push budget: warming up ${t.label}`); // untimed, as in pushBench
      await pushPhase(t.url, { groups: GROUPS, series: SERIES, clients: CLIENTS, seconds: seconds / SLICES });
      await waitForIdle(t.pid);
    }
    const totals = targets.map(() => ({ pushes: 0, seconds: 0, cpu: 0 }));
    for (let i = 0; i < SLICES; i++) {
      progress(`push budget: turn ${i + 1} of ${SLICES}`);
      for (const [k, t] of targets.entries()) {
        const cpu0 = cpuSecondsOf(t.pid);
        const r = await pushPhase(t.url, { groups: GROUPS, series: SERIES, clients: CLIENTS, seconds: seconds / SLICES });
        await waitForIdle(t.pid); // a Pushgateway without its check is still applying what it answered 202 to
        totals[k]!.pushes += r.pushes;
        totals[k]!.seconds += r.seconds;
        totals[k]!.cpu += cpuSecondsOf(t.pid) - cpu0;
      }
    }
    const pgRate = totals[1]!.pushes / totals[1]!.seconds;
    console.log(`HTTP PUT of ${SERIES}-series groups (${GROUPS} groups), ${CLIENTS} clients, ${seconds} s per target in ${SLICES} turns, node ${process.version}`);
    const rows = targets.map((t, k) => {
      const { pushes, seconds: s, cpu } = totals[k]!;
      return [t.label, pushes / s, (pushes / s) / pgRate, (1e6 * cpu) / pushes];
    });
    console.log(table([['server', 'pushes/s', 'x pushgateway', 'server CPU µs/push'], ...rows]));
  } finally {
    for (const t of targets) await t.stop();
  }
}
