// The Store: last write wins per app, families merged across apps on output.
//
// Ownership: only `put`, `remove` and `expire` mutate; every source calls
// `put` with its own app names and never touches another's entry. Readers
// (HTTP, outputs) use `listApps`, `forEachFamily` and `version`; what they
// get must be treated as read-only. The Store knows no socket and no format
// other than the family model. (Readers may make the store render updates
// it keeps as sent, see Chunk.asSent: that changes no content.)

import { ProxyError, ReservedNameError, TypeConflictError, LimitError, AppNameError, DuplicateSeriesError, quote } from '../errors.js';
import type { Family, Label, MetricType, ParsedPayload, Sample } from '../exposition/model.js';
import { METRIC_TYPES, claimants, claimedNames, labelNamesMask, someSampleHasLabelIn } from '../exposition/model.js';
import { parseText, escapeLabelValue, floatKey, isValidMetricName } from '../exposition/text_parse.js';
import { AddedLabels, spareBuffers, renderHeader, renderSamples, renderSamplesAsSent, writeAsSent, writeText, type LinesAsSent, type RawBuffer } from '../exposition/text_render.js';
import { repeatAsSent } from '../exposition/text_repeat.js';

/** What every source hands to `put`. Exactly one of `text`, `payload` or `prepared`. */
export interface Update {
  app: string;
  /** Where it came from, shown in /apps (`127.0.0.1:6554`, a socket path, a URL). */
  source: string;
  /** Which receiver, for counters (`tcp`, `unix`, `http_push`, `poll`). */
  receiver: string;
  text?: string;
  payload?: ParsedPayload;
  /** Labels added to every sample, overriding same-named ones (escaped values). */
  labels?: readonly Label[];
  /** Labels added to every sample that has no label of that name (escaped values), before `labels`. */
  defaultLabels?: readonly Label[];
  /**
   * The payload already parsed and rendered by prepareEntry (a worker
   * thread) with this store's prepareOptions() for the update; instead of
   * `text` or `payload`.
   */
  prepared?: PreparedEntry;
  /** `replace` (default) swaps the app's whole entry; `merge` replaces only the families named in the payload. */
  mode?: 'replace' | 'merge';
  /** Per-update expiry override in ms (0 = never); default is the store's ttl. */
  ttlMs?: number;
  /**
   * Bookkeeping on an existing entry (the Pushgateway API's push_failure_time_seconds):
   * the entry keeps its source, update time, expiry and last error, and `onAccept` is not called.
   */
  bookkeeping?: boolean;
  /** The sender logs a refusal of this update itself (onReject still sees it, to count it). */
  logsRefusal?: boolean;
}

export interface AppInfo {
  app: string;
  source: string;
  receiver: string;
  /** ms since epoch of the last accepted update; undefined if none was ever accepted. */
  updatedAt?: number;
  /** ms since epoch when the entry expires; undefined = never. */
  expiresAt?: number;
  series: number;
  lastError?: { code: string; message: string; at: number };
}

/**
 * Bytes of rendered text: `data[start, start + bytes)`. A stored entry keeps
 * all its families' sample lines in one off-heap buffer (UTF-8), shared by
 * its chunks and never written after the entry is stored: the V8 heap holds
 * only small objects per family, so a push promotes (copies) little into
 * the old generation, and render and snapshots copy bytes without encoding.
 */
export interface RenderPart {
  readonly data: Uint8Array;
  readonly start: number;
  readonly bytes: number;
}

/**
 * One app's contribution to one family: pre-rendered sample lines, or
 * (`asSent`) its lines as pushed, rendered when first read (see
 * renderPending).
 */
interface Chunk extends RenderPart {
  type: MetricType;
  declared: boolean;
  help?: string;
  /** The entry's buffer: the PreparedEntry's data, or the copy packChunks made; empty while `asSent`. */
  data: Uint8Array;
  start: number;
  /** Its rendered size, also while `asSent`. */
  bytes: number;
  series: number;
  /** ms of the update that last wrote this family (a merge keeps the others' times). */
  writtenAt: number;
  /** Lines firstLine.. (series of them) of the push, not rendered yet; undefined once rendered. */
  asSent: LinesAsSent | undefined;
  firstLine: number;
  /** Every series has app_label set to this app's name, so no other app holds it (false when not known: restored from a snapshot). */
  apart: boolean;
}

const NO_BYTES = new Uint8Array(0);

interface Entry {
  app: string;
  source: string;
  receiver: string;
  updatedAt: number;
  expiresAt?: number;
  chunks: Map<string, Chunk>;
  series: number;
}

/**
 * A stored family chunk as snapshots see it (read-only): its bytes are the
 * pre-rendered sample lines (escaped, with the store's labels, UTF-8), each
 * ending in a newline.
 */
