// Pushgateway semantics on top of the Store. Each group (grouping key) is one
// app; PUT replaces the app's entry, POST merges (replaces only the pushed
// families), DELETE removes it. Every successful push also stores the
// group's `push_time_seconds` (now) and `push_failure_time_seconds` (kept)
// gauges with the grouping labels, as part of the same atomic update; a
// pushed family of either name is dropped, as the Pushgateway overrides it.
//
// A push that the store (or the consistency check here) rejects changes
// nothing, except that an *existing* group gets push_failure_time_seconds set
// to now (a bookkeeping update that keeps its expiry and last error). A
// malformed push (bad path, encoding or syntax) never reaches a group.
//
// Like the Pushgateway, every sample gets `instance=""` when neither the
// grouping key nor the sample has an `instance` label, so Prometheus (with
// honor_labels) does not attach the proxy's own instance.

import { GroupingKeyError, ProxyError, quote } from '../errors.js';
import type { Family, Label, ParsedPayload } from '../exposition/model.js';
import { formatGoFloat } from '../exposition/protobuf_parse.js';
import type { Store, Update } from '../store/store.js';
import type { GroupingKey } from './grouping.js';

export const PUSH_TIME = 'push_time_seconds';
export const PUSH_FAILURE_TIME = 'push_failure_time_seconds';
export const PUSH_TIME_HELP = 'Last Unix time when changing this group in the Pushgateway succeeded.';
export const PUSH_FAILURE_TIME_HELP = 'Last Unix time when changing this group in the Pushgateway failed.';
export const RECEIVER = 'http_push';

const EMPTY_INSTANCE: Label[] = [{ name: 'instance', value: '' }];

export interface PushServiceOptions {
  store: Store;
  now?: () => number;
  /** Expiry for pushed groups in ms (0 = never); undefined = the store's ttl. */
  ttlMs?: number;
}

export class PushService {
  private readonly store: Store;
  private readonly now: () => number;
  ttlMs: number | undefined;
  /** Errors the store threw (and already counted and logged through its own hook). */
  private readonly storeRejections = new WeakSet<Error>();

  constructor(opts: PushServiceOptions) {
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs;
  }

  /**
   * Apply a parsed push. `replace` = PUT, otherwise POST. Throws the
   * ProxyError that rejected it (after recording the failure time). `tail`:
   * timeFamilies(key), when the caller has it already (from pushRepeat).
   */
  push(key: GroupingKey, payload: ParsedPayload, replace: boolean, source: string, tail = this.timeFamilies(key)): void {
    let families: Family[];
    try {
      families = prepareFamilies(payload, key);
    } catch (err) {
      if (err instanceof ProxyError && !(err instanceof GroupingKeyError)) this.recordFailure(key, source);
      throw err;
    }
    families.push(...tail);
    let series = 0;
    for (const f of families) series += f.samples.length;
    this.put(key, source, { payload: { families, series }, mode: replace ? 'replace' : 'merge' });
  }

  /**
   * A push whose body `text` repeats what the group holds, every family and
   * series, with new values (Store.repeatPrepared): applied as push() would
   * apply its parse, without one. A PUT or a POST alike: a POST that names
   * every family the group holds replaces them all, as a PUT does. False,
   * having changed nothing, when it is not such a repeat: the caller parses
   * the text and calls push() with the same `tail`.
   */
  pushRepeat(key: GroupingKey, text: string, source: string, tail = this.timeFamilies(key)): boolean {
    const prepared = this.store.repeatPrepared({ app: key.app, ...storeLabels(key) }, text, tail);
    if (prepared === undefined) return false;
    this.put(key, source, { prepared, mode: 'replace' });
    return true;
  }

