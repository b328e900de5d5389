// Real Pushgateway clients against the running proxy (port 0): prom-client's
// Pushgateway class, Python's prometheus_client (Debian's, /usr/bin/python3)
// and the curl examples of the Pushgateway README.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { Counter, Gauge, Histogram, Pushgateway, Registry } from 'prom-client';
import { startProxy, type Running } from '../helpers.js';
import { requireCommand } from './e2e_helpers.js';
import { sampleLines, watchRepeats } from '../push/push_helpers.js';

const PYTHON = '/usr/bin/python3';

/** Run a program without blocking the event loop (the proxy under test runs in this process). */
function run(file: string, args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ status: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

/** A shell pipeline; throws with its output on failure. */
async function sh(script: string): Promise<string> {
  const r = await run('sh', ['-c', script]);
  if (r.status !== 0) throw new Error(`${script}\nexit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function statusOf(r: { resp?: unknown }): number | undefined {
  return (r.resp as IncomingMessage | undefined)?.statusCode;
}

async function scrapeLines(p: Running, filter: (l: string) => boolean = () => true): Promise<string[]> {
  const text = await (await fetch(p.url + '/metrics')).text();
  return sampleLines(text).filter((l) => !l.startsWith('exporter_proxy_') && filter(l));
}

test("prom-client's Pushgateway: push, pushAdd, delete (plain and gzip)", async () => {
  const p = await startProxy();
  try {
    const registry = new Registry();
    const runs = new Counter({ name: 'batch_runs_total', help: 'Runs.', registers: [registry] });
    const last = new Gauge({ name: 'batch_last_success_seconds', help: 'Last success.', labelNames: ['stage'], registers: [registry] });
    const dur = new Histogram({ name: 'batch_duration_seconds', help: 'Duration.', buckets: [1, 10], registers: [registry] });
    runs.inc(3);
    last.set({ stage: 'load' }, 1700000000);
    dur.observe(4);
    const gw = new Pushgateway(p.url, {}, registry);
    const key = { jobName: 'nightly', groupings: { instance: 'host-1', path: 'a b' } };
    assert.equal(statusOf(await gw.push(key)), 200);
    const group = (l: string) => l.includes('job="nightly"');
    assert.deepEqual(
      (await scrapeLines(p, group)).filter((l) => !l.startsWith('push_')),
      [
        'batch_duration_seconds_bucket{instance="host-1",job="nightly",le="+Inf",path="a b"} 1',
        'batch_duration_seconds_bucket{instance="host-1",job="nightly",le="1",path="a b"} 0',
        'batch_duration_seconds_bucket{instance="host-1",job="nightly",le="10",path="a b"} 1',
        'batch_duration_seconds_count{instance="host-1",job="nightly",path="a b"} 1',
        'batch_duration_seconds_sum{instance="host-1",job="nightly",path="a b"} 4',
        'batch_last_success_seconds{instance="host-1",job="nightly",path="a b",stage="load"} 1700000000',
        'batch_runs_total{instance="host-1",job="nightly",path="a b"} 3',
      ],
    );
    // pushAdd (POST) with a different registry replaces only its families.
    const other = new Registry();
    new Gauge({ name: 'batch_runs_total', help: 'Now a gauge in this registry.', registers: [other] }).set(9);
    const gz = new Pushgateway(p.url, { headers: { 'Content-Encoding': 'gzip' } }, other);
    // A type change of a family the group itself holds is fine (the group's own old family is replaced).
    assert.equal(statusOf(await gz.pushAdd(key)), 200);
    const after = await scrapeLines(p, group);
    assert.ok(after.includes('batch_runs_total{instance="host-1",job="nightly",path="a b"} 9'), after.join('\n'));
    assert.ok(after.some((l) => l.startsWith('batch_duration_seconds_count')), 'POST kept the other families');
    assert.equal(statusOf(await gw.delete(key)), 202);
    assert.deepEqual(await scrapeLines(p, group), []);
    // A rejected push surfaces as the client's error with our message.
    const bad = new Registry();
    new Counter({ name: 'exporter_proxy_fake_total', help: 'Reserved.', registers: [bad] }).inc();
    await assert.rejects(new Pushgateway(p.url, {}, bad).push({ jobName: 'bad' }), /push failed with status 400, E_RESERVED_NAME: /);
  } finally {
    await p.stop();
  }
});

test("Python prometheus_client: push_to_gateway, pushadd_to_gateway, delete_from_gateway", async () => {
  assert.ok(fs.existsSync(PYTHON), 'needs /usr/bin/python3 with python3-prometheus-client (apt-get install python3-prometheus-client)');
  const check = await run(PYTHON, ['-c', 'import prometheus_client']);
  assert.equal(check.status, 0, `python3-prometheus-client is not installed: apt-get install python3-prometheus-client (scripts/install-test-deps.sh does it)\n${check.stderr}`);
  const p = await startProxy();
  try {
    const script = `
import sys
from prometheus_client import CollectorRegistry, Gauge, Counter, Summary, push_to_gateway, pushadd_to_gateway, delete_from_gateway
gw, step = sys.argv[1], sys.argv[2]
key = {'instance': 'h1', 'path': '/var/tmp', 'empty': ''}
reg = CollectorRegistry()
if step == 'push':
    g = Gauge('job_last_success_unixtime', 'Last time a batch job successfully finished', registry=reg)
    g.set(1234.5)
    c = Counter('cleaned_files', 'Files removed', ['kind'], registry=reg)
    c.labels(kind='tmp').inc(7)
    s = Summary('clean_seconds', 'Time spent', registry=reg)
    s.observe(0.25)
    push_to_gateway(gw, job='dir_cleaner', registry=reg, grouping_key=key)
elif step == 'pushadd':
    g = Gauge('job_last_success_unixtime', 'Last time a batch job successfully finished', registry=reg)
    g.set(99)
    pushadd_to_gateway(gw, job='dir_cleaner', registry=reg, grouping_key=key)
elif step == 'delete':
    delete_from_gateway(gw, job='dir_cleaner', grouping_key=key)
elif step == 'bad':
    g = Gauge('exporter_proxy_fake', 'Reserved', registry=reg)
    push_to_gateway(gw, job='bad', registry=reg)
`;
    const py = (step: string) => run(PYTHON, ['-c', script, p.url.replace('http://', ''), step]);
    const ok = async (step: string) => {
      const r = await py(step);
      assert.equal(r.status, 0, `${step}: ${r.stderr}`);
    };
    const app = 'job="dir_cleaner",empty="",instance="h1",path="/var/tmp"';
    const group = (l: string) => l.includes('job="dir_cleaner"') && !l.startsWith('push_') && !l.includes('_created');
    await ok('push');
    assert.ok(p.proxy.store.getApp(app), p.proxy.store.listApps().map((a) => a.app).join('\n'));
    const L = 'empty="",instance="h1",job="dir_cleaner",path="/var/tmp"';
    assert.deepEqual(await scrapeLines(p, group), [
      `clean_seconds_count{${L}} 1.0`,
      `clean_seconds_sum{${L}} 0.25`,
      'cleaned_files_total{empty="",instance="h1",job="dir_cleaner",kind="tmp",path="/var/tmp"} 7.0',
      `job_last_success_unixtime{${L}} 1234.5`,
    ]);
    await ok('pushadd');
    const after = await scrapeLines(p, group);
    assert.ok(after.includes(`job_last_success_unixtime{${L}} 99.0`), after.join('\n'));
    assert.ok(after.includes(`clean_seconds_sum{${L}} 0.25`), 'pushadd kept the other families');
    await ok('delete');
    assert.equal(p.proxy.store.getApp(app), undefined);
    const bad = await py('bad');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /HTTP Error 400/);
  } finally {
    await p.stop();
  }
});

test('the curl examples of the Pushgateway README', async () => {
  requireCommand('curl', 'curl');
  const p = await startProxy();
  const u = p.url;
  try {
    await sh(`echo "some_metric 3.14" | curl -sf --data-binary @- ${u}/metrics/job/some_job`);
    await sh(`cat <<EOF | curl -sf --data-binary @- ${u}/metrics/job/some_job/instance/some_instance
# TYPE some_metric counter
some_metric{label="val1"} 42
# TYPE another_metric gauge
# HELP another_metric Just an example.
another_metric 2398.283
EOF`);
    await sh(`echo 'some_metric{foo="bar"} 3.14' | curl -sf --data-binary @- ${u}/metrics/job/directory_cleaner/path@base64/$(printf '/var/tmp' | base64 | tr '+/' '-_' | tr -d '=')`);
    await sh(`echo 'ex 1' | curl -sf --data-binary @- ${u}/metrics/job/example/first_label@base64/=/second_label/foobar`);
    await sh(`echo 'titan_up 1' | curl -sf --data-binary @- ${u}/metrics/job/titan/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82`);
    await sh(`echo "gz_metric 3.14" | gzip | curl -sf -H 'Content-Encoding: gzip' --data-binary @- ${u}/metrics/job/gz_job`);
    const lines = await scrapeLines(p, (l) => !l.startsWith('push_'));
    assert.deepEqual(lines, [
      'another_metric{instance="some_instance",job="some_job"} 2398.283',
      'ex{first_label="",instance="",job="example",second_label="foobar"} 1',
      'gz_metric{instance="",job="gz_job"} 3.14',
      'some_metric{foo="bar",instance="",job="directory_cleaner",path="/var/tmp"} 3.14',
      'some_metric{instance="",job="some_job"} 3.14',
      'some_metric{instance="some_instance",job="some_job",label="val1"} 42',
      'titan_up{instance="",job="titan",name="Προμηθεύς"} 1',
    ]);
    const status = JSON.parse(await sh(`curl -sf -X GET ${u}/api/v1/status`)) as { status: string };
    assert.equal(status.status, 'success');
    const metrics = JSON.parse(await sh(`curl -sf -X GET ${u}/api/v1/metrics`)) as { data: { labels: Record<string, string> }[] };
    assert.equal(metrics.data.length, 6);
    await sh(`curl -sf -X DELETE ${u}/metrics/job/some_job/instance/some_instance`);
    assert.ok(!(await scrapeLines(p)).some((l) => l.includes('some_instance')));
    await sh(`curl -sf -X DELETE ${u}/metrics/job/some_job`);
    assert.ok(!(await scrapeLines(p)).some((l) => l.includes('job="some_job"')));
    // curl -f fails on the 400 and the body names the problem.
    const bad = await sh(`echo 'bad{ 1' | curl -s -w ' %{http_code}' --data-binary @- ${u}/metrics/job/bad`);
    assert.match(bad, /^E_PARSE: line 1: .* 400$/s);
    await sh(`curl -sf -X PUT ${u}/api/v1/admin/wipe`);
    assert.deepEqual(await scrapeLines(p), []);
  } finally {
    await p.stop();
  }
});

test("the clients' second push of the same metrics, new values only, is stored without a parse", async () => {
  assert.ok(fs.existsSync(PYTHON), 'needs /usr/bin/python3 with python3-prometheus-client (apt-get install python3-prometheus-client)');
  const p = await startProxy();
  try {
    const taken = watchRepeats(p.proxy.push!);
    const registry = new Registry();
    const runs = new Counter({ name: 'batch_runs_total', help: 'Runs.', labelNames: ['stage'], registers: [registry] });
    const dur = new Histogram({ name: 'batch_duration_seconds', help: 'Duration.', buckets: [1, 10], registers: [registry] });
    // A labelled metric with no series yet: prom-client writes its HELP and TYPE lines only.
    new Gauge({ name: 'batch_pending', help: 'Pending.', labelNames: ['queue'], registers: [registry] });
    const gw = new Pushgateway(p.url, {}, registry);
    const key = { jobName: 'nightly', groupings: { instance: 'host-1' } };
    runs.inc({ stage: 'load' });
    dur.observe(4);
    assert.equal(statusOf(await gw.push(key)), 200);
    runs.inc({ stage: 'load' });
    dur.observe(20);
    assert.equal(statusOf(await gw.push(key)), 200);
    assert.equal(statusOf(await gw.pushAdd(key)), 200);
    assert.deepEqual(taken, [false, true, true], 'prom-client: push, push again, pushAdd of the same registry');
    const lines = await scrapeLines(p, (l) => l.includes('job="nightly"') && !l.startsWith('push_'));
    assert.ok(lines.includes('batch_runs_total{instance="host-1",job="nightly",stage="load"} 2'), lines.join('\n'));
    assert.ok(lines.includes('batch_duration_seconds_count{instance="host-1",job="nightly"} 2'), lines.join('\n'));

    const script = `
import sys
from prometheus_client import CollectorRegistry, Counter, Gauge, push_to_gateway
reg = CollectorRegistry()
c = Counter('cleaned_files', 'Files removed', ['kind'], registry=reg)
Gauge('queue_depth', 'Depth', ['queue'], registry=reg)  # no series yet: HELP and TYPE only
c.labels(kind='tmp').inc(int(sys.argv[2]))
push_to_gateway(sys.argv[1], job='dir_cleaner', registry=reg)
`;
    for (const n of ['3', '5']) {
      const r = await run(PYTHON, ['-c', script, p.url.replace('http://', ''), n]);
      assert.equal(r.status, 0, r.stderr);
    }
    assert.deepEqual(taken.slice(3), [false, true], 'Python: push_to_gateway twice');
    const py = await scrapeLines(p, (l) => l.startsWith('cleaned_files_total'));
    assert.deepEqual(py, ['cleaned_files_total{instance="",job="dir_cleaner",kind="tmp"} 5.0']);
  } finally {
    await p.stop();
  }
});
