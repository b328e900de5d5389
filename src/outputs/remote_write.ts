// Prometheus remote_write ([remote_write]): every interval the store's
// samples are POSTed as one WriteRequest (protobuf, snappy block format,
// remote write 1.0: Prometheus with --web.enable-remote-write-receiver,
// Mimir, Thanos receive, VictoriaMetrics). Each sample line becomes a time
// series (`__name__` and its labels, sorted by name, as the protocol
// requires) with one sample: its value, at its own timestamp when it has
// one, else at the time of the send. Sending, retries and the own metrics
// are sender.ts's.
//
// The body is snappy-compressed (snappy.ts): ~15x smaller than the protobuf,
// about a tenth of the exposition text.

import type { DroppedSeries, Family, MetricType, Sample } from '../exposition/model.js';
import { writeText, type RawBuffer } from '../exposition/text_render.js';
import { unescapeHelp, unescapeLabelValue } from '../exposition/text_parse.js';
import { familiesInSlices } from './store_text.js';
import { goFloat } from '../push/api_json.js';
import type { RemoteWriteConfig } from './config.js';
import type { OutputKind } from './sender.js';
import { Slices } from '../slices.js';
import { snappyCompress } from './snappy.js';
import { putVarint, varintSize } from './varint.js';

/** ASCII strings up to this long are copied in JS: cheaper than a call into C++ for label names and most values (measured). */
const SHORT_ASCII = 32;

/**
 * Protobuf output into one growing buffer. Nested messages are written in
 * place, their lengths computed first (no buffer per message: at 100,000
 * series that made the encoding ~10x slower).
 */
