// Ping probes with the real `ping` (iputils): the loopback answers,
// 240.0.0.1 (reserved, never routed) does not, a name under .invalid does
// not resolve; the output parser and renderer as tables; the config's
// problems; the proxy serving rounds, and stopping mid-round.

import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { parsePingOutput, pingHost, renderPing, PING_APP, type PingResult } from '../../src/probes/ping.js';
import { configFromText } from '../../src/config/config.js';
import { parseText } from '../../src/exposition/text_parse.js';
import { assertConfigProblems, getText, startProxy, waitFor } from '../helpers.js';

const OUTPUTS: [name: string, out: string, want: PingResult][] = [
  [
    'two answered',
    'PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.\n64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.033 ms\n64 bytes from 127.0.0.1: icmp_seq=2 ttl=64 time=0.044 ms\n\n--- 127.0.0.1 ping statistics ---\n2 packets transmitted, 2 received, 0% packet loss, time 1016ms\nrtt min/avg/max/mdev = 0.033/0.038/0.044/0.005 ms\n',
    { sent: 2, received: 2, rttSeconds: 0.000038 },
  ],
  ['none answered', 'PING 240.0.0.1 (240.0.0.1) 56(84) bytes of data.\n\n--- 240.0.0.1 ping statistics ---\n1 packets transmitted, 0 received, 100% packet loss, time 0ms\n\n', { sent: 1, received: 0, rttSeconds: undefined }],
  ['unreachable, with errors', '--- 10.255.255.1 ping statistics ---\n3 packets transmitted, 0 received, +3 errors, 100% packet loss, time 2003ms\n', { sent: 3, received: 0, rttSeconds: undefined }],
  ['one of three answered', '3 packets transmitted, 1 received, 66.6667% packet loss, time 2004ms\nrtt min/avg/max/mdev = 12.500/12.500/12.500/0.000 ms\n', { sent: 3, received: 1, rttSeconds: 0.0125 }],
  ['nothing on stdout (the name did not resolve)', '', { sent: 0, received: 0 }],
];

test('parsePingOutput: the summary lines of iputils ping', () => {
  for (const [name, out, want] of OUTPUTS) assert.deepEqual(parsePingOutput(out), want, name);
});

test('renderPing: up and loss for every target, rtt only for those that answered; valid exposition text', () => {
  const targets = [
    { name: 'gw "1"', host: '10.0.0.1' },
    { name: 'far', host: 'far.example' },
    { name: 'unknown', host: 'x.invalid' },
  ];
  const text = renderPing(targets, [{ sent: 2, received: 2, rttSeconds: 0.000038 }, { sent: 4, received: 1, rttSeconds: 0.2 }, { sent: 0, received: 0 }]);
  assert.equal(
    text,
    '# HELP ping_up 1 if the host answered an echo request in the last round, 0 otherwise.\n# TYPE ping_up gauge\n' +
      'ping_up{host="10.0.0.1",name="gw \\"1\\""} 1\nping_up{host="far.example",name="far"} 1\nping_up{host="x.invalid",name="unknown"} 0\n' +
      "# HELP ping_rtt_seconds Average round-trip time of the last round's answered echo requests.\n# TYPE ping_rtt_seconds gauge\n" +
      'ping_rtt_seconds{host="10.0.0.1",name="gw \\"1\\""} 0.000038\nping_rtt_seconds{host="far.example",name="far"} 0.2\n' +
      "# HELP ping_loss_ratio Share of the last round's echo requests that got no answer.\n# TYPE ping_loss_ratio gauge\n" +
      'ping_loss_ratio{host="10.0.0.1",name="gw \\"1\\""} 0\nping_loss_ratio{host="far.example",name="far"} 0.75\nping_loss_ratio{host="x.invalid",name="unknown"} 1\n',
  );
  assert.equal(parseText(text).series, 8);
  assert.doesNotMatch(renderPing([targets[2]!], [{ sent: 0, received: 0 }]), /ping_rtt_seconds/, 'no empty rtt family');
});

