// FROZEN COPY for bench/parse.ts only: src/exposition/model.ts as of commit db7fe43, before the
// parse/render speed-up, kept unchanged (imports aside) so the benchmark compares against the real
// previous implementation in the same run. Not used by the proxy; do not edit or import elsewhere.

// The family model every source produces and the store renders from.
// Label values and HELP text are kept *escaped* exactly as the text format
// writes them (`\\`, `\"`, `\n` in label values; `\\`, `\n` in HELP), because
// the text format's escapes are canonical: keeping them avoids unescaping on
// ingest and re-escaping on every render, and makes the escaped form a valid
// identity for duplicate detection.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Label {
  name: string;
  /** Escaped as in the text format, without the surrounding quotes. */
  value: string;
}

export interface Sample {
  /** Full sample name, including a histogram/summary suffix (`_bucket`, `_sum`, `_count`). */
  name: string;
  labels: Label[];
  /** The value as written (validated as a Go ParseFloat-compatible float). */
  value: string;
  /** Integer milliseconds as written, kept as sent; undefined when absent. */
  timestamp?: string;
}

export interface Family {
  name: string;
  type: MetricType;
  /** True when the payload had a `# TYPE` line for this family. */
  typeDeclared: boolean;
  /** Escaped HELP text; undefined when the payload had no `# HELP` line. */
  help?: string;
  samples: Sample[];
}

export interface ParsedPayload {
  /** Families in order of first appearance; never two with the same name. */
  families: Family[];
  /** Total number of samples over all families. */
  series: number;
}
