// Prometheus remote_write ([remote_write]): every interval the store's
// samples are POSTed as one WriteRequest (protobuf, snappy block format,
// remote write 1.0: Prometheus with --web.enable-remote-write-receiver,
// Mimir, Thanos receive, VictoriaMetrics). Each sample line becomes a time
// series (`__name__` and its labels, sorted by name, as the protocol
// requires) with one sample: its value, at its own timestamp when it has
// one, else at the time of the send. Sending, retries and the own metrics
// are sender.ts's.
//
// The snappy encoding is literal-only: a valid snappy block that every
// decoder reads, without compression (no package for it is among ours, and
// the receivers are usually near). The body is ~1.3x the exposition text.

import type { Label } from '../exposition/model.js';
import { parseText, unescapeLabelValue } from '../exposition/text_parse.js';
import { goFloat } from '../push/api_json.js';
import type { RemoteWriteConfig } from './config.js';
import type { OutputKind } from './sender.js';

/** Protobuf encoding into a growing buffer: just the wire types a WriteRequest uses. */
class ProtoWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  varint(v: number): void {
    this.room(10);
    while (v > 0x7f) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  /** Field `field` as length-delimited bytes written by `write`. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    write(inner);
    this.bytes(field, inner.bytesView());
  }

  bytes(field: number, b: Uint8Array): void {
    this.varint((field << 3) | 2);
    this.varint(b.length);
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, Buffer.from(s, 'utf8'));
  }

  double(field: number, v: number): void {
    this.varint((field << 3) | 1);
    this.room(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }

  /** int64 as a varint; timestamps in ms are positive and below 2^53. */
  int64(field: number, v: number): void {
    this.varint(field << 3);
    this.varint(v);
  }

  bytesView(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** The WriteRequest for the store's exposition `text`, samples without a timestamp at `nowMs`. */
export function writeRequest(text: string, nowMs: number): Buffer {
  const w = new ProtoWriter();
  for (const f of parseText(text).families) {
    for (const s of f.samples) {
      const labels: Label[] = [{ name: '__name__', value: s.name }];
      for (const l of s.labels) if (l.value !== '') labels.push({ name: l.name, value: unescapeLabelValue(l.value) });
      labels.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      w.message(1, (ts) => {
        for (const l of labels) {
          ts.message(1, (lw) => {
            lw.string(1, l.name);
            lw.string(2, l.value);
          });
        }
        ts.message(2, (sw) => {
          sw.double(1, goFloat(s.value));
          sw.int64(2, s.timestamp === undefined ? nowMs : Number(s.timestamp));
        });
      });
    }
  }
  return w.bytesView();
}

/** `data` in the snappy block format, as literals of at most 64 KiB (valid for every decoder; not compressed). */
export function snappyLiterals(data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  const head = new ProtoWriter();
  head.varint(data.length);
  parts.push(Buffer.from(head.bytesView()));
  for (let at = 0; at < data.length; at += 65536) {
    const chunk = data.subarray(at, Math.min(at + 65536, data.length));
    const n = chunk.length - 1;
    // Tag 60 << 2: the length - 1 follows in 1 byte; 61 << 2: in 2 bytes, little-endian; below 60 it fits the tag.
    parts.push(n < 60 ? Buffer.from([n << 2]) : n < 256 ? Buffer.from([60 << 2, n]) : Buffer.from([61 << 2, n & 0xff, n >> 8]));
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts);
}

/** The remote_write output for Sender: one POST of every stored sample. */
export const remoteWriteOutput: OutputKind<RemoteWriteConfig> = {
  name: 'remote_write',
  what: 'remote_write',
  build: (config, storeText) => ({
    url: config.url,
    method: 'POST',
    headers: { ...config.headers, 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
    body: snappyLiterals(writeRequest(storeText, Date.now())),
  }),
};