class ProtoWriter {
  private buf: RawBuffer;
  length = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafe(initialBytes) as RawBuffer;
  }

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n)) as RawBuffer;
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  /** `v` as a varint; a negative one (a timestamp before 1970) as int64 does, two's complement in 10 bytes. */
  varint(v: number): void {
    this.room(10);
    if (v < 0) {
      let u = BigInt.asUintN(64, BigInt(v));
      for (let i = 0; i < 9; i++, u >>= 7n) this.buf[this.length++] = Number(u & 0x7fn) | 0x80;
      this.buf[this.length++] = Number(u);
      return;
    }
    this.length = putVarint(this.buf, this.length, v);
  }

  /** A length-delimited field holding `s` (its UTF-8 length `bytes`). */
  string(tag: number, s: string, bytes: number): void {
    this.varint(tag);
    this.varint(bytes);
    this.room(bytes);
    if (bytes === s.length && bytes <= SHORT_ASCII) {
      const buf = this.buf;
      for (let i = 0, at = this.length; i < bytes; i++) buf[at + i] = s.charCodeAt(i);
      this.length += bytes;
    } else {
      this.length += writeText(this.buf, s, this.length, bytes);
    }
  }

  /** A fixed64 field holding `v`. */
  double(tag: number, v: number): void {
    this.varint(tag);
    this.room(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }

  /** A fixed64 field holding these 8 bytes (a NaN with a payload, which a double may not keep). */
  fixed64(tag: number, bytes: Uint8Array): void {
    this.varint(tag);
    this.room(8);
    this.buf.set(bytes, this.length);
    this.length += 8;
  }

  /** Bytes [from, to) written so far, one char a byte. */
  latin1(from: number, to: number): string {
    return this.buf.latin1Slice(from, to);
  }

  /** A latin1() string's bytes back. */
  latin1Bytes(s: string): void {
    this.room(s.length);
    this.length += this.buf.write(s, this.length, 'latin1');
  }

  bytesView(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

// Field tags (field number << 3 | wire type) of the WriteRequest messages.
const WRITE_REQUEST_TIMESERIES = (1 << 3) | 2;
const TIMESERIES_LABEL = (1 << 3) | 2;
const TIMESERIES_SAMPLE = (2 << 3) | 2;
const LABEL_NAME = (1 << 3) | 2;
const LABEL_VALUE = (2 << 3) | 2;
const SAMPLE_VALUE = (1 << 3) | 1;
const SAMPLE_TIMESTAMP = 2 << 3;
const WRITE_REQUEST_METADATA = (3 << 3) | 2;
const METADATA_TYPE = 1 << 3;
const METADATA_FAMILY_NAME = (2 << 3) | 2;
const METADATA_HELP = (4 << 3) | 2;
/** MetricMetadata.MetricType of each family type (untyped: UNKNOWN). */
const METADATA_TYPES: Record<MetricType, number> = { untyped: 0, counter: 1, gauge: 2, histogram: 3, summary: 5 };

/** A MetricMetadata for the family: its type, name and HELP (unescaped), for receivers that keep them (Mimir, Grafana). */
function writeMetadata(w: ProtoWriter, f: Family): void {
  const nameBytes = Buffer.byteLength(f.name);
  const help = f.help === undefined ? '' : unescapeHelp(f.help);
  const helpBytes = Buffer.byteLength(help);
  const size = 2 + 1 + varintSize(nameBytes) + nameBytes + (helpBytes > 0 ? 1 + varintSize(helpBytes) + helpBytes : 0);
  w.varint(WRITE_REQUEST_METADATA);
  w.varint(size);
  w.varint(METADATA_TYPE);
  w.varint(METADATA_TYPES[f.type]);
  w.string(METADATA_FAMILY_NAME, f.name, nameBytes);
  if (helpBytes > 0) w.string(METADATA_HELP, help, helpBytes);
}

/**
 * Prometheus' staleness marker, a NaN with this payload (little-endian):
 * the series is gone as of the sample's time.
 */
const STALE_NAN = Buffer.from([0x02, 0, 0, 0, 0, 0, 0xf0, 0x7f]);

/** A WriteRequest, the series it holds (each one's encoded label fields, as latin1: one char a byte), and the copies left out. */
export interface BuiltRequest {
  body: Buffer;
  series: Set<string>;
  dropped: DroppedSeries;
}

/**
 * The WriteRequest for the store's rendered exposition (UTF-8), samples
 * without a timestamp at `nowMs`, and a staleness marker at `nowMs` for
 * every series of `before` (the series of the last request sent) that it no
 * longer has, as Prometheus marks series that leave a scrape: a query then stops
 * showing them at once rather than after its lookback (5 minutes). Each
 * family's type and HELP go along as metadata. A series that two apps
 * hold is sent once (the first; `dropped` counts the others). Built in
 * slices: the text is parsed a few families at a time (familiesInSlices),
 * and every 256 samples the event loop may get a turn.
 */
export async function writeRequest(rendered: Buffer, nowMs: number, slices = new Slices(), before: ReadonlySet<string> = new Set()): Promise<BuiltRequest> {
  const w = new ProtoWriter(Math.max(1024, rendered.length * 2));
  const series = new Set<string>();
  const dropped: DroppedSeries = { series: 0 };
  let n = 0;
  for await (const { family: f, continued } of familiesInSlices(rendered, slices, dropped)) {
    if (!continued) writeMetadata(w, f);
    for (const s of f.samples) {
      if ((++n & 255) === 0) await slices.pause();
      const timestamp = s.timestamp === undefined ? nowMs : Number(s.timestamp);
      const labelsSize = prepareLabels(s);
      w.varint(WRITE_REQUEST_TIMESERIES);
      w.varint(labelsSize + sampleFieldSize(timestamp));
      const labelsAt = w.length;
      writeLabels(w);
      series.add(w.latin1(labelsAt, w.length));
      writeSample(w, timestamp, goFloat(s.value));
    }
  }
  for (const labelFields of before) {
    if ((++n & 255) === 0) await slices.pause();
    if (series.has(labelFields)) continue;
    w.varint(WRITE_REQUEST_TIMESERIES);
    w.varint(labelFields.length + sampleFieldSize(nowMs));
    w.latin1Bytes(labelFields);
    writeSample(w, nowMs, STALE_NAN);
  }
  return { body: w.bytesView(), series, dropped };
}

/**
 * One series' labels as prepareLabels leaves them for writeLabels: every
 * name and value, sizes, and the order by name. Reused for every series
 * of a request (hundreds of thousands): nothing is allocated per series
 * but the unescaped values that need it.
 */
const labels = { names: [] as string[], values: [] as string[], valueBytes: [] as number[], fieldBytes: [] as number[], order: [] as number[], count: 0 };

/**
 * `__name__` and the sample's labels that have a value (unescaped), ordered
 * by name as the protocol requires, into `labels`; returns the bytes of
 * their Label fields.
 */
function prepareLabels(s: Sample): number {
  const { names, values, valueBytes, fieldBytes, order } = labels;
  names[0] = '__name__';
  values[0] = s.name;
  let n = 1;
  const own = s.labels;
  for (let k = 0; k < own.length; k++) {
    const l = own[k]!;
    if (l.value === '') continue;
    names[n] = l.name;
    values[n] = unescapeLabelValue(l.value);
    n++;
  }
  labels.count = n;
  let size = 0;
  for (let a = 0; a < n; a++) {
    const name = names[a]!;
    let b = a - 1;
    for (; b >= 0 && names[order[b]!]! > name; b--) order[b + 1] = order[b]!;
    order[b + 1] = a;
    // (Label names are ASCII, [a-zA-Z_][a-zA-Z0-9_]*: one byte a character.)
    const vb = (valueBytes[a] = Buffer.byteLength(values[a]!));
    const fb = (fieldBytes[a] = 2 + varintSize(name.length) + name.length + varintSize(vb) + vb);
    size += 1 + varintSize(fb) + fb;
  }
  return size;
}

/** The Label fields prepareLabels prepared. */
function writeLabels(w: ProtoWriter): void {
  const { names, values, valueBytes, fieldBytes, order, count } = labels;
  for (let k = 0; k < count; k++) {
    const i = order[k]!;
    w.varint(TIMESERIES_LABEL);
    w.varint(fieldBytes[i]!);
    w.string(LABEL_NAME, names[i]!, names[i]!.length);
    w.string(LABEL_VALUE, values[i]!, valueBytes[i]!);
  }
}

/** Bytes of a Sample message: the value (fixed64) and the timestamp, each with its tag. */
function sampleSize(timestamp: number): number {
  return 1 + 8 + 1 + varintSize(timestamp);
}

/** Bytes of a TimeSeries' sample field: tag, length, the Sample. */
function sampleFieldSize(timestamp: number): number {
  return 1 + varintSize(sampleSize(timestamp)) + sampleSize(timestamp);
}

/** A TimeSeries' sample field; `value` a number, or the 8 bytes of one (STALE_NAN). */
function writeSample(w: ProtoWriter, timestamp: number, value: number | Uint8Array): void {
  w.varint(TIMESERIES_SAMPLE);
  w.varint(sampleSize(timestamp));
  if (typeof value === 'number') w.double(SAMPLE_VALUE, value);
  else w.fixed64(SAMPLE_VALUE, value);
  w.varint(SAMPLE_TIMESTAMP);
  w.varint(timestamp);
}

/**
 * The remote_write output for one Sender: one POST of every stored sample,
 * and staleness markers for the series sent last time and gone since. It
 * remembers the series of its last successful send (about 150 bytes a
 * series, measured) while the url stays the same.
 */
export function remoteWriteOutput(): OutputKind<RemoteWriteConfig> {
  let sent = { url: '', series: new Set<string>() };
  return {
    name: 'remote_write',
    what: 'remote_write',
    build: async (config, store) => {
      const slices = new Slices();
      const before = sent.url === config.url ? sent.series : new Set<string>();
      const request = await writeRequest(store.body, Date.now(), slices, before);
      return {
        url: config.url,
        method: 'POST',
        headers: { ...config.headers, 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
        body: await snappyCompress(request.body, () => slices.pause()),
        dropped: request.dropped,
        sent: () => void (sent = { url: config.url, series: request.series }),
      };
    },
  };
}
