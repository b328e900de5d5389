// Fuzz properties shared by the bounded runs in `npm test` (test/fuzz/) and
// the long runs of bench/fuzz.ts. Each target states what must hold for ANY
// input:
//
//   text     parseText returns or throws a ProxyError (never another error,
//            never a hang); what it accepts renders to text it accepts again,
//            and that rendering is a fixed point. With keepFirstDuplicate it
//            differs only where the plain parse found a duplicate series, and
//            what it keeps holds none.
//   store    any sequence of pushes leaves a /metrics that parses (as the
//            outputs read it, without app_label).
//   json     the JSON stream splitter on arbitrary bytes: returns or throws a
//            ProxyError; the messages and the error do not depend on how the
//            bytes are cut into chunks.
//   capnp    the same for the Cap'n Proto framer (standard and packed).
//   capnp_struct  our in-place struct reader against capnp-ts reading the
//            same framed message: the same app and text, or both refuse it.
//   repeat   a payload after another for one app: when the store takes it
//            as a repeat (Store.repeatPrepared, no parse), parsing it gives
//            the same stored families, headers and lines.
//   repeat_sequence  puts, repeats, renders and removes over three apps:
//            the store holds after every step what one fed parsed payloads
//            holds (buffers given back for reuse are never still in use).

import fc from 'fast-check';
import { ProxyError } from '../../src/errors.js';
import { parseText } from '../../src/exposition/text_parse.js';
import type { Label, ParsedPayload } from '../../src/exposition/model.js';
import { renderFamilies } from '../../src/exposition/text_render.js';
import { JsonStreamDecoder } from '../../src/codecs/json.js';
import { CapnpStreamDecoder } from '../../src/codecs/capnp.js';
import { capnpEncode, capnpTsRead } from '../capnp_ts.js';
import { readInboundMetrics } from '../../src/codecs/capnp_read.js';
import type { InboundMessage, StreamDecoder } from '../../src/codecs/types.js';
import { Store, type Update } from '../../src/store/store.js';
import { RenderCache } from '../../src/store/render_cache.js';

/** A single call slower than this counts as a hang (inputs are at most tens of KB). */
export const HANG_MS = 2000;

function timed<T>(what: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    const ms = performance.now() - t0;
    if (ms > HANG_MS) throw new Error(`${what} took ${ms.toFixed(0)} ms: a hang or superlinear path`);
  }
}

/** Run fn; a ProxyError is an allowed outcome (returned), anything else is a bug (rethrown). */
export function proxyErrorOr<T>(fn: () => T): { value?: T; error?: ProxyError } {
  try {
    return { value: fn() };
  } catch (err) {
    if (err instanceof ProxyError) return { error: err };
    throw err;
  }
}

// ---- exposition text ------------------------------------------------------

const NAMES = ['m', 'http_requests_total', 'lat', 'lat_bucket', 'lat_sum', 'lat_count', 'q', 'q_sum', 'q_count', 'a:b', '_x', 'x_created', '0bad', 'x-y', 'ü', ''];
const LABEL_NAMES = ['le', 'quantile', 'code', 'app', '__name__', '_', 'a', 'é', '0', ''];
const VALUES = ['1', '0', '-1', '1.5', '1e3', '-1E-3', 'NaN', '+Inf', '-Inf', 'Inf', 'nan', '0x10', '1_000', '.5', '5.', '', ' ', '1e400', '-0'];
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped', 'info', 'COUNTER', ''];
const VALUE_UNITS = ['a', 'b', ' ', '\\', '"', '\n', '\\n', '\\"', '\\\\', '\\t', 'é', '}', '{', ',', '=', '\u0000', '\u2028', '\ud800', '😀'];

