// Fan-out groups: on request, fetch every instance of a group concurrently
// and merge the bodies (merge.ts). A failed instance never fails the answer;
// it shows as `up 0`. Routes see only the FanoutApi interface.

import { Counter, Gauge, type Registry } from 'prom-client';
import { FetchError, ProxyError } from '../errors.js';
import { parseText } from '../exposition/text_parse.js';
import type { Logger } from '../log.js';
import type { HttpFetcher } from '../poller/fetch.js';
import type { FanoutGroupConfig } from './config.js';
import { makeDiscoverer, type Discoverer, type Instance } from './discovery.js';
import { mergeInstances, type Conflict } from './merge.js';

export interface InstanceStatus {
  index: number;
  instance: string;
  url: string;
  labels: { name: string; value: string }[];
  /** Last fetch through /targets/<group>/metrics; undefined if never fetched. */
  lastFetch?: { at: number; ok: boolean; durationMs: number; error?: string };
}

export interface GroupListing {
  group: string;
  discovery: string;
  labels: { name: string; value: string }[];
  instances: InstanceStatus[];
  /** Discovery failed (the instances shown are the last good list, or none). */
  error?: string;
}

export interface FanoutAnswer {
  text: string;
  instances: number;
  failed: number;
  conflicts: Conflict[];
}

/** What the HTTP routes need. */
export interface FanoutApi {
  names(): string[];
  /** undefined: no such group. Throws DiscoveryError when no instance list can be had. */
  fetch(name: string): Promise<FanoutAnswer | undefined>;
  list(): Promise<GroupListing[]>;
}

interface Group {
  cfg: FanoutGroupConfig;
  discoverer: Discoverer;
  /** By instance URL. */
  last: Map<string, { at: number; ok: boolean; durationMs: number; error?: string }>;
}

export interface FanoutOptions {
  fetcher: HttpFetcher;
  logger: Logger;
  registry?: Registry;
  dnsServers?: string[];
}

const PREFIX = 'exporter_proxy_fanout_';

export class FanoutGroups implements FanoutApi {
  private readonly groups = new Map<string, Group>();
  private readonly m?: { fetches: Counter<'group' | 'result'>; lastFetch: Gauge<'group'>; conflicts: Counter<'group'> };

  constructor(configs: FanoutGroupConfig[], private readonly opts: FanoutOptions) {
    this.setGroups(configs);
    const registers = opts.registry ? [opts.registry] : undefined;
    if (registers) {
      this.m = {
        fetches: new Counter({ name: `${PREFIX}fetches_total`, help: 'Instance fetches for /targets/<group>/metrics, by group and result (success, failure).', labelNames: ['group', 'result'], registers }),
        lastFetch: new Gauge({ name: `${PREFIX}last_fetch_timestamp_seconds`, help: 'When the group was last fetched (Unix time).', labelNames: ['group'], registers }),
        conflicts: new Counter({ name: `${PREFIX}conflicts_total`, help: 'Families dropped from an instance because their TYPE conflicts with an earlier instance of the group.', labelNames: ['group'], registers }),
      };
      for (const name of this.groups.keys()) {
        for (const result of ['success', 'failure']) this.m.fetches.inc({ group: name, result }, 0);
        this.m.conflicts.inc({ group: name }, 0);
      }
    }
  }

  /** Reload: the new groups replace the old; a group whose settings did not change keeps its last fetch state. */
  update(configs: FanoutGroupConfig[], dnsServers: string[]): void {
    const sameDns = JSON.stringify(dnsServers) === JSON.stringify(this.opts.dnsServers ?? []);
    this.opts.dnsServers = dnsServers;
    const old = new Map(this.groups);
    this.groups.clear();
    this.setGroups(configs, sameDns ? old : new Map());
    for (const name of this.groups.keys()) {
      if (old.has(name)) continue;
      for (const result of ['success', 'failure']) this.m?.fetches.inc({ group: name, result }, 0);
      this.m?.conflicts.inc({ group: name }, 0);
    }
  }

