// Fault injection against the real proxy process, loopback only, bounded in
// time:
//
//   node dist/bench/faults.js [--seconds 30] [--pushers 40] [--http-pushers 10]
//
// While many pushers (TCP sockets and the Pushgateway HTTP API) push, it runs
// slow-loris clients (socket and HTTP), garbage and oversized payloads, and
// scrapes /metrics every 200 ms (each scrape must parse). Halfway through it
// kills the proxy with SIGKILL and restarts it on the same snapshot file
// (persistence on, short interval), then keeps going.
//
// "Acknowledged": an HTTP push answered 2xx; a socket push once a scrape
// counted it in exporter_proxy_received_total and showed its sequence number.
// After the restart every app must hold at least the sequence number a scrape
// that completed before the last snapshot was taken showed (snapshot time from
// the file itself). Exit 1 if anything acknowledged before the last snapshot
// is missing, a scrape did not parse, or a slow client was not cut off.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, rssOf } from './lib.js';
import { parseText } from '../src/exposition/text_parse.js';
import { parseSnapshot } from '../src/store/persistence.js';

interface Opts {
  seconds: number;
  pushers: number;
  httpPushers: number;
  interval: number;
}

function parseArgs(): Opts {
  const o: Opts = { seconds: 30, pushers: 40, httpPushers: 10, interval: 0.5 };
  const a = process.argv.slice(2);
  for (let i = 0; i < a.length; i += 2) {
    const k = a[i].replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as keyof Opts;
    if (!(k in o)) throw new Error(`unknown argument ${a[i]}; usage: faults.js [--seconds 30] [--pushers 40] [--http-pushers 10] [--interval 0.5]`);
    o[k] = Number(a[i + 1]);
  }
  return o;
}

interface Proc {
  child: ChildProcess;
  http: string;
  tcpPort: number;
  stderr: () => string;
}

async function startProxy(configPath: string): Promise<Proc> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'exporter-proxy.js'), '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const line = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`proxy did not start:\n${err}`)), 20_000);
    child.stderr!.on('data', (d) => {
      err += d;
      if (err.length > 1 << 20) err = err.slice(-(1 << 19));
      const l = err.split('\n').find((x) => x.includes('msg="exporter-proxy started"'));
      if (l) {
        clearTimeout(t);
        resolve(l);
      }
    });
    child.on('exit', (code) => reject(new Error(`proxy exited ${code}:\n${err}`)));
  });
  return { child, http: `http://${/http=(\S+)/.exec(line)![1]}`, tcpPort: Number(/tcp=\S+:(\d+)/.exec(line)![1]), stderr: () => err };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One socket push; resolves when the proxy closed its side (it reads to the end). */
function socketPush(port: number, data: Buffer | string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.end(data));
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.resume();
    s.setTimeout(5000, () => s.destroy());
  });
}

function filler(app: string, n: number, series: number): string {
  let t = `# TYPE fault_seq gauge\nfault_seq{pusher="${app}"} ${n}\n# TYPE fault_filler gauge\n`;
  for (let i = 0; i < series; i++) t += `fault_filler{pusher="${app}",i="${i}"} ${n}\n`;
  return t;
}

/** Per app, the largest sequence a scrape showed, and when that scrape completed. */
type Seen = Map<string, number>;

