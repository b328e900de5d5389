// Store snapshots on disk, so a restart (or a crash) does not lose what apps
// pushed. A snapshot is written every `persistence_interval` when the store
// changed, and once more on shutdown; on start it is read back before any
// listener opens.
//
// File layout (all lengths in bytes):
//
//   exporter-proxy-snapshot v2 <sha256 of body, hex> <body length>\n
//   body = meta line, then per app: one JSON line, then its families' text
//   meta  = {"created":<ms>,"app_label":"...","apps":<n>}\n
//   app   = ["app","source","receiver",updatedAt,expiresAt|null,
//            [[family,type,declared(0|1),help|null,series,textBytes,writtenAt],...]]\n
//           followed by the families' pre-rendered sample text, raw, in order
//
// v1 (read, no longer written) is the same without writtenAt, the time a
// family was last pushed (a POST keeps the others'): restored from v1, every
// family takes its app's updatedAt.
//
// The text is stored as the store holds it (validated, escaped, labels
// applied), so a restore needs no parsing; the checksum guarantees the bytes
// are the ones written. Writing is atomic (temp file in the same directory,
// fsync, rename, fsync of the directory): after a crash at any moment the
// file is either the previous snapshot or the new one. Serialization runs in
// slices of a few milliseconds between which the event loop serves requests,
// over entries taken by reference at one point in time (entries are
// immutable), so the snapshot is consistent without copying the store.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Counter, Gauge, type Registry } from 'prom-client';
import { partBytes, type Store, type StoredChunk, type StoredEntry } from './store.js';
import type { MetricType } from '../exposition/model.js';
import type { Logger } from '../log.js';
import { OWN_PREFIX } from '../telemetry.js';
import { Slices } from '../slices.js';

export const SNAPSHOT_MAGIC = 'exporter-proxy-snapshot';
export const SNAPSHOT_VERSION = 2;
/** Versions parseSnapshot reads: per family, v1 has 6 fields, v2 adds writtenAt. */
const FAMILY_FIELDS: Record<string, number> = { 1: 6, 2: 7 };
const HEADER_RE = /^exporter-proxy-snapshot v(\d+) ([0-9a-f]{64}) (\d+)\n/;
const MAX_HEADER = 128;
/** Serialize for at most this long before letting the event loop run. */
const SLICE_MS = 4;
/** Pieces of about this size are hashed and queued for writing. */
const PIECE_BYTES = 256 * 1024;

export interface SnapshotMeta {
  created: number;
  app_label: string;
  apps: number;
}

export interface WriteResult {
  bytes: number;
  apps: number;
  series: number;
  /** Wall time from start to the directory fsync, ms. */
  totalMs: number;
  /** The longest synchronous stretch (serialization slice, hash), ms: how long the event loop was blocked at most. */
  maxBlockMs: number;
  /** Sum of synchronous time, ms. */
  cpuMs: number;
}

/** Why a snapshot file cannot be used. */
export class SnapshotError extends Error {}

type FamilyLine = [string, MetricType, 0 | 1, string | null, number, number, number?];
type AppLine = [string, string, string, number, number | null, FamilyLine[]];

/**
 * Serialize `entries` and write them atomically to `file`. Yields to the
 * event loop every SLICE_MS of work.
 */
