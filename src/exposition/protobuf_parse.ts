// Decoder for the Pushgateway's protobuf body: a sequence of varint-length-
// prefixed `io.prometheus.client.MetricFamily` messages (Content-Type
// `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
// encoding=delimited`, the default of Go's push client).
//
// The result is exactly the model the text parser builds for the exposition
// Go's text encoder (expfmt.MetricFamilyToText) would write for the same
// families: same sample names and suffixes, labels in wire order with
// `quantile`/`le` appended last, values formatted like Go's writeFloat, label
// values and HELP escaped as the text format writes them, and a `+Inf` bucket
// added from sample_count when a histogram has none. One deliberate
// difference: uint64 counts (`_count`, `_bucket`) are written as exact decimal
// integers where Go writes float64(count) with %g (`1.234567e+06`); both parse
// to the same value, and the decimal form stays exact above 2^53.
//
// Whatever text_parse.ts would reject in that text is rejected here too, so a
// push is accepted or refused the same way in either encoding: invalid names,
// the reserved label `__name__`, duplicate label names (including a metric
// label `le`/`quantile` that the format adds itself), duplicate series
// (DuplicateSeriesError), a family named like another histogram's or
// summary's `_bucket`/`_sum`/`_count` samples, HELP ending in a carriage
// return, and more than maxSeries samples (LimitError). Protobuf-only
// problems (bounds, wire types, GAUGE_HISTOGRAM, a metric lacking the field
// its type needs, invalid UTF-8) are ProtobufError.
//
// Decoding is by hand over offsets into the one body buffer (no sub-buffers,
// no per-byte allocation); field numbers follow client_model's metrics.proto.
// Fields the text format cannot carry (exemplars, created timestamps, native
// histogram buckets, unit) and unknown fields are skipped by wire type.

import { isUtf8 } from 'node:buffer';
import { DuplicateSeriesError, LimitError, ProtobufError, quote } from '../errors.js';
import type { Family, Label, MetricType, ParsedPayload, Sample } from './model.js';
import { plainSample } from './model.js';
import { escapeHelp, escapeLabelValue, isValidLabelName, isValidMetricName, type ParseOptions } from './text_parse.js';

/** The same limit as the text parser: `maxSeries` samples per body, LimitError beyond it. */
export type ProtobufParseOptions = Pick<ParseOptions, 'maxSeries'>;

// Wire types.
const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;
const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32'];

// MetricType enum values.
const COUNTER = 0;
const GAUGE = 1;
const SUMMARY = 2;
const UNTYPED = 3;
const HISTOGRAM = 4;
const GAUGE_HISTOGRAM = 5;
const TYPE_NAMES: MetricType[] = ['counter', 'gauge', 'summary', 'untyped', 'histogram'];
const TYPE_ENUM = ['COUNTER', 'GAUGE', 'SUMMARY', 'UNTYPED', 'HISTOGRAM', 'GAUGE_HISTOGRAM'];
// Metric field carrying the value for each type.
const VALUE_FIELD = ['counter', 'gauge', 'summary', 'untyped', 'histogram'];

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];
const SUMMARY_SUFFIXES = ['_sum', '_count'];
const NO_SUFFIXES: string[] = [];

/** Nesting limit for skipped groups (deprecated wire format, never sent by Go). */
const MAX_GROUP_DEPTH = 32;
/** Up to this many labels per metric, duplicates are found by a linear scan. */
const LINEAR_LABEL_CHECK = 16;

/**
 * A float64 exactly as Go's text encoder writes it (expfmt writeFloat):
 * `0` for both zeros, `NaN`, `+Inf`, `-Inf`, otherwise
 * strconv.FormatFloat(f, 'g', -1, 64): the shortest digits that round-trip,
 * in %e form when the decimal exponent is < -4 or >= 6 (Go fixes the
 * threshold at 6 for shortest precision, so 1e6 is `1e+06` and 1234567 is
 * `1.234567e+06`), with an exponent of at least two digits (`1e-05`).
 */
export function formatGoFloat(x: number): string {
  if (x === 0) return '0';
  if (x !== x) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  const a = x < 0 ? -x : x;
  // JS writes fixed notation with the same shortest digits in this range.
  if (a >= 1e-4 && a < 1e6) return String(x);
  const s = x.toExponential(); // shortest round-trip digits: "d.ddde+N"
  const e = s.indexOf('e');
  return s.length - e === 3 ? s.slice(0, e + 2) + '0' + s.slice(e + 2) : s;
}

