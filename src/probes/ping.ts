// Ping probes: the PingExporter's job (ping many devices on an interval),
// served like every other source instead of pushed to a Pushgateway. Each
// round runs the system's `ping` (iputils: `ping -n -c <count> -W
// <timeout> <host>`, no raw-socket privilege needed by the proxy) for every
// target, at most PARALLEL at a time, and stores the app `ping` (see
// prober.ts for the loop):
//
//   ping_up{host,name}               1 if any echo request was answered
//   ping_rtt_seconds{host,name}      average round trip (answered targets only)
//   ping_loss_ratio{host,name}       share of echo requests not answered
//
// A host that does not resolve reads as down. Without a `ping` command
// nothing can be measured: each round logs that as an error and stores
// nothing (a missing tool is not a host being down; see prober.ts).

import { escapeLabelValue } from '../exposition/text_parse.js';
import { renderHeader } from '../exposition/text_render.js';
import { runTool } from './command.js';
import type { PingConfig, PingTarget } from './config.js';
import type { ProbeKind } from './prober.js';

export const PING_APP = 'ping';
const PARALLEL = 32;

export interface PingResult {
  sent: number;
  received: number;
  /** Average round trip, seconds; undefined when nothing was answered. */
  rttSeconds?: number;
}

/**
 * The summary of iputils ping's output: "N packets transmitted, M received"
 * and "rtt min/avg/max/mdev = a/b/c/d ms". Output without the first (a host
 * that does not resolve) is nothing sent, nothing received.
 */
export function parsePingOutput(out: string): PingResult {
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(out);
  if (!counts) return { sent: 0, received: 0 };
  const rtt = /= [\d.]+\/([\d.]+)\/[\d.]+\/[\d.]+ ms/.exec(out);
  const received = Number(counts[2]);
  return { sent: Number(counts[1]), received, rttSeconds: received > 0 && rtt ? Number(rtt[1]) / 1000 : undefined };
}

/** Ping one host; rejects only with ToolError (no ping command). `signal` kills the ping (the result is then nothing received). */
export async function pingHost(host: string, config: Pick<PingConfig, 'count' | 'timeoutS'>, signal?: AbortSignal): Promise<PingResult> {
  // ping -c N sends one request a second; the last one gets timeoutS.
  const timeoutMs = (config.count - 1 + config.timeoutS + 2) * 1000;
  return parsePingOutput(await runTool('ping', ['-n', '-c', String(config.count), '-W', String(config.timeoutS), '--', host], { timeoutMs, signal, debianPackage: 'iputils-ping', anyExit: true }));
}

/** The exposition text of one round: the three families, a series per target (no rtt for one that did not answer). */
export function renderPing(targets: readonly PingTarget[], results: readonly PingResult[]): string {
  const labels = targets.map((t) => `{host="${escapeLabelValue(t.host)}",name="${escapeLabelValue(t.name)}"}`);
  let up = renderHeader('ping_up', 'gauge', '1 if the host answered an echo request in the last round, 0 otherwise.');
  let rtt = renderHeader('ping_rtt_seconds', 'gauge', 'Average round-trip time of the last round\'s answered echo requests.');
  let loss = renderHeader('ping_loss_ratio', 'gauge', 'Share of the last round\'s echo requests that got no answer.');
  let anyRtt = false;
  results.forEach((r, i) => {
    up += `ping_up${labels[i]} ${r.received > 0 ? 1 : 0}\n`;
    loss += `ping_loss_ratio${labels[i]} ${r.sent > 0 ? (r.sent - r.received) / r.sent : 1}\n`;
    if (r.rttSeconds !== undefined) {
      rtt += `ping_rtt_seconds${labels[i]} ${r.rttSeconds}\n`;
      anyRtt = true;
    }
  });
  return up + (anyRtt ? rtt : '') + loss;
}

/** Ping every target, at most `parallel` at a time; results in target order. */
export async function pingAll(config: PingConfig, signal?: AbortSignal, parallel = PARALLEL): Promise<PingResult[]> {
  const results: PingResult[] = new Array(config.targets.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < config.targets.length; i = next++) results[i] = await pingHost(config.targets[i]!.host, config, signal);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, config.targets.length) }, worker));
  return results;
}

/** The ping probe for Prober. */
export const pingProbe: ProbeKind<PingConfig> = {
  app: PING_APP,
  isEmpty: (c) => c.targets.length === 0,
  round: async (c, signal) => renderPing(c.targets, await pingAll(c, signal)),
};
