// Real local targets for the poller and fan-out tests: node:http and
// node:https servers on port 0 whose behaviour the test sets (and changes)
// per request, a closed port, and a throw-away self-signed certificate.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { selfSignedCert as certFiles } from '../durability_helpers.js';

export type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface Target {
  port: number;
  url: string;
  /** host:port */
  hostPort: string;
  requests: http.IncomingMessage['headers'][];
  /** Requests being answered right now, and the most ever at once. */
  active: number;
  maxActive: number;
  behaviour: Behaviour;
  close(): Promise<void>;
}

/** Exposition text with `n` series of one gauge family. */
export function body(n = 2, family = 'demo_value', value = 1): string {
  let out = `# HELP ${family} A demo gauge.\n# TYPE ${family} gauge\n`;
  for (let i = 0; i < n; i++) out += `${family}{series="${i}"} ${value}\n`;
  return out;
}

export const ok = (text: string): Behaviour => (_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  res.end(text);
};

export const gzipped = (text: string): Behaviour => (req, res) => {
  const wantsGzip = /gzip/.test(String(req.headers['accept-encoding'] ?? ''));
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', ...(wantsGzip ? { 'content-encoding': 'gzip' } : {}) });
  res.end(wantsGzip ? zlib.gzipSync(text) : text);
};

export const status = (code: number): Behaviour => (_req, res) => {
  res.writeHead(code, { 'content-type': 'text/plain' });
  res.end(`status ${code}\n`);
};

export const slow = (ms: number, text = body()): Behaviour => (_req, res) => {
  const t = setTimeout(() => ok(text)(_req, res), ms);
  res.on('close', () => clearTimeout(t));
};

/**
 * Streams up to `total` bytes of valid-looking samples per request, without
 * Content-Length. `sent.max` is the most written to any one response before
 * the client went away (kernel socket buffers take a few MB on loopback).
 */
export function endless(total: number, sent: { max: number; closedEarly: boolean }): Behaviour {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    const chunk = Buffer.from(Array.from({ length: 512 }, (_, k) => `big{n="${k}"} 1\n`).join(''));
    let bytes = 0;
    const pump = () => {
      while (bytes < total) {
        if (res.destroyed) return;
        bytes += chunk.length;
        sent.max = Math.max(sent.max, bytes);
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => {
      if (bytes < total) sent.closedEarly = true;
    });
    pump();
  };
}

function track(server: http.Server, t: Omit<Target, 'port' | 'url' | 'hostPort' | 'close'>) {
  server.on('request', (req, res) => {
    t.requests.push(req.headers);
    t.active++;
    t.maxActive = Math.max(t.maxActive, t.active);
    res.on('close', () => t.active--);
    t.behaviour(req, res);
  });
}

async function listen(server: http.Server | https.Server, scheme: string, t: Omit<Target, 'port' | 'url' | 'hostPort' | 'close'>): Promise<Target> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(t, {
    port,
    hostPort: `127.0.0.1:${port}`,
    url: `${scheme}://127.0.0.1:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

export async function startTarget(behaviour: Behaviour): Promise<Target> {
  const server = http.createServer();
  const t = { requests: [], active: 0, maxActive: 0, behaviour };
  track(server, t);
  return listen(server, 'http', t);
}

export async function startHttpsTarget(behaviour: Behaviour, cert: { key: string; cert: string }): Promise<Target> {
  const server = https.createServer({ key: cert.key, cert: cert.cert });
  const t = { requests: [], active: 0, maxActive: 0, behaviour };
  track(server, t);
  return listen(server, 'https', t);
}

/** A self-signed certificate (test/durability_helpers.ts makes it), as PEM text for https.createServer. */
export function selfSignedCert(dir: string): { key: string; cert: string } {
  const files = certFiles(dir);
  return { key: fs.readFileSync(files.key, 'utf8'), cert: fs.readFileSync(files.cert, 'utf8') };
}

/** The value of one sample line in exposition text, or undefined. */
export function sampleValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(series + ' ')) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
