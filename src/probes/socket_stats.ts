// TCP socket statistics: the prometheus_ss_exporter's job. Each round reads
// the established TCP flows from the system's `ss -tinH state established`
// (iproute2), keeps those selected by port and peer, and stores the app
// `socket_stats` (see prober.ts for the loop):
//
//   tcp_flows                                    selected flows
//   tcp_flows_rtt_seconds (histogram)            their smoothed round trips
//   tcp_flow_rtt_seconds{local,peer}             per flow, for the first max_flows
//   tcp_flow_cwnd{local,peer}                    congestion window, segments
//
// Flows come and go with their ephemeral ports, so per-flow series are
// bounded twice: by the selection and by max_flows (0: the totals only);
// `tcp_flows_unlisted` counts the selected flows left without them.
// (The ss-exporter's own histogram counted each bucket apart; this one is
// cumulative, as Prometheus requires.)

import { escapeLabelValue } from '../exposition/text_parse.js';
import { renderHeader } from '../exposition/text_render.js';
import { cidrMatcher } from '../net/cidr.js';
import { runTool } from './command.js';
import type { SocketStatsConfig } from './config.js';
import type { ProbeKind } from './prober.js';

export const SOCKET_STATS_APP = 'socket_stats';

/** Upper bounds of the round-trip histogram, seconds (the ss-exporter's, which were in ms). */
export const RTT_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 0.5];

export interface TcpFlow {
  /** `address:port`, IPv6 addresses in brackets, as ss prints them. */
  local: string;
  peer: string;
  localPort: number;
  peerPort: number;
  /** Peer address without brackets or port. */
  peerAddress: string;
  /** Smoothed round trip, seconds (ss `rtt:<ms>/<var>`). */
  rttSeconds?: number;
  cwnd?: number;
}

/** `addr:port` or `[v6]:port` (an interface suffix `%eth0` kept on the address). */
function splitEndpoint(s: string): { address: string; port: number } | undefined {
  const i = s.lastIndexOf(':');
  if (i <= 0) return undefined;
  const port = Number(s.slice(i + 1));
  const host = s.slice(0, i);
  return Number.isInteger(port) ? { address: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port } : undefined;
}

/**
 * The flows in `ss -tinH state established` output: a line per flow
 * (`Recv-Q Send-Q local peer [process]`), then an indented line of
 * `key:value` details. Lines that do not parse are skipped.
 */
export function parseSsOutput(out: string): TcpFlow[] {
  const flows: TcpFlow[] = [];
  let last: TcpFlow | undefined;
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      if (!last) continue;
      const rtt = /(?:^|\s)rtt:([\d.]+)\//.exec(line);
      const cwnd = /(?:^|\s)cwnd:(\d+)/.exec(line);
      if (rtt) last.rttSeconds = Number(rtt[1]) / 1000;
      if (cwnd) last.cwnd = Number(cwnd[1]);
      continue;
    }
    const f = line.trim().split(/\s+/);
    const local = f[2] === undefined ? undefined : splitEndpoint(f[2]);
    const peer = f[3] === undefined ? undefined : splitEndpoint(f[3]);
    last = local && peer ? { local: f[2]!, peer: f[3]!, localPort: local.port, peerPort: peer.port, peerAddress: peer.address } : undefined;
    if (last) flows.push(last);
  }
  return flows;
}

/** The flows `config` selects, in ss order. */
export function selectFlows(flows: readonly TcpFlow[], config: Pick<SocketStatsConfig, 'ports' | 'peers'>): TcpFlow[] {
  const ports = new Set(config.ports);
  const peerAllowed = cidrMatcher(config.peers);
  return flows.filter((f) => (ports.size === 0 || ports.has(f.localPort) || ports.has(f.peerPort)) && peerAllowed(f.peerAddress));
}

/** The exposition text of one round over the selected flows. */
export function renderSocketStats(flows: readonly TcpFlow[], maxFlows: number): string {
  const listed = flows.slice(0, maxFlows);
  let out = renderHeader('tcp_flows', 'gauge', 'Established TCP flows the selection ([socket_stats] ports, peers) matched.');
  out += `tcp_flows ${flows.length}\n`;
  out += renderHeader('tcp_flows_unlisted', 'gauge', 'Selected flows beyond [socket_stats] max_flows, without per-flow series.');
  out += `tcp_flows_unlisted ${flows.length - listed.length}\n`;
  const rtts = flows.flatMap((f) => (f.rttSeconds === undefined ? [] : [f.rttSeconds]));
  out += renderHeader('tcp_flows_rtt_seconds', 'histogram', 'Smoothed round-trip times of the selected flows.');
  for (const le of RTT_BUCKETS) out += `tcp_flows_rtt_seconds_bucket{le="${le}"} ${rtts.filter((r) => r <= le).length}\n`;
  out += `tcp_flows_rtt_seconds_bucket{le="+Inf"} ${rtts.length}\ntcp_flows_rtt_seconds_sum ${rtts.reduce((a, b) => a + b, 0)}\ntcp_flows_rtt_seconds_count ${rtts.length}\n`;
  const labels = (f: TcpFlow) => `{local="${escapeLabelValue(f.local)}",peer="${escapeLabelValue(f.peer)}"}`;
  const withRtt = listed.filter((f) => f.rttSeconds !== undefined);
  if (withRtt.length) out += renderHeader('tcp_flow_rtt_seconds', 'gauge', 'Smoothed round-trip time of the flow.') + withRtt.map((f) => `tcp_flow_rtt_seconds${labels(f)} ${f.rttSeconds}\n`).join('');
  const withCwnd = listed.filter((f) => f.cwnd !== undefined);
  if (withCwnd.length) out += renderHeader('tcp_flow_cwnd', 'gauge', 'Congestion window of the flow, segments.') + withCwnd.map((f) => `tcp_flow_cwnd${labels(f)} ${f.cwnd}\n`).join('');
  return out;
}

/** The socket statistics probe for Prober. */
export const socketStatsProbe: ProbeKind<SocketStatsConfig> = {
  app: SOCKET_STATS_APP,
  isEmpty: (c) => !c.enabled,
  round: async (c, signal) => {
    const out = await runTool('ss', ['-tinH', 'state', 'established'], { timeoutMs: 10_000, signal, debianPackage: 'iproute2' });
    return renderSocketStats(selectFlows(dedupe(parseSsOutput(out)), c), c.maxFlows);
  },
};

/** One flow per local/peer pair (ss lists a flow once; a repeat would be one series twice, which the store refuses). */
function dedupe(flows: TcpFlow[]): TcpFlow[] {
  const seen = new Set<string>();
  return flows.filter((f) => {
    const key = `${f.local} ${f.peer}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
