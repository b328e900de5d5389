// Renderer for the Prometheus text exposition format 0.0.4.
//
// Inputs are the model as text_parse.ts produces it: names already valid,
// label values and HELP already escaped, values and timestamps as written.
// Nothing is re-validated or re-escaped here; output is canonical (single
// spaces, no whitespace inside braces, no trailing comma, no `{}`).
//
// A TextSample still linked to its canonical line (model.ts) renders as that
// line: without extra labels, consecutive such lines of one payload are copied
// as one slice; with extra labels, the extras are spliced in before the `}`
// unless a label of the line may be overridden (then the labels are parsed).
// The result is never a bare slice of the payload: without extra labels it is
// a fresh flat string, with them a concatenation, which flattening (the
// store's Buffer.byteLength does) turns into one; either way nothing keeps
// the payload alive.

import { TextSample, labelNamesMask } from './model.js';
import type { Family, Label, MetricType, Sample } from './model.js';

/** `# HELP name help\n` (only when help is defined) and always `# TYPE name type\n`. */
export function renderHeader(name: string, type: MetricType, help?: string): string {
  const typeLine = '# TYPE ' + name + ' ' + type + '\n';
  return help === undefined ? typeLine : '# HELP ' + name + ' ' + help + '\n' + typeLine;
}

/**
 * The sample lines of one family, each ending in "\n". `extraLabels` (escaped
 * values) replace a sample label of the same name and are appended after the
 * sample's remaining labels, in the order given. `defaultLabels` are added,
 * before the extras, to samples that have no label of that name (a default
 * that is also an extra label is the extra).
 */
export function renderSamples(family: Family, extraLabels: readonly Label[], defaultLabels: readonly Label[] = []): string {
  if (defaultLabels.length > 0) return renderWithExtra(family.samples, extraLabels, defaultLabels.filter((d) => !hasLabel(extraLabels, d.name)));
  return extraLabels.length === 0 ? renderPlain(family.samples) : renderWithExtra(family.samples, extraLabels, defaultLabels);
}

function renderPlain(samples: readonly Sample[]): string {
  // Joined once: the result is a fresh flat string (measured faster here
  // than a rope of slices, which Buffer.byteLength then has to flatten).
  const out: string[] = [];
  // The current run of adjacent canonical lines: runText[runStart..runEnd).
  let runText: string | undefined;
  let runStart = 0;
  let runEnd = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const text = TextSample.lineText(s);
    if (text !== undefined) {
      const start = TextSample.lineStart(s);
      // The next line of the same payload (ints first: === on two distinct equal payloads compares them).
      if (start === runEnd + 1 && text === runText && text.charCodeAt(runEnd) === 10 /* \n */) {
        runEnd = TextSample.lineEnd(s);
        continue;
      }
      if (runText !== undefined) out.push(runText.slice(runStart, runEnd), '\n');
      runText = text;
      runStart = start;
      runEnd = TextSample.lineEnd(s);
      continue;
    }
    if (runText !== undefined) {
      out.push(runText.slice(runStart, runEnd), '\n');
      runText = undefined;
    }
    const labels = s.labels;
    let line = s.name;
    if (labels.length > 0) {
      line += '{' + labels[0]!.name + '="' + labels[0]!.value + '"';
      for (let k = 1; k < labels.length; k++) line += ',' + labels[k]!.name + '="' + labels[k]!.value + '"';
      line += '}';
    }
    line += ' ' + s.value;
    if (s.timestamp !== undefined) line += ' ' + s.timestamp;
    out.push(line, '\n');
  }
  if (runText !== undefined) out.push(runText.slice(runStart, runEnd), '\n');
  return out.join('');
}

/** (Appending to a rope measured faster here than joining an array.) */
function renderWithExtra(samples: readonly Sample[], extraLabels: readonly Label[], defaults: readonly Label[]): string {
  // The added labels are the same on every line where the line has none of
  // their names: render them once.
  let extra = '';
  for (let k = 0; k < defaults.length; k++) extra += ',' + defaults[k]!.name + '="' + defaults[k]!.value + '"';
  for (let k = 0; k < extraLabels.length; k++) extra += ',' + extraLabels[k]!.name + '="' + extraLabels[k]!.value + '"';
  const addedMask = labelNamesMask(extraLabels) | labelNamesMask(defaults);
  const inner = extra.slice(1);
  let out = '';
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const text = TextSample.lineText(s);
    if (text !== undefined && (TextSample.labelMask(s) & addedMask) === 0) {
      // No label of the line can be one of the added names: splice them in.
      const start = TextSample.lineStart(s);
      const close = TextSample.lineClose(s);
      const end = TextSample.lineEnd(s);
      if (close >= 0) out += text.slice(start, close) + extra + text.slice(close, end) + '\n';
      else out += s.name + '{' + inner + '}' + text.slice(start + s.name.length, end) + '\n';
      continue;
    }
    const labels = s.labels;
    let own = '';
    for (let k = 0; k < labels.length; k++) {
      const l = labels[k]!;
      if (!hasLabel(extraLabels, l.name)) own += ',' + l.name + '="' + l.value + '"';
    }
    for (let k = 0; k < defaults.length; k++) {
      const d = defaults[k]!;
      if (!hasLabel(labels, d.name)) own += ',' + d.name + '="' + d.value + '"';
    }
    for (let k = 0; k < extraLabels.length; k++) own += ',' + extraLabels[k]!.name + '="' + extraLabels[k]!.value + '"';
    // Every part starts with ","; drop the first one (no braces when nothing is left).
    let line = own === '' ? s.name + ' ' + s.value : s.name + '{' + own.slice(1) + '} ' + s.value;
    if (s.timestamp !== undefined) line += ' ' + s.timestamp;
    out += line + '\n';
  }
  return out;
}

function hasLabel(labels: readonly Label[], name: string): boolean {
  for (let k = 0; k < labels.length; k++) if (labels[k]!.name === name) return true;
  return false;
}

/** Header plus samples for each family; families without samples are skipped. */
export function renderFamilies(families: Family[], extraLabels: readonly Label[] = []): string {
  let out = '';
  for (let i = 0; i < families.length; i++) {
    const f = families[i]!;
    if (f.samples.length === 0) continue;
    out += renderHeader(f.name, f.type, f.help) + renderSamples(f, extraLabels);
  }
  return out;
}
