// The socket server shared by the TCP and unix receivers: one decoder per
// connection, every completed message handed to `onMessage` in order, a cap
// on open connections, an idle timeout, and a graceful stop. The receiver
// writes nothing back; a framing error closes the connection and everything
// decoded before it stays applied.

import net from 'node:net';
import { IdleTimeoutError, ProxyError, LimitError, ReadTimeoutError, AccessDeniedError } from '../errors.js';
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
  /** A message must be complete this long after its first byte arrived (slow senders are closed); 0 = never. */
  readTimeoutMs?: number;
  /** Peer filter (allow-list); return false to drop the connection. */
  allowPeer?: (address: string) => boolean;
}

export class StreamServer {
  readonly server: net.Server;
  private readonly open = new Map<net.Socket, () => StreamDecoder | undefined>();
  private paused = false;

  constructor(private opts: StreamServerOptions) {
    this.server = net.createServer({ pauseOnConnect: false }, (socket) => this.accept(socket));
  }

  /** Apply reloaded settings; connections opened from now on use them. */
  configure(opts: Partial<Pick<StreamServerOptions, 'newDecoder' | 'maxConnections' | 'idleTimeoutMs' | 'readTimeoutMs' | 'allowPeer'>>): void {
    this.opts = { ...this.opts, ...opts };
  }

  get connections(): number {
    return this.open.size;
  }

  /**
   * Stop (or resume) reading from every connection, new ones included: the
   * backpressure of a consumer that is behind (TCP then slows the senders).
   * The idle and read timeouts keep running.
   */
  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    for (const socket of this.open.keys()) {
      if (paused) socket.pause();
      else socket.resume();
    }
  }

  private accept(socket: net.Socket): void {
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : this.opts.source;
    if (this.opts.allowPeer && socket.remoteAddress && !this.opts.allowPeer(socket.remoteAddress)) {
      this.opts.onError(new AccessDeniedError(`connection from ${socket.remoteAddress} refused: not in receiver.allowed_cidrs`), peer);
      socket.destroy();
      return;
    }
    if (this.open.size >= this.opts.maxConnections) {
      this.opts.onError(new LimitError(`connection refused: ${this.open.size} connections open, the limit (exporter.concurrent_requests)`), peer);
      socket.destroy();
      return;
    }
    if (this.paused) socket.pause();
    let decoder: StreamDecoder | undefined;
    const newDecoder = this.opts.newDecoder;
    const readTimeoutMs = this.opts.readTimeoutMs ?? 0;
    let readTimer: NodeJS.Timeout | undefined;
    this.open.set(socket, () => decoder);
    const fail = (err: unknown) => {
      const e = err instanceof ProxyError ? err : new ProxyError((err as Error).message);
      this.opts.onError(e, peer);
      socket.destroy();
    };
    const deliver = (msgs: InboundMessage[]) => {
      for (const m of msgs) this.opts.onMessage(m);
    };
    // Slow senders: the clock starts at a message's first byte and is not
    // reset by more bytes, so trickling cannot hold the connection (or the
    // buffered bytes) longer than read_timeout per message.
    const armReadTimer = (completed: boolean) => {
      if (readTimeoutMs <= 0) return;
      if (!decoder?.hasPartial()) {
        clearTimeout(readTimer);
        readTimer = undefined;
      } else if (!readTimer || completed) {
        clearTimeout(readTimer);
        readTimer = setTimeout(() => fail(new ReadTimeoutError(`message not complete ${readTimeoutMs / 1000} s after its first byte (receiver.read_timeout); connection closed`)), readTimeoutMs);
      }
    };
    if (this.opts.idleTimeoutMs > 0) {
      socket.setTimeout(this.opts.idleTimeoutMs, () => fail(new IdleTimeoutError(`no data for ${this.opts.idleTimeoutMs / 1000} s (receiver.idle_timeout); connection closed`)));
    }
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder ??= newDecoder(chunk[0]);
        const msgs = decoder.push(chunk);
        deliver(msgs);
        if (decoder.pendingError) fail(decoder.pendingError);
        else armReadTimer(msgs.length > 0);
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
    socket.on('close', () => {
      clearTimeout(readTimer);
      this.open.delete(socket);
    });
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
