// Push the store to a Pushgateway ([push_out]): every interval, what
// /metrics serves from the store (not the proxy's own exporter_proxy_*
// metrics) is PUT as one group, /metrics/job/<job>{/<label>/<value>}, so
// the Pushgateway's group always equals the store, apps gone included.
//
// The Pushgateway sets the grouping labels on every pushed series and
// refuses a push in which two series become one that way (a store holding
// Pushgateway pushes has `job` and `instance` on their series). As
// Prometheus does with honor_labels: false, such labels are kept as
// `exported_<name>`. A store without them is sent as rendered, unparsed.
//
// Sending, retries and the own metrics are sender.ts's.

import { renderHeader, renderSamples } from '../exposition/text_render.js';
import { renameColliding } from '../fanout/merge.js';
import type { PushOutConfig } from './config.js';
import type { OutputKind } from './sender.js';
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

/** Sample lines rendered between two chances for the event loop. */
const RENDER_LINES = 2048;

/**
 * The body to push for the store's rendered exposition text: the same bytes
 * unless a series has a label the grouping key sets; then it is parsed and
 * those labels become `exported_<name>`.
 */
export async function pushBody(body: Buffer, groupingNames: readonly string[], slices = new Slices()): Promise<Buffer | string> {
  const names = ['job', ...groupingNames];
  if (!names.some((n) => body.includes(`{${n}="`) || body.includes(`,${n}="`))) return body;
  const taken = new Set(names);
  let out = '';
  for await (const f of familiesInSlices(body.toString('utf8'), slices)) {
    out += renderHeader(f.name, f.type, f.help);
    // A large family (10,000 lines: one family of 1,000 apps) is relabelled and rendered in parts.
    for (let k = 0; k < f.samples.length; k += RENDER_LINES) {
      await slices.pause();
      out += renderSamples(renameColliding({ ...f, samples: f.samples.slice(k, k + RENDER_LINES) }, taken), []);
    }
  }
  return out;
}

/** The Pushgateway output for Sender: one PUT of the whole store. */
export const pushgatewayOutput: OutputKind<PushOutConfig> = {
  name: 'push_out',
  what: 'push to the Pushgateway',
  build: async (config, storeBody) => ({
    url: groupUrl(config),
    method: 'PUT',
    headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' },
    body: await pushBody(storeBody, config.grouping.map((l) => l.name)),
  }),
};
