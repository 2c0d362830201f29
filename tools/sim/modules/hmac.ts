// The Moddable `hmac` module (the SDK's modules/crypt/etc/hmac.js), in plain TypeScript for hosts
// without the SDK: HMAC (RFC 2104) over any Digest from `crypt`. Same surface:
// `new HMAC(digest, key, bitlen = 0)`, init(key), update(...items), close(), reset(), process(...items),
// sign(H), verify(H, sig). A key longer than the block size is hashed first. Runs in Node and in XS.

interface DigestLike {
  readonly blockSize: number;
  reset(): void;
  write(data: string | ArrayBuffer | ArrayBufferView): void;
  close(): ArrayBuffer;
}

type Data = string | ArrayBuffer | ArrayBufferView;

function view(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export default class HMAC {
  readonly h: DigestLike;
  readonly hashLen: number;
  ipad: Uint8Array = new Uint8Array(0);
  opad: Uint8Array = new Uint8Array(0);

  constructor(h: DigestLike, key: ArrayBuffer | ArrayBufferView, bitlen = 0) {
    this.h = h;
    this.init(key);
    this.hashLen = bitlen >> 3;
  }

  init(key: ArrayBuffer | ArrayBufferView): void {
    const h = this.h;
    let k = view(key);
    if (k.length > h.blockSize) {
      h.reset();
      h.write(k);
      k = new Uint8Array(h.close());
    }
    this.ipad = new Uint8Array(h.blockSize);
    this.opad = new Uint8Array(h.blockSize);
    let i = 0;
    for (; i < k.length; i++) {
      this.ipad[i] = k[i] ^ 0x36;
      this.opad[i] = k[i] ^ 0x5c;
    }
    this.ipad.fill(0x36, i);
    this.opad.fill(0x5c, i);
    h.reset();
    h.write(this.ipad);
  }

  update(...items: Data[]): void {
    for (let i = 0; i < items.length; i++) this.h.write(items[i]);
  }

  close(): ArrayBuffer {
    const h = this.h;
    const inner = h.close();
    h.reset();
    h.write(this.opad);
    h.write(inner);
    return h.close();
  }

  reset(): void {
    this.h.reset();
    this.h.write(this.ipad);
  }

  process(...items: Data[]): ArrayBuffer {
    this.reset();
    for (let i = 0; i < items.length; i++) this.h.write(items[i]);
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
    const s = view(sig);
    const n = this.hashLen || t.length;
    if (s.length < n) return false;
    let diff = 0;
    for (let i = 0; i < n; i++) diff |= t[i] ^ s[i];
    return diff === 0;
  }
}