/** Scratch state reused across metrics of one body; never escapes a call. */
class Decoder {
  pos = 0;
  /** 1-based index of the delimited message being decoded. */
  family = 0;
  familyName: string | undefined;
  /** 0-based index of the Metric being decoded, -1 outside one. */
  metric = -1;
  series = 0;
  /** [start, end) of each Metric of the current family, flattened. */
  readonly metricRanges: number[] = [];
  /** Summary quantiles of the current metric as (quantile, value) pairs. */
  readonly quantiles: number[] = [];
  readonly bucketBounds: number[] = [];
  readonly bucketCounts: string[] = [];
  /** Label names of the current metric once it has LINEAR_LABEL_CHECK labels. */
  labelSet: Set<string> | undefined;
  /**
   * Label sets of the current family's metrics (sorted name=value pairs).
   * Every metric of a family expands to the same sample names, so two metrics
   * with one label set are duplicate series, and nothing else is (apart from
   * repeated `le`/`quantile` values inside one metric, checked there).
   */
  readonly seriesKeys = new Set<string>();

  constructor(
    readonly buf: Buffer,
    readonly maxSeries: number,
  ) {}

  fail(field: string, at: number, detail: string): never {
    let where = '';
    if (this.familyName !== undefined) where = `${quote(this.familyName)} `;
    if (this.metric >= 0) where += `metric ${this.metric} `;
    throw new ProtobufError(this.family, where + field, at, detail);
  }

  varint(end: number, field: string): number {
    const buf = this.buf;
    let pos = this.pos;
    const start = pos;
    if (pos < end) {
      const b = buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) this.fail(field, start, 'truncated varint');
      const b = buf[pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
      mul *= 128;
    }
    this.fail(field, start, 'varint longer than 10 bytes');
  }

  /** A uint64 (or, when `signed`, int64) varint as an exact decimal string. */
  varintString(end: number, field: string, signed: boolean): string {
    const start = this.pos;
    const n = this.varint(end, field);
    if (n <= Number.MAX_SAFE_INTEGER) return String(n);
    let big = 0n;
    for (let i = this.pos - 1; i >= start; i--) big = (big << 7n) | BigInt(this.buf[i]! & 0x7f);
    return (signed ? BigInt.asIntN(64, big) : BigInt.asUintN(64, big)).toString();
  }

  /** Reads a length prefix and returns the end offset of the bytes it announces. */
  lenEnd(end: number, field: string): number {
    const at = this.pos;
    const len = this.varint(end, field);
    if (len > end - this.pos) {
      this.fail(field, at, `length ${len} past end of enclosing message (${end - this.pos} bytes left)`);
    }
    return this.pos + len;
  }

  wire(wt: number, want: number, field: string, at: number): void {
    if (wt !== want) {
      this.fail(field, at, `wrong wire type ${WIRE_NAMES[wt] ?? wt}, want ${WIRE_NAMES[want]}`);
    }
  }

  double(wt: number, end: number, field: string, at: number): number {
    this.wire(wt, I64, field, at);
    const pos = this.pos;
    if (end - pos < 8) this.fail(field, pos, 'truncated fixed64');
    this.pos = pos + 8;
    return this.buf.readDoubleLE(pos);
  }

  string(wt: number, end: number, field: string, at: number): string {
    this.wire(wt, LEN, field, at);
    const stop = this.lenEnd(end, field);
    const start = this.pos;
    this.pos = stop;
    const s = this.buf.toString('utf8', start, stop);
    // U+FFFD is either sent as such or stands for invalid bytes; only then check.
    if (s.includes('\uFFFD') && !isUtf8(this.buf.subarray(start, stop))) {
      this.fail(field, start, 'string is not valid UTF-8');
    }
    return s;
  }

  /** Reads a tag; returns field number * 8 + wire type (the raw tag). */
  tag(end: number, message: string): number {
    const at = this.pos;
    const t = this.varint(end, message);
    if (t > 0xffffffff || t < 8) this.fail(message, at, `invalid field number ${Math.floor(t / 8)}`);
    return t;
  }