export interface StoredChunk extends RenderPart {
  readonly type: MetricType;
  /** False for samples that had no TYPE line. */
  readonly declared: boolean;
  readonly help?: string;
  readonly series: number;
  /** ms of the update that last wrote this family; a restored chunk without it takes its entry's updatedAt. */
  readonly writtenAt?: number;
}

/** One app's entry as snapshots see it (read-only); `chunks` keyed by family name. */
export interface StoredEntry {
  readonly app: string;
  readonly source: string;
  readonly receiver: string;
  readonly updatedAt: number;
  readonly expiresAt?: number;
  readonly chunks: ReadonlyMap<string, StoredChunk> | Iterable<readonly [string, StoredChunk]>;
}

/** All apps' chunks of one family, keyed by app. */
interface FamilySlot {
  name: string;
  holders: Map<string, Chunk>;
  /** How many holders hold it as each type; `loose` = untyped without a TYPE line. */
  kinds: Map<MetricType | 'loose', number>;
  header?: RenderPart;
}

export interface StoreOptions {
  ttlMs: number;
  appLabel: string;
  /** 0 = unlimited. */
  maxSeriesPerApp?: number;
  /** 0 = unlimited. */
  maxApps?: number;
  /** Family-name prefix reserved for the proxy's own metrics. */
  reservedPrefix?: string;
  /**
   * Receivers whose entries no other receiver may replace (the built-in
   * probes': a socket push of an app named `ping` must not hide the ping
   * results). Removing the entry frees the name.
   */
  exclusiveReceivers?: ReadonlySet<string>;
  now?: () => number;
  onReject?: (update: Update, err: ProxyError) => void;
  onAccept?: (update: Update, series: number) => void;
}

const MAX_REMEMBERED_ERRORS = 10_000;
const REPEAT_BACKOFF_MAX = 64;

export class Store {
  private readonly entries = new Map<string, Entry>();
  private readonly families = new Map<string, FamilySlot>();
  private readonly errors = new Map<string, { code: string; message: string; at: number; source: string; receiver: string }>();
  /** Apps whose entry may hold chunks not rendered yet (Chunk.asSent). */
  private readonly pending = new Set<string>();
  /**
   * Apps whose last repeat attempt missed: updates to parse without one
   * first, and the wait after the next miss (doubled up to REPEAT_BACKOFF_MAX,
   * forgotten on a hit). An attempt that fails at the payload's end costs
   * about a third of the parse it then needs (measured: a payload whose
   * last series changes every time, 67-71 -> 95-109 µs an update).
   */
  private readonly repeatMisses = new Map<string, { skip: number; backoff: number }>();
  private sortedNames: string[] | undefined = [];
  private totalSeries = 0;
  private _version = 0;
  private readonly now: () => number;

