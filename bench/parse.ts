// Micro-benchmark of the text ingest hot path: parseText, renderSamples (with
// and without extra labels) and Store.put (with app_label set also followed by
// the first read, which renders what a put with added labels keeps as
// sent), in µs per series, side by side with
// two baselines measured in the same run:
//   * JSON.parse of the same text wrapped in a JSON object (`{"app":"..."}`),
//     the floor any string-in, objects-out step pays;
//   * optionally an older build of this project ("old"): BASELINE_DIST names
//     the dist/ folder of another checkout, so "old" is real old code, not a
//     remembered figure, and no copy of it lives in the tree, e.g.
//       git worktree add ../old 90b480c && (cd ../old && npm ci && npm run build)
//       BASELINE_DIST=$PWD/../old/dist node dist/bench/parse.js
//     (90b480c is the last commit before the parser's canonical fast path.)
// Inputs: every accepted input of test/exposition/cases.ts (the parser's
// contract table) and generated 100-series payloads: canonical lines with
// sorted labels, canonical lines with unsorted labels (what bench/lib.ts's
// appText sends), canonical lines in random series order, a histogram/summary
// mix, and non-canonical text (extra blanks, unsorted labels, trailing
// commas, CRLF).
//
// The machine is shared, so times are this process's CPU time
// (process.cpuUsage: user + system, GC threads included) rather than wall
// time, A and B alternate within each round, and the figure shown is the
// median over rounds. Render timings include flattening the result
// (Buffer.byteLength), as Store.put does.
//
// Usage: node dist/bench/parse.js [rounds=15] [ms per measurement=60] [input name filter]

import { parseText } from '../src/exposition/text_parse.js';
import { renderSamples } from '../src/exposition/text_render.js';
import type { Label, ParsedPayload } from '../src/exposition/model.js';
import { Store } from '../src/store/store.js';

interface Impl {
  parseText: typeof parseText;
  renderSamples: typeof renderSamples;
  Store: typeof Store;
}
const baselineDist = process.env.BASELINE_DIST;
const old: Impl | undefined = baselineDist
  ? {
      parseText: (await import(`${baselineDist}/src/exposition/text_parse.js`)).parseText,
      renderSamples: (await import(`${baselineDist}/src/exposition/text_render.js`)).renderSamples,
      Store: (await import(`${baselineDist}/src/store/store.js`)).Store,
    }
  : undefined;
import { CASES, isErrorExpect } from '../test/exposition/cases.js';
import { appText } from './lib.js';

const rounds = Number(process.argv[2] ?? 15);
const msPer = Number(process.argv[3] ?? 60);
const only = process.argv[4];

// --- inputs ------------------------------------------------------------------

function canonicalSorted(series: number, round = 0): string {
  let out = '';
  for (let f = 0; f < 10; f++) {
    out += `# HELP bench_family_${f}_total A benchmark counter.\n# TYPE bench_family_${f}_total counter\n`;
    for (let i = 0; i < series / 10; i++) out += `bench_family_${f}_total{code="200",method="get",path="/api/v1/resource/${i}"} ${round * 1000 + i}\n`;
  }
  return out;
}

/** Histograms (8 buckets + sum + count) and summaries (3 quantiles + sum + count), 100 series. */
function histograms(): string {
  let out = '';
  let n = 0;
  for (let h = 0; n < 100; h++) {
    const name = `rpc_duration_seconds_${h}`;
    if (h % 2 === 0) {
      out += `# HELP ${name} RPC latency.\n# TYPE ${name} histogram\n`;
      for (const le of ['0.005', '0.01', '0.05', '0.1', '0.5', '1', '5', '+Inf']) if (n++ < 100) out += `${name}_bucket{method="get",le="${le}"} ${n * 3}\n`;
      if (n++ < 100) out += `${name}_sum{method="get"} 12.5\n`;
      if (n++ < 100) out += `${name}_count{method="get"} ${n * 3}\n`;
    } else {
      out += `# TYPE ${name} summary\n`;
      for (const q of ['0.5', '0.9', '0.99']) if (n++ < 100) out += `${name}{quantile="${q}"} 0.0${n}\n`;
      if (n++ < 100) out += `${name}_sum 4.25 1700000000000\n`;
      if (n++ < 100) out += `${name}_count 17 1700000000000\n`;
    }
  }
  return out;
}