  skip(tag: number, end: number, field: string, at: number, depth = 0): void {
    const wt = tag & 7;
    switch (wt) {
      case VARINT:
        this.varint(end, field);
        return;
      case I64:
        if (end - this.pos < 8) this.fail(field, this.pos, 'truncated fixed64');
        this.pos += 8;
        return;
      case LEN:
        this.pos = this.lenEnd(end, field);
        return;
      case I32:
        if (end - this.pos < 4) this.fail(field, this.pos, 'truncated fixed32');
        this.pos += 4;
        return;
      case SGROUP: {
        if (depth >= MAX_GROUP_DEPTH) this.fail(field, at, 'groups nested too deeply');
        const num = tag >>> 3;
        for (;;) {
          if (this.pos >= end) this.fail(field, at, `unterminated group ${num}`);
          const innerAt = this.pos;
          const inner = this.tag(end, field);
          if ((inner & 7) === EGROUP) {
            if (inner >>> 3 !== num) this.fail(field, innerAt, `end of group ${inner >>> 3} inside group ${num}`);
            return;
          }
          this.skip(inner, end, field, innerAt, depth + 1);
        }
      }
      case EGROUP:
        this.fail(field, at, `unexpected end of group ${tag >>> 3}`);
      default:
        this.fail(field, at, `invalid wire type ${wt}`);
    }
  }

  addSeries(n: number): void {
    this.series += n;
    if (this.series > this.maxSeries) {
      throw new LimitError(`payload has more than ${this.maxSeries} series (limit maxSeries)`);
    }
  }

  decodeFamily(end: number): Family {
    const ranges = this.metricRanges;
    ranges.length = 0;
    let name: string | undefined;
    let help: string | undefined;
    let typeNum = COUNTER; // proto2 default of the enum
    let nameAt = this.pos;
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.tag(end, 'MetricFamily');
      const wt = tag & 7;
      switch (tag >>> 3) {
        case 1:
          nameAt = at;
          name = this.string(wt, end, 'MetricFamily.name', at);
          break;
        case 2:
          help = this.string(wt, end, 'MetricFamily.help', at);
          break;
        case 3:
          this.wire(wt, VARINT, 'MetricFamily.type', at);
          typeNum = this.varint(end, 'MetricFamily.type');
          if (typeNum > GAUGE_HISTOGRAM) this.fail('MetricFamily.type', at, `unknown MetricType ${typeNum}`);
          break;
        case 4: {
          this.wire(wt, LEN, 'MetricFamily.metric', at);
          const mEnd = this.lenEnd(end, 'MetricFamily.metric');
          ranges.push(this.pos, mEnd);
          this.pos = mEnd;
          break;
        }
        default:
          this.skip(tag, end, 'MetricFamily', at);
      }
    }

    if (name === undefined || name === '') this.fail('MetricFamily.name', nameAt, 'metric family has no name');
    this.familyName = name;
    if (!isValidMetricName(name)) this.fail('MetricFamily.name', nameAt, `invalid metric name ${quote(name)}`);
    if (typeNum === GAUGE_HISTOGRAM) {
      this.fail('MetricFamily.type', nameAt, 'GAUGE_HISTOGRAM cannot be represented in text format 0.0.4');
    }

    const samples: Sample[] = [];
    this.seriesKeys.clear();
    for (let i = 0; i < ranges.length; i += 2) {
      this.metric = i >> 1;
      this.pos = ranges[i]!;
      this.decodeMetric(ranges[i + 1]!, typeNum, name, samples);
    }
    this.metric = -1;
    this.pos = end;