  constructor(private opts: StoreOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Incremented on every change to what `/metrics` would show. */
  get version(): number {
    return this._version;
  }
  get appCount(): number {
    return this.entries.size;
  }
  get seriesCount(): number {
    return this.totalSeries;
  }

  /** Apply settings that may change at runtime (reload): ttl, limits. */
  configure(opts: Partial<Pick<StoreOptions, 'ttlMs' | 'maxSeriesPerApp' | 'maxApps'>>): void {
    this.opts = { ...this.opts, ...opts };
  }

  /**
   * Validate and apply one update atomically. On any problem nothing changes,
   * the error is remembered as the app's last error, `onReject` is called and
   * the error is thrown (a ProxyError with a stable code).
   */
  put(update: Update): number {
    try {
      const series = this.apply(update);
      if (update.bookkeeping) return series;
      this.errors.delete(update.app);
      this.opts.onAccept?.(update, series);
      return series;
    } catch (err) {
      const e = err instanceof ProxyError ? err : new ProxyError(String((err as Error)?.message ?? err));
      this.reject(update, e);
      throw e;
    }
  }

  /**
   * Record a rejection found outside the store (a payload that failed to
   * parse in a worker thread) as `put` records its own: the app's last
   * error and `onReject`. Nothing stored changes.
   */
  reject(update: Update, err: ProxyError): void {
    this.rememberError(update, err);
    this.opts.onReject?.(update, err);
  }

  /** Remove an app's entry; returns whether it existed. */
  remove(app: string): boolean {
    const entry = this.entries.get(app);
    if (!entry) return false;
    this.detach(entry, entry.chunks.keys());
    this.entries.delete(app);
    this.releaseAsSent(entry);
    this.repeatMisses.delete(app);
    this.totalSeries -= entry.series;
    this._version++;
    return true;
  }

  /** Drop entries whose expiry passed; returns the apps removed. */
  expire(now = this.now()): string[] {
    const gone: string[] = [];
    for (const entry of this.entries.values()) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) gone.push(entry.app);
    }
    for (const app of gone) this.remove(app);
    return gone;
  }

  listApps(): AppInfo[] {
    const out: AppInfo[] = [];
    for (const e of this.entries.values()) out.push(this.infoOf(e));
    for (const [app, err] of this.errors) {
      if (!this.entries.has(app)) out.push({ app, source: err.source, receiver: err.receiver, series: 0, lastError: { code: err.code, message: err.message, at: err.at } });
    }
    return out;
  }

  private infoOf(e: Entry): AppInfo {
    const err = this.errors.get(e.app);
    return {
      app: e.app,
      source: e.source,
      receiver: e.receiver,
      updatedAt: e.updatedAt,
      expiresAt: e.expiresAt,
      series: e.series,
      lastError: err && { code: err.code, message: err.message, at: err.at },
    };
  }

  /** The app's families as last accepted (for snapshots and the Pushgateway API); undefined if none. */
  getApp(app: string): { info: AppInfo; families: { name: string; type: MetricType; help?: string; text: string; writtenAt: number }[] } | undefined {
    const e = this.entries.get(app);
    if (!e) return undefined;
    const info = this.infoOf(e);
    const families = [...e.chunks].map(([name, c]) => ({ name, type: c.type, help: c.help, text: chunkText(c), writtenAt: c.writtenAt }));
    return { info, families };
  }

  /** Whether the app has an accepted entry. */
  has(app: string): boolean {
    return this.entries.has(app);
  }

  /** The receiver of the app's accepted entry, or undefined when it has none. */
  receiverOf(app: string): string | undefined {
    return this.entries.get(app)?.receiver;
  }

  /** One family's stored sample lines for an app (read-only), without materializing the rest of the entry. */
  familyText(app: string, family: string): string | undefined {
    const c = this.entries.get(app)?.chunks.get(family);
    return c && chunkText(c);
  }

  /**
   * Every entry as held now, for snapshots: O(apps) references, no copy
   * (chunks still as sent are rendered first). Entries handed out are never
   * mutated (an update swaps in a new one), so the caller may serialize them
   * later, off the hot path, and still get one consistent point in time.
   */
  storedEntries(): StoredEntry[] {
    this.renderPending();
    return [...this.entries.values()];
  }

  /**
   * Put back entries from a snapshot without re-parsing their text (it was
   * validated when first stored; the snapshot's checksum guards the bytes).
   * Still checked, O(1) per family: names, types, the reserved prefix, type
   * agreement across apps, the limits, and expiry (entries whose time has
   * passed are dropped). Invalid entries are skipped with the reason.
   */
  restore(records: Iterable<StoredEntry>, now = this.now()): { restored: number; series: number; expired: number; skipped: { app: string; reason: string }[] } {
    const out = { restored: 0, series: 0, expired: 0, skipped: [] as { app: string; reason: string }[] };
    for (const r of records) {
      if (r.expiresAt !== undefined && r.expiresAt <= now) {
        out.expired++;
        continue;
      }
      try {
        const entry = this.restoredEntry(r);
        const old = this.entries.get(entry.app);
        if (!old && this.opts.maxApps && this.entries.size >= this.opts.maxApps) throw new LimitError(`store holds ${this.entries.size} apps, the limit (store.max_apps)`);
        this.replaceEntry(old, entry);
        if (old) this.releaseAsSent(old);
        out.restored++;
        out.series += entry.series;
      } catch (err) {
        out.skipped.push({ app: String(r.app), reason: err instanceof Error ? err.message : String(err) });
      }
    }
    if (out.restored) this._version++;
    return out;
  }

  private restoredEntry(r: StoredEntry): Entry {
    const app = r.app;
    if (typeof app !== 'string' || app === '' || app.length > 1024) throw new AppNameError('app name must be 1 to 1024 characters');
    if (typeof r.source !== 'string' || typeof r.receiver !== 'string' || !Number.isFinite(r.updatedAt) || (r.expiresAt !== undefined && !Number.isFinite(r.expiresAt))) {
      throw new ProxyError(`app ${quote(app)}: malformed entry`);
    }
    const chunks = new Map<string, Chunk>();
    const own = new Map<string, MetricType>();
    for (const [name, c] of r.chunks) own.set(name, c.type);
    let series = 0;
    for (const [name, c] of r.chunks) {
      const endsInNewline = c.data instanceof Uint8Array && Number.isInteger(c.start) && Number.isInteger(c.bytes) && c.bytes > 0 && c.start >= 0 && c.start + c.bytes <= c.data.length && c.data[c.start + c.bytes - 1] === 0x0a;
      if (!isValidMetricName(name) || !METRIC_TYPES.has(c.type) || !endsInNewline || !Number.isInteger(c.series) || c.series < 1) {
        throw new ProxyError(`app ${quote(app)}: malformed family ${quote(String(name))}`);
      }
      this.checkFamily(app, { name, type: c.type, typeDeclared: c.declared === true }, own);
      const writtenAt = Number.isFinite(c.writtenAt) ? c.writtenAt! : r.updatedAt;
      chunks.set(name, { type: c.type, declared: c.declared === true, help: typeof c.help === 'string' ? c.help : undefined, data: c.data, start: c.start, bytes: c.bytes, series: c.series, writtenAt, asSent: undefined, firstLine: 0, apart: false });
      series += c.series;
    }
    packChunks(chunks); // a copy: the entry must not pin the snapshot file's buffer
    const max = this.opts.maxSeriesPerApp;
    if (max && series > max) throw new LimitError(`app ${quote(app)} holds ${series} series; the limit per app is ${max} (store.max_series_per_app)`);
    return { app, source: r.source, receiver: r.receiver, updatedAt: r.updatedAt, expiresAt: r.expiresAt, chunks, series };
  }

  /**
   * Visit every family with samples, sorted by name, with its merged header
   * and each holder's pre-rendered sample lines. Used by the render cache.
   */
  forEachFamily(visit: (header: RenderPart, chunks: Iterable<RenderPart>) => void): void {
    this.renderPending();
    if (!this.sortedNames) this.sortedNames = [...this.families.keys()].sort();
    for (const name of this.sortedNames) {
      const slot = this.families.get(name)!;
      slot.header ??= textPart(mergedHeader(slot));
      visit(slot.header, slot.holders.values());
    }
  }

  /**
   * Families in which a series may be more than once: two or more apps hold
   * them and app_label does not keep all of those apart (one app's lines of
   * a family never repeat a series: checked when stored). For the outputs,
   * which leave such copies out; the scrape path never needs it.
   */
  overlappingFamilies(): number {
    let n = 0;
    for (const slot of this.families.values()) if (slot.holders.size > 1 && !allApart(slot.holders.values())) n++;
    return n;
  }

  private apply(update: Update): number {
    const { app } = update;
    if (app === '' || app.length > 1024) throw new AppNameError(`app name must be 1 to 1024 characters, got ${app.length}`);
    const old = this.entries.get(app);
    if (old && old.receiver !== update.receiver && this.opts.exclusiveReceivers?.has(old.receiver)) {
      throw new AppNameError(`app name ${quote(app)} is taken by the built-in ${old.source}; choose another name`);
    }
    const { labels, maxSeries, apart } = this.prepareOptions(update);
    const prepared =
      update.prepared ??
      (update.text !== undefined && update.mode !== 'merge' && old !== undefined ? this.tryRepeat(old, update.text, labels, update.defaultLabels, []) : undefined) ??
      prepareEntry(app, update.payload ?? parseLimited(app, update.text ?? '', maxSeries), labels, update.defaultLabels);
    if (maxSeries && prepared.series > maxSeries) throw new LimitError(`app ${quote(app)} sent ${prepared.series} series; the limit per app is ${maxSeries} (store.max_series_per_app)`);
    if (!old && this.opts.maxApps && this.entries.size >= this.opts.maxApps) throw new LimitError(`store holds ${this.entries.size} apps, the limit (store.max_apps); app ${quote(app)} was not added`);

    const merge = update.mode === 'merge' && old !== undefined;
    const next = new Map<string, Chunk>(merge ? old.chunks : undefined);
    // Built only when a family needs checking (a group re-pushing what it holds never does).
    let own: Map<string, MetricType> | undefined;
    const now = this.now();
    let start = 0;
    let firstLine = 0;
    const asSent = prepared.asSent;
    for (const family of prepared.families) {
      // A family the app already holds as the same kind was checked when it
      // was stored, and no app could have added a conflict since (it would
      // have been checked against this one): only new or changed kinds are.
      const held = old?.chunks.get(family.name);
      if (held === undefined || held.type !== family.type || held.declared !== family.typeDeclared) this.checkFamily(app, family, (own ??= typesAfter(merge ? old : undefined, prepared)));
      // Names and HELP parsed here are slices that would pin the payload.
      const slot = this.families.get(family.name);
      const name = slot?.name ?? ownCopy(family.name);
      const help = family.help === undefined ? undefined : held?.help === family.help ? held.help : sharedHelp(slot, family.help);
      // Either its rendered bytes in the entry's buffer, or its lines as sent (see Chunk).
      const data = asSent ? NO_BYTES : prepared.data!;
      next.set(name, { type: family.type, declared: family.typeDeclared, help, data, start: asSent ? 0 : start, bytes: family.bytes, series: family.series, writtenAt: now, asSent, firstLine: asSent ? firstLine : 0, apart });
      start += family.bytes;
      firstLine += family.series;
    }
    let series = 0;
    for (const c of next.values()) series += c.series;
    if (maxSeries && series > maxSeries) throw new LimitError(`app ${quote(app)} would hold ${series} series; the limit per app is ${maxSeries} (store.max_series_per_app)`);

    // Validated. A merged entry gets one buffer of its own again (so the
    // entry it replaces is not kept alive by the families it keeps); then
    // the swap, atomically.
    if (merge) packChunks(next);
    const ttl = update.ttlMs ?? this.opts.ttlMs;
    const entry: Entry = { app, source: update.source, receiver: update.receiver, updatedAt: now, expiresAt: ttl > 0 ? now + ttl : undefined, chunks: next, series };
    if (update.bookkeeping && old) Object.assign(entry, { source: old.source, receiver: old.receiver, updatedAt: old.updatedAt, expiresAt: old.expiresAt });
    this.replaceEntry(old, entry);
    if (old) this.releaseAsSent(old);
    // (A merge has just rendered every chunk it keeps: packChunks.)
    if (asSent && !merge) this.pending.add(app);
    this._version++;
    return series;
  }

  /**
   * The update that replaces the app's entry with `text` and then `tail`'s
   * families, prepared without a parse, when the text repeats the entry
   * (text_repeat.ts): its families in order, with their headers and
   * series, new values only; the entry's last families are the tail's, by
   * name. Undefined otherwise: the caller parses the text. What it returns
   * is for `put` as the update's `prepared` (with the same labels).
   */
  repeatPrepared(update: Pick<Update, 'app' | 'labels' | 'defaultLabels'>, text: string, tail: readonly Family[]): PreparedEntry | undefined {
    const old = this.entries.get(update.app);
    return old && this.tryRepeat(old, text, this.prepareOptions(update).labels, update.defaultLabels, tail);
  }

  /** repeatOf, unless the app's last attempts missed (repeatMisses). */
  private tryRepeat(old: Entry, text: string, added: readonly Label[], defaults: readonly Label[] | undefined, tail: readonly Family[]): PreparedEntry | undefined {
    const miss = this.repeatMisses.get(old.app);
    if (miss !== undefined && miss.skip > 0) {
      miss.skip--;
      return undefined;
    }
    const prepared = repeatOf(old, text, added, defaults, tail);
    if (prepared !== undefined) {
      if (miss !== undefined) this.repeatMisses.delete(old.app);
    } else if (miss !== undefined) {
      miss.skip = miss.backoff = Math.min(2 * miss.backoff, REPEAT_BACKOFF_MAX);
    } else {
      this.repeatMisses.set(old.app, { skip: 1, backoff: 1 });
    }
    return prepared;
  }

  /**
   * What prepareEntry and parseLimited take from the store for `update`, the
   * same whether the update is prepared here or in a worker thread: the
   * labels added to its samples (its own `labels` and app_label, overriding
   * same-named ones) and the series limit per app; and whether app_label is
   * among those labels (a label of that name the update brings wins over
   * it), which keeps the app's series apart from every other app's.
   */
  prepareOptions(update: Pick<Update, 'app' | 'labels'>): { labels: readonly Label[]; maxSeries: number | undefined; apart: boolean } {
    const extra = update.labels ?? [];
    const name = this.opts.appLabel;
    const apart = name !== '' && !extra.some((l) => l.name === name);
    return { labels: apart ? [...extra, { name, value: escapeLabelValue(update.app) }] : extra, maxSeries: this.opts.maxSeriesPerApp || undefined, apart };
  }

  /**
   * O(1) per family: the new family must agree with the types other apps
   * hold it as, and must not collide with a histogram/summary's sample names.
   * `own` holds the types this app will hold after the update.
   */
  private checkFamily(app: string, family: FamilyKind, own: Map<string, MetricType>): void {
    const reserved = this.opts.reservedPrefix;
    if (reserved && family.name.startsWith(reserved)) {
      throw new ReservedNameError(`family ${quote(family.name)} uses the prefix ${quote(reserved)} reserved for the proxy's own metrics`);
    }
    const slot = this.families.get(family.name);
    if (slot) {
      const conflict = conflictingHolder(slot, app, family);
      if (conflict) {
        throw new TypeConflictError(
          `family ${quote(family.name)} is declared ${describe(family.type, family.typeDeclared)} but app ${quote(conflict.app)} holds it as ${describe(conflict.chunk.type, conflict.chunk.declared)}`,
        );
      }
    }
    for (const claimed of claimedNames(family.name, family.type)) {
      const other = this.holderOf(app, claimed, own);
      if (other) throw new TypeConflictError(`${family.type} ${quote(family.name)} needs the name ${quote(claimed)} for its samples, but app ${quote(other.app)} holds a family of that name`);
    }
    for (const { base, type } of claimants(family.name)) {
      const owner = this.holderOf(app, base, own);
      if (owner?.type === type) throw new TypeConflictError(`family ${quote(family.name)} collides with ${type} ${quote(base)} held by app ${quote(owner.app)}`);
    }
  }

  /** Who holds family `name`: this app after the update, or another app. */
  private holderOf(app: string, name: string, own: Map<string, MetricType>): { app: string; type: MetricType } | undefined {
    const type = own.get(name);
    if (type) return { app, type };
    const slot = this.families.get(name);
    if (!slot) return undefined;
    for (const [holder, chunk] of slot.holders) if (holder !== app) return { app: holder, type: chunk.type };
    return undefined;
  }

  /** How many apps' entries may hold chunks not rendered yet (Chunk.asSent). */
  get pendingCount(): number {
    return this.pending.size;
  }

  /**
   * Render every chunk still held as sent (one new buffer per entry, as
   * packChunks packs a merge). Readers of the stored bytes call it first;
   * the app also calls it once updates pause, so the next scrape finds the
   * work done. Only the representation changes, and only of entries never
   * handed out: storedEntries renders before it hands entries out.
   */
  renderPending(): void {
    for (const app of this.pending) {
      const entry = this.entries.get(app);
      if (!entry) continue;
      const asSent = asSentOf(entry);
      packChunks(entry.chunks);
      for (const [name, chunk] of entry.chunks) this.families.get(name)!.holders.set(app, chunk);
      if (asSent) spareBuffers.give(asSent);
    }
    this.pending.clear();
  }

  /**
   * An entry no longer held (replaced or removed) gives up the buffer of its
   * lines kept as sent, if any: nothing else holds it (readers render or copy
   * pending lines before they keep anything, see renderPending).
   */
  private releaseAsSent(entry: Entry): void {
    if (!this.pending.delete(entry.app)) return;
    const asSent = asSentOf(entry);
    if (asSent) spareBuffers.give(asSent);
  }

  /**
   * Swap `entry` in for `old` (same app, or none): families the app keeps are
   * replaced in place (the app keeps its position among the holders, and the
   * merged header stands unless the type or HELP changed); families it no
   * longer has are detached.
   */
  private replaceEntry(old: Entry | undefined, entry: Entry): void {
    if (old) {
      for (const name of old.chunks.keys()) if (!entry.chunks.has(name)) this.detach(old, [name]);
      this.totalSeries -= old.series;
    }
    for (const [name, chunk] of entry.chunks) {
      let slot = this.families.get(name);
      if (!slot) {
        slot = { name, holders: new Map(), kinds: new Map() };
        this.families.set(name, slot);
        this.sortedNames = undefined;
      }
      const prev = slot.holders.get(entry.app);
      slot.holders.set(entry.app, chunk);
      const sameKind = prev !== undefined && prev.type === chunk.type && prev.declared === chunk.declared;
      if (!sameKind) {
        if (prev) countKind(slot, prev, -1);
        countKind(slot, chunk, 1);
      }
      if (!sameKind || prev.help !== chunk.help) slot.header = undefined;
    }
    this.entries.set(entry.app, entry);
    this.totalSeries += entry.series;
  }

  private detach(entry: Entry, names: Iterable<string>): void {
    for (const name of names) {
      const slot = this.families.get(name);
      const chunk = slot?.holders.get(entry.app);
      if (!slot || !chunk) continue;
      slot.holders.delete(entry.app);
      countKind(slot, chunk, -1);
      slot.header = undefined;
      if (slot.holders.size === 0) {
        this.families.delete(name);
        this.sortedNames = undefined;
      }
    }
  }

  private rememberError(update: Update, e: ProxyError): void {
    this.errors.delete(update.app);
    if (this.errors.size >= MAX_REMEMBERED_ERRORS) this.errors.delete(this.errors.keys().next().value!);
    this.errors.set(update.app, { code: e.code, message: e.message, at: this.now(), source: update.source, receiver: update.receiver });
  }
}

