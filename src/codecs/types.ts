// What a stream codec produces from the bytes of one receiver connection.

import type { ProxyError } from '../errors.js';

export interface InboundMessage {
  app: string;
  /** Exposition text, not yet validated (validation happens once, in the store). */
  text: string;
}

/**
 * Incremental decoder for one connection. The receiver feeds every chunk in
 * arrival order and calls `end()` when the peer closes. Both return the
 * messages completed so far, in order. A framing error is thrown as a
 * ProxyError subclass (E_JSON, E_CAPNP, E_TOO_LARGE), or, when messages
 * completed earlier in the same chunk, returned with them as `pendingError`;
 * every message returned stays valid and is applied, the connection is closed.
 * Implementations must bound what they buffer by `maxMessageBytes`, checked
 * before buffering where the framing announces a size.
 */
export interface StreamDecoder {
  push(chunk: Buffer): InboundMessage[];
  end(): InboundMessage[];
  /** True while bytes of an incomplete message are buffered (shutdown waits for those). */
  hasPartial(): boolean;
  /**
   * Set when the bytes after the messages a `push` returned were invalid:
   * the caller applies those messages, then closes with this error. Later
   * calls return nothing (and may throw it again).
   */
  readonly pendingError: ProxyError | undefined;
}

export interface DecoderOptions {
  /** Largest single message (JSON object or capnp message) accepted, in bytes. */
  maxMessageBytes: number;
}
