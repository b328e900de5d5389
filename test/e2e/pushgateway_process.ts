// A real prometheus-pushgateway as a child process, for the comparison test
// and the benchmark. It cannot listen on port 0: a free port is found by
// binding port 0 and releasing it. In-memory only (--persistence.file=).

import { spawn, type ChildProcess } from 'node:child_process';
import { requireCommand, freePort } from './e2e_helpers.js';

export interface PushgatewayProcess {
  child: ChildProcess;
  url: string;
  version: string;
  log: () => string;
  stop(): Promise<void>;
}

export function requirePushgateway(): string {
  return requireCommand('prometheus-pushgateway', 'prometheus-pushgateway');
}

export async function startPushgateway(flags: string[] = []): Promise<PushgatewayProcess> {
  const bin = requirePushgateway();
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(bin, [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--web.enable-admin-api', '--log.level=warn', ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const url = `http://127.0.0.1:${port}`;
    const ready = await waitReady(url, exited);
    if (ready) {
      const status = (await (await fetch(`${url}/api/v1/status`)).json()) as { data: { build_information: { version: string } } };
      return {
        child,
        url,
        version: status.data.build_information.version,
        log: () => log,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          await exited;
        },
      };
    }
    child.kill('SIGKILL');
    await exited;
    // The port was taken between releasing and binding it: try another.
    if (attempt >= 3) throw new Error(`prometheus-pushgateway did not become ready:\n${log}`);
  }
}

async function waitReady(url: string, exited: Promise<number | null>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const until = Date.now() + 10_000;
  while (Date.now() < until && !gone) {
    try {
      const res = await fetch(`${url}/-/ready`);
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}
