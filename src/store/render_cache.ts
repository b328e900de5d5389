// The merged exposition, rebuilt at most once per store change, lazily on
// the next scrape. The gzip form is kept as a raw-deflate body ending in a
// sync flush, so a scrape can append the proxy's own (ever-changing) metrics
// as a second deflate run and still send one standard gzip member: the
// expensive part is compressed once per change, the small tail per scrape.

import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { partBytes, type RenderPart, type Store } from './store.js';

const deflateRaw = promisify(zlib.deflateRaw);

export interface Rendered {
  version: number;
  /** Valid until released: see `hold`. */
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

/**
 * A render target allocation. Fresh memory is expensive here: first-touch
 * page faults on this VM ran at ~150 MB/s (a 78 MB body took ~450 ms just
 * to fault in), so the body of the previous version is reused for the next
 * render once no scrape or compression still reads it.
 */
interface Backing {
  buffer: Buffer;
  holds: number;
  retired: boolean;
}

export class RenderCache {
  private rendered?: Rendered & { backing: Backing };
  private spare?: Backing;
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
    const parts: RenderPart[] = [];
    let total = 0;
    this.store.forEachFamily((header, chunks) => {
      parts.push(header);
      total += header.bytes;
      for (const c of chunks) {
        parts.push(c);
        total += c.bytes;
      }
    });
    const backing = this.takeBacking(total);
    const body = backing.buffer.subarray(0, total);
    let at = 0;
    for (const p of parts) {
      body.set(partBytes(p), at);
      at += p.bytes;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (this.rendered) this.retire(this.rendered.backing);
    this.rendered = { version, body, seconds, backing };
    this.opts.onRender?.(seconds, total);
    return this.rendered;
  }

  /**
   * Keep the current body valid while it is read asynchronously (a response
   * being written, a compression in the thread pool); call the returned
   * function once when done. Without a hold the next render may reuse it.
   */
  hold(r: Rendered): () => void {
    const backing = (r as Rendered & { backing?: Backing }).backing;
    if (!backing) return () => {};
    backing.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--backing.holds === 0 && backing.retired) this.keepSpare(backing);
    };
  }

  /**
   * current() held until `release()` (see hold), for a reader that awaits, as
   * the outputs do; with the store's overlapping families, counted in the
   * same tick, so for this very body.
   */
  currentHeld(): { body: Buffer; overlappingFamilies: number; release: () => void } {
    const rendered = this.current();
    return { body: rendered.body, overlappingFamilies: this.store.overlappingFamilies(), release: this.hold(rendered) };
  }

  private takeBacking(bytes: number): Backing {
    const spare = this.spare;
    if (spare && spare.buffer.length >= bytes) {
      this.spare = undefined;
      spare.retired = false;
      return spare;
    }
    // Headroom so a store that grows a little still fits the reused buffer.
    return { buffer: Buffer.allocUnsafeSlow(Math.ceil(bytes * 1.1) + 4096), holds: 0, retired: false };
  }

  private retire(backing: Backing): void {
    backing.retired = true;
    if (backing.holds === 0) this.keepSpare(backing);
  }

  private keepSpare(backing: Backing): void {
    if (!this.spare || this.spare.buffer.length < backing.buffer.length) this.spare = backing;
  }

  /** The current body, deflated once per version (concurrent callers share the work). */
  compressedCurrent(): Promise<CompressedBody> {
    const r = this.current();
    if (this.compressed && this.compressedVersion === r.version) return this.compressed;
    this.compressedVersion = r.version;
    const release = this.hold(r);
    this.compressed = deflateRaw(r.body, { level: this.opts.gzipLevel ?? 6, finishFlush: zlib.constants.Z_SYNC_FLUSH }).then((deflated) => ({
      version: r.version,
      deflated,
      crc: zlib.crc32(r.body),
      length: r.body.length,
    }));
    this.compressed.then(release, release);
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
  // Between changes the tail (the proxy's own metrics) is often byte-identical
  // from one scrape to the next; then the whole answer is reused as it is.
  const memo = tailMemos.get(cached);
  if (memo && memo.tail.equals(tail)) return memo.parts;
  const tailDeflated = zlib.deflateRawSync(tail, { level: 1 });
  const trailer = Buffer.allocUnsafe(8);
  trailer.writeUInt32LE(zlib.crc32(tail, cached.crc) >>> 0, 0);
  trailer.writeUInt32LE((cached.length + tail.length) >>> 0, 4);
  const parts = [GZIP_HEADER, cached.deflated, tailDeflated, trailer];
  tailMemos.set(cached, { tail, parts });
  return parts;
}

const tailMemos = new WeakMap<CompressedBody, { tail: Buffer; parts: Buffer[] }>();