const name = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });
const labelValue = fc.string({ unit: fc.constantFrom(...VALUE_UNITS), maxLength: 8 });
const label = fc.tuple(fc.constantFrom(...LABEL_NAMES), labelValue, fc.constantFrom('=', ' = ', '=', '')).map(([n, v, eq]) => `${n}${eq}"${v}"`);
const labels = fc.oneof(
  fc.constant(''),
  fc.tuple(fc.array(label, { maxLength: 4 }), fc.constantFrom(',', ', ', ',,'), fc.boolean()).map(([ls, sep, trailing]) => `{${ls.join(sep)}${trailing ? ',' : ''}}`),
  fc.constantFrom('{', '}', '{}', '{a="1"', '{a=1}', '{a="1"}}'),
);
const value = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...VALUES) }, { weight: 1, arbitrary: fc.double().map(String) });
const timestamp = fc.oneof(fc.constant(''), fc.constantFrom(' 1395066363000', ' -1', ' 1.5', ' 99999999999999999999', ' x', '  7'));
const sampleLine = fc.tuple(name, labels, fc.constantFrom(' ', '  ', '\t', ''), value, timestamp).map(([n, l, sp, v, t]) => `${n}${l}${sp}${v}${t}`);
const helpLine = fc.tuple(name, fc.string({ unit: fc.constantFrom(...VALUE_UNITS), maxLength: 10 })).map(([n, h]) => `# HELP ${n} ${h}`);
const typeLine = fc.tuple(name, fc.constantFrom(...TYPES)).map(([n, t]) => `# TYPE ${n} ${t}`);
const junkLine = fc.oneof(fc.constantFrom('', '#', '# comment', '#HELP m x', '# TYPE', '# HELP', '  m 1', 'm 1 2 3', '\r'), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 20 }));
const line = fc.oneof({ weight: 6, arbitrary: sampleLine }, { weight: 2, arbitrary: typeLine }, { weight: 1, arbitrary: helpLine }, { weight: 1, arbitrary: junkLine });

// Lines drawn from the valid grammar only, so that whole payloads parse often
// and the render round trip and store merging get exercised.
const VALID_NAMES = ['m', 'http_requests_total', 'lat', 'lat_bucket', 'lat_sum', 'lat_count', 'q', 'q_sum', 'q_count', 'a:b', '_x', 'up'];
const VALID_VALUE_UNITS = ['a', 'b', ' ', '\\\\', '\\"', '\\n', 'é', '}', '{', ',', '=', '#', '\u2028', '😀'];
const validLabelValue = fc.string({ unit: fc.constantFrom(...VALID_VALUE_UNITS), maxLength: 6 });
const validLabels = fc
  .uniqueArray(fc.tuple(fc.constantFrom('le', 'quantile', 'code', 'path', 'app', '_', 'a'), validLabelValue), { selector: (l) => l[0], maxLength: 3 })
  .map((ls) => (ls.length ? `{${ls.map(([n, v]) => `${n}="${v}"`).join(',')}}` : ''));
const validValue = fc.oneof(fc.constantFrom('1', '0', '-1', '1.5', '1e3', 'NaN', '+Inf', '-Inf', '0.25', '+0.5'), fc.integer().map(String));
const validSample = fc.tuple(fc.constantFrom(...VALID_NAMES), validLabels, validValue, fc.constantFrom('', '', ' 1395066363000', ' -5')).map(([n, l, v, t]) => `${n}${l} ${v}${t}`);
const validType = fc.tuple(fc.constantFrom(...VALID_NAMES), fc.constantFrom('counter', 'gauge', 'histogram', 'summary', 'untyped')).map(([n, t]) => `# TYPE ${n} ${t}`);
const validHelp = fc.tuple(fc.constantFrom(...VALID_NAMES), fc.string({ unit: fc.constantFrom('x', ' ', '\\\\', '\\n', 'é', '"'), maxLength: 8 })).map(([n, h]) => `# HELP ${n} ${h}`);
const validLine = fc.oneof({ weight: 8, arbitrary: validSample }, { weight: 2, arbitrary: validType }, { weight: 1, arbitrary: validHelp }, { weight: 1, arbitrary: fc.constantFrom('', '# a comment') });

