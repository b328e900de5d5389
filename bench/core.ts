// Core data path benchmark: 1,000 apps x 100 series pushed as JSON over TCP,
// then scraped. Prints pushes/s, series/s, scrape latency (plain and gzip)
// side by side with a bare Node server holding the same bytes, and RSS per
// stored series. Usage: node dist/bench/core.js [apps] [series] [rounds]

import { startProxyProcess, rssOf, jsonMessage, measureSocketIngest, ownMetric, scrapeLoad, startBareServer, table } from './lib.js';

const apps = Number(process.argv[2] ?? 1000);
const series = Number(process.argv[3] ?? 100);
const rounds = Number(process.argv[4] ?? 5);
const connections = 4;

const proxy = await startProxyProcess();
try {
  await new Promise((r) => setTimeout(r, 500));
  const rssEmpty = rssOf(proxy.child.pid!);

  const ingest = await measureSocketIngest(proxy, 'tcp', jsonMessage, { apps, series, rounds, connections });
  const stored = await ownMetric(proxy.http, 'exporter_proxy_series');

  const metricsUrl = `${proxy.http}/metrics`;
  await scrapeLoad(metricsUrl, { seconds: 1, connections: 1, gzip: true }); // warm the caches
  const body = Buffer.from(await (await fetch(metricsUrl)).arrayBuffer());
  const bare = await startBareServer(body);
  const rows: (string | number)[][] = [['scrape (8 conns, 5 s)', 'scrapes/s', 'p50 ms', 'p99 ms', 'bytes']];
  for (const gzip of [false, true]) {
    const ours = await scrapeLoad(metricsUrl, { seconds: 5, connections: 8, gzip });
    const base = await scrapeLoad(bare.url, { seconds: 5, connections: 8, gzip });
    const mode = gzip ? 'gzip' : 'plain';
    rows.push([`exporter-proxy ${mode}`, ours.perSecond, ours.p50ms, ours.p99ms, ours.bytes]);
    rows.push([`bare node server ${mode}`, base.perSecond, base.p50ms, base.p99ms, base.bytes]);
    rows.push([`  ratio ${mode}`, ours.perSecond / base.perSecond, '', '', '']);
  }
  await bare.close();
  const rssFull = rssOf(proxy.child.pid!);

  console.log(`exporter-proxy core benchmark: ${apps} apps x ${series} series, JSON over TCP, ${connections} connections, node ${process.version}`);
  console.log(
    table([
      ['ingest', 'value'],
      ['first fill, s', ingest.firstFillSeconds],
      ['pushes/s (steady, replacing every app)', ingest.pushesPerSecond],
      ['series/s (steady)', ingest.seriesPerSecond],
      ['stored series', stored],
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
