// startOnFreePort, which starts Prometheus and the Pushgateway for the other
// e2e tests: a program whose port was taken in the meantime is started
// again on another port, and one that never gets ready is a clear failure.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { startOnFreePort } from './e2e_helpers.js';

/** A node process serving 200 on /-/ready at `port` (it exits when the port is taken). */
function readyServer(port: number) {
  const script = `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1');`;
  return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
}

test('startOnFreePort: a program that finds its port taken is started again on another', async () => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const takenPort = (taken.address() as net.AddressInfo).port;
  const ports: number[] = [];
  try {
    // The first start is given the taken port, as when another process binds it after freePort() released it.
    const program = await startOnFreePort('ready-server', (port) => readyServer(ports.push(port) === 1 ? takenPort : port), '/-/ready');
    try {
      assert.equal(ports.length, 2);
      assert.equal(program.url, `http://127.0.0.1:${ports[1]}`);
      assert.equal(await (await fetch(`${program.url}/-/ready`)).text(), 'ok');
    } finally {
      await program.stop();
    }
    assert.notEqual(program.child.signalCode ?? program.child.exitCode, null, 'stopped');
  } finally {
    taken.close();
  }
});

test('startOnFreePort: a program that never gets ready fails after four starts, with its stderr', async () => {
  let starts = 0;
  const failing = () => (starts++, spawn(process.execPath, ['-e', 'console.error("cannot start: no config"); process.exit(3)'], { stdio: ['ignore', 'ignore', 'pipe'] }));
  await assert.rejects(startOnFreePort('broken', failing, '/-/ready'), /broken did not become ready:\ncannot start: no config/);
  assert.equal(starts, 4);
});