export async function writeSnapshot(file: string, entries: readonly StoredEntry[], meta: Omit<SnapshotMeta, 'apps'>, opts: { sliceMs?: number } = {}): Promise<WriteResult> {
  const started = performance.now();
  const slices = new Slices(opts.sliceMs ?? SLICE_MS);

  const hash = createHash('sha256');
  const pieces: Buffer[] = [];
  let length = 0;
  let parts: (string | Buffer)[] = [];
  let pendingBytes = 0;
  const add = (p: string | Buffer) => {
    parts.push(p);
    pendingBytes += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
  };
  const flush = () => {
    if (parts.length === 0) return;
    const buf = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)), pendingBytes);
    hash.update(buf);
    pieces.push(buf);
    length += buf.length;
    parts = [];
    pendingBytes = 0;
  };

  add(JSON.stringify({ created: meta.created, app_label: meta.app_label, apps: entries.length } satisfies SnapshotMeta) + '\n');
  let series = 0;
  for (const e of entries) {
    const fams: AppLine[5] = [];
    const texts: Buffer[] = [];
    for (const [name, c] of e.chunks) {
      // Stored bytes are never written again (an update stores a new buffer), so a view stays valid across the time slices.
      const text = partBytes(c);
      texts.push(text);
      fams.push([name, c.type, c.declared ? 1 : 0, c.help ?? null, c.series, text.length, c.writtenAt ?? e.updatedAt]);
      series += c.series;
    }
    const line: AppLine = [e.app, e.source, e.receiver, e.updatedAt, e.expiresAt ?? null, fams];
    add(JSON.stringify(line) + '\n');
    for (const t of texts) add(t);
    if (pendingBytes >= PIECE_BYTES) flush();
    await slices.pause();
  }
  flush();
  const header = Buffer.from(`${SNAPSHOT_MAGIC} v${SNAPSHOT_VERSION} ${hash.digest('hex')} ${length}\n`);
  slices.end();

  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}`);
  const fh = await fs.promises.open(tmp, 'w', 0o600);
  try {
    try {
      const all = [header, ...pieces];
      for (let i = 0; i < all.length; i += 256) await fh.writev(all.slice(i, i + 256));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
  return { bytes: header.length + length, apps: entries.length, series, totalMs: performance.now() - started, maxBlockMs: slices.maxBlockMs, cpuMs: slices.cpuMs };
}

async function syncDir(dir: string): Promise<void> {
  let dh: fs.promises.FileHandle | undefined;
  try {
    dh = await fs.promises.open(dir, 'r');
    await dh.sync();
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await dh?.close();
  }
}

/**
 * Parse a snapshot file's bytes; throws SnapshotError saying what is wrong
 * (foreign file, unsupported version, truncated, checksum mismatch, malformed).
 */
export function parseSnapshot(buf: Buffer): { meta: SnapshotMeta; entries: StoredEntry[] } {
  const head = buf.subarray(0, MAX_HEADER).toString('latin1');
  if (!head.startsWith(SNAPSHOT_MAGIC + ' ')) throw new SnapshotError('not an exporter-proxy snapshot (no header)');
  const m = HEADER_RE.exec(head);
  if (!m) throw new SnapshotError('malformed snapshot header');
  const familyFields = FAMILY_FIELDS[m[1]!];
  if (familyFields === undefined) throw new SnapshotError(`unsupported snapshot version v${m[1]} (this proxy reads v1 and v${SNAPSHOT_VERSION})`);
  const start = m[0].length;
  const length = Number(m[3]);
  if (buf.length - start < length) throw new SnapshotError(`truncated: header announces ${length} bytes, file has ${buf.length - start}`);
  if (buf.length - start > length) throw new SnapshotError(`${buf.length - start - length} unexpected bytes after the snapshot body`);
  const body = buf.subarray(start);
  if (createHash('sha256').update(body).digest('hex') !== m[2]) throw new SnapshotError('checksum mismatch');
  try {
    let pos = 0;
    const line = (): unknown => {
      const nl = body.indexOf(0x0a, pos);
      if (nl < 0) throw new SnapshotError('missing line end');
      const v = JSON.parse(body.toString('utf8', pos, nl)) as unknown;
      pos = nl + 1;
      return v;
    };
    const meta = line() as SnapshotMeta;
    if (typeof meta !== 'object' || meta === null || !Number.isFinite(meta.created) || !Number.isInteger(meta.apps)) throw new SnapshotError('malformed meta line');
    const entries: StoredEntry[] = [];
    for (let i = 0; i < meta.apps; i++) {
      const a = line() as AppLine;
      if (!Array.isArray(a) || a.length !== 6 || !Array.isArray(a[5])) throw new SnapshotError(`app ${i + 1}: malformed line`);
      const chunks = new Map<string, StoredChunk>();
      for (const f of a[5]) {
        if (!Array.isArray(f) || f.length !== familyFields || !Number.isInteger(f[5]) || f[5] < 0 || pos + f[5] > body.length) throw new SnapshotError(`app ${i + 1}: malformed family`);
        if (familyFields === 7 && !Number.isFinite(f[6])) throw new SnapshotError(`app ${i + 1}: malformed family (writtenAt)`);
        chunks.set(f[0], { type: f[1], declared: f[2] === 1, help: f[3] ?? undefined, series: f[4], data: body, start: pos, bytes: f[5], writtenAt: f[6] });
        pos += f[5];
      }
      entries.push({ app: a[0], source: a[1], receiver: a[2], updatedAt: a[3], expiresAt: a[4] ?? undefined, chunks });
    }
    if (pos !== body.length) throw new SnapshotError(`${body.length - pos} bytes after the last app`);
    return { meta, entries };
  } catch (err) {
    if (err instanceof SnapshotError) throw err;
    throw new SnapshotError(`malformed body: ${(err as Error).message}`);
  }
}

/** `<file>.corrupt-<UTC timestamp>`; unique per millisecond. */
export function corruptName(file: string, now = Date.now()): string {
  return `${file}.corrupt-${new Date(now).toISOString().replace(/[-:]/g, '').replace('.', '-')}`;
}

export interface PersistenceOptions {
  file: string;
  intervalMs: number;
  appLabel: string;
  logger: Logger;
  registry?: Registry;
  now?: () => number;
}

export interface RestoreResult {
  restored: number;
  series: number;
  expired: number;
  skipped: number;
  /** Set when the file was unusable and moved aside (or could not be). */
  corrupt?: { reason: string; movedTo?: string };
}

/**
 * Periodic snapshots of one store to one file. `restore()` before the
 * listeners open, `start()` after, `stop()` on shutdown (final snapshot).
 */
export class Persistence {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastVersion = -1;
  private failing = false;
  private readonly now: () => number;
  private readonly writes?: Counter<'result'>;
  private readonly lastSuccess?: Gauge;
  private readonly lastBlock?: Gauge;
  private readonly lastDuration?: Gauge;
  private readonly lastBytes?: Gauge;
  /** The last successful write, for tests and the benchmark. */
  lastWrite?: WriteResult & { created: number };

  constructor(
    private readonly store: Store,
    private opts: PersistenceOptions,
  ) {
    this.now = opts.now ?? Date.now;
    const registers = opts.registry ? [opts.registry] : [];
    if (opts.registry) {
      this.writes = new Counter({ name: `${OWN_PREFIX}snapshot_writes_total`, help: 'Store snapshots written, by result (ok, error).', labelNames: ['result'], registers });
      this.lastSuccess = new Gauge({ name: `${OWN_PREFIX}snapshot_last_success_timestamp_seconds`, help: 'When the last snapshot that was written completely was taken.', registers });
      this.lastDuration = new Gauge({ name: `${OWN_PREFIX}snapshot_duration_seconds`, help: 'Wall time of the last snapshot, serialization to directory fsync.', registers });
      this.lastBlock = new Gauge({ name: `${OWN_PREFIX}snapshot_max_block_seconds`, help: 'Longest stretch the last snapshot kept the event loop busy.', registers });
      this.lastBytes = new Gauge({ name: `${OWN_PREFIX}snapshot_bytes`, help: 'Size of the last snapshot file.', registers });
    }
  }

  get file(): string {
    return this.opts.file;
  }

  /** Change the interval (reload); takes effect from the next tick. */
  configure(opts: { intervalMs: number }): void {
    this.opts = { ...this.opts, ...opts };
    if (this.timer) {
      clearTimeout(this.timer);
      this.schedule();
    }
  }

  /**
   * Load the snapshot into the store (sync; before listeners open). Missing
   * file: nothing to do. Unusable file: moved aside, warned, start empty.
   * Never throws.
   */
  restore(): RestoreResult {
    const { file, logger } = this.opts;
    this.removeStaleTemps();
    let buf: Buffer;
    try {
      buf = fs.readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        logger.info('no snapshot to restore', { file });
        this.lastVersion = this.store.version;
        return { restored: 0, series: 0, expired: 0, skipped: 0 };
      }
      return this.setAside(`cannot read: ${code ?? (err as Error).message}`);
    }
    let parsed: ReturnType<typeof parseSnapshot>;
    try {
      parsed = parseSnapshot(buf);
    } catch (err) {
      return this.setAside(err instanceof SnapshotError ? err.message : `unreadable: ${(err as Error).message}`);
    }
    if (parsed.meta.app_label !== this.opts.appLabel) {
      logger.warn('snapshot was written with another app_label; restored series keep the old labels until each app pushes again', { file, snapshot_app_label: parsed.meta.app_label, app_label: this.opts.appLabel });
    }
    const r = this.store.restore(parsed.entries, this.now());
    for (const s of r.skipped.slice(0, 20)) logger.warn('snapshot entry not restored', { file, app: s.app, err: s.reason });
    this.lastVersion = this.store.version;
    logger.info('snapshot restored', { file, apps: r.restored, series: r.series, expired: r.expired, skipped: r.skipped.length, age_s: Math.round((this.now() - parsed.meta.created) / 1000) });
    return { restored: r.restored, series: r.series, expired: r.expired, skipped: r.skipped.length };
  }

  private setAside(reason: string): RestoreResult {
    const { file, logger } = this.opts;
    const to = corruptName(file, this.now());
    let movedTo: string | undefined;
    try {
      fs.renameSync(file, to);
      movedTo = to;
      logger.warn('snapshot unusable; moved aside, starting empty', { file, reason, moved_to: to });
    } catch (err) {
      logger.warn('snapshot unusable and could not be moved aside; starting empty', { file, reason, err: (err as Error).message });
    }
    this.lastVersion = -1;
    return { restored: 0, series: 0, expired: 0, skipped: 0, corrupt: { reason, movedTo } };
  }

  /** Temp files left by a crash in the middle of a write. */
  private removeStaleTemps(): void {
    const dir = path.dirname(this.opts.file);
    const prefix = `.${path.basename(this.opts.file)}.tmp-`;
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith(prefix)) fs.rmSync(path.join(dir, n), { force: true });
  }

  start(): void {
    if (!this.timer) this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      void this.snapshot().finally(() => {
        if (this.timer) this.schedule();
      });
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /**
   * Write a snapshot if the store changed since the last one (or `force`).
   * One at a time: a call while one runs waits for it, then checks again.
   */
  async snapshot(force = false): Promise<void> {
    while (this.running) await this.running;
    if (!force && this.store.version === this.lastVersion) return;
    const version = this.store.version;
    const created = this.now();
    const entries = this.store.storedEntries();
    this.running = (async () => {
      try {
        const r = await writeSnapshot(this.opts.file, entries, { created, app_label: this.opts.appLabel });
        this.lastVersion = version;
        this.lastWrite = { ...r, created };
        this.writes?.inc({ result: 'ok' });
        this.lastSuccess?.set(created / 1000);
        this.lastDuration?.set(r.totalMs / 1000);
        this.lastBlock?.set(r.maxBlockMs / 1000);
        this.lastBytes?.set(r.bytes);
        if (this.failing) this.opts.logger.info('snapshot written again', { file: this.opts.file });
        this.failing = false;
      } catch (err) {
        this.writes?.inc({ result: 'error' });
        // Logged once per run of failures, not every interval.
        if (!this.failing) this.opts.logger.error('snapshot write failed', { file: this.opts.file, err: (err as Error).message });
        this.failing = true;
      }
    })();
    try {
      await this.running;
    } finally {
      this.running = undefined;
    }
  }

  /** Stop the timer and write a final snapshot if anything changed. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.snapshot();
  }
}
