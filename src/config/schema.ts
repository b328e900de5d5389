// A small declarative validator for TOML tables: every key has a rule, every
// problem becomes one line naming the full key (`receiver.format: ...`), and
// unknown keys are problems too. Sections stay tables of rules so a new key
// is one line, not new control flow.

export type Rule =
  | { kind: 'bool'; default: boolean }
  | { kind: 'int'; default: number; min?: number; max?: number }
  | { kind: 'number'; default: number; min?: number; max?: number }
  | { kind: 'string'; default: string; oneOf?: readonly string[]; check?: (v: string) => string | undefined }
  | { kind: 'strings'; default: string[]; check?: (v: string) => string | undefined }
  | { kind: 'ints'; default: number[]; min?: number; max?: number };

export type Rules = Record<string, Rule>;

type ValueOf<R extends Rule> = R extends { kind: 'bool' }
  ? boolean
  : R extends { kind: 'int' | 'number' }
    ? number
    : R extends { kind: 'string' }
      ? string
      : R extends { kind: 'ints' }
        ? number[]
        : string[];

export type Values<R extends Rules> = { [K in keyof R]: ValueOf<R[K]> };

export function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/**
 * Validate `table` (may be undefined: all defaults) against `rules`.
 * Problems are appended to `problems`; the result always has every key, with
 * the default where the given value was missing or wrong.
 */
export function readSection<R extends Rules>(
  prefix: string,
  table: unknown,
  rules: R,
  problems: string[],
  opts: { allowExtra?: readonly string[] } = {},
): Values<R> {
  const out: Record<string, unknown> = {};
  if (table !== undefined && !isTable(table)) {
    problems.push(`${prefix}: must be a table`);
    table = undefined;
  }
  const given = (table ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!(key in rules) && !opts.allowExtra?.includes(key)) problems.push(`${prefix}.${key}: unknown key`);
  }
  for (const [key, rule] of Object.entries(rules)) {
    const v = given[key];
    out[key] = v === undefined ? rule.default : checkValue(`${prefix}.${key}`, v, rule, problems);
  }
  return out as Values<R>;
}

function checkValue(key: string, v: unknown, rule: Rule, problems: string[]): unknown {
  const bad = (why: string) => {
    problems.push(`${key}: ${why}`);
    return rule.default;
  };
  switch (rule.kind) {
    case 'bool':
      return typeof v === 'boolean' ? v : bad(`must be true or false, got ${show(v)}`);
    case 'int':
    case 'number': {
      if (typeof v !== 'number' || Number.isNaN(v)) return bad(`must be a number, got ${show(v)}`);
      if (rule.kind === 'int' && !Number.isInteger(v)) return bad(`must be a whole number, got ${v}`);
      if (rule.min !== undefined && v < rule.min) return bad(`must be at least ${rule.min}, got ${v}`);
      if (rule.max !== undefined && v > rule.max) return bad(`must be at most ${rule.max}, got ${v}`);
      return v;
    }
    case 'string': {
      if (typeof v !== 'string') return bad(`must be a string, got ${show(v)}`);
      if (rule.oneOf && !rule.oneOf.includes(v)) return bad(`must be one of ${rule.oneOf.join(', ')}; got ${JSON.stringify(v)}`);
      const why = rule.check?.(v);
      return why ? bad(why) : v;
    }
    case 'ints': {
      if (!Array.isArray(v) || v.some((n) => typeof n !== 'number' || !Number.isInteger(n))) return bad(`must be an array of whole numbers, got ${show(v)}`);
      const out = v.find((n: number) => (rule.min !== undefined && n < rule.min) || (rule.max !== undefined && n > rule.max));
      if (out !== undefined) return bad(`must be numbers from ${rule.min} to ${rule.max}, got ${out}`);
      return v;
    }
    case 'strings': {
      if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) return bad(`must be an array of strings, got ${show(v)}`);
      for (const s of v as string[]) {
        const why = rule.check?.(s);
        if (why) return bad(why);
      }
      return v;
    }
  }
}

/** A `check` for strings that must be set. */
export function nonEmpty(v: string): string | undefined {
  return v === '' ? 'must not be empty' : undefined;
}

function show(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (isTable(v)) return 'a table';
  return JSON.stringify(v) ?? String(v);
}

/** Parse `host:port` or `[v6]:port`; returns a problem string on failure. */
export function parseHostPort(s: string): { host: string; port: number } | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) return `must be host:port, got ${JSON.stringify(s)}`;
  const port = Number(m[3]);
  if (port > 65535) return `port must be at most 65535, got ${port}`;
  return { host: m[1] ?? m[2] ?? '', port };
}