/** Exposition-like text: grammar-valid lines, near-valid lines, plain random strings. */
export const expositionText = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.array(validLine, { maxLength: 25 }), fc.constantFrom('\n', '\n', '\r\n'), fc.boolean()).map(([ls, nl, end]) => ls.join(nl) + (end ? '\n' : '')) },
  { weight: 6, arbitrary: fc.tuple(fc.array(line, { maxLength: 30 }), fc.constantFrom('\n', '\r\n', '\n\n'), fc.boolean()).map(([ls, nl, end]) => ls.join(nl) + (end ? '\n' : '')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('m', ' ', '1', '\n', '{', '}', '"', '=', '#', ',', '\\', 'a', 'TYPE', 'HELP', 'counter', 'histogram', '_bucket', 'le', '+Inf'), maxLength: 200 }) },
);

export function checkText(text: string): void {
  const first = timed('parseText', () => proxyErrorOr(() => parseText(text)));
  checkKeepFirst(text, first);
  if (!first.value) return;
  const rendered = renderFamilies(first.value.families);
  const again = proxyErrorOr(() => parseText(rendered));
  if (again.error) throw new Error(`parseText accepted the input but rejects its own rendering (${again.error.code}: ${again.error.message}):\n${JSON.stringify(rendered)}`);
  const twice = renderFamilies(again.value!.families);
  if (twice !== rendered) throw new Error(`rendering is not a fixed point:\n${JSON.stringify(rendered)}\n${JSON.stringify(twice)}`);
}

/**
 * keepFirstDuplicate against the plain parse of the same text: the same
 * result or error, except after a duplicate series, where it goes on and
 * returns families without one (or fails later in the text).
 */
function checkKeepFirst(text: string, plainParse: { value?: ParsedPayload; error?: ProxyError }): void {
  const kept = proxyErrorOr(() => parseText(text, { keepFirstDuplicate: true }));
  const show = (r: { value?: ParsedPayload; error?: ProxyError }) => (r.error ? `${r.error.code}: ${r.error.message}` : JSON.stringify(renderFamilies(r.value!.families)));
  const fail = (why: string) => {
    throw new Error(`keepFirstDuplicate ${why}:\n${JSON.stringify(text)}\nplain: ${show(plainParse)}\nkept:  ${show(kept)}`);
  };
  if (plainParse.error?.code !== 'E_DUPLICATE_SERIES') {
    if (show(kept) !== show(plainParse) || kept.value?.dropped !== undefined) fail('differs where there is no duplicate');
    return;
  }
  if (kept.error?.code === 'E_DUPLICATE_SERIES') fail('threw a duplicate');
  if (kept.value) {
    if (!(kept.value.dropped && kept.value.dropped.series >= 1)) fail('dropped nothing');
    const again = proxyErrorOr(() => parseText(renderFamilies(kept.value!.families)));
    if (again.error) fail(`kept what does not parse again (${again.error.code}: ${again.error.message})`);
  }
}

export const textProperty = () => fc.property(expositionText, (t) => checkText(t));

// ---- the store: /metrics stays valid ---------------------------------------

export function checkStore(pushes: [app: number, text: string, merge: boolean][]): void {
  // With app_label /metrics parses as it is; without, two apps may hold one
  // series, and it parses as the outputs read it (keepFirstDuplicate), or
  // as it is when no family overlaps (Store.overlappingFamilies).
  for (const appLabel of ['app', '']) {
    const store = new Store({ ttlMs: 0, appLabel, reservedPrefix: 'exporter_proxy_' });
    const cache = new RenderCache(store);
    for (const [app, text, merge] of pushes) {
      timed('Store.put', () => proxyErrorOr(() => store.put({ app: `app${app}`, text, source: 'fuzz', receiver: 'tcp', mode: merge ? 'merge' : 'replace' })));
      const body = cache.current().body.toString();
      // A series can be in /metrics twice only in an overlapping family (what push_out relies on).
      const r = proxyErrorOr(() => parseText(body, { keepFirstDuplicate: appLabel === '' && store.overlappingFamilies() > 0 }));
      if (r.error) throw new Error(`/metrics (app_label "${appLabel}") does not parse after a push (${r.error.code}: ${r.error.message}):\n${body}`);
    }
  }
}

export const storeProperty = () => fc.property(fc.array(fc.tuple(fc.nat(3), expositionText, fc.boolean()), { minLength: 1, maxLength: 8 }), (p) => checkStore(p));

// ---- the store's repeat path ---------------------------------------------------

