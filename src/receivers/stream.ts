// The socket server shared by the TCP and unix receivers: one decoder per
// connection, every completed message handed to `onMessage` in order, a cap
// on open connections, an idle timeout, and a graceful stop. The receiver
// writes nothing back; a framing error closes the connection and everything
// decoded before it stays applied.

import net from 'node:net';
import { IdleTimeoutError, ProxyError, LimitError } from '../errors.js';
import type { InboundMessage, StreamDecoder } from '../codecs/types.js';

export interface StreamServerOptions {
  /** `tcp` or `unix`: the receiver label on counters. */
  receiver: string;
  /** Shown as the source in /apps (the listen address or socket path). */
  source: string;
  newDecoder: (firstByte: number) => StreamDecoder;
  onMessage: (msg: InboundMessage) => void;
  /** A connection-level failure (framing, idle, too many connections). */
  onError: (err: ProxyError, peer: string) => void;
  maxConnections: number;
  /** 0 = never. */
  idleTimeoutMs: number;
  /** Peer filter (allow-list); return false to drop the connection. */
  allowPeer?: (address: string) => boolean;
}

export class StreamServer {
  readonly server: net.Server;
  private readonly open = new Map<net.Socket, () => StreamDecoder | undefined>();

  constructor(private readonly opts: StreamServerOptions) {
    this.server = net.createServer({ pauseOnConnect: false }, (socket) => this.accept(socket));
  }

  get connections(): number {
    return this.open.size;
  }

  private accept(socket: net.Socket): void {
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : this.opts.source;
    if (this.opts.allowPeer && socket.remoteAddress && !this.opts.allowPeer(socket.remoteAddress)) {
      this.opts.onError(new LimitError(`connection from ${socket.remoteAddress} refused: not in the allow-list`), peer);
      socket.destroy();
      return;
    }
    if (this.open.size >= this.opts.maxConnections) {
      this.opts.onError(new LimitError(`connection refused: ${this.open.size} connections open, the limit (concurrent_requests)`), peer);
      socket.destroy();
      return;
    }
    let decoder: StreamDecoder | undefined;
    this.open.set(socket, () => decoder);
    const fail = (err: unknown) => {
      const e = err instanceof ProxyError ? err : new ProxyError((err as Error).message);
      this.opts.onError(e, peer);
      socket.destroy();
    };
    const deliver = (msgs: InboundMessage[]) => {
      for (const m of msgs) this.opts.onMessage(m);
    };
    if (this.opts.idleTimeoutMs > 0) {
      socket.setTimeout(this.opts.idleTimeoutMs, () => fail(new IdleTimeoutError(`no data for ${this.opts.idleTimeoutMs / 1000} s; connection closed`)));
    }
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder ??= this.opts.newDecoder(chunk[0]);
        deliver(decoder.push(chunk));
        if (decoder.pendingError) fail(decoder.pendingError);
      } catch (err) {
        fail(err);
      }
    });
    socket.on('end', () => {
      try {
        if (decoder) deliver(decoder.end());
        socket.end();
      } catch (err) {
        fail(err);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.open.delete(socket));
  }

  /**
   * Stop accepting; close idle connections now and those mid-message when
   * they finish or at `deadline` (ms since epoch), whichever comes first.
   */
  async stop(deadline: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const [socket, decoder] of this.open) if (!decoder()?.hasPartial()) socket.destroy();
    while (this.open.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      for (const [socket, decoder] of this.open) if (!decoder()?.hasPartial()) socket.destroy();
    }
    for (const socket of this.open.keys()) socket.destroy();
    await closed;
  }
}
