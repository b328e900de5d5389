// Cap'n Proto receiver codec: a stream of InboundMetrics messages
// (schema/metric_data.capnp) in standard stream framing, optionally packed,
// as the Rust exporter-proxy's apps write them to a TCP or unix socket.
//
// Framing (segment table, size limits, truncation) and packing are handled
// here by hand, incrementally; the struct is read in place by capnp_read.ts
// (pointers, including far and double-far ones, and the two Text fields,
// NUL-terminated and strict UTF-8). Nothing here loads capnp-ts: the tests
// and benchmarks write messages with it (test/capnp_ts.ts).

import { CapnpFramingError, ProxyError, TooLargeError, quote } from '../errors.js';
import type { DecoderOptions, InboundMessage, StreamDecoder } from './types.js';
import { readInboundMetrics } from './capnp_read.js';

/** Chunks shorter than this are coalesced into TAIL_BYTES buffers. */
const SMALL_CHUNK = 512;
const TAIL_BYTES = 16 * 1024;

/** More segments than any sane encoder produces for a two-field struct. */
export const MAX_SEGMENTS = 512;

/**
 * Incremental unpacker for the capnp packing scheme. Output goes to `sink` in
 * pieces of at most `scratchSize` bytes (raw runs may be passed through as
 * views of the input), so a hostile zero run cannot make it allocate more
 * than that before the framer gets to reject the bytes.
 */
class Unpacker {
  private state: 'tag' | 'bytes' | 'zeroCount' | 'rawCount' | 'raw' = 'tag';
  private tag = 0;
  private bit = 0;
  private raw = 0;
  private readonly word = new Uint8Array(8);
  private readonly out: Buffer;
  private outLen = 0;

  constructor(
    private readonly sink: (piece: Buffer) => void,
    private readonly scratchSize = 64 * 1024,
  ) {
    this.out = Buffer.allocUnsafe(scratchSize);
  }

  /** True when the packed stream stopped inside a word or run. */
  get midWord(): boolean {
    return this.state !== 'tag';
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case 'tag': {
          const t = chunk[i++];
          if (t === 0) {
            this.zeros(8);
            this.state = 'zeroCount';
          } else {
            this.tag = t;
            this.bit = 0;
            this.state = 'bytes';
          }
          break;
        }
        case 'bytes': {
          const tag = this.tag;
          const w = this.word;
          let bit = this.bit;
          while (bit < 8) {
            if (tag & (1 << bit)) {
              if (i >= n) break;
              w[bit] = chunk[i++];
            } else {
              w[bit] = 0;
            }
            bit++;
          }
          this.bit = bit;
          if (bit < 8) break;
          if (this.outLen + 8 > this.scratchSize) this.flush();
          this.out.set(w, this.outLen);
          this.outLen += 8;
          this.state = tag === 0xff ? 'rawCount' : 'tag';
          break;
        }
        case 'zeroCount':
          this.zeros(chunk[i++] * 8);
          this.state = 'tag';
          break;
        case 'rawCount':
          this.raw = chunk[i++] * 8;
          this.state = this.raw > 0 ? 'raw' : 'tag';
          break;
        case 'raw': {
          const k = Math.min(this.raw, n - i);
          if (k >= 256 || this.outLen + k > this.scratchSize) {
            this.flush();
            this.sink(chunk.subarray(i, i + k));
          } else {
            chunk.copy(this.out, this.outLen, i, i + k);
            this.outLen += k;
          }
          i += k;
          this.raw -= k;
          if (this.raw === 0) this.state = 'tag';
          break;
        }
      }
    }
    this.flush();
  }

  private zeros(count: number): void {
    while (count > 0) {
      if (this.outLen === this.scratchSize) this.flush();
      const k = Math.min(count, this.scratchSize - this.outLen);
      this.out.fill(0, this.outLen, this.outLen + k);
      this.outLen += k;
      count -= k;
    }
  }

  private flush(): void {
    if (this.outLen === 0) return;
    const piece = Buffer.from(this.out.subarray(0, this.outLen));
    this.outLen = 0;
    this.sink(piece);
  }
}

/**
 * Decoder for one connection carrying Cap'n Proto InboundMetrics messages in
 * standard stream framing, or packed framing with `packed: true`.
 *
 * Buffers a list of chunks plus a running total (no concatenation per chunk);
 * a message is copied out once when complete. The segment table is checked
 * (count <= MAX_SEGMENTS, announced total <= maxMessageBytes) as soon as it
 * has arrived, before the body is buffered.
 *
 * Errors: when messages were completed in the same push() call as a framing
 * error, they are returned and the error is thrown by the next push() or
 * end() (it is also visible as `pendingError` at once). After an error has
 * been thrown the decoder is dead: further calls return [].
 */
export class CapnpStreamDecoder implements StreamDecoder {
  private readonly max: number;
  private readonly unpacker: Unpacker | undefined;
  private chunks: Buffer[] = [];
  private tail: Buffer | undefined;
  private tailStart = 0;
  private tailLen = 0;
  private head = 0;
  private headOff = 0;
  /** Bytes buffered (unpacked) from the start of the current message. */
  private buffered = 0;
  private segCount = -1;
  private headerBytes = 0;
  private expected = -1;
  private out: InboundMessage[] = [];
  private pending: ProxyError | undefined;
  private dead = false;

  constructor(opts: DecoderOptions & { packed?: boolean }) {
    this.max = opts.maxMessageBytes;
    this.unpacker = opts.packed ? new Unpacker((piece) => this.feed(piece)) : undefined;
  }

  hasPartial(): boolean {
    return !this.dead && (this.buffered > 0 || (this.unpacker?.midWord ?? false));
  }

