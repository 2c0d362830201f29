// The Moddable `hmac` module (modules/crypt/etc/hmac.js): HMAC over a `crypt` Digest. Not in
// @moddable/typings. The simulator provides the same surface in sim/modules/hmac.ts.
declare module "hmac" {
  import type { Digest } from "crypt";
  export default class HMAC {
    constructor(digest: Digest, key: ArrayBuffer | ArrayBufferView, bitlen?: number);
    init(key: ArrayBuffer | ArrayBufferView): void;
    update(...items: (string | ArrayBuffer | ArrayBufferView)[]): void;
    close(): ArrayBuffer;
    reset(): void;
    process(...items: (string | ArrayBuffer | ArrayBufferView)[]): ArrayBuffer;
  }
}
