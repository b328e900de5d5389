// `npm run bench`: every side-by-side benchmark in one run, loopback only,
// and the targets to beat. Starts exporter-proxy (child processes), a
// prometheus-pushgateway (with and without its consistency check) and a bare
// Node server holding the proxy's bytes; prints ONE table (machine, ingest,
// scrape, memory, ratios with their targets) and writes it to
// bench/results-latest.txt. Every figure compared is measured in this run.
//
//   node dist/bench/run.js            # 10k / 100k / 1M stored series, ~6 min on 2 cores
//   node dist/bench/run.js --quick    # 1k / 10k / 100k, short phases (checks the plumbing)
//   node dist/bench/run.js --cpu-prof /tmp/prof   # every proxy child writes a .cpuprofile there
//
// Progress goes to stderr. Every loop is bounded by count and time, a
// watchdog ends the run, and every child is killed on exit, SIGINT or error.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { socketIngest } from './ingest.js';
import { pushBenchInFreshProcess, preloadGroups, waitForBenchSeries, NO_CHECK_FOOTNOTE } from './push_vs_pushgateway.js';
import { scrapeOursVsBare, settledRss, type OursVsBare, type ScrapeLoadOptions } from './core.js';
import {
  ROOT,
  installCleanup,
  jsonMessage,
  machineInfo,
  measureSocketIngest,
  ownMetric,
  progress,
  requirePushgatewayBinary,
  rssOf,
  setProxyDefaults,
  startProxyProcess,
  startPushgatewayProcess,
  table,
  waitForIdle,
  type ScrapeStats,
} from './lib.js';

