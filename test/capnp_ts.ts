// capnp-ts for the tests and benchmarks: writing InboundMetrics messages,
// and reading them as capnp-ts does (the reference the struct reader of
// src/codecs/capnp_read.ts is fuzzed against). The proxy itself does not
// load capnp-ts.

import { createRequire } from 'node:module';
import type { InboundMessage } from '../src/codecs/types.js';
import { utf8Text } from '../src/codecs/utf8.js';

// capnp-ts 0.7.0 ships its .ts sources next to its .d.ts files, so a static
// `import * as capnp from 'capnp-ts'` makes tsc type-check those sources,
// which fail under TypeScript 5.9 strict (no @types/debug, ArrayBufferLike vs
// ArrayBuffer, an un-`declare`d property override). The package is therefore
// loaded untyped and the few members used are described below; the
// runtime objects are capnp-ts's own.

/** A capnp-ts Pointer (or Struct) object. */
export interface CapnpPointer {
  readonly segment: object;
  byteOffset: number;
  toString(): string;
}
export interface CapnpStructCtor<T extends CapnpPointer> {
  readonly _capnp: { displayName: string; id: string; size: unknown };
  new (segment: object, byteOffset: number, depthLimit?: number, compositeIndex?: number): T;
}
export interface CapnpMessage {
  getRoot<T extends CapnpPointer>(root: CapnpStructCtor<T>): T;
  initRoot<T extends CapnpPointer>(root: CapnpStructCtor<T>): T;
  toArrayBuffer(): ArrayBuffer;
  toPackedArrayBuffer(): ArrayBuffer;
}
export interface CapnpTs {
  Message: new (src?: ArrayBuffer | ArrayBufferView, packed?: boolean, singleSegment?: boolean) => CapnpMessage;
  ObjectSize: new (dataByteLength: number, pointerLength: number) => object;
  Struct: {
    new (segment: object, byteOffset: number, depthLimit?: number, compositeIndex?: number): CapnpPointer;
    getPointer(index: number, s: CapnpPointer): CapnpPointer;
    getText(index: number, s: CapnpPointer): string;
    setText(index: number, value: string, s: CapnpPointer): void;
  };
  Pointer: { isNull(p: CapnpPointer): boolean };
  Data: { fromPointer(p: CapnpPointer): { toUint8Array(): Uint8Array } };
}

export const capnp = createRequire(import.meta.url)('capnp-ts') as CapnpTs;

/** What capnpc-ts would generate for `struct InboundMetrics` (id from `capnp compile -ocapnp`). */
export class InboundMetrics extends capnp.Struct {
  static readonly _capnp = {
    displayName: 'InboundMetrics',
    id: 'a51eb28a3fe040a9',
    size: new capnp.ObjectSize(0, 2),
  };

  getAppName(): string {
    return capnp.Struct.getText(0, this);
  }
  setAppName(value: string): void {
    capnp.Struct.setText(0, value, this);
  }
  getData(): string {
    return capnp.Struct.getText(1, this);
  }
  setData(value: string): void {
    capnp.Struct.setText(1, value, this);
  }
  override toString(): string {
    return 'InboundMetrics_' + super.toString();
  }
}

/** One InboundMetrics message, standard framing, from capnp-ts. */
export function capnpEncode(app: string, text: string, packed = false): Uint8Array {
  const msg = new capnp.Message();
  const root = msg.initRoot(InboundMetrics);
  root.setAppName(app);
  root.setData(text);
  return new Uint8Array(packed ? msg.toPackedArrayBuffer() : msg.toArrayBuffer());
}

/** capnp-ts's reading of a framed message, with our checks on the Text bytes (NUL, UTF-8), or undefined when anything refuses it. */
export function capnpTsRead(bytes: Uint8Array): InboundMessage | undefined {
  try {
    const root = new capnp.Message(bytes.slice().buffer as ArrayBuffer, false, false).getRoot(InboundMetrics);
    const field = (i: number) => {
      const p = capnp.Struct.getPointer(i, root);
      if (capnp.Pointer.isNull(p)) return undefined;
      const b = capnp.Data.fromPointer(p).toUint8Array();
      return b.length > 0 && b[b.length - 1] === 0 ? utf8Text(b.subarray(0, b.length - 1)) : undefined;
    };
    const app = field(0);
    const text = field(1);
    return app === undefined || app === '' || text === undefined ? undefined : { app, text };
  } catch {
    return undefined;
  }
}

