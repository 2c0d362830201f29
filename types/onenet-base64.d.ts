// The Moddable `base64` module (modules/data/base64). @moddable/typings' base64.d.ts types its input
// with BufferLike from xs.d.ts, which the firmware scope leaves out (see types/xs-globals.d.ts), so
// this exact declaration replaces it. The simulator's version is sim/modules/base64.ts.
declare module "base64" {
  const Base64: {
    /** Standard base64 with padding; a string is encoded as its UTF-8 bytes. */
    encode(source: string | ArrayBuffer | ArrayBufferView): string;
    /** Lenient like the native code: characters outside the alphabet are skipped. */
    decode(text: string): ArrayBuffer;
  };
  export default Base64;
}
