// A stream of JSON objects on one connection: `{"app": "text"}` or
// `{"app": ["line", ...]}`, several keys per object, objects separated by
// optional whitespace, the sender may close after one (`nc -q 0`).
//
// The splitter tracks string/escape state and brace depth across chunks, so
// every byte is scanned once however the stream is cut; only the bytes of
// the object in progress are buffered, bounded by maxMessageBytes.

import { JsonFramingError, TooLargeError, AppNameError, ProxyError, quote } from '../errors.js';
import type { DecoderOptions, InboundMessage, StreamDecoder } from './types.js';
import { utf8Text } from './utf8.js';

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export class JsonStreamDecoder implements StreamDecoder {
  private parts: Buffer[] = [];
  private partBytes = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Byte offset in the stream, for error messages. */
  private offset = 0;

  constructor(private readonly opts: DecoderOptions) {}

  hasPartial(): boolean {
    return this.depth > 0;
  }

  private failed: ProxyError | undefined;

  get pendingError(): ProxyError | undefined {
    return this.failed;
  }

  push(chunk: Buffer): InboundMessage[] {
    if (this.failed) throw this.failed;
    const out: InboundMessage[] = [];
    try {
      this.scan(chunk, out);
    } catch (err) {
      if (!(err instanceof ProxyError)) throw err;
      this.failed = err;
      if (out.length === 0) throw err;
    }
    return out;
  }

  private scan(chunk: Buffer, out: InboundMessage[]): void {
    // The state lives in locals while the loop runs (written back at every
    // exit), and string contents, nearly every byte of a message, are
    // skipped by a loop that looks for nothing but `"` and `\`.
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    let start = depth > 0 ? 0 : -1;
    const n = chunk.length;
    this.nextAbutting = this.nextLineEnd = -2;
    let i = 0;
    try {
      while (i < n) {
        if (inString) {
          if (escaped) {
            escaped = false;
            i++;
            continue;
          }
          let b = 0;
          while (i < n && (b = chunk[i]!) !== QUOTE && b !== BACKSLASH) i++;
          if (i === n) break;
          if (b === BACKSLASH) escaped = true;
          else inString = false;
          i++;
          continue;
        }
        const b = chunk[i]!;
        if (depth === 0) {
          if (!isSpace(b)) {
            if (b !== OPEN) throw new JsonFramingError(`expected "{" at byte ${this.offset + i}, got ${quote(String.fromCharCode(b))}`);
            const end = this.wholeObjectAt(chunk, i, out);
            if (end > 0) {
              i = end;
              continue;
            }
            start = i;
            depth = 1;
          }
        } else if (b === QUOTE) inString = true;
        else if (b === OPEN || b === 0x5b) depth++;
        else if (b === CLOSE || b === 0x5d) {
          if (--depth === 0) {
            this.take(chunk.subarray(start, i + 1));
            for (const m of this.decodeObject()) out.push(m);
            start = -1;
          }
        }
        i++;
      }
      if (start >= 0) this.take(chunk.subarray(start));
      this.offset += n;
    } finally {
      this.depth = depth;
      this.inString = inString;
      this.escaped = escaped;
    }
  }

  // The next `}{` and `}\n` in the chunk being scanned, found by
  // wholeObjectAt (-1: none left, -2: not searched yet), so that each chunk
  // is searched once for each.
  private nextAbutting = -2;
  private nextLineEnd = -2;

  /**
   * The usual stream holds whole objects back to back (`}{`) or one per line
   * (`}\n`), and a raw newline cannot occur inside a JSON string. So the first
   * such `}` after the object's `{` at `start` is most likely its end: when
   * the bytes up to it are UTF-8 and JSON.parse accepts them, they are exactly
   * one object (the scan would end it there too), and scanning them byte by
   * byte (about twice the parse's time) is skipped. Returns the offset past
   * the object with its messages added to `out`, or 0 (nothing done: scan).
   */
  private wholeObjectAt(chunk: Buffer, start: number, out: InboundMessage[]): number {
    if (this.nextAbutting !== -1 && this.nextAbutting <= start) this.nextAbutting = chunk.indexOf('}{', start + 1, 'latin1');
    if (this.nextLineEnd !== -1 && this.nextLineEnd <= start) this.nextLineEnd = chunk.indexOf('}\n', start + 1, 'latin1');
    let close = this.nextAbutting;
    const nl = this.nextLineEnd;
    if (nl >= 0 && (close < 0 || nl < close)) close = nl;
    if (close < 0) {
      if (chunk[chunk.length - 1] !== CLOSE) return 0;
      close = chunk.length - 1;
    }
    if (close + 1 - start > this.opts.maxMessageBytes) return 0;
    const text = utf8Text(chunk.subarray(start, close + 1));
    if (text === undefined) return 0;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return 0;
    }
    for (const m of messagesFromValue(value)) out.push(m);
    return close + 1;
  }

  end(): InboundMessage[] {
    if (this.failed) throw this.failed;
    if (this.depth > 0) throw new JsonFramingError(`truncated JSON object: connection closed after ${this.partBytes} bytes of an unfinished object`);
    return [];
  }

  private take(part: Buffer): void {
    this.partBytes += part.length;
    if (this.partBytes > this.opts.maxMessageBytes) {
      throw new TooLargeError(`JSON object exceeds receiver.max_payload_bytes (${this.opts.maxMessageBytes} bytes) at byte ${this.offset}`);
    }
    this.parts.push(part);
  }

  private decodeObject(): InboundMessage[] {
    const bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes);
    this.parts = [];
    this.partBytes = 0;
    const text = utf8Text(bytes);
    if (text === undefined) throw new JsonFramingError('JSON object is not valid UTF-8');
    return messagesFromJson(text);
  }
}

/** Turn one JSON object's text into messages. */
function messagesFromJson(text: string): InboundMessage[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new JsonFramingError(`invalid JSON object: ${(err as Error).message}`);
  }
  return messagesFromValue(value);
}

/** The messages of one parsed JSON object. */
function messagesFromValue(value: unknown): InboundMessage[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JsonFramingError('expected a JSON object of app name to metrics');
  const out: InboundMessage[] = [];
  for (const [app, v] of Object.entries(value)) {
    if (app === '') throw new AppNameError('empty app name in JSON object');
    if (typeof v === 'string') out.push({ app, text: v });
    else if (Array.isArray(v) && v.every((l) => typeof l === 'string')) out.push({ app, text: v.join('\n') });
    else throw new JsonFramingError(`value for app ${quote(app)} must be a string or an array of strings`);
  }
  return out;
}
