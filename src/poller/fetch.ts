// Outbound HTTP GET of an exposition body, shared by the poller and fan-out.
//
// One undici Agent per TLS setting (verify / skip-verify) pools connections
// for every target. A fetch asks for text 0.0.4 with gzip, stops reading as
// soon as the wire bytes pass the byte limit, and inflates with zlib's
// output limit (stops as soon as the decompressed body passes it); the
// timeout covers the whole exchange, body included. Every failure is a
// FetchError whose `reason` says which class it was.

import dns from 'node:dns';
import net from 'node:net';
import zlib from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { promisify } from 'node:util';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { FetchError, type FetchFailure } from '../errors.js';

export const ACCEPT_TEXT = 'text/plain;version=0.0.4';

export interface FetchRequest {
  url: string;
  timeoutMs: number;
  maxBodyBytes: number;
  tlsSkipVerify: boolean;
  /** Extra request headers (auth, user-set). */
  headers?: Record<string, string>;
  /** Aborts the fetch (shutdown); the error then has reason `aborted`. */
  signal?: AbortSignal;
}

export interface FetchResult {
  text: string;
  /** Decompressed body size. */
  bytes: number;
  /** Bytes as received on the wire (compressed when gzip). */
  wireBytes: number;
}

export interface FetcherOptions {
  /**
   * DNS servers (`ip` or `ip:port`) for host names in URLs, through a
   * node:dns Resolver; names it cannot answer fall back to the system
   * resolver. Empty = system resolver only.
   */
  dnsServers?: string[];
  /** Idle keep-alive time for pooled connections, ms. */
  keepAliveMs?: number;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME_MISMATCH|ALTNAME/;

export class HttpFetcher {
  private readonly agents = new Map<boolean, { agent: Agent; dispatcher: Dispatcher }>();
  private readonly lookup?: net.LookupFunction;

  constructor(private readonly opts: FetcherOptions = {}) {
    if (opts.dnsServers?.length) this.lookup = resolverLookup(opts.dnsServers);
  }

  /** The pooled dispatcher for a TLS setting (created on first use). */
  private dispatcher(tlsSkipVerify: boolean): Dispatcher {
    let a = this.agents.get(tlsSkipVerify);
    if (!a) {
      const keepAlive = this.opts.keepAliveMs ?? 60_000;
      const connect: Record<string, unknown> = { rejectUnauthorized: !tlsSkipVerify };
      if (this.lookup) connect.lookup = this.lookup;
      const agent = new Agent({ connect, keepAliveTimeout: keepAlive, keepAliveMaxTimeout: Math.max(keepAlive, 600_000), pipelining: 1 });
      a = { agent, dispatcher: agent.compose(interceptors.redirect({ maxRedirections: 5 })) };
      this.agents.set(tlsSkipVerify, a);
    }
    return a.dispatcher;
  }

  /** GET `req.url`; resolves with the body text or rejects with a FetchError. */
  async fetchText(req: FetchRequest): Promise<FetchResult> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new FetchError('timeout', `no complete answer within ${req.timeoutMs} ms`));
    }, req.timeoutMs);
    const onStop = () => controller.abort(new FetchError('aborted', 'fetch aborted: shutting down'));
    if (req.signal?.aborted) onStop();
    req.signal?.addEventListener('abort', onStop, { once: true });
    try {
      const res = await request(req.url, {
        method: 'GET',
        dispatcher: this.dispatcher(req.tlsSkipVerify),
        signal: controller.signal,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        headers: { accept: ACCEPT_TEXT, 'accept-encoding': 'gzip', ...req.headers },
      });
      return await readBody(res, req.maxBodyBytes);
    } catch (err) {
      if (timedOut) throw new FetchError('timeout', `no complete answer within ${req.timeoutMs} ms`);
      if (controller.signal.aborted && controller.signal.reason instanceof FetchError) throw controller.signal.reason;
      throw classify(err);
    } finally {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onStop);
    }
  }

  /** Close pooled connections (in-flight fetches are aborted by their signals). */
  async close(): Promise<void> {
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map((a) => a.agent.destroy().catch(() => undefined)));
  }
}

