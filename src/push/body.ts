// A push body, made ready for its parser. As in the Pushgateway: the delimited
// protobuf format when the Content-Type says exactly that
// (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
// encoding=delimited`), the text format 0.0.4 for anything else;
// `Content-Encoding: gzip` is decompressed first (bounded by the body limit).

import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { ContentEncodingError, ParseError, TooLargeError, quote } from '../errors.js';
import { utf8Text } from '../codecs/utf8.js';

const gunzip = promisify(zlib.gunzip);

export const PROTOBUF_MEDIA_TYPE = 'application/vnd.google.protobuf';
export const PROTOBUF_PROTO = 'io.prometheus.client.MetricFamily';

/** True when the Content-Type selects the delimited MetricFamily protobuf format. */
export function isDelimitedProtobuf(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const [media, ...params] = contentType.split(';');
  if (media!.trim().toLowerCase() !== PROTOBUF_MEDIA_TYPE) return false;
  const p = new Map<string, string>();
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    p.set(param.slice(0, eq).trim().toLowerCase(), param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return p.get('proto') === PROTOBUF_PROTO && p.get('encoding') === 'delimited';
}

/** Undo Content-Encoding; the result is at most `maxBytes`. */
export async function decodeContent(body: Buffer, encoding: string | undefined, maxBytes: number): Promise<Buffer> {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  if (enc !== 'gzip' && enc !== 'x-gzip') throw new ContentEncodingError(`unsupported Content-Encoding ${quote(encoding!)}; only gzip is accepted`);
  try {
    return await gunzip(body, { maxOutputLength: maxBytes });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new TooLargeError(`gzip body decompresses to more than ${maxBytes} bytes (http_push.max_body_bytes)`);
    throw new ContentEncodingError(`gzip body cannot be decompressed: ${e.message}`);
  }
}

/** A decoded body in the text format, as text; undefined when its Content-Type selects protobuf. Throws ParseError for invalid UTF-8. */
export function bodyText(body: Buffer, contentType: string | undefined): string | undefined {
  if (isDelimitedProtobuf(contentType)) return undefined;
  const text = utf8Text(body);
  if (text === undefined) {
    const at = firstInvalidUtf8(body);
    let line = 1;
    for (let i = 0; i < at; i++) if (body[i] === 10) line++;
    throw new ParseError(line, `invalid UTF-8 at byte ${at} of the body`);
  }
  return text;
}

/** Offset of the first byte of the first invalid UTF-8 sequence (error path only). */
function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > b.length || !isUtf8(b.subarray(i, i + n))) return i;
    i += n;
  }
  return i;
}