/** How the first payload is held when the second comes, and the labels the store adds. */
export interface RepeatSetup {
  appLabel: string;
  /** Held rendered (after a scrape) rather than as sent. */
  rendered: boolean;
  labels?: Label[];
  defaultLabels?: Label[];
}

/** The app's stored families (name, type, HELP, lines) and series count. */
function storedApp(store: Store, app: string): string {
  const a = store.getApp(app);
  return JSON.stringify(a && { series: a.info.series, families: a.families.map((f) => [f.name, f.type, f.help, f.text]) });
}

/**
 * Store `first` for one app, held as `setup` says, then offer `second` as
 * a repeat. Taken (returns true) only if the parse path accepts `second`
 * after `first` too and stores exactly the same; throws otherwise.
 */
export function checkRepeat(first: string, second: string, setup: RepeatSetup): boolean {
  const newStore = () => new Store({ ttlMs: 0, appLabel: setup.appLabel, reservedPrefix: 'exporter_proxy_' });
  const update: Update = { app: 'a', source: 'fuzz', receiver: 'tcp', labels: setup.labels, defaultLabels: setup.defaultLabels };
  let store = newStore();
  if (proxyErrorOr(() => store.put({ ...update, text: first })).error) return false;
  if (setup.rendered) store.renderPending();
  else if (store.pendingCount === 0) {
    // Without added labels a parsed payload is stored rendered; a repeat of it is kept as sent.
    const again = store.repeatPrepared(update, first, []);
    if (again) store.put({ ...update, prepared: again });
    else {
      // (A store that just missed waits an update before it tries again: start over, held rendered.)
      store = newStore();
      store.put({ ...update, text: first });
    }
  }
  const prepared = timed('Store.repeatPrepared', () => store.repeatPrepared(update, second, []));
  if (!prepared) return false;
  const fail = (why: string) => {
    throw new Error(`a repeat ${why} (${JSON.stringify(setup)}):\nfirst  ${JSON.stringify(first)}\nsecond ${JSON.stringify(second)}`);
  };
  const reference = newStore();
  reference.put({ ...update, payload: parseText(first) });
  const parsed = proxyErrorOr(() => reference.put({ ...update, payload: parseText(second) }));
  if (parsed.error) fail(`was taken that the parse path refuses (${parsed.error.code}: ${parsed.error.message})`);
  const put = proxyErrorOr(() => store.put({ ...update, prepared }));
  if (put.error) fail(`was refused by the store (${put.error.code}: ${put.error.message})`);
  const got = storedApp(store, 'a');
  const want = storedApp(reference, 'a');
  if (got !== want) fail(`stored something else than the parse path:\nrepeat ${got}\nparse  ${want}`);
  return true;
}

/** What client libraries push: families with HELP and TYPE lines, then their samples, valid and canonical (mostly). */
const clientFamily = fc.record({
  name: fc.constantFrom('m', 'http_requests_total', 'lat', 'q', 'a:b', '_x', 'up', 'lat_sum', 'q_count'),
  /** Without: only its HELP and TYPE lines, as clients write a labelled metric with no series yet. */
  samples: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  help: fc.option(fc.string({ unit: fc.constantFrom('x', ' ', '\\\\', '\\n', '"'), maxLength: 8 })),
  type: fc.constantFrom('counter', 'gauge', 'histogram', 'summary', 'untyped', undefined),
  // ASCII, as most payloads are (a payload that is not is never taken as a repeat).
  labels: fc.uniqueArray(fc.tuple(fc.constantFrom('code', 'path', '_', 'a'), fc.string({ unit: fc.constantFrom('a', ' ', '\\\\', '\\"', '\\n', '}', '{', ',', '=', '#'), maxLength: 6 })), { selector: (l) => l[0], maxLength: 2 }),
  series: fc.integer({ min: 1, max: 3 }),
  /** A blank line after it, as prom-client writes. */
  gap: fc.boolean(),
});
const clientText = fc
  .tuple(fc.uniqueArray(clientFamily, { selector: (f) => f.name, minLength: 1, maxLength: 4 }), fc.constantFrom('\n', '\n', '\r\n'), fc.boolean())
  .map(([families, nl, end]) => {
    const lines: string[] = [];
    for (const f of families) {
      if (f.help !== null) lines.push(`# HELP ${f.name} ${f.help}`);
      if (f.type !== undefined) lines.push(`# TYPE ${f.name} ${f.type}`);
      const own = f.labels.map(([n, v]) => `${n}="${v}"`);
      const series = (name: string, more: string[]) => (more.length ? `${name}{${more.join(',')}}` : name);
      if (!f.samples) continue;
      for (let i = 0; i < f.series; i++) {
        if (f.type === 'histogram') lines.push(`${series(f.name + '_bucket', [...own, `le="${['0.5', '1', '+Inf'][i]}"`])} ${i}`);
        else if (f.type === 'summary') lines.push(`${series(f.name, [...own, `quantile="${['0.5', '0.9', '0.99'][i]}"`])} ${i}`);
        else lines.push(`${series(f.name, i === 0 ? own : [...own, `i="${i}"`])} ${i}`);
      }
      if (f.type === 'histogram' || f.type === 'summary') lines.push(`${series(f.name + '_sum', own)} 1.5`, `${series(f.name + '_count', own)} 3`);
      if (f.gap) lines.push('');
    }
    return lines.join(nl) + (end ? nl : '');
  });

