// What one send interval of the outputs costs the proxy's event loop: the
// build of one [push_out] PUT and one [remote_write] POST from the store's
// rendered /metrics, at 10,000 and 100,000 stored series in two shapes
// (1,000 or 100 apps, 100 series each: in 10 families every app has, or in
// one family all apps share, 100,000 lines long at 100,000), side by side:
//   * push_out, app_label on: no family overlaps (Store.overlappingFamilies),
//     so the rendered bytes are sent as they are, unread;
//   * push_out, app_label off (the default): every family overlaps, so the
//     store is read in slices to find and leave out series held twice (what
//     every interval did before overlapping families were counted);
//   * remote_write, which always reads the store (it converts every sample).
// Figures: median over rounds of CPU time (process.cpuUsage, this process),
// wall time, and the longest the event loop waited (a 1 ms timer's largest
// gap) per build: the store is read in sections of whole families, a long
// family in parts of 2,048 lines.
//
//   node dist/bench/outputs.js [--rounds 9]

import { Store } from '../src/store/store.js';
import { RenderCache } from '../src/store/render_cache.js';
import { pushgatewayOutput } from '../src/outputs/pushgateway.js';
import { remoteWriteOutput } from '../src/outputs/remote_write.js';
import type { OutputKind, OutputSettings, StoreBody } from '../src/outputs/sender.js';
import { appText, quantiles, table, timerGaps } from './lib.js';

const roundsArg = process.argv.indexOf('--rounds');
const rounds = roundsArg >= 0 ? Number(process.argv[roundsArg + 1]) : 9;

/** 100 series of one family, labelled as appText labels them. */
function oneFamilyText(app: number): string {
  let out = '# HELP bench_requests_total A benchmark counter.\n# TYPE bench_requests_total counter\n';
  for (let i = 0; i < 100; i++) out += `bench_requests_total{app="app${app}",path="/api/v1/resource/${i}",code="200"} ${i}\n`;
  return out;
}

function filledStore(series: number, appLabel: string, oneFamily: boolean): Omit<StoreBody, 'release'> {
  const store = new Store({ ttlMs: 0, appLabel, reservedPrefix: 'exporter_proxy_' });
  // (Every series is labelled app="app<n>": with app_label = "app" the store sets the same values.)
  for (let a = 0; a < series / 100; a++) store.put({ app: `app${a}`, text: oneFamily ? oneFamilyText(a) : appText(a, 100), source: 'bench', receiver: 'tcp' });
  const r = new RenderCache(store).current();
  return { body: r.body, overlappingFamilies: store.overlappingFamilies() };
}

interface BuildCost {
  cpuMs: number;
  wallMs: number;
  stallMs: number;
  bodyBytes: number;
}

async function timeBuilds<C extends OutputSettings>(kind: OutputKind<C>, config: C, store: Omit<StoreBody, 'release'>): Promise<BuildCost> {
  const cpu: number[] = [];
  const wall: number[] = [];
  const stall: number[] = [];
  let bodyBytes = 0;
  for (let r = 0; r < rounds; r++) {
    const gaps = timerGaps();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await kind.build(config, store);
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    stall.push(gaps.stop());
    cpu.push((c.user + c.system) / 1000);
    bodyBytes = out.body.length;
  }
  return { cpuMs: quantiles(cpu)(0.5), wallMs: quantiles(wall)(0.5), stallMs: quantiles(stall)(0.5), bodyBytes };
}

const pushOut = { url: 'http://127.0.0.1:9', job: 'exporter-proxy', grouping: [], intervalMs: 15_000, timeoutMs: 10_000 };
const remoteWrite = { url: 'http://127.0.0.1:9/api/v1/write', headers: {}, intervalMs: 15_000, timeoutMs: 10_000 };
const rows: (string | number)[][] = [['build', 'stored series', 'families', 'overlapping', 'CPU ms', 'wall ms', 'longest wait ms', 'body MB']];
for (const series of [10_000, 100_000]) {
  for (const oneFamily of [false, true]) {
    const cases: [string, OutputKind<never>, object, Omit<StoreBody, 'release'>][] = [
      ['push_out, app_label on', pushgatewayOutput as OutputKind<never>, pushOut, filledStore(series, 'app', oneFamily)],
      ['push_out, app_label off', pushgatewayOutput as OutputKind<never>, pushOut, filledStore(series, '', oneFamily)],
      ['remote_write', remoteWriteOutput() as OutputKind<never>, remoteWrite, filledStore(series, '', oneFamily)],
    ];
    for (const [label, kind, config, store] of cases) {
      const m = await timeBuilds(kind, config as never, store);
      rows.push([label, series.toLocaleString('en-US'), oneFamily ? '1' : '10', String(store.overlappingFamilies), m.cpuMs.toFixed(1), m.wallMs.toFixed(1), m.stallMs.toFixed(1), (m.bodyBytes / 2 ** 20).toFixed(1)]);
    }
  }
}
console.log(`one build per output from the rendered store, median of ${rounds} (node ${process.version})`);
console.log(table(rows));
