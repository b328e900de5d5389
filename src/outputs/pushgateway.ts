// Push the store to a Pushgateway ([push_out]): every interval, what
// /metrics serves from the store (not the proxy's own exporter_proxy_*
// metrics) is PUT as one group, /metrics/job/<job>{/<label>/<value>}, so
// the Pushgateway's group always equals the store, apps gone included.
//
// The Pushgateway sets the grouping labels on every pushed series and
// refuses a push in which two series become one that way (a store holding
// Pushgateway pushes has `job` and `instance` on their series). As
// Prometheus does with honor_labels: false, such labels are kept as
// `exported_<name>`. It also refuses the whole push when a series is in it
// twice, which two apps without app_label can store: the copies are left
// out (the first stays). A store with neither is sent as rendered, without
// reading it when no family can hold a series twice (app_label set, or no
// family held by two apps).
//
// Sending, retries and the own metrics are sender.ts's.

import { renderHeader, renderSamples } from '../exposition/text_render.js';
import { renameColliding } from '../fanout/merge.js';
import type { DroppedSeries } from '../exposition/model.js';
import type { PushOutConfig } from './config.js';
import type { OutputKind, StoreBody } from './sender.js';
import { Slices } from '../slices.js';
import { familiesInSlices } from './store_text.js';

/** A path segment of a grouping key: base64url (`<name>@base64/...`) when the value has a `/` (or is empty), as the Pushgateway reads it. */
function keySegment(name: string, value: string): string {
  if (value === '' || value.includes('/')) return `${name}@base64/${Buffer.from(value).toString('base64url') || '='}`;
  return `${name}/${encodeURIComponent(value)}`;
}

/** The group's URL: base, then job and the grouping labels. */
export function groupUrl(config: Pick<PushOutConfig, 'url' | 'job' | 'grouping'>): string {
  return `${config.url}/metrics/${[keySegment('job', config.job), ...config.grouping.map((l) => keySegment(l.name, l.value))].join('/')}`;
}

/**
 * The body to push for the store's rendered exposition text. The Pushgateway
 * refuses a whole push that holds a series twice (two apps without
 * app_label can store the same one, in a family both hold): such copies are
 * left out, the first kept, and counted in `dropped`. A series with a label
 * the grouping key sets has it renamed `exported_<name>`. With neither, the
 * same bytes; to know, the text is read in slices (~75 ms per 100,000
 * series, measured), unless no family overlaps (`overlappingFamilies`).
 * Read once: until the first copy, what was read goes out as it is.
 */
export async function pushBody(
  store: Pick<StoreBody, 'body' | 'overlappingFamilies'>,
  groupingNames: readonly string[],
  slices = new Slices(),
  dropped: DroppedSeries = { series: 0 },
): Promise<Buffer | string> {
  const body = store.body;
  const names = ['job', ...groupingNames];
  const relabel = names.some((n) => body.includes(`{${n}="`) || body.includes(`,${n}="`));
  if (!relabel && store.overlappingFamilies === 0) return body;
  const taken = new Set(names);
  // Undefined while the bytes read so far go out as they are: no relabelling, no copy left out yet.
  let out: string | undefined = relabel ? '' : undefined;
  // A long family comes in parts, its header with the first.
  for await (const { family: f, continued, readFrom } of familiesInSlices(body, slices, dropped)) {
    if (out === undefined) {
      if (dropped.series === 0) continue;
      out = body.toString('utf8', 0, readFrom); // the first copy is in this section: what came before stands
    }
    if (!continued) out += renderHeader(f.name, f.type, f.help);
    out += renderSamples(relabel ? renameColliding(f, taken) : f, []);
  }
  return out ?? body;
}

/** The Pushgateway output for Sender: one PUT of the whole store. */
export const pushgatewayOutput: OutputKind<PushOutConfig> = {
  name: 'push_out',
  what: 'push to the Pushgateway',
  build: async (config, store) => {
    const dropped: DroppedSeries = { series: 0 };
    return {
      url: groupUrl(config),
      method: 'PUT',
      headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
      body: await pushBody(store, config.grouping.map((l) => l.name), new Slices(), dropped),
      dropped,
    };
  },
};