const quick = process.argv.includes('--quick');
const profIndex = process.argv.indexOf('--cpu-prof');
if (profIndex > 0) setProxyDefaults({ nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.argv[profIndex + 1] ?? 'cpu-prof')}`] });
/** The three store sizes: small, the reference size (100,000) and large (1,000,000). */
const [SMALL, MID, LARGE] = quick ? [1_000, 10_000, 100_000] : [10_000, 100_000, 1_000_000];
const SERIES = 100; // per push (app or group)
const INGEST = { apps: MID / SERIES, series: SERIES, rounds: quick ? 2 : 11, warmupRounds: quick ? 1 : 3, connections: 4, passes: quick ? 1 : 2 };
// 8 turns of 1.25 s rather than 4 of 2.5: this VM has slow spells of 10-20 s
// (every process's CPU per push up by a third or more, the proxy's most), and
// shorter turns spread each target over more of them.
const PUSH = { series: SERIES, clients: 8, seconds: quick ? 3 : 10, slices: quick ? 4 : 8, warmupSeconds: quick ? 0.75 : 2.5 };
const SCRAPE_CONNECTIONS = 1;
const SCRAPE_SLICES = 4; // ours and the bare server take turns
const scrapeOpts = (size: number): ScrapeLoadOptions => ({
  connections: SCRAPE_CONNECTIONS,
  seconds: quick ? 1 : size >= LARGE ? 10 : 6,
  minScrapes: 8,
  maxScrapes: 10_000,
});
const WATCHDOG_MINUTES = 30;

type Row = (string | number)[];
const COLUMNS: Row = ['', 'stored series', 'per s', 'series/s', 'p50 ms', 'p99 ms', 'value', 'target', 'result'];
const row = (name: string, stored: number | '', perS: number | '' = '', seriesPerS: number | '' = '', p50: number | '' = '', p99: number | '' = '', value: number | string = '', target = '', result = ''): Row => [
  name,
  stored,
  perS,
  seriesPerS,
  p50,
  p99,
  value,
  target,
  result,
];
const section = (name: string): Row => row(name, '');
const n = (x: number) => x.toLocaleString('en-US');

interface ScrapeAt {
  size: number;
  ours: OursVsBare;
  pushgateway?: { plain: ScrapeStats; gzip: ScrapeStats };
}

async function main(): Promise<void> {
  installCleanup();
  const watchdog = setTimeout(() => {
    console.error(`bench: watchdog: not done after ${WATCHDOG_MINUTES} minutes, giving up`);
    process.exit(2); // the exit handler kills every child
  }, WATCHDOG_MINUTES * 60_000);
  watchdog.unref();
  try {
    requirePushgatewayBinary();
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
  const machine = machineInfo();
  const loadAtStart = os.loadavg()[0];
  progress(`bench: ${quick ? 'quick, ' : ''}stores of ${SMALL} / ${MID} / ${LARGE} series; ${machine.nproc} cores (${machine.cpu}), node ${machine.node}`);

  // ---------------------------------------------------------- ingest
  const ingest = await socketIngest(INGEST);
  const pushResults = await pushBenchInFreshProcess({
    ...PUSH,
    targets: [
      { label: 'exporter-proxy', target: 'exporter-proxy', groups: SMALL / SERIES },
      { label: 'exporter-proxy', target: 'exporter-proxy', groups: MID / SERIES },
      { label: 'pushgateway, check on', target: 'pushgateway', groups: MID / SERIES },
      { label: 'pushgateway, check off (1)', target: 'pushgateway --push.disable-consistency-check', groups: MID / SERIES },
      { label: 'exporter-proxy, a series changed in every push (2)', target: 'exporter-proxy', groups: MID / SERIES, changed: true },
    ],
  });
  const [pushSmall, pushOurs, pushCheckOn, pushCheckOff, pushChanged] = pushResults;

  // ---------------------------------------------------------- scrape + memory
  // exporter-proxy filled over TCP (JSON), the Pushgateway (check off: its
  // fast path) over HTTP, both idle while they, and the bare server holding
  // the proxy's bytes, are scraped taking turns.
  const scrapes: ScrapeAt[] = [];
  const rss: { ours: Map<number, number>; pushgateway: Map<number, number> } = { ours: new Map(), pushgateway: new Map() };
  let pushgatewayVersion = '?';
  {
    const proxy = await startProxyProcess('', 'format = "auto"', { maxOldSpaceMb: 16384 });
    let pg: Awaited<ReturnType<typeof startPushgatewayProcess>> | undefined = await startPushgatewayProcess(['--push.disable-consistency-check']);
    pushgatewayVersion = pg.version;
    try {
      const pid = proxy.child.pid!;
      const pgPid = pg.child.pid!;
      const rssEmpty = await settledRss(pid);
      const pgRssEmpty = rssOf(pgPid);
      let filled = 0;
      for (const size of [SMALL, MID, LARGE]) {
        progress(`scrape: filling exporter-proxy to ${size} series over TCP (JSON)`);
        const fill = await measureSocketIngest(proxy, 'tcp', jsonMessage, { apps: (size - filled) / SERIES, firstApp: filled / SERIES, series: SERIES, rounds: 1, connections: 4 });
        const stored = await ownMetric(proxy.http, 'exporter_proxy_series');
        if (stored !== size) throw new Error(`exporter-proxy holds ${stored} series, expected ${size}`);
        if (size > MID && pg) {
          await pg.stop(); // not loaded to LARGE
          pg = undefined;
        }
        if (pg) {
          progress(`scrape: filling the pushgateway to ${size} series with HTTP PUT`);
          await preloadGroups(pg.url, { from: filled / SERIES, to: size / SERIES, series: SERIES });
          await waitForBenchSeries(pg.url, size);
          await waitForIdle(pgPid);
        }
        filled = size;
        await waitForIdle(pid);
        const r = await settledRss(pid);
        rss.ours.set(size, (r - rssEmpty) / size);
        if (pg) rss.pushgateway.set(size, (rssOf(pgPid) - pgRssEmpty) / size);
        progress(`scrape: at ${size} series (exporter-proxy filled in ${fill.firstFillSeconds.toFixed(1)} s, RSS +${((r - rssEmpty) / 2 ** 20).toFixed(0)} MiB)`);
        const s = await scrapeOursVsBare(`${proxy.http}/metrics`, { ...scrapeOpts(size), slices: SCRAPE_SLICES, others: pg ? { pushgateway: `${pg.url}/metrics` } : {} });
        scrapes.push({ size, ours: s, pushgateway: s.others.pushgateway });
      }
    } finally {
      await proxy.stop();
      await pg?.stop();
    }
  }

  // ---------------------------------------------------------- the table
  const rows: Row[] = [COLUMNS];
  rows.push(section(`ingest (${SERIES} series per push)`));
  for (const r of ingest) rows.push(row(`socket: ${r.label}${r.changed ? " (2)" : ""}`, MID, r.pushesPerSecond, r.seriesPerSecond));
  for (const r of pushResults) rows.push(row(`HTTP PUT: ${r.label}`, r.groups * SERIES, r.pushesPerSecond, r.seriesPerSecond, r.p50, r.p99));
  for (const s of scrapes) {
    rows.push(section(`scrape at ${n(s.size)} (${SCRAPE_CONNECTIONS} connection, idle store)`));
    for (const mode of ['plain', 'gzip'] as const) {
      const scrapeRow = (label: string, st: ScrapeStats) => row(`${label} ${mode}`, s.size, st.perSecond, '', st.p50ms, st.p99ms);
      rows.push(scrapeRow('exporter-proxy', s.ours[mode].ours));
      rows.push(scrapeRow('bare node server', s.ours[mode].bare));
      if (s.pushgateway) rows.push(scrapeRow('pushgateway', s.pushgateway[mode]));
    }
  }
  rows.push(section('memory: RSS growth per stored series, bytes'));
  for (const [size, b] of rss.ours) if (size >= MID) rows.push(row('exporter-proxy', size, '', '', '', '', b));
  rows.push(row('pushgateway', MID, '', '', '', '', rss.pushgateway.get(MID)!));

  // ---------------------------------------------------------- targets
  const mid = scrapes.find((s) => s.size === MID)!;
  const large = scrapes.find((s) => s.size === LARGE)!;
  const bestSocket = Math.max(...ingest.filter((r) => !r.changed).map((r) => r.seriesPerSecond));
  const pushP50Ratio = pushOurs.p50 / pushSmall.p50;
  const checks: { name: string; size: number; value: number; target: string; met: boolean }[] = [];
  const atLeast = (name: string, size: number, value: number, min: number) => checks.push({ name, size, value, target: `>= ${min}`, met: value >= min });
  const atMost = (name: string, size: number, value: number, max: number) => checks.push({ name, size, value, target: `<= ${max}`, met: value <= max });
  for (const mode of ['plain', 'gzip'] as const) atLeast(`scrapes/s ours / bare, ${mode}`, MID, mid.ours[mode].ours.perSecond / mid.ours[mode].bare.perSecond, 0.8);
  for (const mode of ['plain', 'gzip'] as const) atLeast(`scrapes/s ours / pushgateway, ${mode}`, MID, mid.ours[mode].ours.perSecond / mid.pushgateway![mode].perSecond, 30);
  atLeast('HTTP pushes/s ours / pushgateway check off', MID, pushOurs.pushesPerSecond / pushCheckOff.pushesPerSecond, 2);
  atLeast('HTTP pushes/s ours / pushgateway check on', MID, pushOurs.pushesPerSecond / pushCheckOn.pushesPerSecond, 100);
  atLeast('series/s best socket / pushgateway check off', MID, bestSocket / pushCheckOff.seriesPerSecond, 3);
  atMost('RSS/series ours / pushgateway', MID, rss.ours.get(MID)! / rss.pushgateway.get(MID)!, 0.2);
  atMost('RSS/series ours, bytes', LARGE, rss.ours.get(LARGE)!, 300);
  atMost(`scrape p50 plain at ${n(LARGE)} / at ${n(MID)}`, LARGE, large.ours.plain.ours.p50ms / mid.ours.plain.ours.p50ms, 12);
  checks.push({
    name: `HTTP push p50 at ${n(MID)} / at ${n(SMALL)}`,
    size: MID,
    value: pushP50Ratio,
    target: 'within 1.5x',
    met: pushP50Ratio <= 1.5 && pushP50Ratio >= 1 / 1.5,
  });
  rows.push(section('targets (side-by-side ratios from this run)'));
  // Two decimals, so that a ratio just under its line (1.95 of 2) does not read as on it.
  for (const c of checks) rows.push(row(c.name, c.size, '', '', '', '', Math.abs(c.value) < 100 ? c.value.toFixed(2) : c.value, c.target, c.met ? 'met' : 'NOT met'));

  const mb = (b: number) => (b / 1e6).toFixed(1);
  const out = [
    `exporter-proxy benchmarks (npm run bench${quick ? ' -- --quick' : ''}), ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, loopback only`,
    `machine: nproc ${machine.nproc}, ${machine.cpu}, node ${machine.node}, prometheus-pushgateway ${pushgatewayVersion}; 1-min load average ${loadAtStart.toFixed(1)} at the start, ${os.loadavg()[0].toFixed(1)} at the end (other work shares the machine: compare only within this table)`,
    '',
    table(rows),
    '',
    `(1) ${NO_CHECK_FOOTNOTE}.`,
    `(2) the rows above push each group's (each app's) own series with new values, as client libraries do, which the proxy stores without a parse (exposition/text_repeat.ts); here one series of every push is new, so every push is parsed: ${(pushChanged.pushesPerSecond / pushCheckOff.pushesPerSecond).toFixed(2)} x the pushgateway with its check off (the socket row marked so, likewise: ${(ingest.find((r) => r.changed)!.seriesPerSecond / pushCheckOff.seriesPerSecond).toFixed(2)} x its series/s). Not counted in the targets.`,
    `ingest: sockets: ${INGEST.apps} apps x ${SERIES} series over ${INGEST.connections} connections, ${INGEST.rounds} rounds (the first fills, every later one replaces every app; the first ${INGEST.warmupRounds} are a warm-up, the rest are timed, each from its first write to the newest update time the proxy's /apps shows once every payload is counted), a fresh proxy per turn, every row in ${INGEST.passes} turns (all rows, then all again; per s over all its timed rounds); HTTP: PUT /metrics/job/bench/instance/<g> of a random group with new values, ${PUSH.clients} concurrent clients (undici Pool), ${PUSH.seconds} s per target in ${PUSH.slices} turns (each target idle again before the next turn) after preloading every group and one untimed warm-up turn of ${PUSH.warmupSeconds} s per target, all from a fresh load-generator process; per s = 2xx pushes/s.`,
    `HTTP CPU per 2xx push (all of the target's threads, from the start of each turn until it is idle again): ${pushResults.map((r) => `${r.label} at ${n(r.groups * SERIES)}: ${n(Math.round(r.cpuPerPushUs))} µs`).join('; ')}.`,
    `scrape: the stores are filled first (exporter-proxy: JSON over TCP; pushgateway: HTTP PUT with the check off) and idle while scraped; per s = scrapes/s over one keep-alive connection (the client reads into one reused buffer and only counts bytes, bench/scrape_client.ts: undici's body stream cost more CPU than the server it measured); exporter-proxy, the bare server and the pushgateway take turns (${SCRAPE_SLICES} slices each); the bare node server (own process) serves the proxy's body from memory (gzip: a cached copy). The pushgateway is not loaded to ${n(LARGE)}.`,
    `exporter-proxy first scrape after each fill (renders, then deflates once; later scrapes are served from the cache): ${scrapes.map((s) => `${n(s.size)}: ${s.ours.coldPlainMs.toFixed(0)} ms plain / ${s.ours.coldGzipMs.toFixed(0)} ms gzip`).join('; ')}.`,
    `body sizes: ${scrapes.map((s) => `${n(s.size)}: ${mb(s.ours.plain.ours.bytes)} MB plain / ${mb(s.ours.gzip.ours.bytes)} MB gzip`).join('; ')}${mid.pushgateway ? `; pushgateway at ${n(MID)}: ${mb(mid.pushgateway.plain.bytes)} / ${mb(mid.pushgateway.gzip.bytes)} MB` : ''}.`,
    `for reference, the bare server's scrape p50 plain at ${n(LARGE)} / at ${n(MID)} in this run: ${(large.ours.plain.bare.p50ms / mid.ours.plain.bare.p50ms).toFixed(1)}.`,
    `memory: RSS (/proc/<pid>/status VmRSS) after filling, once the process is idle (+2 s), minus RSS of the empty process, over the stored series.`,
    '',
  ].join('\n');
  process.stdout.write(out);
  const file = path.join(ROOT, 'bench', 'results-latest.txt');
  fs.writeFileSync(file, out);
  progress(`bench: done; written to ${path.relative(process.cwd(), file) || file}; ${checks.filter((c) => c.met).length} of ${checks.length} targets met`);
  clearTimeout(watchdog);
}

await main();
