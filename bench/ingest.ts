// Socket ingest: JSON and Cap'n Proto over TCP and the unix socket, 100
// series per message, several connections, into one proxy process
// (format = "auto"). Usage: node dist/bench/ingest.js [apps] [series] [rounds] [connections]

import { startProxyProcess, jsonMessage, capnpMessage, measureSocketIngest, progress, table, type IngestResult } from './lib.js';

export interface SocketIngestOptions {
  apps: number;
  series: number;
  rounds: number;
  /** Rounds not timed (the first fills); default 1. */
  warmupRounds?: number;
  connections: number;
}

export interface SocketIngestResult extends IngestResult {
  label: string;
}

/**
 * Each encoding over each transport with the default config (on 2 cores:
 * the main thread parses), then over TCP with one worker thread
 * (worker_threads = 2); a fresh proxy process each.
 */
export async function socketIngest(opts: SocketIngestOptions): Promise<SocketIngestResult[]> {
  const results: SocketIngestResult[] = [];
  const runs = [
    { transport: 'tcp', threads: '' },
    { transport: 'unix', threads: '' },
    { transport: 'tcp', threads: 'worker_threads = 2' },
  ] as const;
  for (const { transport, threads } of runs) {
    for (const [name, encode] of [['JSON', jsonMessage], ['capnp', capnpMessage]] as const) {
      const label = `${name} over ${transport}${threads ? `, ${threads}` : ''}`;
      progress(`socket ingest: ${label}, ${opts.apps} apps x ${opts.series} series, ${opts.rounds} rounds`);
      const proxy = await startProxyProcess('', 'format = "auto"', { exporterToml: threads });
      try {
        results.push({ label, ...(await measureSocketIngest(proxy, transport, encode, opts)) });
      } finally {
        await proxy.stop();
      }
    }
  }
  return results;
}

export async function socketIngestRows(opts: SocketIngestOptions): Promise<(string | number)[][]> {
  return (await socketIngest(opts)).map((r) => [r.label, r.pushesPerSecond, r.seriesPerSecond]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const apps = Number(process.argv[2] ?? 1000);
  const series = Number(process.argv[3] ?? 100);
  const rounds = Number(process.argv[4] ?? 4);
  const connections = Number(process.argv[5] ?? 4);
  console.log(`socket ingest: ${apps} apps x ${series} series, ${rounds} rounds, ${connections} connections, node ${process.version}`);
  console.log(table([['ingest', 'pushes/s', 'series/s'], ...(await socketIngestRows({ apps, series, rounds, connections }))]));
}
