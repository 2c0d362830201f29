// The Moddable `crypt` module's Digest (modules/crypt/digest/crypt.js). Not in @moddable/typings 5.6.0.
// The firmware uses MD5, SHA1 and SHA256 (the OneNET token); the simulator provides the same surface in
// sim/modules/crypt.ts.
declare module "crypt" {
  export type DigestType = "MD5" | "SHA1" | "SHA224" | "SHA256" | "SHA384" | "SHA512";
  export class Digest {
    constructor(type: DigestType);
    /** Strings are hashed as their UTF-8 bytes. */
    write(data: string | ArrayBuffer | ArrayBufferView): void;
    update(data: string | ArrayBuffer | ArrayBufferView): void;
    close(): ArrayBuffer;
    reset(): void;
    process(...items: (string | ArrayBuffer | ArrayBufferView)[]): ArrayBuffer;
    readonly blockSize: number;
    readonly outputSize: number;
  }
  const Crypt: { readonly Digest: typeof Digest };
  export default Crypt;
}