/**
 * Added labels (app_label, grouping labels) replace same-named ones in the
 * payload, which can make two series of one payload identical (`m{app="a"}`
 * and `m` with app_label = "app", or `m{x="1"}` and `m{x="2"}` pushed to
 * the group x="9"): /metrics would then hold a duplicate. Series are
 * compared as the parser compares them: a label with an empty value is no
 * label, `le` of a histogram and `quantile` of a summary as numbers.
 * Checked only for families where a sample has such a label, O(samples) there.
 */
function checkOverriddenDuplicates(app: string, family: Family, extra: readonly Label[], extraNames: ReadonlySet<string>, extraMask: number): void {
  if (!someSampleHasLabelIn(family.samples, extraMask, extraNames)) return;
  const numeric = family.type === 'histogram' ? 'le' : family.type === 'summary' ? 'quantile' : '';
  const seen = new Map<string, Sample>();
  for (const s of family.samples) {
    const kept = s.labels.filter((l) => !extraNames.has(l.name) && l.value !== '').map((l) => `${l.name}="${l.name === numeric ? floatKey(l.value) : l.value}"`);
    const key = s.name + '{' + kept.sort().join(',') + '}';
    const other = seen.get(key);
    if (other !== undefined) {
      const shown = (x: Sample) => quote(x.name + '{' + x.labels.map((l) => `${l.name}="${l.value}"`).join(',') + '}');
      const set = extra.filter((e) => [other, s].some((x) => x.labels.some((l) => l.name === e.name))).map((l) => `${l.name}="${l.value}"`);
      throw new DuplicateSeriesError(`app ${quote(app)}: series ${shown(other)} and ${shown(s)} become one once the proxy sets ${set.join(',')}`);
    }
    seen.set(key, s);
  }
}

