// A fastify instance with only the push routes, over a real Store, with a
// clock the test moves; and helpers to read what /metrics would serve.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { Store } from '../../src/store/store.js';
import { RenderCache } from '../../src/store/render_cache.js';
import { PushService } from '../../src/push/service.js';
import { registerPushRoutes, type PushHandler } from '../../src/push/routes.js';
import { parseText } from '../../src/exposition/text_parse.js';
import type { ProxyError } from '../../src/errors.js';
import { FIXTURES } from '../helpers.js';

export const PROTOBUF_CT = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

export interface PushRig {
  app: FastifyInstance;
  /** What the push routes run (registerPushRoutes' result). */
  handler: PushHandler;
  store: Store;
  push: PushService;
  clock: { now: number };
  rejected: { code: string; message: string }[];
  /** The merged exposition the store would serve. */
  metrics(): string;
  /** `name{sorted labels} value` lines of the exposition (no comments), sorted. */
  lines(): string[];
  close(): Promise<void>;
}

export function pushRig(opts: { maxBodyBytes?: number; ttlMs?: number; storeTtlMs?: number; appLabel?: string } = {}): PushRig {
  const clock = { now: 1_700_000_000_000 };
  // Every refused push once: by the route's hook, or by the store's (its own checks, which the route does not report again), as in the app.
  const rejected: { code: string; message: string }[] = [];
  const store = new Store({ ttlMs: opts.storeTtlMs ?? 0, appLabel: opts.appLabel ?? '', reservedPrefix: 'exporter_proxy_', now: () => clock.now, onReject: (_u, e) => void rejected.push({ code: e.code, message: e.message }) });
  const push = new PushService({ store, now: () => clock.now, ttlMs: opts.ttlMs });
  const app = Fastify({ logger: false });
  const handler = registerPushRoutes(app, { push, store, maxBodyBytes: opts.maxBodyBytes ?? 1024 * 1024, onReject: (e: ProxyError) => void rejected.push({ code: e.code, message: e.message }) });
  const cache = new RenderCache(store);
  const metrics = () => cache.current().body.toString('utf8');
  return {
    app,
    handler,
    store,
    push,
    clock,
    rejected,
    metrics,
    lines: () => sampleLines(metrics()),
    close: () => app.close(),
  };
}

/**
 * Whether each push `push` is given takes the repeat path (PushService.pushRepeat), in order:
 * true also for one taken and then refused by the store (it throws).
 */
export function watchRepeats(push: PushService): boolean[] {
  const pushRepeat = push.pushRepeat.bind(push);
  const taken: boolean[] = [];
  push.pushRepeat = (...args) => {
    let ok = true;
    try {
      return (ok = pushRepeat(...args));
    } finally {
      taken.push(ok);
    }
  };
  return taken;
}

/** Sample lines with labels sorted by name, so label order does not matter; comments dropped. */
export function sampleLines(text: string): string[] {
  const out: string[] = [];
  for (const f of parseText(text).families) {
    for (const s of f.samples) {
      const labels = [...s.labels].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((l) => `${l.name}="${l.value}"`);
      out.push(`${s.name}{${labels.join(',')}} ${s.value}${s.timestamp !== undefined ? ' ' + s.timestamp : ''}`);
    }
  }
  return out.sort();
}

export function gzip(text: string | Buffer): Buffer {
  return gzipSync(typeof text === 'string' ? Buffer.from(text) : text);
}

export function protobufFixture(name: string): Buffer {
  return readFileSync(new URL(`protobuf/${name}`, `file://${FIXTURES}/`));
}
