// Long fuzz runs of the properties in test/fuzz/properties.ts:
//
//   node dist/bench/fuzz.js --seconds 600                # every target, in parallel
//   node dist/bench/fuzz.js --target text --seconds 60
//   node dist/bench/fuzz.js --target json --seed 123 --runs 500   # replay one batch
//
// Each target runs in a worker thread in batches of --runs cases with seeds
// base, base+1, ...; a batch that does not report within --hang seconds is a
// hang: the worker is terminated and its seed printed for replay. A failing
// property prints fast-check's shrunk counterexample. Exit 1 on any finding;
// each finding belongs in a table in the relevant unit test file.

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { TARGETS, type TargetName } from '../test/fuzz/properties.js';

interface Options {
  seconds: number;
  targets: TargetName[];
  seed: number;
  runs: number;
  hangSeconds: number;
}

type FromWorker = { kind: 'batch'; seed: number; runs: number } | { kind: 'failed'; seed: number; report: string } | { kind: 'done' };

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 60, targets: Object.keys(TARGETS) as TargetName[], seed: Date.now() % 1_000_000_000, runs: 500, hangSeconds: 30 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--seconds':
        o.seconds = Number(v);
        i++;
        break;
      case '--target':
        if (!(v in TARGETS)) throw new Error(`--target must be one of ${Object.keys(TARGETS).join(', ')}`);
        o.targets = [v as TargetName];
        i++;
        break;
      case '--seed':
        o.seed = Number(v);
        i++;
        break;
      case '--runs':
        o.runs = Number(v);
        i++;
        break;
      case '--hang':
        o.hangSeconds = Number(v);
        i++;
        break;
      default:
        throw new Error(`unknown argument ${argv[i]}; usage: fuzz.js [--seconds N] [--target ${Object.keys(TARGETS).join('|')}] [--seed S] [--runs N] [--hang S]`);
    }
  }
  return o;
}

function workerMain(): void {
  const { target, seed, runs, seconds } = workerData as { target: TargetName; seed: number; runs: number; seconds: number };
  // The clock starts once this worker has loaded (several workers start slowly on few cores).
  const until = Date.now() + seconds * 1000;
  const port = parentPort!;
  for (let s = seed; Date.now() < until || s === seed; s++) {
    const r = fc.check(TARGETS[target](), { numRuns: runs, seed: s });
    if (r.failed) {
      port.postMessage({ kind: 'failed', seed: s, report: fc.defaultReportMessage(r) } satisfies FromWorker);
      return;
    }
    port.postMessage({ kind: 'batch', seed: s, runs } satisfies FromWorker);
  }
  port.postMessage({ kind: 'done' } satisfies FromWorker);
}

async function runTarget(target: TargetName, o: Options): Promise<{ target: TargetName; runs: number; batches: number; finding?: string }> {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { target, seed: o.seed, runs: o.runs, seconds: o.seconds } });
  let runs = 0;
  let batches = 0;
  let lastSeed = o.seed - 1;
  return new Promise((resolve) => {
    let watchdog: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        void worker.terminate();
        resolve({ target, runs, batches, finding: `HANG: no batch finished within ${o.hangSeconds} s; replay with --target ${target} --seed ${lastSeed + 1} --runs ${o.runs}` });
      }, o.hangSeconds * 1000);
    };
    arm();
    worker.on('message', (m: FromWorker) => {
      if (m.kind === 'batch') {
        runs += m.runs;
        batches++;
        lastSeed = m.seed;
        arm();
      } else {
        clearTimeout(watchdog);
        void worker.terminate();
        resolve({ target, runs, batches, finding: m.kind === 'failed' ? `FAILED (seed ${m.seed}, replay with --target ${target} --seed ${m.seed} --runs ${o.runs}):\n${m.report}` : undefined });
      }
    });
    worker.on('error', (err) => {
      clearTimeout(watchdog);
      resolve({ target, runs, batches, finding: `worker crashed: ${err.stack ?? err}` });
    });
  });
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  process.stdout.write(`fuzzing ${o.targets.join(', ')} for ${o.seconds} s, batches of ${o.runs} from seed ${o.seed}\n`);
  const results = await Promise.all(o.targets.map((t) => runTarget(t, o)));
  let findings = 0;
  for (const r of results) {
    process.stdout.write(`${r.target.padEnd(13)} ${String(r.runs).padStart(10)} cases  ${(r.runs / o.seconds).toFixed(0).padStart(7)}/s  ${r.finding ? 'FINDING' : 'ok'}\n`);
    if (r.finding) {
      findings++;
      process.stdout.write(`${r.finding}\n\n`);
    }
  }
  return findings ? 1 : 0;
}

if (isMainThread) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exit(2);
    },
  );
} else {
  workerMain();
}
