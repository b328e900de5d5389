// Merge the parsed bodies of a fan-out group's instances into one text
// 0.0.4 exposition: one HELP/TYPE per family, every sample labelled with
// `instance` and `index` (plus the group's and file_sd's labels), and a
// synthetic `up` gauge per instance.
//
// Scraped labels that collide with the ones added are kept as
// `exported_<name>`, as Prometheus does with honor_labels: false, so series
// stay distinct. A family whose TYPE disagrees with the one an earlier
// instance declared (or that would collide with an earlier histogram's or
// summary's sample names, or is named `up`) is dropped from the later
// instance and reported as a conflict.

import type { Family, Label, MetricType, ParsedPayload, Sample } from '../exposition/model.js';
import { claimants, claimedNames, plainSample } from '../exposition/model.js';
import { escapeHelp, escapeLabelValue } from '../exposition/text_parse.js';
import { renderHeader, renderSamples } from '../exposition/text_render.js';

export interface InstanceOutcome {
  /** `host:port`. */
  address: string;
  /** Position in the group's instance list. */
  index: number;
  /** Group and file_sd labels; raw values. Must not be named instance/index. */
  labels: { name: string; value: string }[];
  /** The parsed body; undefined when the fetch or parse failed. */
  payload?: ParsedPayload;
}

export interface Conflict {
  instance: string;
  family: string;
  detail: string;
}

export interface Merged {
  text: string;
  conflicts: Conflict[];
  series: number;
}

type Kind = MetricType | 'loose';

interface Slot {
  type: MetricType;
  help?: string;
  kinds: Set<Kind>;
  parts: string[];
}

const SIMPLE: ReadonlySet<Kind> = new Set(['counter', 'gauge', 'untyped', 'loose']);
const UP_HELP = escapeHelp('1 if the instance answered 200 with a valid exposition body, 0 otherwise (set by exporter-proxy fan-out).');

export function mergeInstances(outcomes: InstanceOutcome[]): Merged {
  const slots = new Map<string, Slot>();
  const conflicts: Conflict[] = [];
  let up = '';
  let series = 0;
  for (const o of outcomes) {
    const extras = extraLabels(o);
    up += renderSamples({ name: 'up', type: 'gauge', typeDeclared: true, samples: [{ name: 'up', labels: [], value: o.payload ? '1' : '0' }] }, extras);
    series++;
    if (!o.payload) continue;
    const extraNames = new Set(extras.map((l) => l.name));
    for (const f of o.payload.families) {
      if (f.samples.length === 0) continue;
      const why = conflictFor(slots, f);
      if (why) {
        conflicts.push({ instance: o.address, family: f.name, detail: why });
        continue;
      }
      let slot = slots.get(f.name);
      if (!slot) {
        slot = { type: 'untyped', kinds: new Set(), parts: [] };
        slots.set(f.name, slot);
      }
      if (f.typeDeclared) slot.type = f.type;
      slot.help ??= f.help;
      slot.kinds.add(kindOf(f));
      slot.parts.push(renderSamples(renameColliding(f, extraNames), extras));
      series += f.samples.length;
    }
  }
  let text = outcomes.length ? renderHeader('up', 'gauge', UP_HELP) + up : '';
  for (const [name, slot] of slots) text += renderHeader(name, slot.type, slot.help) + slot.parts.join('');
  return { text, conflicts, series };
}

function extraLabels(o: InstanceOutcome): Label[] {
  const out: Label[] = [
    { name: 'instance', value: escapeLabelValue(o.address) },
    { name: 'index', value: String(o.index) },
  ];
  const seen = new Set(['instance', 'index']);
  // Later entries (file_sd) override earlier ones (group) of the same name.
  const byName = new Map<string, string>();
  for (const l of o.labels) if (!seen.has(l.name)) byName.set(l.name, l.value);
  for (const [name, value] of byName) out.push({ name, value: escapeLabelValue(value) });
  return out;
}

function kindOf(f: Family): Kind {
  return !f.typeDeclared && f.type === 'untyped' ? 'loose' : f.type;
}

function describe(k: Kind): string {
  return k === 'loose' ? 'untyped (no TYPE line)' : k;
}

function conflictFor(slots: Map<string, Slot>, f: Family): string | undefined {
  if (f.name === 'up') return 'the family "up" is set by the proxy for each instance';
  const want = kindOf(f);
  const slot = slots.get(f.name);
  if (slot) {
    for (const k of slot.kinds) {
      const ok = k === want || (SIMPLE.has(k) && SIMPLE.has(want) && (k === 'loose' || want === 'loose'));
      if (!ok) return `declared ${describe(want)} but an earlier instance declared it ${describe(k)}`;
    }
    return undefined;
  }
  for (const claimed of claimedNames(f.name, f.type)) {
    if (slots.has(claimed)) return `${f.type} needs the name ${claimed} for its samples, but an earlier instance has a family of that name`;
  }
  for (const { base, type } of claimants(f.name)) {
    if (slots.get(base)?.type === type) return `collides with the ${type} ${base} of an earlier instance`;
  }
  return undefined;
}

/** Rename scraped labels that the proxy sets to `exported_<name>` (repeated while taken). */
export function renameColliding(f: Family, taken: ReadonlySet<string>): Family {
  let samples: Sample[] | undefined;
  for (let i = 0; i < f.samples.length; i++) {
    const s = f.samples[i]!;
    if (!s.labels.some((l) => taken.has(l.name))) {
      samples?.push(s);
      continue;
    }
    samples ??= f.samples.slice(0, i);
    const names = new Set(s.labels.map((l) => l.name));
    const labels = s.labels.map((l) => {
      if (!taken.has(l.name)) return l;
      let name = 'exported_' + l.name;
      while (taken.has(name) || names.has(name)) name = 'exported_' + name;
      names.add(name);
      return { name, value: l.value };
    });
    samples.push(plainSample(s.name, labels, s.value, s.timestamp));
  }
  return samples ? { ...f, samples } : f;
}