const REPEAT_VALUES = ['7', '-0', '1e3', '+Inf', 'NaN', '.5', '5.', '2 1395066363000', '-1 -5'];
const REPEAT_BAD_VALUES = ['0x1', 'abc', '', '1e400', '2 x', '2 ', '2\t', '3  4', '1 2 3'];
const REPEAT_EDITS = [' ', '\n', '\r', '#', '"', '}', ',', 'a', 'é', '{', '\\', '# c\n'];

/** A second payload from the first: its sample lines' values replaced (some by bad ones), then maybe one edit at one place. */
const repeatPair = fc.oneof({ weight: 3, arbitrary: clientText }, { weight: 1, arbitrary: expositionText }).chain((first) =>
  fc
    .tuple(
      fc.constant(first),
      fc.array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...REPEAT_VALUES) }, { weight: 1, arbitrary: fc.constantFrom(...REPEAT_BAD_VALUES) }), { minLength: 1, maxLength: 4 }),
      fc.option(fc.tuple(fc.nat(), fc.constantFrom(...REPEAT_EDITS), fc.nat(3)), { freq: 2 }),
    )
    .map(([first, values, edit]) => {
      let k = 0;
      let second = first.replace(/^([^#\n].*) [^ \n]*?(\r?)$/gm, (_line: string, series: string, cr: string) => `${series} ${values[k++ % values.length]}${cr}`);
      if (edit !== null) {
        const [at, text, drop] = edit;
        const i = at % (second.length + 1);
        second = second.slice(0, i) + text + second.slice(i + drop);
      }
      return [first, second] as const;
    }),
);

const repeatSetup = fc.record({
  appLabel: fc.constantFrom('', 'app'),
  rendered: fc.boolean(),
  labels: fc.constantFrom([], [{ name: 'job', value: 'j' }], [{ name: 'a', value: 'x\\"y' }]),
  defaultLabels: fc.constantFrom([], [{ name: 'instance', value: '' }]),
});

/** The repeat target's inputs: two payloads and how the store holds the first. */
export const repeatInputs = fc.tuple(repeatPair, repeatSetup);

export const repeatProperty = () => fc.property(repeatInputs, ([[first, second], setup]) => void checkRepeat(first, second, setup));

/** One step of checkRepeatSequence: put variant `text` (null: remove the app), then maybe render what is pending. */
export interface RepeatStep {
  app: number;
  text: number | null;
  merge: boolean;
  render: boolean;
}

/**
 * Steps on two stores, one fed text (so the repeat path takes what it can,
 * and buffers given back are reused), one fed parsed payloads: after every
 * step both accept or refuse alike and hold the same for every app.
 */
export function checkRepeatSequence(variants: readonly string[], steps: readonly RepeatStep[], appLabel: string): void {
  const newStore = () => new Store({ ttlMs: 0, appLabel, reservedPrefix: 'exporter_proxy_' });
  const store = newStore();
  const reference = newStore();
  const labelsOf = [{ labels: [{ name: 'job', value: 'j' }] }, {}, { defaultLabels: [{ name: 'instance', value: '' }] }];
  const apps = labelsOf.map((_, i) => `app${i}`);
  for (const [k, step] of steps.entries()) {
    const app = apps[step.app % apps.length]!;
    const update: Update = { app, source: 'fuzz', receiver: 'tcp', mode: step.merge ? 'merge' : 'replace', ...labelsOf[step.app % apps.length] };
    if (step.text === null) {
      store.remove(app);
      reference.remove(app);
    } else {
      const text = variants[step.text % variants.length]!;
      const got = proxyErrorOr(() => store.put({ ...update, text }));
      const want = proxyErrorOr(() => reference.put({ ...update, payload: parseText(text) }));
      if (got.error?.code !== want.error?.code) throw new Error(`step ${k}: ${got.error?.code ?? 'accepted'} where the parse path ${want.error?.code ?? 'accepts'}:\n${JSON.stringify(text)}`);
    }
    if (step.render) store.renderPending();
    for (const a of apps) {
      const got = storedApp(store, a);
      const want = storedApp(reference, a);
      if (got !== want) throw new Error(`step ${k}: ${a} holds\n${got}\nwhere the parse path holds\n${want}\nsteps ${JSON.stringify(steps)}\nvariants ${JSON.stringify(variants)}`);
    }
  }
}

/** A payload and variants of it: new values (mostly), a series changed; steps over three apps. */
export const repeatSequence = fc.record({
  variants: fc.tuple(clientText, clientText, fc.array(fc.constantFrom(...REPEAT_VALUES), { minLength: 1, maxLength: 3 })).map(([base, other, values]) => [
    base,
    ...values.map((v) => base.replace(/^([^#\n].*) [^ \n]*?(\r?)$/gm, (_line: string, series: string, cr: string) => `${series} ${v}${cr}`)),
    base.replace('} ', ',z="1"} '),
    other,
  ]),
  steps: fc.array(fc.record({ app: fc.nat(2), text: fc.option(fc.nat(), { freq: 8 }), merge: fc.nat(9).map((n) => n === 0), render: fc.boolean() }), { minLength: 2, maxLength: 16 }),
  appLabel: fc.constantFrom('', 'app'),
});

export const repeatSequenceProperty = () => fc.property(repeatSequence, ({ variants, steps, appLabel }) => checkRepeatSequence(variants, steps, appLabel));

// ---- stream decoders: arbitrary bytes, arbitrary chunkings -----------------

export interface DecodeOutcome {
  messages: InboundMessage[];
  /** The error code the stream ended with, if any. */
  error?: string;
}

/** Feed chunks as a receiver connection does; stop at the first error. */
export function decodeStream(decoder: StreamDecoder, chunks: Uint8Array[]): DecodeOutcome {
  const messages: InboundMessage[] = [];
  for (const c of chunks) {
    const r = timed('decoder.push', () => proxyErrorOr(() => decoder.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
    if (r.error) return { messages, error: r.error.code };
    messages.push(...r.value!);
    if (decoder.pendingError) return { messages, error: decoder.pendingError.code };
  }
  const r = timed('decoder.end', () => proxyErrorOr(() => decoder.end()));
  if (r.error) return { messages, error: r.error.code };
  messages.push(...r.value!);
  return { messages };
}

/** Cut `bytes` at the given (sorted, deduplicated) offsets. */
export function cut(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const points = [...new Set(at.map((a) => a % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out.filter((c) => c.length > 0);
}

function sameOutcome(what: string, bytes: Uint8Array, whole: DecodeOutcome, chunked: DecodeOutcome, chunks: Uint8Array[]): void {
  const a = JSON.stringify(whole);
  const b = JSON.stringify(chunked);
  if (a !== b) {
    throw new Error(`${what}: the outcome depends on the chunking\nbytes ${Buffer.from(bytes).toString('hex')}\nchunks ${chunks.map((c) => c.length).join(',')}\nwhole   ${a}\nchunked ${b}`);
  }
}

const jsonPiece = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 30 }), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 })), { maxKeys: 3 }).map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: fc.constantFrom(' ', '\n', '\r\n\t', '{', '}', '"', '\\', '[', ']', '{"a":"\\"}"}', '{"a":["x",1]}', '{"":"x"}', '[]', 'null', '{"a":"x"}}', '\xff', '{"a":"\ud800"}') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
);
/** Arbitrary bytes, biased toward near-valid JSON object streams. */
export const jsonBytes = fc.oneof(
  { weight: 4, arbitrary: fc.array(jsonPiece, { maxLength: 8 }).map((ps) => new Uint8Array(Buffer.from(ps.join('')))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
);

export function checkJson(bytes: Uint8Array, at: number[], maxMessageBytes: number): void {
  const whole = decodeStream(new JsonStreamDecoder({ maxMessageBytes }), [bytes]);
  const chunks = cut(bytes, at);
  sameOutcome('json', bytes, whole, decodeStream(new JsonStreamDecoder({ maxMessageBytes }), chunks), chunks);
  const single = cut(bytes, Array.from({ length: bytes.length }, (_, i) => i));
  sameOutcome('json (byte by byte)', bytes, whole, decodeStream(new JsonStreamDecoder({ maxMessageBytes }), single), single);
}

export const jsonProperty = () =>
  fc.property(jsonBytes, fc.array(fc.nat(), { maxLength: 12 }), fc.constantFrom(1024, 40, 1 << 20), (bytes, at, max) => checkJson(bytes, at, max));

const capnpPiece = (packed: boolean) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 60 })).map(([a, t]) => capnpEncode(a, t, packed)) },
    {
      // A valid message with a few bytes overwritten (segment table, pointers, text).
      weight: 3,
      arbitrary: fc
        .tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 40 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
        .map(([a, t, flips]) => {
          const m = capnpEncode(a, t, packed).slice();
          for (const [i, b] of flips) m[i % m.length] = b;
          return m;
        }),
    },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.nat()).map(([a, n]) => capnpEncode(a, 'm 1\n', packed).slice(0, 1 + (n % 40))) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
    { weight: 1, arbitrary: fc.constantFrom(new Uint8Array([0xff, 0xff, 0xff, 0xff]), new Uint8Array([0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]), new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]), new Uint8Array([0, 0xff, 0]), new Uint8Array([0xff, 1, 2, 3, 4, 5, 6, 7, 8, 200])) },
  );