/** Canonical, but the series of each family in random order (duplicate checks cannot rely on sorted keys). */
function canonicalShuffled(series: number): string {
  let seed = 42;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  let out = '';
  for (let f = 0; f < 10; f++) {
    out += `# HELP bench_family_${f}_total A benchmark counter.\n# TYPE bench_family_${f}_total counter\n`;
    const lines = Array.from({ length: series / 10 }, (_, i) => `bench_family_${f}_total{code="200",method="get",path="/api/v1/resource/${i}"} ${i}\n`);
    for (let i = lines.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    }
    out += lines.join('');
  }
  return out;
}

/** Valid but not canonical: blanks everywhere, unsorted labels, trailing commas, CRLF. */
function nonCanonical(series: number): string {
  let out = '';
  for (let f = 0; f < 10; f++) {
    out += `#  TYPE   bench_family_${f}_total   counter \r\n`;
    for (let i = 0; i < series / 10; i++) out += `  bench_family_${f}_total { path = "/api/v1/resource/${i}" , code="200",method="get", }   ${i}.5   1700000000000 \r\n`;
  }
  return out;
}

/** A flat string, as the JSON and Cap'n Proto codecs hand over (not a rope of concatenations). */
const flat = (t: string) => (JSON.parse(JSON.stringify({ t })) as { t: string }).t;

const casesText = CASES.filter((c) => !isErrorExpect(c.expect)).map((c) => ({ text: c.input, opts: c.opts }));
const inputs: { name: string; texts: string[] }[] = ([
  { name: `cases.ts (${casesText.length} accepted inputs)`, texts: casesText.map((c) => c.text) },
  { name: '100 series, canonical, sorted labels', texts: [canonicalSorted(100)] },
  { name: '100 series, canonical, unsorted (appText)', texts: [appText(1, 100)] },
  { name: '100 series, canonical, random series order', texts: [canonicalShuffled(100)] },
  { name: '100 series, histograms + summaries', texts: [histograms()] },
  { name: '100 series, non-canonical', texts: [nonCanonical(100)] },
] as { name: string; texts: string[] }[]).map((x) => ({ name: x.name, texts: x.texts.map(flat) }));

const EXTRA: Label[] = [
  { name: 'instance', value: 'host-1:9100' },
  { name: 'job', value: 'node' },
];

// --- measurement -------------------------------------------------------------

let sink = 0;

/** CPU µs per call of `fn` (run repeatedly for about msPer ms of CPU time). */
function time(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn();
  let n = 0;
  const c0 = process.cpuUsage();
  let used = 0;
  while (used < msPer * 1000) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    const c = process.cpuUsage(c0);
    used = c.user + c.system;
  }
  return used / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function seriesOf(texts: string[]): number {
  let n = 0;
  for (const t of texts) n += parseText(t).series;
  return n;
}

function renderAll(payloads: ParsedPayload[], render: typeof renderSamples, extra: Label[]): void {
  for (const p of payloads) {
    for (const f of p.families) {
      if (f.samples.length === 0) continue;
      sink += Buffer.byteLength(render(f as never, extra));
    }
  }
}

type Row = { what: string; variants: Record<string, () => void> };