/** Parse with the per-app series limit; the parser stops at the first series over it, and the error names the app and the key. */
export function parseLimited(app: string, text: string, maxSeries: number | undefined): ParsedPayload {
  try {
    return parseText(text, { maxSeries });
  } catch (err) {
    if (err instanceof LimitError && maxSeries) throw new LimitError(`app ${quote(app)} sent more than ${maxSeries} series; the limit per app is ${maxSeries} (store.max_series_per_app); ${err.message}`);
    throw err;
  }
}

/** What the type checks need of a family. */
type FamilyKind = Pick<Family, 'name' | 'type' | 'typeDeclared'>;

/** One family of a PreparedEntry: its sample lines are the next `bytes` of the entry's data. */
export interface PreparedFamily extends FamilyKind {
  help?: string;
  bytes: number;
  series: number;
}

/**
 * A payload prepared for the store: every family with samples, its sample
 * lines (with the added and default labels) packed in `data` in family
 * order, or kept as sent in `asSent`. Depends on nothing but its arguments,
 * so a worker thread can build it (its buffer transferred, not copied); the
 * store does the rest.
 */
export interface PreparedEntry {
  families: PreparedFamily[];
  /** The rendered lines: an exact-size buffer of its own (never a slice of a pool or of other memory). Or, instead, `asSent`. */
  data?: Uint8Array;
  /** The lines as sent, rendered when first read; each family's lines follow the previous family's. */
  asSent?: LinesAsSent;
  series: number;
}

