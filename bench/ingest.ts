// Socket ingest: JSON and Cap'n Proto over TCP and the unix socket, 100
// series per message, several connections, into one proxy process
// (format = "auto"). Usage: node dist/bench/ingest.js [apps] [series] [rounds] [connections]

import { startProxyProcess, jsonMessage, changedJsonMessage, capnpMessage, measureSocketIngest, progress, table, type IngestResult } from './lib.js';

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
  /** Every payload has a series the app does not hold (so it is parsed): not one of the rows the targets compare. */
  changed: boolean;
}

/**
 * Each encoding over each transport with the default config (on 2 cores:
 * the main thread parses), then over TCP with one worker thread
 * (worker_threads = 2), and JSON over TCP once more with a series changed
 * in every payload; a fresh proxy process each time. Every config takes
 * `passes` turns (all configs once, then all again), each of `rounds`
 * rounds, and its figure is the mean over all its timed rounds: a slow
 * spell of the machine (10-20 s on this VM) then hits no config alone.
 */
export async function socketIngest(opts: SocketIngestOptions & { passes?: number }): Promise<SocketIngestResult[]> {
  const runs = [
    { transport: 'tcp', threads: '' },
    { transport: 'unix', threads: '' },
    { transport: 'tcp', threads: 'worker_threads = 2' },
  ] as const;
  const configs = [
    ...runs.flatMap(({ transport, threads }) =>
      ([['JSON', jsonMessage], ['capnp', capnpMessage]] as const).map(([name, encode]) => ({ label: `${name} over ${transport}${threads ? `, ${threads}` : ''}`, transport, threads, encode, changed: false })),
    ),
    // Every payload parsed: how ingest goes when the series change (the rows above repeat them, new values only).
    { label: 'JSON over tcp, a series changed in every payload', transport: 'tcp', threads: '', encode: changedJsonMessage, changed: true },
  ] as const;
  const turns = new Map<string, IngestResult[]>(configs.map((c) => [c.label, []]));
  const passes = opts.passes ?? 2;
  for (let pass = 1; pass <= passes; pass++) {
    for (const { label, transport, threads, encode } of configs) {
      progress(`socket ingest: ${label}, ${opts.apps} apps x ${opts.series} series, ${opts.rounds} rounds (turn ${pass} of ${passes})`);
      const proxy = await startProxyProcess('', 'format = "auto"', { exporterToml: threads });
      try {
        turns.get(label)!.push(await measureSocketIngest(proxy, transport, encode, opts));
      } finally {
        await proxy.stop();
      }
    }
  }
  return configs.map(({ label, changed }) => ({ label, changed, ...mergeTurns(turns.get(label)!) }));
}

/** Turns of one config as one: the first fill of the first turn, the rates over the time of all timed rounds. */
function mergeTurns(turns: IngestResult[]): IngestResult {
  // Each turn times the same number of messages, so the combined rate is the harmonic mean of the rates.
  const harmonic = (rates: number[]) => rates.length / rates.reduce((a, r) => a + 1 / r, 0);
  return { firstFillSeconds: turns[0]!.firstFillSeconds, pushesPerSecond: harmonic(turns.map((t) => t.pushesPerSecond)), seriesPerSecond: harmonic(turns.map((t) => t.seriesPerSecond)) };
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