export const capnpBytes = (packed: boolean) => fc.array(capnpPiece(packed), { maxLength: 5 }).map((ps) => new Uint8Array(Buffer.concat(ps)));

export function checkCapnp(bytes: Uint8Array, at: number[], maxMessageBytes: number, packed: boolean): void {
  const make = () => new CapnpStreamDecoder({ maxMessageBytes, packed });
  const whole = decodeStream(make(), [bytes]);
  const chunks = cut(bytes, at);
  sameOutcome(packed ? 'capnp packed' : 'capnp', bytes, whole, decodeStream(make(), chunks), chunks);
  const single = cut(bytes, Array.from({ length: bytes.length }, (_, i) => i));
  sameOutcome(`${packed ? 'capnp packed' : 'capnp'} (byte by byte)`, bytes, whole, decodeStream(make(), single), single);
}

export const capnpProperty = (packed: boolean) =>
  fc.property(capnpBytes(packed), fc.array(fc.nat(), { maxLength: 12 }), fc.constantFrom(1 << 20, 64, 256), (bytes, at, max) => checkCapnp(bytes, at, max, packed));

// ---- the capnp struct reader against capnp-ts ------------------------------

/** The header size of a framed message whose segment table matches its length; undefined otherwise (the framer's to refuse). */
function framedHeaderBytes(bytes: Uint8Array): number | undefined {
  if (bytes.length < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true) + 1;
  const headerBytes = 8 * Math.ceil((4 + 4 * count) / 8);
  if (count > 64 || bytes.length < headerBytes) return undefined;
  let words = 0;
  for (let i = 0; i < count; i++) words += view.getUint32(4 + 4 * i, true);
  return headerBytes + 8 * words === bytes.length && view.getUint32(4, true) > 0 ? headerBytes : undefined;
}