  private setGroups(configs: FanoutGroupConfig[], previous = new Map<string, Group>()): void {
    for (const cfg of configs) {
      const prev = previous.get(cfg.name);
      if (prev && JSON.stringify(prev.cfg) === JSON.stringify(cfg)) {
        this.groups.set(cfg.name, prev);
        continue;
      }
      const discoverer = makeDiscoverer(cfg.discovery, cfg.path, { dnsServers: this.opts.dnsServers ?? [], timeoutMs: cfg.timeoutMs });
      this.groups.set(cfg.name, { cfg, discoverer, last: new Map() });
    }
  }

  names(): string[] {
    return [...this.groups.keys()];
  }

  async fetch(name: string): Promise<FanoutAnswer | undefined> {
    const g = this.groups.get(name);
    if (!g) return undefined;
    const { instances, staleError } = await g.discoverer.discover();
    if (staleError) this.opts.logger.warn('fanout discovery failed, using the last good instance list', { group: name, err: staleError });
    const outcomes = await Promise.all(instances.map((inst, index) => this.fetchOne(g, inst, index)));
    const merged = mergeInstances(outcomes);
    let failed = 0;
    for (const o of outcomes) if (!o.payload) failed++;
    this.m?.fetches.inc({ group: name, result: 'success' }, outcomes.length - failed);
    this.m?.fetches.inc({ group: name, result: 'failure' }, failed);
    this.m?.lastFetch.set({ group: name }, Date.now() / 1000);
    if (merged.conflicts.length) {
      this.m?.conflicts.inc({ group: name }, merged.conflicts.length);
      const c = merged.conflicts[0]!;
      this.opts.logger.warn('fanout type conflict, family dropped', { group: name, instance: c.instance, family: c.family, err: c.detail, more: merged.conflicts.length - 1 || undefined });
    }
    // Forget instances no longer discovered.
    const live = new Set(instances.map((i) => i.url));
    for (const url of g.last.keys()) if (!live.has(url)) g.last.delete(url);
    return { text: merged.text, instances: outcomes.length, failed, conflicts: merged.conflicts };
  }

  private async fetchOne(g: Group, inst: Instance, index: number) {
    const { cfg } = g;
    const started = performance.now();
    const base = { address: inst.address, index, labels: [...cfg.labels, ...inst.labels] };
    try {
      const res = await this.opts.fetcher.fetchText({ url: inst.url, timeoutMs: cfg.timeoutMs, maxBodyBytes: cfg.maxBodyBytes, tlsSkipVerify: cfg.tlsSkipVerify });
      const payload = parseText(res.text);
      g.last.set(inst.url, { at: Date.now(), ok: true, durationMs: performance.now() - started });
      return { ...base, payload };
    } catch (err) {
      const e = err instanceof FetchError ? `${err.reason}: ${err.message}` : err instanceof ProxyError ? `invalid: ${err.code}: ${err.message}` : String((err as Error)?.message ?? err);
      g.last.set(inst.url, { at: Date.now(), ok: false, durationMs: performance.now() - started, error: e });
      return { ...base, payload: undefined };
    }
  }

  async list(): Promise<GroupListing[]> {
    return Promise.all(
      [...this.groups.entries()].map(async ([name, g]): Promise<GroupListing> => {
        const listing: GroupListing = { group: name, discovery: g.discoverer.description, labels: g.cfg.labels, instances: [] };
        try {
          const { instances, staleError } = await g.discoverer.discover();
          if (staleError) listing.error = staleError;
          listing.instances = instances.map((inst, index) => ({ index, instance: inst.address, url: inst.url, labels: inst.labels, lastFetch: g.last.get(inst.url) }));
        } catch (err) {
          listing.error = (err as Error).message;
        }
        return listing;
      }),
    );
  }
}
