// Shared test plumbing: a proxy on port 0 with its socket in a temp dir,
// and clients that speak to it over real sockets.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { configFromText, type Config } from '../src/config/config.js';
import { ConfigError } from '../src/errors.js';
import { ExporterProxy, type Addresses } from '../src/app.js';
import { memoryLogger } from '../src/log.js';

/** The repository root (tests run from dist/test). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

const madeDirs: string[] = [];

/**
 * A new directory under the OS temp dir. Every one made is removed when the
 * test file's process exits (node --test runs each file in its own), so a
 * test that fails, or never removes its own, leaves nothing behind.
 */
export function tempDir(): string {
  if (madeDirs.length === 0) process.once('exit', () => madeDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exporter-proxy-test-'));
  madeDirs.push(dir);
  return dir;
}

/** A config for tests: everything on port 0 / a temp socket, plus `extra` TOML sections appended. */
export function testConfig(dir: string, extra = '', receiver = ''): Config {
  return configFromText(`
[exporter]
scrape_expose_endpoint = "127.0.0.1:0"
[receiver]
receiver_tcp_socket = "127.0.0.1:0"
receiver_unix_socket = "${path.join(dir, 'receiver.sock')}"
${receiver}
${extra}
`);
}

export interface Running {
  proxy: ExporterProxy;
  addr: Addresses;
  dir: string;
  logs: string[];
  url: string;
  stop(): Promise<void>;
}

export async function startProxy(opts: { extra?: string; receiver?: string; config?: Config; quietRenderMs?: number } = {}): Promise<Running> {
  const dir = tempDir();
  const logger = memoryLogger();
  let proxy: ExporterProxy;
  let addr: Addresses;
  try {
    const config = opts.config ?? testConfig(dir, opts.extra, opts.receiver);
    proxy = new ExporterProxy({ config, logger, defaultMetrics: false, quietRenderMs: opts.quietRenderMs });
    addr = await proxy.start();
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true }); // a config or start error: nothing to stop
    throw err;
  }
  return {
    proxy,
    addr,
    dir,
    logs: logger.lines,
    url: `http://127.0.0.1:${addr.http.port}`,
    async stop() {
      await proxy.stop(1000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Write bytes (optionally in pieces) to a TCP port or unix path, then half-close and wait for close. */
export function send(target: { port: number } | { path: string }, data: Buffer | string | (Buffer | string)[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(target as net.NetConnectOpts, async () => {
      for (const piece of Array.isArray(data) ? data : [data]) {
        sock.write(piece);
        await new Promise((r) => setImmediate(r));
      }
      sock.end();
    });
    sock.on('error', reject);
    sock.on('close', () => resolve());
    sock.resume();
  });
}

/** Poll `check` until it returns truthy or `ms` elapse. */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, ms = 3000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function getText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Each config text is refused with exactly these problems, in order (one pattern per problem). */
export function assertConfigProblems(cases: readonly (readonly [toml: string, problems: readonly RegExp[]])[]): void {
  for (const [toml, expected] of cases) {
    const problems = configProblems(toml);
    assert.equal(problems.length, expected.length, `${toml}\n${problems.join('\n')}`);
    expected.forEach((re, i) => assert.match(problems[i]!, re));
  }
}

/** The problems a config text is refused with; [] when it is accepted. */
export function configProblems(toml: string): string[] {
  try {
    configFromText(toml);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

/**
 * A TCP port on 127.0.0.1 that refuses connections now and for the rest of
 * the run: taken below the ephemeral range that every listen(0) here draws
 * from (no test binds a fixed port), so no server started later can get it,
 * as one could a port just closed (a test once failed when a target was
 * given the "closed" port of another). Checked to refuse before it is used.
 */
export async function refusedPort(): Promise<number> {
  const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  for (let port = (low ?? 32768) - 1; port > 1024; port -= 97) {
    const refused = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(false)));
      c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return port;
  }
  throw new Error('no port below the ephemeral range refuses connections');
}