export function checkCapnpStruct(bytes: Uint8Array): void {
  const headerBytes = framedHeaderBytes(bytes);
  if (headerBytes === undefined) return;
  const ours = proxyErrorOr(() => readInboundMetrics(bytes, headerBytes));
  const theirs = capnpTsRead(bytes);
  // capnp-ts checks only the pointers it reads; we check a struct's whole extent, as the C++ and Rust readers do.
  if (theirs && /struct at word -?\d+ \(\d+ words\) is outside segment/.test(ours.error?.message ?? '')) return;
  if (JSON.stringify(ours.value) !== JSON.stringify(theirs)) {
    throw new Error(`capnp struct: our reader and capnp-ts disagree\nbytes ${Buffer.from(bytes).toString('hex')}\nours   ${ours.error ? `${ours.error.code}: ${ours.error.message}` : JSON.stringify(ours.value)}\ncapnp-ts ${JSON.stringify(theirs)}`);
  }
}

/**
 * capnp-ts writes one segment: move field `k`'s Text into a segment of its
 * own, reached by a far pointer (its landing pad before the text) or a
 * double-far one (the pad, a far pointer and a tag, in a third segment).
 */
export function withFarText(single: Uint8Array, k: 0 | 1, double: boolean): Uint8Array {
  const seg0 = Buffer.from(single.subarray(8));
  const at = 8 * (1 + k); // the field's pointer (root pointer at word 0, struct at word 1)
  const lo = seg0.readInt32LE(at);
  const hi = seg0.readUInt32LE(at + 4);
  const start = 8 * (1 + k + 1 + (lo >> 2));
  const text = seg0.subarray(start, start + 8 * Math.ceil((hi >>> 3) / 8));
  const word = (l: number, h: number) => {
    const w = Buffer.alloc(8);
    w.writeUInt32LE(l >>> 0, 0);
    w.writeUInt32LE(h >>> 0, 4);
    return w;
  };
  const segments = double ? [seg0, text, Buffer.concat([word(2, 1), word(1, hi)])] : [seg0, Buffer.concat([word(1, hi), text])];
  seg0.set(double ? word(4 | 2, 2) : word(2, 1), at);
  const header = Buffer.alloc(8 * Math.ceil((4 + 4 * segments.length) / 8));
  header.writeUInt32LE(segments.length - 1, 0);
  segments.forEach((seg, i) => header.writeUInt32LE(seg.length / 8, 4 + 4 * i));
  return new Uint8Array(Buffer.concat([header, ...segments]));
}

