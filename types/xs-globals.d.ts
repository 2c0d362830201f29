// The XS globals the firmware uses, as every Moddable device host provides them. @moddable/typings'
// xs.d.ts is not included (it declares more than the board has); the XS and Node lanes supply the two
// string natives and the Node lane ArrayBuffer.prototype.concat (tools/sim/natives.ts; xsnap's XS has
// concat), so code using them runs in every lane.
declare const trace: (...log: (string | number | boolean)[]) => void;

interface ArrayBufferConstructor {
  /** UTF-8 bytes of `string` in a new ArrayBuffer (native on the device). */
  fromString(string: string): ArrayBuffer;
}

interface ArrayBuffer {
  /** A new ArrayBuffer: this buffer's bytes, then each argument's (native on the device, a memcpy). */
  concat(...buffers: ArrayBuffer[]): ArrayBuffer;
}

interface StringConstructor {
  /** The string whose UTF-8 bytes fill `buffer`; throws TypeError on bytes that are not UTF-8. */
  fromArrayBuffer(buffer: ArrayBufferLike): string;
}
