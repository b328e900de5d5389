// A real prometheus-pushgateway as a child process, for the comparison test
// and the benchmark. It cannot listen on port 0: a free port is found by
// binding port 0 and releasing it. In-memory only (--persistence.file=).

import { spawn } from 'node:child_process';
import { requireCommand, startOnFreePort, type PortProgram } from './e2e_helpers.js';

export interface PushgatewayProcess extends PortProgram {
  version: string;
}

export function requirePushgateway(): string {
  return requireCommand('prometheus-pushgateway', 'prometheus-pushgateway');
}

export async function startPushgateway(flags: string[] = []): Promise<PushgatewayProcess> {
  const bin = requirePushgateway();
  const pg = await startOnFreePort(
    'prometheus-pushgateway',
    (port) => spawn(bin, [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--web.enable-admin-api', '--log.level=warn', ...flags], { stdio: ['ignore', 'ignore', 'pipe'] }),
    '/-/ready',
  );
  const status = (await (await fetch(`${pg.url}/api/v1/status`)).json()) as { data: { build_information: { version: string } } };
  return { ...pg, version: status.data.build_information.version };
}