/**
 * `payload` as the store keeps it: rendered, or, when labels are added to
 * an ASCII payload, its lines as sent (LinesAsSent). Throws
 * DuplicateSeriesError when the added labels would make two series of a
 * family the same.
 */
export function prepareEntry(app: string, payload: ParsedPayload, added: readonly Label[], defaults?: readonly Label[]): PreparedEntry {
  const kept = payload.families.filter((f) => f.samples.length > 0);
  if (added.length) {
    const names = new Set(added.map((l) => l.name));
    const mask = labelNamesMask(added);
    for (const family of kept) checkOverriddenDuplicates(app, family, added, names, mask);
  }
  // A push with added labels (the usual) is kept as sent until read: see LinesAsSent.
  const deferred = renderSamplesAsSent(kept, added, defaults);
  if (deferred) return { families: kept.map((f, i) => preparedFamily(f, deferred.sizes[i]!)), asSent: deferred.asSent, series: payload.series };
  const texts = kept.map((f) => renderSamples(f, added, defaults));
  // (Rendered now: the lines are not ASCII, carry no added labels, or none is canonical.)
  const families = kept.map((f, i) => preparedFamily(f, Buffer.byteLength(texts[i]!)));
  let total = 0;
  for (const f of families) total += f.bytes;
  const data = Buffer.allocUnsafeSlow(total) as RawBuffer;
  let at = 0;
  for (let i = 0; i < texts.length; i++) at += writeText(data, texts[i]!, at, families[i]!.bytes);
  return { families, data, series: payload.series };
}

