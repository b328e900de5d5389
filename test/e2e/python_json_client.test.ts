// python_test_clients/send_json.py with Debian's /usr/bin/python3, and the
// static poll pages, which must be valid exposition text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, waitFor } from '../helpers.js';
import { requireCommand, startCli } from './e2e_helpers.js';
import { parseText } from '../../src/exposition/text_parse.js';

const clients = path.join(ROOT, 'python_test_clients');
const python = '/usr/bin/python3';

function run(args: string[]): void {
  const r = spawnSync(python, [path.join(clients, 'send_json.py'), ...args], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
}

test('send_json.py sends both shapes over TCP and the unix socket', async () => {
  assert.ok(fs.existsSync(python), 'needs /usr/bin/python3');
  const p = await startCli();
  try {
    run(['--tcp', `127.0.0.1:${p.tcpPort}`, '--file', path.join(clients, 'json_string.json')]);
    run(['--unix', p.unixPath, '--file', path.join(clients, 'json_array.json')]);
    run(['--tcp', `127.0.0.1:${p.tcpPort}`, '--app', 'page_app', '--text', path.join(clients, '1025.html'), '--as-array', '--count', '3']);
    const apps = await waitFor(async () => {
      const list = (await (await fetch(`${p.http}/apps?format=json`)).json()) as { app: string; series: number }[];
      return list.length === 3 ? list : undefined;
    });
    assert.deepEqual(apps.map((a) => `${a.app}:${a.series}`).sort(), ['foo_bar_app0_metrics:2', 'foo_bar_app1_metrics:2', 'page_app:8']);
  } finally {
    await p.stop();
  }
});

test('the static poll pages are valid exposition text (our parser and promtool)', () => {
  requireCommand('promtool', 'prometheus');
  for (const page of ['1025.html', '1026.html', '1027.html']) {
    const text = fs.readFileSync(path.join(clients, page), 'utf8');
    assert.equal(parseText(text).series, 8, page);
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `${page}: ${r.stdout}${r.stderr}`);
  }
});
