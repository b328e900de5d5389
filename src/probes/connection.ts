// Socket connection probes: the connection-status-exporter's job (`nc -z
// host port` for a list of sockets), as one more source of the store.
//
// Every `interval` all sockets are tried at once; each attempt opens a
// connection and closes it as soon as it is up. The round's results become
// one app, `connection_status` (see prober.ts for the loop), holding
//
//   connection_status_up{host="...",name="...",port="...",protocol="tcp"} 1|0
//
// the same family and labels the Go exporter serves, so its dashboards and
// alerts keep working (a unix socket has no port label).

import net from 'node:net';
import { escapeLabelValue } from '../exposition/text_parse.js';
import { renderHeader } from '../exposition/text_render.js';
import type { ConnectionSocket, ConnectionStatusConfig } from './config.js';
import type { ProbeKind } from './prober.js';

export const CONNECTION_APP = 'connection_status';

/**
 * One attempt: resolves true once a connection to the socket is open (it is
 * then closed), false when it is refused, fails, is not open within
 * `timeoutMs` or `signal` aborts first. Never rejects.
 */
export function probeConnection(s: ConnectionSocket, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const opts: net.NetConnectOpts =
      s.protocol === 'unix' ? { path: s.host } : { host: s.host, port: s.port, family: s.protocol === 'tcp4' ? 4 : s.protocol === 'tcp6' ? 6 : 0 };
    const socket = net.connect(opts);
    const done = (up: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      socket.destroy();
      resolve(up);
    };
    const aborted = () => done(false);
    const timer = setTimeout(aborted, s.timeoutMs);
    signal?.addEventListener('abort', aborted);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The exposition text of one round: a series per socket, in config order. */
export function renderConnectionStatus(sockets: readonly ConnectionSocket[], up: readonly boolean[]): string {
  let out = renderHeader('connection_status_up', 'gauge', 'Connection status of the socket.');
  sockets.forEach((s, i) => {
    const port = s.protocol === 'unix' ? '' : `,port="${s.port}"`;
    out += `connection_status_up{host="${escapeLabelValue(s.host)}",name="${escapeLabelValue(s.name)}"${port},protocol="${s.protocol}"} ${up[i] ? 1 : 0}\n`;
  });
  return out;
}

/** The connection probe for Prober: every socket at once, one series each. */
export const connectionProbe: ProbeKind<ConnectionStatusConfig> = {
  app: CONNECTION_APP,
  isEmpty: (c) => c.sockets.length === 0,
  round: async (c, signal) => renderConnectionStatus(c.sockets, await Promise.all(c.sockets.map((s) => probeConnection(s, signal)))),
};