/** Store.repeatPrepared for the entry `old`, with the labels its update adds. */
function repeatOf(old: Entry, text: string, added: readonly Label[], defaults: readonly Label[] | undefined, tail: readonly Family[]): PreparedEntry | undefined {
  const count = old.chunks.size - tail.length;
  if (count < 0) return undefined;
  let i = 0;
  for (const name of old.chunks.keys()) if (i++ >= count && name !== tail[i - 1 - count]!.name) return undefined;
  const repeat = repeatAsSent(text, old.chunks, count, new AddedLabels(added, defaults ?? []), tail);
  if (repeat === undefined) return undefined;
  const families: PreparedFamily[] = [];
  let series = 0;
  i = 0;
  for (const [name, c] of old.chunks) {
    if (i === count) break;
    families.push({ name, type: c.type, typeDeclared: c.declared, help: c.help, bytes: repeat.sizes[i++]!, series: c.series });
    series += c.series;
  }
  for (const f of tail) {
    families.push(preparedFamily(f, repeat.sizes[i++]!));
    series += f.samples.length;
  }
  return { families, asSent: repeat.asSent, series };
}

function preparedFamily(f: Family, bytes: number): PreparedFamily {
  return { name: f.name, type: f.type, typeDeclared: f.typeDeclared, help: f.help, bytes, series: f.samples.length };
}

/** A string as a RenderPart of its own (UTF-8). */
export function textPart(text: string): RenderPart {
  const data = Buffer.from(text, 'utf8');
  return { data, start: 0, bytes: data.length };
}

/** A part's bytes as a Buffer view (no copy). */
export function partBytes(p: RenderPart): Buffer {
  return Buffer.from(p.data.buffer, p.data.byteOffset + p.start, p.bytes);
}

