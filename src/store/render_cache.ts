// The merged exposition, rebuilt at most once per store change, lazily on
// the next scrape. The gzip form is kept as a raw-deflate body ending in a
// sync flush, so a scrape can append the proxy's own (ever-changing) metrics
// as a second deflate run and still send one standard gzip member: the
// expensive part is compressed once per change, the small tail per scrape.

import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Store } from './store.js';

const deflateRaw = promisify(zlib.deflateRaw);

export interface Rendered {
  version: number;
  body: Buffer;
  /** Render time in seconds, for telemetry. */
  seconds: number;
}

export interface CompressedBody {
  version: number;
  /** Raw deflate of `body`, ending with a sync flush (not final). */
  deflated: Buffer;
  crc: number;
  length: number;
}

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);

export class RenderCache {
  private rendered?: Rendered;
  private compressed?: Promise<CompressedBody>;
  private compressedVersion = -1;

  constructor(
    private readonly store: Store,
    private readonly opts: { gzipLevel?: number; onRender?: (seconds: number, bytes: number) => void } = {},
  ) {}

  /** The merged text of every family, one HELP/TYPE each. */
  current(): Rendered {
    const version = this.store.version;
    if (this.rendered?.version === version) return this.rendered;
    const started = process.hrtime.bigint();
    const parts: { text: string; bytes: number }[] = [];
    let total = 0;
    this.store.forEachFamily((header, chunks) => {
      const h = { text: header, bytes: Buffer.byteLength(header) };
      parts.push(h);
      total += h.bytes;
      for (const c of chunks) {
        parts.push(c);
        total += c.bytes;
      }
    });
    const body = Buffer.allocUnsafe(total);
    let at = 0;
    for (const p of parts) at += body.write(p.text, at, 'utf8');
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.rendered = { version, body, seconds };
    this.opts.onRender?.(seconds, total);
    return this.rendered;
  }

  /** The current body, deflated once per version (concurrent callers share the work). */
  compressedCurrent(): Promise<CompressedBody> {
    const r = this.current();
    if (this.compressed && this.compressedVersion === r.version) return this.compressed;
    this.compressedVersion = r.version;
    this.compressed = deflateRaw(r.body, { level: this.opts.gzipLevel ?? 6, finishFlush: zlib.constants.Z_SYNC_FLUSH }).then((deflated) => ({
      version: r.version,
      deflated,
      crc: zlib.crc32(r.body),
      length: r.body.length,
    }));
    this.compressed.catch(() => {
      this.compressed = undefined;
      this.compressedVersion = -1;
    });
    return this.compressed;
  }
}

/**
 * One gzip member for `cached.body + tail`: header, the cached deflate run,
 * a final deflate run of the tail, and a trailer whose CRC continues over the tail.
 */
export function gzipWithTail(cached: CompressedBody, tail: Buffer): Buffer[] {
  const tailDeflated = zlib.deflateRawSync(tail, { level: 1 });
  const trailer = Buffer.allocUnsafe(8);
  trailer.writeUInt32LE(zlib.crc32(tail, cached.crc) >>> 0, 0);
  trailer.writeUInt32LE((cached.length + tail.length) >>> 0, 4);
  return [GZIP_HEADER, cached.deflated, tailDeflated, trailer];
}