/** Messages capnp-ts writes, some with a text moved behind a far pointer, some with bytes overwritten (most where the pointers are). */
const capnpStructBytes = fc
  .tuple(
    fc.string({ maxLength: 8 }),
    fc.oneof(fc.string({ maxLength: 60 }), fc.nat(20_000).map((n) => 'x'.repeat(n))),
    fc.constantFrom('one segment', 'far', 'double far'),
    fc.constantFrom<0 | 1>(0, 1),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
  )
  .map(([a, t, shape, k, flips]) => {
    const one = capnpEncode(a, t);
    const m = shape === 'one segment' ? one.slice() : withFarText(one, k, shape === 'double far');
    for (const [i, b] of flips) m[i % Math.min(m.length, 64)] = b;
    return m;
  });

export const capnpStructProperty = () => fc.property(capnpStructBytes, (bytes) => checkCapnpStruct(bytes));

export type TargetName = 'text' | 'store' | 'repeat' | 'repeat_sequence' | 'json' | 'capnp' | 'capnp_packed' | 'capnp_struct';
/** Each target's property (inputs are opaque to the runners). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const TARGETS: Record<TargetName, () => fc.IProperty<any>> = {
  text: textProperty,
  store: storeProperty,
  repeat: repeatProperty,
  repeat_sequence: repeatSequenceProperty,
  json: jsonProperty,
  capnp: () => capnpProperty(false),
  capnp_packed: () => capnpProperty(true),
  capnp_struct: capnpStructProperty,
};