function rowsFor(texts: string[]): Row[] {
  const json = texts.map((t) => JSON.stringify({ app1: t }));
  // Render inputs are parsed once, each by its own parser.
  const parsedNew = texts.map((t) => parseText(t));
  const store = new Store({ ttlMs: 0, appLabel: '' });
  const storeApp = new Store({ ttlMs: 0, appLabel: 'instance' });
  let app = 0;
  const rows: Row[] = [
    {
      what: 'parseText',
      variants: {
        'JSON.parse': () => {
          for (const j of json) sink += (JSON.parse(j) as { app1: string }).app1.length;
        },
        new: () => {
          for (const t of texts) sink += parseText(t).series;
        },
      },
    },
    {
      what: 'renderSamples',
      variants: {
        new: () => renderAll(parsedNew, renderSamples, []),
      },
    },
    {
      what: 'renderSamples +2 labels',
      variants: {
        new: () => renderAll(parsedNew, renderSamples, EXTRA),
      },
    },
    {
      what: 'Store.put (text)',
      variants: {
        new: () => {
          app = (app + 1) % 100;
          for (const t of texts) sink += store.put({ app: `app${app}`, source: 'bench', receiver: 'tcp', text: t });
        },
      },
    },
    {
      what: 'Store.put, app_label set',
      variants: {
        new: () => {
          app = (app + 1) % 100;
          for (const t of texts) sink += storeApp.put({ app: `app${app}`, source: 'bench', receiver: 'tcp', text: t });
        },
      },
    },
    {
      // A put with added labels keeps the lines as sent; the first read renders them.
      what: 'Store.put, app_label set, read',
      variants: {
        new: () => {
          app = (app + 1) % 100;
          for (const t of texts) sink += storeApp.put({ app: `app${app}`, source: 'bench', receiver: 'tcp', text: t });
          sink += storeApp.storedEntries().length;
        },
      },
    },
  ];
  if (old) addBaseline(rows, old, texts, () => (app = (app + 1) % 100));
  return rows;
}

/** The same steps with the older build; each row gets an `old` variant. */
function addBaseline(rows: Row[], impl: Impl, texts: string[], nextApp: () => number): void {
  const parsed = texts.map((t) => impl.parseText(t));
  const store = new impl.Store({ ttlMs: 0, appLabel: '' });
  const storeApp = new impl.Store({ ttlMs: 0, appLabel: 'instance' });
  const put = (st: Store) => () => {
    const app = nextApp();
    for (const t of texts) sink += st.put({ app: `app${app}`, source: 'bench', receiver: 'tcp', text: t });
  };
  const variants: Record<string, () => void> = {
    parseText: () => {
      for (const t of texts) sink += impl.parseText(t).series;
    },
    renderSamples: () => renderAll(parsed, impl.renderSamples, []),
    'renderSamples +2 labels': () => renderAll(parsed, impl.renderSamples, EXTRA),
    'Store.put (text)': put(store),
    'Store.put, app_label set': put(storeApp),
    'Store.put, app_label set, read': () => {
      put(storeApp)();
      sink += storeApp.storedEntries().length;
    },
  };
  for (const r of rows) if (variants[r.what]) r.variants.old = variants[r.what]!;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '-');

console.log(`bench/parse: µs per series, median of ${rounds} alternating rounds (${msPer} ms each), node ${process.version}`);
for (const input of inputs) {
  if (only !== undefined && !input.name.includes(only)) continue;
  const series = seriesOf(input.texts);
  const rows = rowsFor(input.texts);
  const samples = rows.map((r) => Object.fromEntries(Object.keys(r.variants).map((k) => [k, [] as number[]])));
  for (let round = 0; round < rounds; round++) {
    rows.forEach((r, i) => {
      const keys = Object.keys(r.variants);
      if (round % 2) keys.reverse(); // alternate the order too
      for (const k of keys) samples[i]![k]!.push(time(r.variants[k]!) / series);
    });
  }
  console.log(`\n${input.name}: ${series} series`);
  console.log(`  ${'step'.padEnd(26)}${'JSON.parse'.padStart(11)}${'old'.padStart(9)}${'new'.padStart(9)}${'old/new'.padStart(9)}`);
  rows.forEach((r, i) => {
    const m = (k: string) => (samples[i]![k] ? median(samples[i]![k]!) : NaN);
    const [j, o, n] = [m('JSON.parse'), m('old'), m('new')];
    console.log(`  ${r.what.padEnd(26)}${fmt(j).padStart(11)}${fmt(o).padStart(9)}${fmt(n).padStart(9)}${(Number.isFinite(o / n) ? (o / n).toFixed(2) + "x" : "-").padStart(9)}`);
  });
}
if (sink === 0.5) console.log(sink);