    const family: Family = { name, type: TYPE_NAMES[typeNum]!, typeDeclared: true, samples };
    if (help !== undefined) {
      // The text line would end in CR LF, which the text parser reads as LF.
      if (help.endsWith('\r')) this.fail('MetricFamily.help', nameAt, 'HELP text ends in a carriage return');
      family.help = escapeHelp(help);
    }
    return family;
  }

  decodeLabel(end: number, labels: Label[]): void {
    let name = '';
    let value = '';
    const start = this.pos;
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.tag(end, 'LabelPair');
      const wt = tag & 7;
      switch (tag >>> 3) {
        case 1:
          name = this.string(wt, end, 'LabelPair.name', at);
          break;
        case 2:
          value = this.string(wt, end, 'LabelPair.value', at);
          break;
        default:
          this.skip(tag, end, 'LabelPair', at);
      }
    }
    if (!isValidLabelName(name)) this.fail('LabelPair.name', start, `invalid label name ${quote(name)}`);
    if (name === '__name__') this.fail('LabelPair.name', start, 'label name "__name__" is reserved');
    const n = labels.length;
    let dup = false;
    if (n < LINEAR_LABEL_CHECK) {
      for (let i = 0; i < n; i++) if (labels[i]!.name === name) dup = true;
    } else {
      // Many labels: a set keeps a hostile body from costing O(n^2).
      if (this.labelSet === undefined || n === LINEAR_LABEL_CHECK) {
        this.labelSet = new Set();
        for (let i = 0; i < n; i++) this.labelSet.add(labels[i]!.name);
      }
      dup = this.labelSet.has(name);
      this.labelSet.add(name);
    }
    if (dup) this.fail('LabelPair.name', start, `duplicate label name ${quote(name)}`);
    labels.push({ name, value: escapeLabelValue(value) });
  }

  /** Counter, Gauge and Untyped: `value` is field 1; the rest is skipped. */
  decodeSingle(end: number, message: string, current: number): number {
    let value = current;
    while (this.pos < end) {
      const at = this.pos;
      const tag = this.tag(end, message);
      if (tag >>> 3 === 1) value = this.double(tag & 7, end, message + '.value', at);
      else this.skip(tag, end, message, at);
    }
    return value;
  }

  decodeMetric(end: number, typeNum: number, name: string, out: Sample[]): void {
    const labels: Label[] = [];
    const quantiles = this.quantiles;
    const bounds = this.bucketBounds;
    const counts = this.bucketCounts;
    quantiles.length = 0;
    bounds.length = 0;
    counts.length = 0;
    let timestamp: string | undefined;
    let present = false;
    let value = 0;
    let sum = 0;
    let count = '0';
    let countFloat = 0;
    const start = this.pos;

    while (this.pos < end) {
      const at = this.pos;
      const tag = this.tag(end, 'Metric');
      const wt = tag & 7;
      const field = tag >>> 3;
      if (field === 1) {
        this.wire(wt, LEN, 'Metric.label', at);
        const lEnd = this.lenEnd(end, 'Metric.label');
        this.decodeLabel(lEnd, labels);
      } else if (field === 6) {
        this.wire(wt, VARINT, 'Metric.timestamp_ms', at);
        timestamp = this.varintString(end, 'Metric.timestamp_ms', true);
      } else if (
        (field === 3 && typeNum === COUNTER) ||
        (field === 2 && typeNum === GAUGE) ||
        (field === 5 && typeNum === UNTYPED)
      ) {
        const message = field === 3 ? 'Counter' : field === 2 ? 'Gauge' : 'Untyped';
        this.wire(wt, LEN, 'Metric.' + VALUE_FIELD[typeNum], at);
        const vEnd = this.lenEnd(end, 'Metric.' + VALUE_FIELD[typeNum]);
        value = this.decodeSingle(vEnd, message, value);
        present = true;
      } else if (field === 4 && typeNum === SUMMARY) {
        this.wire(wt, LEN, 'Metric.summary', at);
        const sEnd = this.lenEnd(end, 'Metric.summary');
        present = true;
        while (this.pos < sEnd) {
          const fAt = this.pos;
          const t = this.tag(sEnd, 'Summary');
          switch (t >>> 3) {
            case 1:
              this.wire(t & 7, VARINT, 'Summary.sample_count', fAt);
              count = this.varintString(sEnd, 'Summary.sample_count', false);
              break;
            case 2:
              sum = this.double(t & 7, sEnd, 'Summary.sample_sum', fAt);
              break;
            case 3: {
              this.wire(t & 7, LEN, 'Summary.quantile', fAt);
              const qEnd = this.lenEnd(sEnd, 'Summary.quantile');
              let q = 0;
              let v = 0;
              while (this.pos < qEnd) {
                const qAt = this.pos;
                const qt = this.tag(qEnd, 'Quantile');
                if (qt >>> 3 === 1) q = this.double(qt & 7, qEnd, 'Quantile.quantile', qAt);
                else if (qt >>> 3 === 2) v = this.double(qt & 7, qEnd, 'Quantile.value', qAt);
                else this.skip(qt, qEnd, 'Quantile', qAt);
              }
              quantiles.push(q, v);
              break;
            }
            default:
              this.skip(t, sEnd, 'Summary', fAt);
          }
        }
      } else if (field === 7 && typeNum === HISTOGRAM) {
        this.wire(wt, LEN, 'Metric.histogram', at);
        const hEnd = this.lenEnd(end, 'Metric.histogram');
        present = true;
        while (this.pos < hEnd) {
          const fAt = this.pos;
          const t = this.tag(hEnd, 'Histogram');
          switch (t >>> 3) {
            case 1:
              this.wire(t & 7, VARINT, 'Histogram.sample_count', fAt);
              count = this.varintString(hEnd, 'Histogram.sample_count', false);
              break;
            case 2:
              sum = this.double(t & 7, hEnd, 'Histogram.sample_sum', fAt);
              break;
            case 4:
              countFloat = this.double(t & 7, hEnd, 'Histogram.sample_count_float', fAt);
              break;
            case 3: {
              this.wire(t & 7, LEN, 'Histogram.bucket', fAt);
              const bEnd = this.lenEnd(hEnd, 'Histogram.bucket');
              let bCount = '0';
              let bCountFloat = 0;
              let ub = 0;
              while (this.pos < bEnd) {
                const bAt = this.pos;
                const bt = this.tag(bEnd, 'Bucket');
                switch (bt >>> 3) {
                  case 1:
                    this.wire(bt & 7, VARINT, 'Bucket.cumulative_count', bAt);
                    bCount = this.varintString(bEnd, 'Bucket.cumulative_count', false);
                    break;
                  case 2:
                    ub = this.double(bt & 7, bEnd, 'Bucket.upper_bound', bAt);
                    break;
                  case 4:
                    bCountFloat = this.double(bt & 7, bEnd, 'Bucket.cumulative_count_float', bAt);
                    break;
                  default:
                    this.skip(bt, bEnd, 'Bucket', bAt);
                }
              }
              bounds.push(ub);
              // client_model: the float count overrides the integer one if > 0.
              counts.push(bCountFloat > 0 ? formatGoFloat(bCountFloat) : bCount);
              break;
            }
            default:
              this.skip(t, hEnd, 'Histogram', fAt);
          }
        }
      } else {
        this.skip(tag, end, 'Metric', at);
      }
    }

    if (!present) {
      this.fail(
        'Metric.' + VALUE_FIELD[typeNum],
        start,
        `missing ${VALUE_FIELD[typeNum]} field in a metric of a ${TYPE_ENUM[typeNum]} family`,
      );
    }

    this.checkSeries(name, labels, start);

    switch (typeNum) {
      case COUNTER:
      case GAUGE:
      case UNTYPED:
        this.addSeries(1);
        out.push(plainSample(name, labels, formatGoFloat(value), timestamp));
        return;
      case SUMMARY: {
        this.addSeries(quantiles.length / 2 + 2);
        this.checkExtraLabel(labels, 'quantile', start);
        const first = out.length;
        for (let i = 0; i < quantiles.length; i += 2) {
          const q = formatGoFloat(quantiles[i]!);
          this.checkExtraValue(out, first, q, name, labels, 'quantile', start);
          const withQ = labels.slice();
          withQ.push({ name: 'quantile', value: q });
          out.push(plainSample(name, withQ, formatGoFloat(quantiles[i + 1]!), timestamp));
        }
        out.push(plainSample(name + '_sum', labels.slice(), formatGoFloat(sum), timestamp));
        out.push(plainSample(name + '_count', labels, count, timestamp));
        return;
      }
      default: {
        // HISTOGRAM
        let infSeen = false;
        for (let i = 0; i < bounds.length; i++) if (bounds[i] === Infinity) infSeen = true;
        const total = countFloat > 0 ? formatGoFloat(countFloat) : count;
        this.addSeries(bounds.length + (infSeen ? 0 : 1) + 2);
        this.checkExtraLabel(labels, 'le', start);
        const bucketName = name + '_bucket';
        const first = out.length;
        for (let i = 0; i < bounds.length; i++) {
          const le = formatGoFloat(bounds[i]!);
          this.checkExtraValue(out, first, le, bucketName, labels, 'le', start);
          const withLe = labels.slice();
          withLe.push({ name: 'le', value: le });
          out.push(plainSample(bucketName, withLe, counts[i]!, timestamp));
        }
        if (!infSeen) {
          const withLe = labels.slice();
          withLe.push({ name: 'le', value: '+Inf' });
          out.push(plainSample(bucketName, withLe, total, timestamp));
        }
        out.push(plainSample(name + '_sum', labels.slice(), formatGoFloat(sum), timestamp));
        out.push(plainSample(name + '_count', labels, total, timestamp));
      }
    }
  }

  /** Rejects a second metric of the family with the same label set (any order). */
  checkSeries(name: string, labels: Label[], at: number): void {
    let sorted = labels;
    for (let k = 1; k < labels.length; k++) {
      if (labels[k - 1]!.name > labels[k]!.name) {
        sorted = labels.slice().sort((a, b) => (a.name < b.name ? -1 : 1));
        break;
      }
    }
    let key = '';
    for (let k = 0; k < sorted.length; k++) key += sorted[k]!.name + '=' + sorted[k]!.value + '\n';
    if (this.seriesKeys.size === this.seriesKeys.add(key).size) {
      throw new DuplicateSeriesError(
        `family ${this.family}, ${quote(name)} metric ${this.metric}, byte ${at}: duplicate series ${quote(seriesText(name, labels))}`,
      );
    }
  }

  /**
   * Rejects a repeated `le`/`quantile` value within one metric (samples
   * out[first..] are this metric's buckets/quantiles so far). Values are Go
   * formatted, so numerically equal bounds have equal text.
   */
  checkExtraValue(out: Sample[], first: number, value: string, name: string, labels: Label[], extra: string, at: number): void {
    for (let i = first; i < out.length; i++) {
      const ls = out[i]!.labels;
      if (ls[ls.length - 1]!.value === value) {
        const withExtra = labels.concat({ name: extra, value });
        throw new DuplicateSeriesError(
          `family ${this.family}, ${quote(this.familyName ?? '')} metric ${this.metric}, byte ${at}: duplicate series ${quote(seriesText(name, withExtra))}`,
        );
      }
    }
  }

  /** `quantile`/`le` is added by the format; a metric label of that name would repeat it. */
  checkExtraLabel(labels: Label[], extra: string, at: number): void {
    for (let i = 0; i < labels.length; i++) {
      if (labels[i]!.name === extra) {
        this.fail('LabelPair.name', at, `duplicate label name ${quote(extra)} (added by the ${extra === 'le' ? 'histogram' : 'summary'} format)`);
      }
    }
  }
}