function seqsOf(body: string): Seen {
  const out: Seen = new Map();
  for (const m of body.matchAll(/^fault_seq\{pusher="([^"]+)"[^}]*\} (\d+)$/gm)) out.set(m[1], Number(m[2]));
  return out;
}

function counter(body: string, name: string, labels: string): number {
  let sum = 0;
  for (const m of body.matchAll(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

async function main(): Promise<number> {
  const o = parseArgs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exporter-proxy-faults-'));
  const snap = path.join(dir, 'store.snap');
  const configPath = path.join(dir, 'config.toml');
  fs.writeFileSync(
    configPath,
    `[exporter]
scrape_expose_endpoint = "127.0.0.1:0"
concurrent_requests = 400
[receiver]
receiver_tcp_socket = "127.0.0.1:0"
receive_on_unix_socket = false
max_payload_bytes = 65536
read_timeout = 1
idle_timeout = 5
[store]
persistence_file = "${snap}"
persistence_interval = ${o.interval}
[http]
read_timeout = 2
headers_timeout = 1
max_body_bytes = 65536
[http_push]
max_body_bytes = 65536
`,
  );

  const stats = {
    tcpSent: 0,
    httpSent: 0,
    httpAcked: 0,
    tcpAckedBeforeKill: 0,
    tcpAckedAfterRestart: 0,
    scrapes: 0,
    scrapeParseFailures: 0,
    slowLorisOpened: 0,
    slowLorisCutOff: 0,
    slowLorisMaxHeldMs: 0,
    httpLorisOpened: 0,
    httpLorisCutOff: 0,
    garbageSent: 0,
    oversizedSent: 0,
    peakRss: 0,
    restoredApps: 0,
    restoredSeries: 0,
    snapshotAgeAtKillMs: 0,
    missing: [] as string[],
  };
  const t0 = Date.now();
  const end = t0 + o.seconds * 1000;
  const killAt = t0 + (o.seconds * 1000) / 2;
  let proc = await startProxy(configPath);
  let running = true;
  let down = false;

  const rssTimer = setInterval(() => {
    try {
      if (proc.child.pid && !down) stats.peakRss = Math.max(stats.peakRss, rssOf(proc.child.pid));
    } catch {
      // the process is between a kill and a restart
    }
  }, 100);

  // Acknowledgements: per app the highest sequence shown by a scrape, with that scrape's completion time.
  const acked: { at: number; seqs: Seen }[] = [];
  const first = proc;
  const scraper = (async () => {
    while (running) {
      await sleep(200);
      if (down) continue;
      try {
        const r = await fetch(`${proc.http}/metrics`, { signal: AbortSignal.timeout(5000) });
        const body = await r.text();
        const at = Date.now();
        stats.scrapes++;
        try {
          parseText(body);
        } catch (err) {
          stats.scrapeParseFailures++;
          process.stderr.write(`scrape did not parse: ${(err as Error).message}\n`);
        }
        acked.push({ at, seqs: seqsOf(body) });
        const tcp = counter(body, 'exporter_proxy_received_total', 'receiver="tcp"');
        if (proc === first) stats.tcpAckedBeforeKill = Math.max(stats.tcpAckedBeforeKill, tcp);
        else stats.tcpAckedAfterRestart = Math.max(stats.tcpAckedAfterRestart, tcp);
      } catch {
        // connection refused while killed; counted by the checks below
      }
    }
  })();

  // One pusher's loop: push `app` with a new value every 5 ms while the
  // proxy is up; `pushOnce` returns false to stop (feature absent).
  const pusher = async (app: string, pushOnce: (body: string) => Promise<boolean>) => {
    for (let n = 1; running; n++) {
      if (down) {
        await sleep(20);
        continue;
      }
      if (!(await pushOnce(filler(app, n, 20)))) return;
      await sleep(5);
    }
  };
  const tcpPusher = (i: number) =>
    pusher(`tcp_${i}`, async (body) => {
      stats.tcpSent++;
      await socketPush(proc.tcpPort, JSON.stringify({ [`tcp_${i}`]: body }));
      return true;
    });
  const httpPusher = (i: number) =>
    pusher(`http_${i}`, async (body) => {
      stats.httpSent++;
      try {
        const r = await fetch(`${proc.http}/metrics/job/http_${i}`, { method: 'PUT', body, signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        if (r.ok) stats.httpAcked++;
        else if (r.status === 404) return false; // no Pushgateway API in this build
      } catch {
        // killed mid-request: not acknowledged
      }
      return true;
    });

  // Slow loris on the socket receiver: a JSON object that never completes, one byte every 100 ms.
  const socketLoris = async () => {
    while (running) {
      if (down) {
        await sleep(50);
        continue;
      }
      stats.slowLorisOpened++;
      const opened = Date.now();
      await new Promise<void>((resolve) => {
        const s = net.connect({ port: proc.tcpPort, host: '127.0.0.1' });
        const t = setInterval(() => s.write('x'), 100);
        s.on('connect', () => s.write('{"loris": "'));
        s.on('error', () => undefined);
        s.on('close', () => {
          clearInterval(t);
          const held = Date.now() - opened;
          stats.slowLorisMaxHeldMs = Math.max(stats.slowLorisMaxHeldMs, held);
          if (!down) stats.slowLorisCutOff++;
          resolve();
        });
        s.resume();
      });
    }
  };
  // Slow loris on HTTP: headers that never end.
  const httpLoris = async () => {
    while (running) {
      if (down) {
        await sleep(50);
        continue;
      }
      stats.httpLorisOpened++;
      await new Promise<void>((resolve) => {
        const port = Number(new URL(proc.http).port);
        const s = net.connect({ port, host: '127.0.0.1' }, () => s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n'));
        const t = setInterval(() => s.write('X-a: b\r\n'), 100);
        s.on('error', () => undefined);
        s.on('close', () => {
          clearInterval(t);
          if (!down) stats.httpLorisCutOff++;
          resolve();
        });
        s.resume();
      });
    }
  };
  const garbage = async () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    while (running) {
      await sleep(20);
      if (down) continue;
      const kind = rnd() % 3;
      if (kind === 0) {
        stats.garbageSent++;
        await socketPush(proc.tcpPort, Buffer.from(Array.from({ length: 1 + (rnd() % 2000) }, () => rnd() & 0xff)));
      } else if (kind === 1) {
        stats.garbageSent++;
        await socketPush(proc.tcpPort, JSON.stringify({ bad_app: 'this is { not exposition\n# TYPE x counter\nx{ 1\n' }));
      } else {
        stats.oversizedSent++;
        await socketPush(proc.tcpPort, JSON.stringify({ huge: 'm{x="' + 'v'.repeat(100_000) + '"} 1\n' }));
        fetch(`${proc.http}/metrics/job/huge`, { method: 'PUT', body: 'm 1\n'.repeat(30_000) }).then((r) => r.arrayBuffer(), () => undefined);
      }
    }
  };

  const workers = [
    ...Array.from({ length: o.pushers }, (_, i) => tcpPusher(i)),
    ...Array.from({ length: o.httpPushers }, (_, i) => httpPusher(i)),
    ...Array.from({ length: 20 }, () => socketLoris()),
    ...Array.from({ length: 10 }, () => httpLoris()),
    garbage(),
    scraper,
  ];

  // The kill -9 and restart.
  await sleep(killAt - Date.now());
  down = true;
  const killedAt = Date.now();
  proc.child.kill('SIGKILL');
  await new Promise((r) => proc.child.once('exit', r));
  const snapshot = parseSnapshot(fs.readFileSync(snap));
  stats.snapshotAgeAtKillMs = killedAt - snapshot.meta.created;
  // Everything acknowledged by a scrape that completed before the snapshot was taken.
  const mustHave: Seen = new Map();
  for (const a of acked) if (a.at < snapshot.meta.created) for (const [app, n] of a.seqs) mustHave.set(app, Math.max(mustHave.get(app) ?? 0, n));
  proc = await startProxy(configPath);
  const restored = await (await fetch(`${proc.http}/metrics`)).text();
  down = false;
  const got = seqsOf(restored);
  for (const [app, n] of mustHave) if ((got.get(app) ?? 0) < n) stats.missing.push(`${app}: acknowledged ${n} before the snapshot, restored ${got.get(app) ?? 'nothing'}`);
  const m = /msg="snapshot restored" .*apps=(\d+) series=(\d+)/.exec(proc.stderr());
  stats.restoredApps = Number(m?.[1] ?? 0);
  stats.restoredSeries = Number(m?.[2] ?? 0);
  const appsBeforeSnapshot = mustHave.size;

  await sleep(Math.max(0, end - Date.now()));
  running = false;
  await Promise.race([Promise.all(workers), sleep(5000)]);
  const final = await (await fetch(`${proc.http}/metrics`)).text();
  const rejected = [...final.matchAll(/^exporter_proxy_rejected_total\{receiver="([^"]+)",reason="([^"]+)"\} (\d+)$/gm)].map((x) => `${x[1]}/${x[2]}=${x[3]}`);
  clearInterval(rssTimer);
  const exited = new Promise((r) => proc.child.once('exit', r));
  proc.child.kill('SIGTERM');
  await exited;
  fs.rmSync(dir, { recursive: true, force: true });

  const lorisOk = stats.slowLorisCutOff > 0 && stats.slowLorisMaxHeldMs < 5000 && stats.httpLorisCutOff > 0;
  const lines = [
    `fault run: ${o.seconds} s, ${o.pushers} socket pushers, ${o.httpPushers} HTTP pushers, 20 socket + 10 HTTP slow-loris clients, garbage/oversized, kill -9 at ${((killedAt - t0) / 1000).toFixed(1)} s, snapshot interval ${o.interval} s`,
    `pushes sent:          tcp ${stats.tcpSent}, http ${stats.httpSent}`,
    `pushes acknowledged:  tcp ${stats.tcpAckedBeforeKill} + ${stats.tcpAckedAfterRestart} (received_total at a scrape, before the kill + after the restart), http ${stats.httpAcked} (2xx)`,
    `scrapes:              ${stats.scrapes}, not parsing: ${stats.scrapeParseFailures}`,
    `kill -9:              last snapshot ${stats.snapshotAgeAtKillMs} ms before the kill; ${appsBeforeSnapshot} apps acknowledged before it; restored ${stats.restoredApps} apps, ${stats.restoredSeries} series; missing ${stats.missing.length}`,
    `slow loris:           socket ${stats.slowLorisCutOff}/${stats.slowLorisOpened} cut off (longest held ${stats.slowLorisMaxHeldMs} ms), http ${stats.httpLorisCutOff}/${stats.httpLorisOpened} cut off`,
    `garbage / oversized:  ${stats.garbageSent} / ${stats.oversizedSent} sent; rejected_total ${rejected.join(' ')}`,
    `peak RSS:             ${(stats.peakRss / 1e6).toFixed(0)} MB`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  for (const x of stats.missing.slice(0, 20)) process.stdout.write(`MISSING ${x}\n`);
  const ok = stats.missing.length === 0 && stats.scrapeParseFailures === 0 && lorisOk && appsBeforeSnapshot > 0;
  process.stdout.write(ok ? 'PASS\n' : 'FAIL\n');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(2);
  },
);
