// TCP socket statistics: ss output parsed as a table of cases, selection,
// the rendered families (a cumulative histogram, bounded per-flow series),
// the config's problems, and the proxy reading the real `ss` while a test
// connection is open.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { parseSsOutput, renderSocketStats, selectFlows, SOCKET_STATS_APP, type TcpFlow } from '../../src/probes/socket_stats.js';
import { configFromText } from '../../src/config/config.js';
import { parseText } from '../../src/exposition/text_parse.js';
import { assertConfigProblems, getText, startProxy, waitFor } from '../helpers.js';

const DETAILS = '\t bbr wscale:10,10 rto:204 rtt:0.037/0.018 mss:32741 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 bytes_acked:1 segs_out:2\n';

const OUTPUTS: [name: string, out: string, want: TcpFlow[]][] = [
  [
    'IPv4, with details',
    `0      0      127.0.0.1:60938 127.0.0.1:17777\n${DETAILS}`,
    [{ local: '127.0.0.1:60938', peer: '127.0.0.1:17777', localPort: 60938, peerPort: 17777, peerAddress: '127.0.0.1', rttSeconds: 0.000037, cwnd: 10 }],
  ],
  [
    'IPv6 and a link-local address with its interface; a flow without details',
    `0 0 [::1]:22 [::1]:5555\n\t cubic rtt:12.5/3 cwnd:7\n0 0 [fe80::1%eth0]:22 [fe80::2%eth0]:40000\n`,
    [
      { local: '[::1]:22', peer: '[::1]:5555', localPort: 22, peerPort: 5555, peerAddress: '::1', rttSeconds: 0.0125, cwnd: 7 },
      { local: '[fe80::1%eth0]:22', peer: '[fe80::2%eth0]:40000', localPort: 22, peerPort: 40000, peerAddress: 'fe80::2%eth0' },
    ],
  ],
  ['lines that do not parse, and details without a flow', `\t rtt:1/1 cwnd:1\ngarbage\n0 0 nocolon 127.0.0.1:1\n`, []],
];

test('parseSsOutput: flows and their rtt and cwnd from ss -tinH', () => {
  for (const [name, out, want] of OUTPUTS) assert.deepEqual(parseSsOutput(out), want, name);
});

const flow = (local: string, peer: string, rttSeconds?: number): TcpFlow => {
  const [lp, pp] = [Number(local.split(':').at(-1)), Number(peer.split(':').at(-1))];
  return { local, peer, localPort: lp, peerPort: pp, peerAddress: peer.slice(0, peer.lastIndexOf(':')), rttSeconds, cwnd: rttSeconds === undefined ? undefined : 10 };
};

test('selectFlows: a port matches on either end; peers by prefix; empty lists select everything', () => {
  const flows = [flow('10.0.0.1:443', '192.168.1.5:50000'), flow('10.0.0.1:50001', '10.9.9.9:5432'), flow('10.0.0.1:22', '172.16.0.1:40000')];
  assert.deepEqual(selectFlows(flows, { ports: [], peers: [] }), flows);
  assert.deepEqual(selectFlows(flows, { ports: [443, 5432], peers: [] }), flows.slice(0, 2));
  assert.deepEqual(selectFlows(flows, { ports: [], peers: ['10.0.0.0/8', '172.16.0.0/12'] }), flows.slice(1));
  assert.deepEqual(selectFlows(flows, { ports: [443, 22], peers: ['172.16.0.0/12'] }), [flows[2]]);
});

