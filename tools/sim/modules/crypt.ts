// The Moddable `crypt` module's Digest for hosts without the SDK's native implementation (both lanes of
// the simulator). Same surface as the SDK's modules/crypt/digest/crypt.js: `new Digest(type)`,
// write(data), close(), reset(), process(...), update(data), blockSize, outputSize. Types: MD5, SHA1,
// SHA224, SHA256 (modCrypt.c also has SHA384/SHA512: left out, as nothing here uses them and their
// 64-bit tables would cost ~450 XS heap slots in every lane); another type throws like the native
// "crypt: unsupported digest".
//
// The hashing is @noble/hashes (audited, pure JS, no dependencies), bundled into XS like any shim:
// hashing is computation, not I/O, so it needs no host bridge, and the shim stays lane-neutral.
// A string argument is hashed as its UTF-8 bytes, as the native code hashes XS strings byte for byte;
// the conversion is ours because noble only takes bytes and the board has no TextEncoder.
import { md5, sha1 } from "@noble/hashes/legacy.js";
import { sha224, sha256 } from "@noble/hashes/sha2.js";
import type { CHash, Hash } from "@noble/hashes/utils.js";
import { utf8Bytes } from "../lib/utf8.ts";

type Data = string | ArrayBuffer | ArrayBufferView;
type State = Hash<State>;

/** The bytes of `data`, viewed without copying (a string is encoded to UTF-8 first). */
export function bytesOf(data: Data): Uint8Array {
  if (typeof data === "string") return utf8Bytes(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("crypt: expected a string, an ArrayBuffer or a typed array");
}

function hashFor(type: string): CHash | undefined {
  switch (type) {
    case "MD5":
      return md5;
    case "SHA1":
      return sha1;
    case "SHA224":
      return sha224;
    case "SHA256":
      return sha256;
    default:
      return undefined;
  }
}

export class Digest {
  /** The hash function behind this digest (hmac.ts builds its HMAC on it). */
  readonly hash: CHash;
  #state: State;

  constructor(type: string) {
    const hash = hashFor(type);
    if (hash === undefined) throw new Error("crypt: unsupported digest");
    this.hash = hash;
    this.#state = hash.create() as State;
  }

  get blockSize(): number {
    return this.hash.blockLen;
  }

  get outputSize(): number {
    return this.hash.outputLen;
  }

  write(data: Data): void {
    this.#state.update(bytesOf(data));
  }

  update(data: Data): void {
    this.write(data);
  }

  /** Finishes the hash and returns it; the digest starts over (as after reset()). */
  close(): ArrayBuffer {
    const out = this.#state.digest();
    this.reset();
    return exactBuffer(out);
  }

  reset(): void {
    this.#state = this.hash.create() as State;
  }

  process(...items: Data[]): ArrayBuffer {
    this.reset();
    for (let i = 0; i < items.length; i++) this.write(items[i]);
    return this.close();
  }
}

/** The bytes as an ArrayBuffer of their own length (what the native close() returns). */
export function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice().buffer;
}

export default Object.freeze({ Digest });