/** The text of a part (UTF-8). */
export function partText(p: RenderPart): string {
  return partBytes(p).toString('utf8');
}

/** A chunk's rendered text, rendering it on the side if it is still as sent (the chunk stays as it is). */
function chunkText(c: Chunk): string {
  if (!c.asSent) return partText(c);
  const bytes = Buffer.allocUnsafe(c.bytes);
  writeChunk(c, bytes, 0);
  return bytes.toString('utf8');
}

/** The lines an entry keeps as sent, if it does: all its chunks share them (one update's), or none has any. */
function asSentOf(entry: Entry): LinesAsSent | undefined {
  return entry.chunks.values().next().value?.asSent;
}

function allApart(chunks: Iterable<Chunk>): boolean {
  for (const c of chunks) if (!c.apart) return false;
  return true;
}

/** Write a chunk's rendered lines at `at`; returns the offset after them. */
function writeChunk(c: Chunk, dst: Uint8Array, at: number): number {
  const end = c.asSent ? writeAsSent(c.asSent, c.firstLine, c.series, dst, at) : (dst.set(partBytes(c), at), at + c.bytes);
  if (end !== at + c.bytes) throw new Error(`store: a chunk of ${c.bytes} bytes rendered as ${end - at}`); // a bug, not bad input
  return end;
}

/**
 * Copy every chunk's rendered bytes (rendering those still as sent) into
 * one new exact-size off-heap buffer (a restored, merged or first-read
 * entry), replacing the chunk objects (they may be shared with the entry
 * being replaced).
 */
function packChunks(chunks: Map<string, Chunk>): void {
  let total = 0;
  for (const c of chunks.values()) total += c.bytes;
  // allocUnsafeSlow: never a slice of Buffer's shared pool, which a small stored entry would pin.
  const data = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const [name, c] of chunks) {
    chunks.set(name, { ...c, data, start: at, asSent: undefined, firstLine: 0 });
    at = writeChunk(c, data, at);
  }
}

/** The types an app holds after an update: the kept entry's (a merge), overridden by the prepared families. */
function typesAfter(kept: Entry | undefined, prepared: PreparedEntry): Map<string, MetricType> {
  const types = new Map<string, MetricType>();
  if (kept) for (const [name, c] of kept.chunks) types.set(name, c.type);
  for (const f of prepared.families) types.set(f.name, f.type);
  return types;
}

/**
 * HELP as the family's first holder keeps it when it is the same text (so
 * 1,000 groups pushing one family keep one copy, not 1,000), else an own copy.
 */
function sharedHelp(slot: FamilySlot | undefined, help: string): string {
  const first = slot?.holders.values().next().value;
  return first?.help === help ? first.help : ownCopy(help);
}

/**
 * A copy that shares no memory with the payload. Names and HELP come out of
 * the parser as slices of the payload text, and V8 keeps a whole parent
 * string alive for any slice of it: without the copy every stored app would
 * pin its last payload (~90 bytes per series).
 */
function ownCopy(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

const SIMPLE: ReadonlySet<string> = new Set(['counter', 'gauge', 'untyped', 'loose']);

function kindOf(type: MetricType, declared: boolean): MetricType | 'loose' {
  return !declared && type === 'untyped' ? 'loose' : type;
}

function countKind(slot: FamilySlot, chunk: Chunk, delta: number): void {
  const k = kindOf(chunk.type, chunk.declared);
  const n = (slot.kinds.get(k) ?? 0) + delta;
  if (n > 0) slot.kinds.set(k, n);
  else slot.kinds.delete(k);
}

/**
 * Holders agree when they all declare one type, where samples without a TYPE
 * line fit under a counter, gauge or untyped family. Checked against the
 * per-type counts (minus this app's own old chunk), so O(number of types).
 */
function conflictingHolder(slot: FamilySlot, app: string, family: FamilyKind): { app: string; chunk: Chunk } | undefined {
  const mine = slot.holders.get(app);
  const myOld = mine && kindOf(mine.type, mine.declared);
  const want = kindOf(family.type, family.typeDeclared);
  for (const [kind, n] of slot.kinds) {
    if (kind === myOld && n === 1) continue;
    const ok = kind === want || (SIMPLE.has(kind) && SIMPLE.has(want) && (kind === 'loose' || want === 'loose'));
    if (ok) continue;
    for (const [holder, chunk] of slot.holders) {
      if (holder !== app && kindOf(chunk.type, chunk.declared) === kind) return { app: holder, chunk };
    }
  }
  return undefined;
}

function describe(type: MetricType, declared: boolean): string {
  return declared ? type : 'untyped (no TYPE line)';
}

function mergedHeader(slot: FamilySlot): string {
  let type: MetricType = 'untyped';
  let help: string | undefined;
  for (const c of slot.holders.values()) {
    if (c.declared) type = c.type;
    help ??= c.help;
  }
  return renderHeader(slot.name, type, help);
}
