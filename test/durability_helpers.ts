// Plumbing for the durability and protection tests: a proxy started from a
// real config file (so reloads re-read it), raw sockets for slow clients, and
// a self-signed certificate made with openssl.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../src/config/config.js';
import { ExporterProxy, type Addresses } from '../src/app.js';
import { memoryLogger } from '../src/log.js';
import { tempDir } from './helpers.js';
import { requireCommand } from './e2e/e2e_helpers.js';

export type Sections = Partial<Record<'exporter' | 'receiver' | 'store' | 'http', string>>;

/** A config on port 0 with a socket in `dir`; `sections` adds keys to each section. */
export function configToml(dir: string, s: Sections = {}): string {
  // A default is left out when the section sets that key itself.
  const unless = (section: string | undefined, key: string, line: string) => (section?.includes(`${key} =`) ? '' : line + '\n');
  return [
    `[exporter]\n${unless(s.exporter, 'scrape_expose_endpoint', 'scrape_expose_endpoint = "127.0.0.1:0"')}${s.exporter ?? ''}`,
    `[receiver]\n${unless(s.receiver, 'receiver_tcp_socket', 'receiver_tcp_socket = "127.0.0.1:0"')}${unless(s.receiver, 'receiver_unix_socket', `receiver_unix_socket = "${path.join(dir, 'receiver.sock')}"`)}${s.receiver ?? ''}`,
    `[store]\n${s.store ?? ''}`,
    `[http]\n${s.http ?? ''}`,
  ].join('\n');
}

export interface FileProxy {
  proxy: ExporterProxy;
  addr: Addresses;
  dir: string;
  file: string;
  logs: string[];
  url: string;
  /** Rewrite the config file (for a reload). */
  write(s: Sections): void;
  stop(): Promise<void>;
}

export async function startFromFile(s: Sections = {}, opts: { dir?: string; scheme?: 'http' | 'https' } = {}): Promise<FileProxy> {
  const dir = opts.dir ?? tempDir();
  const file = path.join(dir, 'config.toml');
  fs.writeFileSync(file, configToml(dir, s));
  const logger = memoryLogger();
  const proxy = new ExporterProxy({ config: loadConfig(file), logger, configPath: file, defaultMetrics: false });
  const addr = await proxy.start();
  return {
    proxy,
    addr,
    dir,
    file,
    logs: logger.lines,
    url: `${opts.scheme ?? 'http'}://127.0.0.1:${addr.http.port}`,
    write: (next) => fs.writeFileSync(file, configToml(dir, next)),
    async stop() {
      await proxy.stop(1000);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function basic(user: string, pass: string): string {
  return 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
}

/** Open a TCP connection and resolve with it once connected. */
export function connect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves with ms until the peer closed the socket (and what it sent), or rejects after `ms`. */
export function closedWithin(sock: net.Socket, ms: number): Promise<{ afterMs: number; received: string }> {
  const t0 = Date.now();
  let received = '';
  sock.on('data', (d) => (received += d));
  sock.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    sock.on('close', () => {
      clearTimeout(t);
      resolve({ afterMs: Date.now() - t0, received });
    });
  });
}

/** Write `data` one byte every `everyMs` until the socket closes or the data ends. */
export function trickle(sock: net.Socket, data: string, everyMs: number): () => void {
  let i = 0;
  const t = setInterval(() => {
    if (sock.destroyed || i >= data.length) return clearInterval(t);
    sock.write(data[i++]);
  }, everyMs);
  return () => clearInterval(t);
}

/** A self-signed certificate for 127.0.0.1 (openssl); PEM paths in `dir`. */
export function selfSignedCert(dir: string, name = 'server'): { cert: string; key: string } {
  requireCommand('openssl', 'openssl');
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

/** The own-metrics value of exporter_proxy_rejected_total for one receiver and reason (0 when absent). */
export function rejected(metrics: string, receiver: string, reason: string): number {
  const m = new RegExp(`^exporter_proxy_rejected_total\\{receiver="${receiver}",reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics);
  return m ? Number(m[1]) : 0;
}
