// How long a store snapshot blocks the event loop, and how long a restore
// takes, at 100k series (and other shapes):
//
//   node dist/bench/snapshot.js [--series 100000]
//
// For each shape: the longest synchronous slice the writer reports, the
// longest gap an independent 1 ms timer saw while the snapshot ran (what a
// scrape or a push arriving then would wait at most), total CPU and wall
// time, file size, and the time to parse + restore it (startup, blocking by
// design: before listeners open).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Store } from '../src/store/store.js';
import { parseSnapshot, writeSnapshot } from '../src/store/persistence.js';
import { timerGaps } from './lib.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

function build(apps: number, perApp: number): Store {
  const store = new Store({ ttlMs: 0, appLabel: 'app', reservedPrefix: 'exporter_proxy_' });
  for (let a = 0; a < apps; a++) {
    let text = '';
    for (let f = 0; f < 10; f++) {
      text += `# HELP bench_family_${f}_total A benchmark counter.\n# TYPE bench_family_${f}_total counter\n`;
      for (let i = 0; i < perApp / 10; i++) text += `bench_family_${f}_total{path="/api/v1/resource/${i}",code="200"} ${i}\n`;
    }
    store.put({ app: `app${a}`, text, source: '127.0.0.1:6554', receiver: 'tcp' });
  }
  return store;
}

async function measure(label: string, apps: number, perApp: number, dir: string): Promise<void> {
  const store = build(apps, perApp);
  const file = path.join(dir, 'snap');
  // Warm-up write (JIT), then the measured one.
  await writeSnapshot(file, store.storedEntries(), { created: Date.now(), app_label: 'app' });
  const h = monitorEventLoopDelay({ resolution: 1 });
  const gaps = timerGaps();
  await new Promise((r) => setTimeout(r, 20));
  gaps.reset();
  h.enable();
  const r = await writeSnapshot(file, store.storedEntries(), { created: Date.now(), app_label: 'app' });
  h.disable();
  const maxGap = gaps.stop();
  const t0 = performance.now();
  const parsed = parseSnapshot(fs.readFileSync(file));
  const fresh = new Store({ ttlMs: 0, appLabel: 'app', reservedPrefix: 'exporter_proxy_' });
  const restored = fresh.restore(parsed.entries);
  const restoreMs = performance.now() - t0;
  if (restored.series !== store.seriesCount) throw new Error(`restored ${restored.series} of ${store.seriesCount} series`);
  process.stdout.write(
    `${label.padEnd(22)} series ${String(r.series).padStart(7)}  max slice ${r.maxBlockMs.toFixed(1).padStart(5)} ms  max timer gap ${maxGap.toFixed(1).padStart(5)} ms  ` +
      `loop delay p99 ${(h.percentile(99) / 1e6).toFixed(1).padStart(5)} ms  cpu ${r.cpuMs.toFixed(0).padStart(4)} ms  wall ${r.totalMs.toFixed(0).padStart(4)} ms  ` +
      `${(r.bytes / 1e6).toFixed(1)} MB  restore ${restoreMs.toFixed(0)} ms\n`,
  );
}

const series = arg('--series', 100_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exporter-proxy-snapshot-bench-'));
try {
  await measure('1000 apps x 100', 1000, series / 1000, dir);
  await measure('100 apps x 1000', 100, series / 100, dir);
  await measure('10 apps x 10000', 10, series / 10, dir);
  await measure('1 app x 100000', 1, series, dir);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