async function readBody(res: Dispatcher.ResponseData, max: number): Promise<FetchResult> {
  const { statusCode, headers, body } = res;
  if (statusCode !== 200) {
    // Read a small error page so the connection can be reused; drop bigger ones.
    body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    throw new FetchError('status', `HTTP status ${statusCode}, expected 200`, statusCode);
  }
  const encoding = String(headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const length = Number(headers['content-length']);
  if ((encoding === 'identity' || encoding === '') && length > max) {
    discard(body);
    throw new FetchError('too_large', `body of ${length} bytes is over the limit of ${max} bytes`);
  }
  const compressed = encoding === 'gzip' || encoding === 'x-gzip' || encoding === 'deflate';
  if (!compressed && encoding !== 'identity' && encoding !== '') {
    discard(body);
    throw new FetchError('invalid', `unsupported Content-Encoding ${JSON.stringify(encoding)}`);
  }
  // Read the wire bytes, stopping as soon as they pass the limit (a
  // compressed body is never larger than what it decompresses to, give or
  // take the gzip framing).
  const wireMax = compressed ? max + 1024 : max;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > wireMax) throw new FetchError('too_large', `body is over the limit of ${max} bytes; stopped reading`);
      chunks.push(chunk);
    }
  } catch (err) {
    discard(body);
    throw err;
  }
  const wire = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  const buf = compressed ? await inflate(wire, encoding, max) : wire;
  if (!isUtf8(buf)) throw new FetchError('invalid', 'body is not valid UTF-8');
  return { text: buf.toString('utf8'), bytes: buf.length, wireBytes: size };
}

const inflateAsync = { gzip: promisify(zlib.gunzip), deflate: promisify(zlib.inflate) };
/** Compressed bodies up to this size are inflated synchronously: far cheaper than a zlib stream per poll. */
const SYNC_INFLATE_MAX = 256 * 1024;

/**
 * Decompress with zlib's `maxOutputLength`, which stops inflating as soon as
 * the output passes the limit (a gzip bomb costs at most `max` bytes).
 */
async function inflate(wire: Buffer, encoding: string, max: number): Promise<Buffer> {
  const kind = encoding === 'deflate' ? 'deflate' : 'gzip';
  const opts = { maxOutputLength: max };
  try {
    if (wire.length <= SYNC_INFLATE_MAX) return kind === 'gzip' ? zlib.gunzipSync(wire, opts) : zlib.inflateSync(wire, opts);
    return await inflateAsync[kind](wire, opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new FetchError('too_large', `body is over the limit of ${max} bytes (decompressed); stopped inflating`);
    throw new FetchError('invalid', `corrupt ${encoding} body: ${e.message}`);
  }
}

/** Stop reading a response; the resulting abort error is expected, not a crash. */
function discard(stream: NodeJS.ReadableStream & { destroy(): void }): void {
  stream.on('error', () => undefined);
  stream.destroy();
}

/** Map a network/undici error to a FetchError. */
export function classify(err: unknown): FetchError {
  if (err instanceof FetchError) return err;
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = String(e?.code ?? '');
  const causeCode = String(e?.cause?.code ?? '');
  const msg = (e?.message ?? String(err)) + (e?.cause?.message && e.cause.message !== e.message ? ` (${e.cause.message})` : '');
  const any = (re: RegExp) => re.test(code) || re.test(causeCode);
  let why: FetchFailure = 'network';
  if (any(/^ECONNREFUSED$/)) why = 'refused';
  else if (any(/^(ENOTFOUND|EAI_AGAIN|EAI_FAIL|ENODATA|ESERVFAIL|ENOTIMP|EREFUSED|ECONNREFUSED_DNS)$/)) why = 'dns';
  else if (any(TLS_CODES)) why = 'tls';
  else if (any(/TIMEOUT|ETIMEDOUT/)) why = 'timeout';
  else if (any(/^UND_ERR_ABORTED$/)) why = 'aborted';
  const detail = code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  return new FetchError(why, why === 'tls' ? `TLS: ${detail}` : detail);
}

/**
 * A `lookup` for net/tls connect that asks the given DNS servers first
 * (A, then AAAA) and falls back to the system resolver.
 */
export function resolverLookup(servers: string[]): net.LookupFunction {
  const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers(servers);
  const lookup = async (host: string): Promise<{ address: string; family: 4 | 6 }[]> => {
    const v4 = await resolver.resolve4(host).catch(() => [] as string[]);
    if (v4.length) return v4.map((address) => ({ address, family: 4 as const }));
    const v6 = await resolver.resolve6(host).catch(() => [] as string[]);
    return v6.map((address) => ({ address, family: 6 as const }));
  };
  return ((hostname: string, options: dns.LookupOptions | number | undefined, callback: (...args: unknown[]) => void) => {
    const opts: dns.LookupOptions = typeof options === 'object' && options ? options : {};
    lookup(hostname).then(
      (found) => {
        if (!found.length) return dns.lookup(hostname, opts, callback as never);
        if (opts.all) callback(null, found);
        else callback(null, found[0]!.address, found[0]!.family);
      },
      () => dns.lookup(hostname, opts, callback as never),
    );
  }) as net.LookupFunction;
}
