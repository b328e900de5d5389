// The TCP and unix socket receivers: a StreamServer per enabled socket, with
// the decoder chosen by `[receiver] format` (per connection for "auto").

import type { ReceiverFormat } from '../config/config.js';
import type { ProxyError } from '../errors.js';
import { JsonStreamDecoder } from '../codecs/json.js';
import { CapnpStreamDecoder } from '../codecs/capnp.js';
import { detectFormat } from '../codecs/detect.js';
import type { InboundMessage, StreamDecoder } from '../codecs/types.js';
import { StreamServer } from './stream.js';

export function decoderFactory(format: ReceiverFormat, maxMessageBytes: number): (firstByte: number) => StreamDecoder {
  const opts = { maxMessageBytes };
  switch (format) {
    case 'json':
      return () => new JsonStreamDecoder(opts);
    case 'capnp':
      return () => new CapnpStreamDecoder(opts);
    case 'capnp_packed':
      return () => new CapnpStreamDecoder({ ...opts, packed: true });
    case 'auto':
      return (first) => (detectFormat(first) === 'json' ? new JsonStreamDecoder(opts) : new CapnpStreamDecoder(opts));
  }
}

export interface ReceiverHooks {
  /** Apply one message; must not throw (per-app rejections are the store's business). */
  onMessage: (msg: InboundMessage, receiver: string, source: string) => void;
  onError: (err: ProxyError, receiver: string, peer: string) => void;
}

export function createReceiver(
  receiver: 'tcp' | 'unix',
  source: string,
  settings: { format: ReceiverFormat; maxPayloadBytes: number; maxConnections: number; idleTimeoutMs: number; readTimeoutMs?: number; allowPeer?: (a: string) => boolean },
  hooks: ReceiverHooks,
): StreamServer {
  return new StreamServer({
    receiver,
    source,
    newDecoder: decoderFactory(settings.format, settings.maxPayloadBytes),
    onMessage: (msg) => hooks.onMessage(msg, receiver, source),
    onError: (err, peer) => hooks.onError(err, receiver, peer),
    maxConnections: settings.maxConnections,
    idleTimeoutMs: settings.idleTimeoutMs,
    readTimeoutMs: settings.readTimeoutMs,
    allowPeer: settings.allowPeer,
  });
}
