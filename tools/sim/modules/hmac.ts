// The Moddable `hmac` module (the SDK's modules/crypt/etc/hmac.js) for hosts without the SDK, on
// @noble/hashes' HMAC (RFC 2104) over the hash of a `crypt` Digest (see crypt.ts for why noble).
// Same surface: `new HMAC(digest, key, bitlen = 0)`, init(key), update(...items), close(), reset(),
// process(...items), sign(H), verify(H, sig). Runs in Node and in XS.
import { hmac } from "@noble/hashes/hmac.js";
import { Digest, bytesOf, exactBuffer } from "./crypt.ts";

type Data = string | ArrayBuffer | ArrayBufferView;
/** What this module uses of noble's HMAC state. */
interface Mac {
  update(bytes: Uint8Array): unknown;
  digest(): Uint8Array;
  clone(): Mac;
}

export default class HMAC {
  readonly h: Digest;
  readonly hashLen: number;
  /** The MAC keyed and with nothing written: every reset() starts from a copy of it. */
  #keyed: Mac;
  #mac: Mac;

  constructor(h: Digest, key: ArrayBuffer | ArrayBufferView, bitlen = 0) {
    this.h = h;
    this.#keyed = hmac.create(h.hash, bytesOf(key));
    this.#mac = this.#keyed.clone();
    this.hashLen = bitlen >> 3;
  }

  init(key: ArrayBuffer | ArrayBufferView): void {
    this.#keyed = hmac.create(this.h.hash, bytesOf(key));
    this.reset();
  }

  update(...items: Data[]): void {
    for (let i = 0; i < items.length; i++) this.#mac.update(bytesOf(items[i]));
  }

  /** The MAC of everything written since the last reset; the MAC starts over afterwards. */
  close(): ArrayBuffer {
    const out = this.#mac.digest();
    this.reset();
    return exactBuffer(out);
  }

  reset(): void {
    this.#mac = this.#keyed.clone();
  }

  process(...items: Data[]): ArrayBuffer {
    this.reset();
    this.update(...items);
    return this.close();
  }

  /** The MAC of H, truncated to bitlen bits when bitlen was given. */
  sign(H: Data): ArrayBuffer {
    this.update(H);
    let sig = this.close();
    if (this.hashLen) sig = sig.slice(0, this.hashLen);
    return sig;
  }

  /** True when sig is the MAC of H (compared over hashLen bytes, or all of it). */
  verify(H: Data, sig: ArrayBuffer | ArrayBufferView): boolean {
    this.update(H);
    const t = new Uint8Array(this.close());
    const s = bytesOf(sig);
    const n = this.hashLen || t.length;
    if (s.length < n) return false;
    let diff = 0;
    for (let i = 0; i < n; i++) diff |= t[i] ^ s[i];
    return diff === 0;
  }
}
