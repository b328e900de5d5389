// logfmt lines on stderr, as Prometheus components write them. Passed in,
// never global, so tests can capture what an operator would read.

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function logfmtValue(v: unknown): string {
  const s = v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
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