/** `name{a="b",...}` for error messages. */
function seriesText(name: string, labels: Label[]): string {
  if (labels.length === 0) return name;
  let s = name + '{';
  for (let i = 0; i < labels.length; i++) s += (i > 0 ? ',' : '') + labels[i]!.name + '="' + labels[i]!.value + '"';
  return s + '}';
}

/**
 * Decodes a body of varint-length-prefixed MetricFamily messages into the
 * family model, in body order. Throws ProtobufError for malformed or
 * unrepresentable input (bad bounds or wire types, invalid or duplicate
 * names, GAUGE_HISTOGRAM, a metric without the field its type needs) and
 * LimitError when the body holds more than `maxSeries` samples.
 */
export function parseProtobufDelimited(body: Buffer, opts: ProtobufParseOptions = {}): ParsedPayload {
  const d = new Decoder(body, opts.maxSeries ?? Infinity);
  const families: Family[] = [];
  const seen = new Map<string, MetricType>();
  const end = body.length;
  while (d.pos < end) {
    d.family++;
    d.familyName = undefined;
    d.metric = -1;
    const at = d.pos;
    const msgEnd = d.lenEnd(end, 'length prefix');
    const family = d.decodeFamily(msgEnd);
    const name = family.name;
    if (seen.has(name)) d.fail('MetricFamily.name', at, `duplicate metric family ${quote(name)} in one body`);
    // In text, `x_bucket`/`x_sum`/`x_count` lines belong to histogram/summary
    // `x`; a family of that name beside it is ambiguous and the text parser
    // rejects it, whichever comes first.
    const suffixes = family.type === 'histogram' ? HISTOGRAM_SUFFIXES : family.type === 'summary' ? SUMMARY_SUFFIXES : NO_SUFFIXES;
    for (const sfx of suffixes) {
      if (seen.has(name + sfx)) {
        d.fail('MetricFamily.name', at, `${family.type} ${quote(name)} conflicts with metric family ${quote(name + sfx)}`);
      }
    }
    for (const sfx of HISTOGRAM_SUFFIXES) {
      if (name.length > sfx.length && name.endsWith(sfx)) {
        const base = name.slice(0, name.length - sfx.length);
        const t = seen.get(base);
        if (t === 'histogram' || (t === 'summary' && sfx !== '_bucket')) {
          d.fail('MetricFamily.name', at, `metric family ${quote(name)} conflicts with ${t} ${quote(base)}`);
        }
      }
    }
    seen.set(name, family.type);
    families.push(family);
  }
  return { families, series: d.series };
}
