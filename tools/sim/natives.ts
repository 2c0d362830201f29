// The string <-> UTF-8 natives every Moddable device host has (docs/moddable.md), which neither xsnap
// nor Node provides: `ArrayBuffer.fromString(string)` and `String.fromArrayBuffer(buffer)`; and XS's
// `ArrayBuffer.prototype.concat(...buffers)`, which xsnap has and Node lacks. Both lanes
// install them from their engine's native TextEncoder/TextDecoder, so firmware may use what the board
// has natively, and the XS lane meters it as native work (a few computrons), as the board runs it.
//
// Like the device (xs/sources/xsString.c), String.fromArrayBuffer throws a TypeError on bytes that are
// not UTF-8 instead of substituting U+FFFD.

interface Encoder {
  encode(text: string): Uint8Array;
}
interface Decoder {
  decode(bytes: Uint8Array): string;
}

type Concat = { concat?: (this: ArrayBuffer, ...buffers: ArrayBuffer[]) => ArrayBuffer };

type Natives = {
  fromString?: (text: string) => ArrayBuffer;
  fromArrayBuffer?: (buffer: ArrayBuffer) => string;
};

/** Installs the natives on this realm's ArrayBuffer and String (idempotent). */
export function installBoardNatives(encoder: Encoder, decoder: Decoder): void {
  const ab = ArrayBuffer as unknown as Natives;
  const str = String as unknown as Natives;
  const proto = ArrayBuffer.prototype as unknown as Concat;
  if (proto.concat === undefined) {
    // As XS's (xsDataView.c): every argument must be an ArrayBuffer; the result is a new one.
    Object.defineProperty(proto, "concat", {
      configurable: true,
      writable: true,
      value: function concat(this: ArrayBuffer, ...buffers: ArrayBuffer[]): ArrayBuffer {
        let length = this.byteLength;
        for (let i = 0; i < buffers.length; i++) {
          if (!(buffers[i] instanceof ArrayBuffer)) throw new TypeError(`arguments[${i}] is no ArrayBuffer instance`);
          length += buffers[i].byteLength;
        }
        const out = new Uint8Array(length);
        out.set(new Uint8Array(this), 0);
        let at = this.byteLength;
        for (let i = 0; i < buffers.length; i++) {
          out.set(new Uint8Array(buffers[i]), at);
          at += buffers[i].byteLength;
        }
        return out.buffer;
      },
    });
  }
  if (ab.fromString === undefined) {
    ab.fromString = (text: string): ArrayBuffer => {
      const bytes = encoder.encode(String(text));
      return bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
    };
  }
  if (str.fromArrayBuffer === undefined) {
    str.fromArrayBuffer = (buffer: ArrayBuffer): string => {
      if (!(buffer instanceof ArrayBuffer)) throw new TypeError("argument: not an ArrayBuffer instance");
      const bytes = new Uint8Array(buffer);
      const text = decoder.decode(bytes);
      // The decoder substitutes U+FFFD for bad bytes; a real U+FFFD survives the round trip, a
      // substituted one does not (checked only in that rare case, so the common path stays native).
      if (text.indexOf("\ufffd") >= 0 && !sameBytes(encoder.encode(text), bytes)) throw new TypeError("invalid UTF-8");
      return text;
    };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