  /**
   * push_time_seconds (now) and push_failure_time_seconds (kept): the
   * families every push to `key` stores after the pushed ones. Built once
   * per push (it reads the group's failure time from the store), for
   * pushRepeat and, when that does not take the push, push().
   */
  timeFamilies(key: GroupingKey): Family[] {
    const failure = lastValue(this.store.familyText(key.app, PUSH_FAILURE_TIME)) ?? '0';
    return [timeFamily(PUSH_TIME, PUSH_TIME_HELP, formatGoFloat(this.now() / 1000)), timeFamily(PUSH_FAILURE_TIME, PUSH_FAILURE_TIME_HELP, failure)];
  }

  /** Store the group's update; a store rejection also sets the failure time, and is rethrown. */
  private put(key: GroupingKey, source: string, update: Pick<Update, 'payload' | 'prepared' | 'mode'>): void {
    try {
      this.store.put({ app: key.app, source, receiver: RECEIVER, ...update, ...storeLabels(key), ttlMs: this.ttlMs });
    } catch (err) {
      if (err instanceof ProxyError) {
        this.storeRejections.add(err);
        this.recordFailure(key, source);
      }
      throw err;
    }
  }

  /**
   * Set push_failure_time_seconds of an existing group to now; nothing else
   * about the group changes. No-op for a group that does not exist.
   */
  recordFailure(key: GroupingKey, source: string): void {
    if (!this.store.has(key.app)) return;
    const now = this.now();
    try {
      const family = timeFamily(PUSH_FAILURE_TIME, PUSH_FAILURE_TIME_HELP, formatGoFloat(now / 1000));
      this.store.put({ app: key.app, source, receiver: RECEIVER, payload: { families: [family], series: 1 }, ...storeLabels(key), mode: 'merge', bookkeeping: true });
    } catch {
      // The failure time itself could not be stored (say, another app holds
      // push_failure_time_seconds with another type); the push's own error is what matters.
    }
  }

  /** True for an error the store raised (its onReject hook has already reported it). */
  isStoreRejection(err: Error): boolean {
    return this.storeRejections.has(err);
  }

  /** DELETE: remove the group; true when it existed. */
  delete(key: GroupingKey): boolean {
    return this.store.remove(key.app);
  }

  /** PUT /api/v1/admin/wipe: remove every pushed group; returns how many. */
  wipe(): number {
    let n = 0;
    for (const a of this.store.listApps()) {
      if (a.receiver === RECEIVER && this.store.remove(a.app)) n++;
    }
    return n;
  }
}

/** The value of the last sample line of a one-sample family's stored text (the push time gauges). */
export function lastValue(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const line = text.trimEnd();
  return line.slice(line.lastIndexOf(' ') + 1);
}

/** The grouping labels replace same-named sample labels; `instance=""` goes where neither the key nor the sample has an instance. */
function storeLabels(key: GroupingKey): { labels: readonly Label[]; defaultLabels: readonly Label[] } {
  return { labels: key.storeLabels, defaultLabels: key.hasInstance ? [] : EMPTY_INSTANCE };
}

function timeFamily(name: string, help: string, value: string): Family {
  return { name, type: 'gauge', typeDeclared: true, help, samples: [{ name, labels: [], value }] };
}

/**
 * The families to store for a push: without push_time_seconds /
 * push_failure_time_seconds, and refused when a grouping label would become
 * a histogram's `le` or a summary's `quantile`. (That the grouping labels,
 * which replace same-named sample labels, make two series one is the
 * store's check, as for every added label.)
 */
export function prepareFamilies(payload: ParsedPayload, key: GroupingKey): Family[] {
  const grouping = key.names;
  const out: Family[] = [];
  for (const f of payload.families) {
    if (f.name === PUSH_TIME || f.name === PUSH_FAILURE_TIME) continue;
    if (f.type === 'histogram' && grouping.has('le')) throw new GroupingKeyError(`grouping label "le" cannot be applied to histogram ${quote(f.name)}`);
    if (f.type === 'summary' && grouping.has('quantile')) throw new GroupingKeyError(`grouping label "quantile" cannot be applied to summary ${quote(f.name)}`);
    out.push(f);
  }
  return out;
}
