// Where a fan-out group's instances come from: a static list, DNS (A, AAAA,
// SRV through node:dns with the configured servers) or a Prometheus file_sd
// JSON file (re-read when its mtime, size or inode changes, checked on every
// call). A discovery that fails after having succeeded once answers with the
// last good list and remembers the error; one that never succeeded throws.

import dns from 'node:dns';
import fs from 'node:fs/promises';
import { DiscoveryError } from '../errors.js';
import { isValidLabelName } from '../exposition/text_parse.js';
import type { Discovery } from './config.js';

export interface Instance {
  /** `host:port`, the `instance` label. */
  address: string;
  url: string;
  /** From file_sd; raw values. */
  labels: { name: string; value: string }[];
}

export interface Discovered {
  instances: Instance[];
  /** Set when this answer is the last good list because discovery just failed. */
  staleError?: string;
}

export interface Discoverer {
  /** One line for /targets: `static`, `dns SRV _x._tcp.example`, `file_sd /path`. */
  readonly description: string;
  discover(): Promise<Discovered>;
}

export function makeDiscoverer(d: Discovery, path: string, opts: { dnsServers: string[]; timeoutMs: number }): Discoverer {
  switch (d.kind) {
    case 'static':
      return new StaticDiscoverer(d.instances, path);
    case 'dns':
      return new DnsDiscoverer(d, path, opts);
    case 'file_sd':
      return new FileSdDiscoverer(d.path, d.scheme, path);
  }
}

/** `host:port` of a URL, with the scheme's default port when none is given. */
export function hostPort(u: URL): string {
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

class StaticDiscoverer implements Discoverer {
  readonly description = 'static';
  private readonly list: Instance[];
  constructor(urls: string[], path: string) {
    this.list = urls.map((raw) => {
      const u = new URL(raw);
      const url = u.pathname === '/' && !u.search ? `${u.protocol}//${u.host}${path}` : u.href;
      return { address: hostPort(u), url, labels: [] };
    });
  }
  async discover(): Promise<Discovered> {
    return { instances: this.list };
  }
}

abstract class Remembering implements Discoverer {
  abstract readonly description: string;
  private lastGood?: Instance[];
  protected abstract load(): Promise<Instance[]>;
  async discover(): Promise<Discovered> {
    try {
      this.lastGood = await this.load();
      return { instances: this.lastGood };
    } catch (err) {
      const message = err instanceof DiscoveryError ? err.message : `${this.description}: ${(err as Error).message}`;
      if (this.lastGood) return { instances: this.lastGood, staleError: message };
      throw err instanceof DiscoveryError ? err : new DiscoveryError(message);
    }
  }
}

class DnsDiscoverer extends Remembering {
  readonly description: string;
  private readonly resolver: dns.promises.Resolver;
  constructor(
    private readonly d: Extract<Discovery, { kind: 'dns' }>,
    private readonly path: string,
    opts: { dnsServers: string[]; timeoutMs: number },
  ) {
    super();
    this.description = `dns ${d.type} ${d.name}`;
    this.resolver = new dns.promises.Resolver({ timeout: Math.max(100, Math.floor(opts.timeoutMs / 2)), tries: 2 });
    if (opts.dnsServers.length) this.resolver.setServers(opts.dnsServers);
  }

  protected async load(): Promise<Instance[]> {
    const { d } = this;
    try {
      if (d.type === 'SRV') {
        const records = await this.resolver.resolveSrv(d.name);
        const list = records.map((r) => {
          const host = r.name.replace(/\.$/, '');
          return { address: `${host}:${r.port}`, url: `${d.scheme}://${host}:${r.port}${this.path}`, labels: [] };
        });
        return list.sort((a, b) => cmp(a.address, b.address));
      }
      const ips = d.type === 'A' ? await this.resolver.resolve4(d.name) : await this.resolver.resolve6(d.name);
      return ips.sort(cmp).map((ip) => {
        const host = d.type === 'AAAA' ? `[${ip}]` : ip;
        return { address: `${host}:${d.port}`, url: `${d.scheme}://${host}:${d.port}${this.path}`, labels: [] };
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // The name exists without such records, or does not exist: no instances, as Prometheus' dns_sd.
      if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
      throw new DiscoveryError(`${this.description}: ${code ?? ''} ${(err as Error).message}`.trim());
    }
  }
}

class FileSdDiscoverer extends Remembering {
  readonly description: string;
  private seen?: { mtimeMs: number; size: number; ino: number; list: Instance[] };
  constructor(
    private readonly file: string,
    private readonly scheme: string,
    private readonly path: string,
  ) {
    super();
    this.description = `file_sd ${file}`;
  }

  protected async load(): Promise<Instance[]> {
    const st = await fs.stat(this.file).catch((err: NodeJS.ErrnoException) => {
      throw new DiscoveryError(`${this.description}: cannot read: ${err.code ?? err.message}`);
    });
    const s = this.seen;
    if (s && s.mtimeMs === st.mtimeMs && s.size === st.size && s.ino === st.ino) return s.list;
    const text = await fs.readFile(this.file, 'utf8');
    const list = parseFileSd(text, this.scheme, this.path, this.description);
    this.seen = { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, list };
    return list;
  }
}

/** Prometheus file_sd JSON: `[{"targets": ["h:p"], "labels": {...}}]`. */
export function parseFileSd(text: string, scheme: string, path: string, what = 'file_sd'): Instance[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new DiscoveryError(`${what}: invalid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new DiscoveryError(`${what}: must be a JSON array of {"targets": [...], "labels": {...}}`);
  const out: Instance[] = [];
  doc.forEach((group: unknown, i) => {
    const g = group as { targets?: unknown; labels?: unknown };
    if (typeof g !== 'object' || g === null || !Array.isArray(g.targets) || g.targets.some((t) => typeof t !== 'string')) {
      throw new DiscoveryError(`${what}: [${i}].targets must be an array of "host:port" strings`);
    }
    const labels: { name: string; value: string }[] = [];
    let groupScheme = scheme;
    let groupPath = path;
    if (g.labels !== undefined) {
      if (typeof g.labels !== 'object' || g.labels === null || Array.isArray(g.labels)) throw new DiscoveryError(`${what}: [${i}].labels must be an object of strings`);
      for (const [name, value] of Object.entries(g.labels)) {
        if (typeof value !== 'string') throw new DiscoveryError(`${what}: [${i}].labels.${name} must be a string`);
        if (!isValidLabelName(name)) throw new DiscoveryError(`${what}: [${i}].labels: invalid label name ${JSON.stringify(name)}`);
        if (name === '__scheme__' && (value === 'http' || value === 'https')) groupScheme = value;
        else if (name === '__metrics_path__' && value.startsWith('/')) groupPath = value;
        else if (!name.startsWith('__') && !PROXY_SET.has(name)) labels.push({ name, value });
      }
    }
    for (const t of g.targets as string[]) {
      let u: URL;
      try {
        u = new URL(`${groupScheme}://${t}`);
      } catch {
        throw new DiscoveryError(`${what}: [${i}].targets: ${JSON.stringify(t)} is not host:port`);
      }
      if (u.host !== t.toLowerCase() && hostPort(u) !== t.toLowerCase()) throw new DiscoveryError(`${what}: [${i}].targets: ${JSON.stringify(t)} is not host:port`);
      out.push({ address: hostPort(u), url: `${groupScheme}://${u.host}${groupPath}`, labels });
    }
  });
  return out;
}

/** Set per instance by the proxy, or reserved by histograms/summaries: ignored in file_sd labels. */
const PROXY_SET = new Set(['instance', 'index', 'le', 'quantile']);

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
