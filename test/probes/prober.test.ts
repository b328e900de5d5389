// Prober: a round that stores nothing is logged when that starts or its
// reason changes, and when rounds are stored again; not every interval.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prober, type ProbeKind } from '../../src/probes/prober.js';
import { ToolError } from '../../src/probes/command.js';
import { Store } from '../../src/store/store.js';
import { memoryLogger } from '../../src/log.js';
import { waitFor } from '../helpers.js';

test('a failing probe logs once per reason and once when it works again; the store keeps what the last good round stored', async () => {
  // One step per round; the last one repeats.
  const steps: (string | Error)[] = [
    new ToolError('no ping'),
    new ToolError('no ping'),
    new ToolError('no ping'),
    'probe_up 1\n',
    'probe_up 1 nope\n', // refused by the store
    'probe_up 1 nope\n',
    new ToolError('ping crashed'),
    new ToolError('ping crashed'),
  ];
  let rounds = 0;
  const kind: ProbeKind<{ intervalMs: number }> = {
    app: 'ping',
    isEmpty: () => false,
    round: async () => {
      const step = steps[Math.min(rounds++, steps.length - 1)]!;
      if (step instanceof Error) throw step;
      return step;
    },
  };
  const store = new Store({ ttlMs: 0, appLabel: '' });
  const logger = memoryLogger();
  const prober = new Prober({ kind, config: { intervalMs: 5 }, sink: store, logger });
  prober.start();
  try {
    await waitFor(() => rounds >= steps.length + 3, 5000, 'every step and a few repeats');
  } finally {
    await prober.stop();
  }
  const logged = logger.lines.map((l) => /level=(\w+) msg="([^"]*)"/.exec(l)!.slice(1).join(' '));
  assert.deepEqual(logged, [
    'error ping probes cannot run; retrying every interval',
    'info ping probe results stored again',
    'warn probe results not stored; retrying every interval',
    'error ping probes cannot run; retrying every interval',
  ]);
  assert.match(logger.lines[0]!, /err="no ping"/);
  assert.match(logger.lines[2]!, /err="line 1: expected integer as timestamp/);
  assert.match(logger.lines[3]!, /err="ping crashed"/);
  assert.equal(store.familyText('ping', 'probe_up'), 'probe_up 1\n');
});
