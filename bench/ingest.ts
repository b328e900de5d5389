// Socket ingest: JSON and Cap'n Proto over TCP and the unix socket, 100
// series per message, several connections, into one proxy process
// (format = "auto"). Usage: node dist/bench/ingest.js [apps] [series] [rounds] [connections]

import { startProxyProcess, jsonMessage, capnpMessage, measureSocketIngest, table } from './lib.js';

const apps = Number(process.argv[2] ?? 1000);
const series = Number(process.argv[3] ?? 100);
const rounds = Number(process.argv[4] ?? 4);
const connections = Number(process.argv[5] ?? 4);

export async function socketIngestRows(opts = { apps, series, rounds, connections }): Promise<(string | number)[][]> {
  const rows: (string | number)[][] = [];
  for (const [name, encode] of [['JSON', jsonMessage], ['capnp', capnpMessage]] as const) {
    for (const transport of ['tcp', 'unix'] as const) {
      const proxy = await startProxyProcess();
      try {
        const r = await measureSocketIngest(proxy, transport, encode, opts);
        rows.push([`${name} over ${transport}`, r.pushesPerSecond, r.seriesPerSecond]);
      } finally {
        await proxy.stop();
      }
    }
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`socket ingest: ${apps} apps x ${series} series, ${rounds} rounds, ${connections} connections, node ${process.version}`);
  console.log(table([['ingest', 'pushes/s', 'series/s'], ...(await socketIngestRows())]));
}
