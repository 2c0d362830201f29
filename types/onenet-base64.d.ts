// The Moddable `base64` module (modules/data/base64). @moddable/typings has base64.d.ts, but the
// firmware tsconfig's `exclude: node_modules/**` drops it (and its BufferLike type is undeclared), so
// the OneNET token code declares what it uses here. The simulator's version is sim/modules/base64.ts.
declare module "base64" {
  const Base64: {
    /** Standard base64 with padding; a string is encoded as its UTF-8 bytes. */
    encode(source: string | ArrayBuffer | ArrayBufferView): string;
    /** Lenient like the native code: characters outside the alphabet are skipped. */
    decode(text: string): ArrayBuffer;
  };
  export default Base64;
}