test('pingHost with the real ping: the loopback answers, a reserved address and an unresolvable name do not', async () => {
  const loop = await pingHost('127.0.0.1', { count: 1, timeoutS: 1 });
  assert.equal(loop.received, 1);
  assert.ok(loop.rttSeconds! > 0 && loop.rttSeconds! < 1, String(loop.rttSeconds));
  assert.equal((await pingHost('240.0.0.1', { count: 1, timeoutS: 1 })).received, 0);
  assert.deepEqual(await pingHost('no-such-host.invalid', { count: 1, timeoutS: 1 }), { sent: 0, received: 0 });
});

test('[ping] config: every problem names its key', () => {
  const cases: [string, RegExp[]][] = [
    ['[[ping.targets]]\nname = "a"\n', [/ping\.targets\[0\]\.host: must be set/]],
    ['[[ping.targets]]\nname = "a"\nhost = "-f"\n', [/ping\.targets\[0\]\.host: must be a host name or address, got "-f"/]],
    ['[[ping.targets]]\nname = "a"\nhost = "h"\n[[ping.targets]]\nname = "a"\nhost = "h"\n', [/ping\.targets\[1\]: the same labels as ping\.targets\[0\]/]],
    ['[ping]\ncount = 0\ntimeout = 1.5\n', [/ping\.timeout: must be a whole number, got 1\.5/, /ping\.count: must be at least 1, got 0/]],
    ['[ping]\ntargets = ["h"]\n', [/ping\.targets: must be an array of tables/]],
  ];
  assertConfigProblems(cases);
  assert.deepEqual(configFromText('[ping]\ninterval = 30\ncount = 3\n[[ping.targets]]\nname = "gw"\nhost = "10.0.0.1"\n').ping, {
    intervalMs: 30000,
    timeoutS: 1,
    count: 3,
    targets: [{ name: 'gw', host: '10.0.0.1' }],
  });
});

test('the proxy serves ping rounds: the loopback up with its rtt, a reserved address down', async () => {
  const r = await startProxy({ extra: '[ping]\ninterval = 1\n[[ping.targets]]\nname = "self"\nhost = "127.0.0.1"\n[[ping.targets]]\nname = "void"\nhost = "240.0.0.1"\n' });
  try {
    const body = await waitFor(async () => {
      const b = (await getText(`${r.url}/metrics`)).body;
      return b.includes('ping_up{') ? b : undefined;
    }, 10_000, 'a ping round');
    assert.match(body, /^ping_up\{host="127\.0\.0\.1",name="self"\} 1$/m);
    assert.match(body, /^ping_up\{host="240\.0\.0\.1",name="void"\} 0$/m);
    assert.match(body, /^ping_rtt_seconds\{host="127\.0\.0\.1",name="self"\} 0\.\d+$/m);
    assert.doesNotMatch(body, /ping_rtt_seconds\{host="240/);
    assert.match(body, /^ping_loss_ratio\{host="240\.0\.0\.1",name="void"\} 1$/m);
    // The round lasts as long as its slowest ping: here at most the 1 s timeout and the process start.
    // (The proxy's own metrics in /metrics may be up to 100 ms older than the store's part.)
    const round = await waitFor(async () => Number(/^exporter_proxy_probe_round_duration_seconds\{probe="ping"\} (\S+)$/m.exec((await getText(`${r.url}/metrics`)).body)?.[1]) || undefined, 3000, 'the round gauge');
    assert.ok(round > 0 && round < 3, `round ${round} s`);
  } finally {
    await r.stop();
  }
});

test('stopping the proxy mid-round kills the pings instead of waiting for them', async () => {
  // count = 5: ping sends one request a second, so the round lasts ~4 s.
  const r = await startProxy({ extra: '[ping]\ninterval = 60\ncount = 5\n[[ping.targets]]\nname = "self"\nhost = "127.0.0.1"\n' });
  const running = () => spawnSync('pgrep', ['-f', 'ping -n -c 5 -W 1 -- 127.0.0.1']).stdout.toString().trim();
  await waitFor(() => running() !== '', 3000, 'the ping running');
  const started = performance.now();
  await r.stop();
  assert.ok(performance.now() - started < 2000, `stop took ${performance.now() - started} ms`);
  await waitFor(() => running() === '', 2000, 'no ping left running');
  assert.equal(r.proxy.store.has(PING_APP), false, 'the cut-short round stored nothing');
});