  /** A framing error already detected, to be thrown by the next call. */
  get pendingError(): ProxyError | undefined {
    return this.pending;
  }

  push(chunk: Buffer): InboundMessage[] {
    if (this.dead) return [];
    this.throwPending();
    try {
      if (this.unpacker) this.unpacker.push(chunk);
      else this.feed(chunk);
    } catch (e) {
      return this.fail(e);
    }
    return this.drain();
  }

  end(): InboundMessage[] {
    if (this.dead) return [];
    this.throwPending();
    this.dead = true;
    const midWord = this.unpacker?.midWord ?? false;
    if (this.buffered > 0 || midWord) {
      const exact = this.expected >= 0;
      const expected = exact ? this.expected : this.segCount >= 0 ? this.headerBytes : 8;
      this.release();
      throw new CapnpFramingError(
        `truncated message: expected ${exact ? '' : 'at least '}${expected} bytes, got ${this.buffered}` +
          (midWord ? ' (packed stream ended inside a word)' : ''),
      );
    }
    return [];
  }

  private throwPending(): void {
    const err = this.pending;
    if (err) {
      this.pending = undefined;
      this.dead = true;
      throw err;
    }
  }

  private fail(e: unknown): InboundMessage[] {
    this.release();
    const err = e instanceof ProxyError ? e : new CapnpFramingError(`capnp decoder failure: ${quote(e instanceof Error ? e.message : String(e), 120)}`);
    if (this.out.length === 0) {
      this.dead = true;
      throw err;
    }
    this.pending = err;
    return this.drain();
  }

  private drain(): InboundMessage[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  private release(): void {
    this.tail = undefined;
    this.tailStart = this.tailLen = 0;
    this.chunks = [];
    this.head = 0;
    this.headOff = 0;
  }

  /**
   * Append unpacked bytes and decode every message they complete. Small
   * chunks are copied into a shared tail buffer, so a peer trickling single
   * bytes costs memory in proportion to the bytes, not to the chunk count.
   */
  private feed(buf: Buffer): void {
    const n = buf.length;
    if (n === 0) return;
    if (n < SMALL_CHUNK) {
      if (!this.tail || this.tailLen + n > this.tail.length) {
        this.seal();
        this.tail = Buffer.allocUnsafe(TAIL_BYTES);
        this.tailStart = this.tailLen = 0;
      }
      buf.copy(this.tail, this.tailLen);
      this.tailLen += n;
    } else {
      this.seal();
      this.chunks.push(buf);
    }
    this.buffered += n;
    for (;;) {
      if (this.segCount < 0) {
        if (this.buffered < 4) return;
        this.seal();
        const count = this.peek(4).readUInt32LE(0) + 1;
        if (count > MAX_SEGMENTS) {
          throw new CapnpFramingError(`segment table announces ${count} segments (limit ${MAX_SEGMENTS})`);
        }
        this.segCount = count;
        this.headerBytes = (4 + 4 * count + 7) & ~7;
        if (this.headerBytes > this.max) {
          throw new TooLargeError(
            `capnp segment table of ${this.headerBytes} bytes exceeds the message limit of ${this.max} bytes (receiver.max_payload_bytes)`,
          );
        }
      }
      if (this.expected < 0) {
        if (this.buffered < this.headerBytes) return;
        this.seal();
        const hdr = this.peek(this.headerBytes);
        let words = 0;
        for (let i = 0; i < this.segCount; i++) words += hdr.readUInt32LE(4 + 4 * i);
        const total = this.headerBytes + words * 8;
        if (total > this.max) {
          throw new TooLargeError(
            `capnp message of ${total} bytes (announced by its segment table) exceeds the limit of ${this.max} bytes (receiver.max_payload_bytes)`,
          );
        }
        this.expected = total;
      }
      if (this.buffered < this.expected) return;
      this.seal();
      const total = this.expected;
      const headerBytes = this.headerBytes;
      const bytes = this.take(total);
      this.buffered -= total;
      this.segCount = -1;
      this.expected = -1;
      this.headerBytes = 0;
      this.out.push(readInboundMetrics(bytes, headerBytes));
    }
  }

  /** Move the tail buffer's new bytes into the chunk list. */
  private seal(): void {
    if (this.tail && this.tailLen > this.tailStart) {
      this.chunks.push(this.tail.subarray(this.tailStart, this.tailLen));
      this.tailStart = this.tailLen;
    }
  }

  /** The first n buffered bytes, without consuming them (n is small: header only). */
  private peek(n: number): Buffer {
    const first = this.chunks[this.head];
    if (first.length - this.headOff >= n) return first.subarray(this.headOff, this.headOff + n);
    const dst = Buffer.allocUnsafe(n);
    let got = 0;
    let off = this.headOff;
    for (let c = this.head; got < n; c++, off = 0) {
      const src = this.chunks[c];
      got += src.copy(dst, got, off, Math.min(src.length, off + n - got));
    }
    return dst;
  }

  /** Consume n bytes: a view when they lie in one chunk, else one exact-size copy. */
  private take(n: number): Uint8Array {
    const first = this.chunks[this.head];
    let result: Uint8Array;
    if (first.length - this.headOff >= n) {
      result = first.subarray(this.headOff, this.headOff + n);
      this.headOff += n;
    } else {
      result = new Uint8Array(n);
      let got = 0;
      while (got < n) {
        const src = this.chunks[this.head];
        const k = Math.min(src.length - this.headOff, n - got);
        result.set(src.subarray(this.headOff, this.headOff + k), got);
        got += k;
        this.headOff += k;
        if (this.headOff === src.length && got < n) {
          this.head++;
          this.headOff = 0;
        }
      }
    }
    if (this.headOff === this.chunks[this.head].length) {
      this.head++;
      this.headOff = 0;
    }
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    return result;
  }
}
