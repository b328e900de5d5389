// Running the real CLI and the real programs a user has. A missing program
// is a failure that says how to install it, never a silent skip.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ROOT, tempDir } from '../helpers.js';

export function requireCommand(cmd: string, debianPackage: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} is not installed: apt-get install ${debianPackage} (scripts/install-test-deps.sh does it)`);
  return r.stdout.trim();
}

/** A port that was free a moment ago, for programs that cannot listen on port 0. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A child program listening on a port of its own (startOnFreePort). */
export interface PortProgram {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Its stderr so far. */
  log: () => string;
  /** SIGTERM and wait for it to exit. */
  stop(): Promise<void>;
}

/**
 * Start a program that cannot listen on port 0 (Prometheus, the
 * Pushgateway) on a port that was free a moment ago: `spawnOn(port)` starts
 * it (stderr piped), and it is up once `readyPath` answers 2xx. Another
 * process may take the port in between; the program then exits, and it is
 * started again on another port (4 tries).
 */
export async function startOnFreePort(name: string, spawnOn: (port: number) => ChildProcess, readyPath: string): Promise<PortProgram> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawnOn(port);
    let log = '';
    child.stderr?.on('data', (d) => (log += d));
    // 'close': exited, and its stderr read to the end.
    const exited = new Promise<void>((r) => child.once('close', () => r()));
    const url = `http://127.0.0.1:${port}`;
    if (await waitReady(`${url}${readyPath}`, exited)) {
      return {
        child,
        url,
        log: () => log,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    child.kill('SIGKILL');
    await exited;
    if (attempt === 4) throw new Error(`${name} did not become ready:\n${log}`);
  }
}

/** True once `url` answers 2xx (within 10 s); false when the program exits first or never does. */
async function waitReady(url: string, exited: Promise<void>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const until = Date.now() + 10_000;
  while (Date.now() < until && !gone) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/** Prometheus with `config` (YAML) and its data in `dir`, on a port of its own. */
export function startPrometheus(dir: string, config: string, flags: string[] = []): Promise<PortProgram> {
  requireCommand('prometheus', 'prometheus');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
  return startOnFreePort(
    'prometheus',
    (port) =>
      spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, ...flags], {
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    '/-/ready',
  );
}

export interface CliProxy {
  child: ChildProcess;
  dir: string;
  http: string;
  tcpPort: number;
  unixPath: string;
  stderr: () => string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Start bin/exporter-proxy.js with a config whose listeners are on port 0 in a temp dir. */
export async function startCli(extraToml = '', opts: { onStartedLine?: (child: ChildProcess) => void } = {}): Promise<CliProxy> {
  const dir = tempDir();
  const unixPath = path.join(dir, 'receiver.sock');
  const configPath = path.join(dir, 'config.toml');
  fs.writeFileSync(
    configPath,
    `[exporter]\nscrape_expose_endpoint = "127.0.0.1:0"\n[receiver]\nreceiver_tcp_socket = "127.0.0.1:0"\nreceiver_unix_socket = "${unixPath}"\n${extraToml}\n`,
  );
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'exporter-proxy.js'), '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const started = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`proxy did not start:\n${err}`)), 10_000);
    let seen = false;
    const check = () => {
      const line = err.split('\n').find((l) => l.includes('msg="exporter-proxy started"'));
      if (line && !seen) {
        seen = true;
        opts.onStartedLine?.(child); // synchronously, in the same tick the line arrived
        clearTimeout(t);
        resolve(line);
      }
    };
    child.stderr!.on('data', check);
    child.on('exit', (code) => reject(new Error(`proxy exited with ${code}:\n${err}`)));
  }).catch((e: unknown) => {
    child.kill('SIGKILL'); // (when it did not start in time)
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const http = /http=(\S+)/.exec(started)![1];
  const tcpPort = Number(/tcp=\S+:(\d+)/.exec(started)![1]);
  return {
    child,
    dir,
    http: `http://${http}`,
    tcpPort,
    unixPath,
    stderr: () => err,
    async stop() {
      // Already gone (by a signal, exitCode stays null): waiting for 'exit' would hang.
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      const code = await exited;
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Run a shell pipeline (e.g. `cat f | nc ...`); throws with its output on failure. */
export function sh(script: string, opts: { input?: string } = {}): string {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', input: opts.input, timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${script}\nexit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
