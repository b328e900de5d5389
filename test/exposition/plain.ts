// The parser returns TextSample instances (model.ts): `labels` is an accessor
// on the prototype and the payload link is private, so assert's deep
// comparison with the plain objects the tests write would fail on the
// prototype alone. plain() is the faithful projection the tests compare:
// every Sample field the model defines, read through the public interface,
// with `timestamp` present exactly when defined.

import type { Family, Label, ParsedPayload, Sample } from '../../src/exposition/model.js';
import { plainSample as sampleOf } from '../../src/exposition/model.js';

export function plainSample(s: Sample): Sample {
  const labels: Label[] = s.labels.map((l) => ({ name: l.name, value: l.value }));
  return sampleOf(s.name, labels, s.value, s.timestamp);
}

export function plainFamily(f: Family): Family {
  return { ...f, samples: f.samples.map(plainSample) };
}

export function plain(p: ParsedPayload): ParsedPayload {
  return { families: p.families.map(plainFamily), series: p.series };
}
