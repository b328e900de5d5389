// FROZEN COPY for bench/parse.ts only: src/exposition/text_render.ts as of commit db7fe43, before the
// parse/render speed-up, kept unchanged (imports aside) so the benchmark compares against the real
// previous implementation in the same run. Not used by the proxy; do not edit or import elsewhere.

// Renderer for the Prometheus text exposition format 0.0.4.
//
// Inputs are the model as text_parse.ts produces it: names already valid,
// label values and HELP already escaped, values and timestamps as written.
// Nothing is re-validated or re-escaped here; output is canonical (single
// spaces, no whitespace inside braces, no trailing comma, no `{}`).

import type { Family, Label, MetricType } from './model.js';

/** `# HELP name help\n` (only when help is defined) and always `# TYPE name type\n`. */
export function renderHeader(name: string, type: MetricType, help?: string): string {
  const typeLine = '# TYPE ' + name + ' ' + type + '\n';
  return help === undefined ? typeLine : '# HELP ' + name + ' ' + help + '\n' + typeLine;
}

/**
 * The sample lines of one family, each ending in "\n". `extraLabels` (escaped
 * values) replace a sample label of the same name and are appended after the
 * sample's remaining labels, in the order given.
 */
export function renderSamples(family: Family, extraLabels: Label[]): string {
  const samples = family.samples;
  let out = '';
  if (extraLabels.length === 0) {
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      const labels = s.labels;
      let line = s.name;
      if (labels.length > 0) {
        line += '{' + labels[0]!.name + '="' + labels[0]!.value + '"';
        for (let k = 1; k < labels.length; k++) line += ',' + labels[k]!.name + '="' + labels[k]!.value + '"';
        line += '}';
      }
      line += ' ' + s.value;
      if (s.timestamp !== undefined) line += ' ' + s.timestamp;
      out += line + '\n';
    }
    return out;
  }

  // The extra labels are the same on every line: render them once.
  let extra = '';
  for (let k = 0; k < extraLabels.length; k++) {
    extra += ',' + extraLabels[k]!.name + '="' + extraLabels[k]!.value + '"';
  }
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const labels = s.labels;
    let own = '';
    for (let k = 0; k < labels.length; k++) {
      const l = labels[k]!;
      if (!hasLabel(extraLabels, l.name)) own += ',' + l.name + '="' + l.value + '"';
    }
    // Both parts start with ","; drop the first one.
    let line = s.name + '{' + (own + extra).slice(1) + '} ' + s.value;
    if (s.timestamp !== undefined) line += ' ' + s.timestamp;
    out += line + '\n';
  }
  return out;
}

function hasLabel(labels: Label[], name: string): boolean {
  for (let k = 0; k < labels.length; k++) if (labels[k]!.name === name) return true;
  return false;
}

/** Header plus samples for each family; families without samples are skipped. */
export function renderFamilies(families: Family[], extraLabels: Label[] = []): string {
  let out = '';
  for (let i = 0; i < families.length; i++) {
    const f = families[i]!;
    if (f.samples.length === 0) continue;
    out += renderHeader(f.name, f.type, f.help) + renderSamples(f, extraLabels);
  }
  return out;
}
