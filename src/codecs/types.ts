// What a stream codec produces from the bytes of one receiver connection.

export interface InboundMessage {
  app: string;
  /** Exposition text, not yet validated (validation happens once, in the store). */
  text: string;
}

/**
 * Incremental decoder for one connection. The receiver feeds every chunk in
 * arrival order and calls `end()` when the peer closes. Both return the
 * messages completed so far, in order. A framing error is thrown as a
 * ProxyError subclass (E_JSON, E_CAPNP, E_TOO_LARGE); messages returned by
 * earlier calls stay valid and are applied, the connection is closed.
 * Implementations must bound what they buffer by `maxMessageBytes`, checked
 * before buffering where the framing announces a size.
 */
export interface StreamDecoder {
  push(chunk: Buffer): InboundMessage[];
  end(): InboundMessage[];
  /** True while bytes of an incomplete message are buffered (shutdown waits for those). */
  hasPartial(): boolean;
}

export interface DecoderOptions {
  /** Largest single message (JSON object or capnp message) accepted, in bytes. */
  maxMessageBytes: number;
}
