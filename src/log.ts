// logfmt lines on stderr, as Prometheus components write them. Passed in,
// never global, so tests can capture what an operator would read.

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

// Characters a terminal or log viewer would act on (ANSI escapes, C1 controls,
// line separators, bidi overrides) or a backslash: a value with any of them is quoted, and
// those JSON.stringify leaves raw are escaped, so pushed app names cannot
// forge log lines or recolour a terminal.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;
const UNSAFE_G = new RegExp(UNSAFE.source, 'g');

function logfmtValue(v: unknown): string {
  const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
  if (/^[^\s"=\\]+$/.test(s) && !UNSAFE.test(s)) return s;
  return JSON.stringify(s).replace(UNSAFE_G, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function logfmt(level: string, msg: string, fields: Record<string, unknown> = {}, now = new Date()): string {
  let line = `ts=${now.toISOString()} level=${level} msg=${logfmtValue(msg)}`;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${logfmtValue(v)}`;
  return line;
}

export function stderrLogger(): Logger {
  const write = (level: string) => (msg: string, fields?: Record<string, unknown>) => process.stderr.write(logfmt(level, msg, fields) + '\n');
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

/** Collects lines in memory; for tests. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const write = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push(logfmt(level, msg, fields));
  return { lines, info: write('info'), warn: write('warn'), error: write('error') };
}
