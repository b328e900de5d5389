// Socket connection probes: the connection-status-exporter's job (`nc -z
// host port` for a list of sockets), as one more source of the store.
//
// Every `interval` all sockets are tried at once; each attempt opens a
// connection and closes it as soon as it is up. The round's results become
// one app, `connection_status`, holding
//
//   connection_status_up{host="...",name="...",port="...",protocol="tcp"} 1|0
//
// the same family and labels the Go exporter serves, so its dashboards and
// alerts keep working (a unix socket has no port label). A round never
// overlaps the previous one; the app goes when the last socket is removed
// from the config, and never expires on its own (a failed socket reads 0,
// it does not vanish).

import net from 'node:net';
import { escapeLabelValue } from '../exposition/text_parse.js';
import type { Logger } from '../log.js';
import type { Update } from '../store/store.js';
import type { ConnectionSocket, ConnectionStatusConfig } from './config.js';

export const CONNECTION_APP = 'connection_status';
const RECEIVER = 'probe';

/** Where a round's results go (the store). */
export interface ProbeSink {
  put(update: Update): unknown;
  remove(app: string): boolean;
}

/**
 * One attempt: resolves true once a connection to the socket is open (it is
 * then closed), false when it is refused, fails or is not open within
 * `timeoutMs`. Never rejects.
 */
export function probeConnection(s: ConnectionSocket): Promise<boolean> {
  return new Promise((resolve) => {
    const opts: net.NetConnectOpts =
      s.protocol === 'unix' ? { path: s.host } : { host: s.host, port: s.port, family: s.protocol === 'tcp4' ? 4 : s.protocol === 'tcp6' ? 6 : 0 };
    const socket = net.connect(opts);
    const done = (up: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(up);
    };
    const timer = setTimeout(() => done(false), s.timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The exposition text of one round: a series per socket, in config order. */
export function renderConnectionStatus(sockets: readonly ConnectionSocket[], up: readonly boolean[]): string {
  let out = '# HELP connection_status_up Connection status of the socket.\n# TYPE connection_status_up gauge\n';
  sockets.forEach((s, i) => {
    const port = s.protocol === 'unix' ? '' : `,port="${s.port}"`;
    out += `connection_status_up{host="${escapeLabelValue(s.host)}",name="${escapeLabelValue(s.name)}"${port},protocol="${s.protocol}"} ${up[i] ? 1 : 0}\n`;
  });
  return out;
}

export interface ConnectionProberOptions {
  config: ConnectionStatusConfig;
  sink: ProbeSink;
  logger: Logger;
}

export class ConnectionProber {
  private config: ConnectionStatusConfig;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly opts: ConnectionProberOptions) {
    this.config = opts.config;
  }

  /** Probe now, then every interval. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Reload: the next round uses `config`; no sockets left removes the app at once. */
  update(config: ConnectionStatusConfig): void {
    const intervalChanged = config.intervalMs !== this.config.intervalMs;
    this.config = config;
    if (config.sockets.length === 0) this.opts.sink.remove(CONNECTION_APP);
    if (intervalChanged && !this.running && !this.stopped) this.schedule(0);
  }

  /** No further rounds; waits for the one in flight (bounded by the sockets' timeouts). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.round().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.config.intervalMs);
      });
    }, delayMs).unref();
  }

  private async round(): Promise<void> {
    const sockets = this.config.sockets;
    if (sockets.length === 0) return;
    const up = await Promise.all(sockets.map(probeConnection));
    // A reload during the round changed the list: these results are for the old one.
    if (this.stopped || sockets !== this.config.sockets) return;
    try {
      this.opts.sink.put({ app: CONNECTION_APP, source: 'connection probes', receiver: RECEIVER, text: renderConnectionStatus(sockets, up), ttlMs: 0 });
    } catch (err) {
      // Another app holding connection_status_up with another type, say: logged (and counted by the store), retried next round.
      this.opts.logger.warn('connection probe results not stored', { err: (err as Error).message });
    }
  }
}
