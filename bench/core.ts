// Core data path benchmark: 1,000 apps x 100 series pushed as JSON over TCP,
// then scraped. Prints pushes/s, series/s, scrape latency (plain and gzip)
// side by side with a bare Node server holding the same bytes, and RSS per
// stored series. Usage: node dist/bench/core.js [apps] [series] [rounds]
//
// scrapeOursVsBare and settledRss are the measuring pieces bench/run.ts reuses.

import { ScrapeConnection } from './scrape_client.js';
import { getBytes, startProxyProcess, rssOf, jsonMessage, measureSocketIngest, mergeScrapeStats, ownMetric, scrapeLoad, startBareServer, sleep, table, type ScrapeStats } from './lib.js';

export interface ScrapeLoadOptions {
  seconds: number;
  connections: number;
  maxScrapes?: number;
  minScrapes?: number;
}

export interface OursVsBare {
  /** First scrape after the store changed: renders (plain), then deflates once (gzip). */
  coldPlainMs: number;
  coldGzipMs: number;
  /** Uncompressed body size, bytes. */
  bodyBytes: number;
  plain: { ours: ScrapeStats; bare: ScrapeStats };
  gzip: { ours: ScrapeStats; bare: ScrapeStats };
}

/** One GET with the scrape load's client (bench/scrape_client.ts), so the time is the server's, not undici's reading of the body. */
async function timedGet(url: string, gzip: boolean): Promise<number> {
  const conn = await ScrapeConnection.open(new URL(url));
  try {
    const t0 = performance.now();
    const res = await conn.get(gzip ? { 'accept-encoding': 'gzip' } : {});
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return ms;
  } finally {
    conn.close();
  }
}

export type ModeStats = { plain: ScrapeStats; gzip: ScrapeStats };

/**
 * Scrape several URLs with the same load, plain and then gzip, taking turns
 * in `slices` slices each (a, b, c, a, b, c, ...) so a change in the
 * machine's other load hits all of them alike.
 */
export async function scrapeTakingTurns(urls: Record<string, string>, opts: ScrapeLoadOptions & { slices?: number }): Promise<Record<string, ModeStats>> {
  const slices = opts.slices ?? 1;
  const slice: ScrapeLoadOptions = {
    ...opts,
    seconds: opts.seconds / slices,
    minScrapes: Math.ceil((opts.minScrapes ?? 0) / slices),
    maxScrapes: opts.maxScrapes === undefined ? undefined : Math.ceil(opts.maxScrapes / slices),
  };
  const out: Record<string, ModeStats> = {};
  for (const name of Object.keys(urls)) out[name] = {} as ModeStats;
  for (const gzip of [false, true]) {
    const parts: Record<string, ScrapeStats[]> = {};
    for (let i = 0; i < slices; i++) for (const [name, url] of Object.entries(urls)) (parts[name] ??= []).push(await scrapeLoad(url, { ...slice, gzip }));
    for (const name of Object.keys(urls)) out[name][gzip ? 'gzip' : 'plain'] = mergeScrapeStats(parts[name]);
  }
  return out;
}

/**
 * Scrape the proxy's /metrics and a bare node:http server (own process)
 * holding the same bytes (and any `others`, e.g. a Pushgateway holding as
 * many series), plain and gzip, taking turns. The stores must be idle: the
 * proxy's first (cold) scrapes fill its render and gzip caches and are
 * reported apart.
 */
export async function scrapeOursVsBare(metricsUrl: string, opts: ScrapeLoadOptions & { slices?: number; others?: Record<string, string> }): Promise<OursVsBare & { others: Record<string, ModeStats> }> {
  const coldPlainMs = await timedGet(metricsUrl, false);
  const coldGzipMs = await timedGet(metricsUrl, true);
  const body = await getBytes(metricsUrl); // the bare server's copy, untimed
  const bare = await startBareServer(body);
  try {
    const { ours, bare: base, ...others } = await scrapeTakingTurns({ ...opts.others, ours: metricsUrl, bare: bare.url }, opts);
    return {
      coldPlainMs,
      coldGzipMs,
      bodyBytes: body.length,
      plain: { ours: ours.plain, bare: base.plain },
      gzip: { ours: ours.gzip, bare: base.gzip },
      others,
    };
  } finally {
    await bare.close();
  }
}

/** RSS of `pid` after `idleMs` of idling (lets a pending GC finish), bytes. */
export async function settledRss(pid: number, idleMs = 2000): Promise<number> {
  await sleep(idleMs);
  return rssOf(pid);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const apps = Number(process.argv[2] ?? 1000);
  const series = Number(process.argv[3] ?? 100);
  const rounds = Number(process.argv[4] ?? 5);
  const connections = 4;

  const proxy = await startProxyProcess();
  try {
    const rssEmpty = await settledRss(proxy.child.pid!, 500);
    const ingest = await measureSocketIngest(proxy, 'tcp', jsonMessage, { apps, series, rounds, connections });
    const stored = await ownMetric(proxy.http, 'exporter_proxy_series');
    const s = await scrapeOursVsBare(`${proxy.http}/metrics`, { seconds: 5, connections: 8 });
    const rows: (string | number)[][] = [['scrape (8 conns, 5 s)', 'scrapes/s', 'p50 ms', 'p99 ms', 'bytes']];
    for (const mode of ['plain', 'gzip'] as const) {
      const { ours, bare } = s[mode];
      rows.push([`exporter-proxy ${mode}`, ours.perSecond, ours.p50ms, ours.p99ms, ours.bytes]);
      rows.push([`bare node server ${mode}`, bare.perSecond, bare.p50ms, bare.p99ms, bare.bytes]);
      rows.push([`  ratio ${mode}`, ours.perSecond / bare.perSecond, '', '', '']);
    }
    const rssFull = rssOf(proxy.child.pid!);

    console.log(`exporter-proxy core benchmark: ${apps} apps x ${series} series, JSON over TCP, ${connections} connections, node ${process.version}`);
    console.log(
      table([
        ['ingest', 'value'],
        ['first fill, s', ingest.firstFillSeconds],
        ['pushes/s (steady, replacing every app)', ingest.pushesPerSecond],
        ['series/s (steady)', ingest.seriesPerSecond],
        ['stored series', stored],
        ['first scrape after the last push, ms (plain / gzip)', `${s.coldPlainMs.toFixed(1)} / ${s.coldGzipMs.toFixed(1)}`],
      ]),
    );
    console.log();
    console.log(table(rows));
    console.log();
    console.log(
      table([
        ['memory', 'value'],
        ['RSS empty, MB', rssEmpty / 1e6],
        ['RSS full, MB', rssFull / 1e6],
        ['RSS growth per series, bytes', (rssFull - rssEmpty) / stored],
      ]),
    );
  } finally {
    await proxy.stop();
  }
}