test('renderSocketStats: totals, a cumulative histogram, per-flow series for the first max_flows only', () => {
  const text = renderSocketStats([flow('10.0.0.1:443', '10.0.0.2:5000', 0.00004), flow('10.0.0.1:443', '10.0.0.3:5001', 0.03), flow('10.0.0.1:443', '10.0.0.4:5002', 0.3), flow('10.0.0.1:443', '10.0.0.5:5003')], 2);
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(lines, [
    'tcp_flows 4',
    'tcp_flows_unlisted 2',
    'tcp_flows_rtt_seconds_bucket{le="0.0001"} 1',
    'tcp_flows_rtt_seconds_bucket{le="0.0005"} 1',
    'tcp_flows_rtt_seconds_bucket{le="0.001"} 1',
    'tcp_flows_rtt_seconds_bucket{le="0.005"} 1',
    'tcp_flows_rtt_seconds_bucket{le="0.01"} 1',
    'tcp_flows_rtt_seconds_bucket{le="0.05"} 2',
    'tcp_flows_rtt_seconds_bucket{le="0.1"} 2',
    'tcp_flows_rtt_seconds_bucket{le="0.2"} 2',
    'tcp_flows_rtt_seconds_bucket{le="0.5"} 3',
    'tcp_flows_rtt_seconds_bucket{le="+Inf"} 3',
    'tcp_flows_rtt_seconds_sum 0.33004',
    'tcp_flows_rtt_seconds_count 3',
    'tcp_flow_rtt_seconds{local="10.0.0.1:443",peer="10.0.0.2:5000"} 0.00004',
    'tcp_flow_rtt_seconds{local="10.0.0.1:443",peer="10.0.0.3:5001"} 0.03',
    'tcp_flow_cwnd{local="10.0.0.1:443",peer="10.0.0.2:5000"} 10',
    'tcp_flow_cwnd{local="10.0.0.1:443",peer="10.0.0.3:5001"} 10',
  ]);
  assert.equal(parseText(text).series, lines.length);
  assert.doesNotMatch(renderSocketStats([], 10), /tcp_flow_/, 'no per-flow families without flows');
  assert.equal(parseText(renderSocketStats([], 10)).series, 14);
});

test('[socket_stats] config: every problem names its key', () => {
  const cases: [string, RegExp[]][] = [
    ['[socket_stats]\nports = [443, 70000]\n', [/socket_stats\.ports: must be numbers from 1 to 65535, got 70000/]],
    ['[socket_stats]\nports = ["443"]\n', [/socket_stats\.ports: must be an array of whole numbers, got an array/]],
    ['[socket_stats]\npeers = ["10.0.0.0/33"]\n', [/socket_stats\.peers: /]],
    ['[socket_stats]\nmax_flows = -1\n', [/socket_stats\.max_flows: must be at least 0, got -1/]],
    ['[socket_stats]\nflows = 3\n', [/socket_stats\.flows: unknown key/]],
  ];
  assertConfigProblems(cases);
  assert.deepEqual(configFromText('[socket_stats]\nenabled = true\nports = [443]\npeers = ["10.0.0.0/8"]\n').socketStats, { enabled: true, intervalMs: 15000, ports: [443], peers: ['10.0.0.0/8'], maxFlows: 100 });
  assert.equal(configFromText('').socketStats.enabled, false);
});

test('the proxy reads the real ss: an open test connection shows from both ends', async () => {
  const server = net.createServer(() => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const r = await startProxy({ extra: `[socket_stats]\nenabled = true\ninterval = 1\nports = [${port}]\n` });
  try {
    const body = await waitFor(async () => {
      const b = (await getText(`${r.url}/metrics`)).body;
      return /^tcp_flows 2$/m.test(b) ? b : undefined;
    }, 10_000, 'both ends of the test connection');
    const local = `127.0.0.1:${client.localPort}`;
    assert.match(body, new RegExp(`^tcp_flow_rtt_seconds\\{local="${local}",peer="127\\.0\\.0\\.1:${port}"\\} \\d`, 'm'));
    assert.match(body, new RegExp(`^tcp_flow_cwnd\\{local="127\\.0\\.0\\.1:${port}",peer="${local}"\\} \\d+$`, 'm'));
    assert.match(body, /^tcp_flows_rtt_seconds_count 2$/m);
    assert.ok(r.proxy.store.has(SOCKET_STATS_APP));
  } finally {
    client.destroy();
    server.close();
    await r.stop();
  }
});
