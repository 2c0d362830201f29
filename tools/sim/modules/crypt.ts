// The Moddable `crypt` module's Digest, in plain TypeScript, for hosts without the SDK's native
// implementation (the Node lane and the XS lane of the simulator). Same surface as the SDK's
// modules/crypt/digest/crypt.js: `new Digest(type)`, write(data), close(), reset(), process(...),
// update(data), blockSize, outputSize. An unknown type throws like the native "crypt: unsupported
// digest". A string argument is hashed as its UTF-8 bytes (XS strings are UTF-8 inside, and the native
// code hashes them byte for byte). Written like firmware: no Node API, no TextEncoder, no allocation
// per block; it runs in Node and inside XS.

type Data = string | ArrayBuffer | ArrayBufferView;

/** The bytes of `data`, viewed without copying (a string is encoded to UTF-8 first). */
export function bytesOf(data: Data): Uint8Array {
  if (typeof data === "string") return utf8(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("crypt: expected a string, an ArrayBuffer or a typed array");
}

function utf8(s: string): Uint8Array {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out[o++] = c;
    else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0x10000) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 0x3f);
      out[o++] = 0x80 | ((c >> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    }
  }
  return out;
}

/** One hash function over 64-byte blocks with a 64-bit message length (MD5, SHA-1, SHA-2/256). */
interface Engine {
  readonly outputSize: number;
  readonly bigEndian: boolean;
  readonly state: Int32Array;
  init(): void;
  compress(block: Uint8Array, w: Int32Array): void;
}

// MD5 (RFC 1321)
const MD5_K = new Int32Array(64);
for (let i = 0; i < 64; i++) MD5_K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 4294967296) | 0;
const MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

class MD5Engine implements Engine {
  readonly outputSize = 16;
  readonly bigEndian = false;
  readonly state = new Int32Array(4);
  init(): void {
    const s = this.state;
    s[0] = 0x67452301;
    s[1] = 0xefcdab89 | 0;
    s[2] = 0x98badcfe | 0;
    s[3] = 0x10325476;
  }
  compress(block: Uint8Array, w: Int32Array): void {
    for (let i = 0; i < 16; i++) {
      const j = i * 4;
      w[i] = block[j] | (block[j + 1] << 8) | (block[j + 2] << 16) | (block[j + 3] << 24);
    }
    const s = this.state;
    let a = s[0], b = s[1], c = s[2], d = s[3];
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      const round = i >> 4;
      if (round === 0) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (round === 1) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (round === 2) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const r = MD5_S[(round << 2) | (i & 3)];
      const t = (a + f + MD5_K[i] + w[g]) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((t << r) | (t >>> (32 - r)))) | 0;
    }
    s[0] = (s[0] + a) | 0;
    s[1] = (s[1] + b) | 0;
    s[2] = (s[2] + c) | 0;
    s[3] = (s[3] + d) | 0;
  }
}

// SHA-1 (FIPS 180-4)
class SHA1Engine implements Engine {
  readonly outputSize = 20;
  readonly bigEndian = true;
  readonly state = new Int32Array(5);
  init(): void {
    const s = this.state;
    s[0] = 0x67452301;
    s[1] = 0xefcdab89 | 0;
    s[2] = 0x98badcfe | 0;
    s[3] = 0x10325476;
    s[4] = 0xc3d2e1f0 | 0;
  }
  compress(block: Uint8Array, w: Int32Array): void {
    for (let i = 0; i < 16; i++) {
      const j = i * 4;
      w[i] = (block[j] << 24) | (block[j + 1] << 16) | (block[j + 2] << 8) | block[j + 3];
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    const s = this.state;
    let a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
    for (let i = 0; i < 80; i++) {
      let f: number;
      let k: number;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc | 0;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6 | 0;
      }
      const t = (((a << 5) | (a >>> 27)) + f + e + k + w[i]) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    s[0] = (s[0] + a) | 0;
    s[1] = (s[1] + b) | 0;
    s[2] = (s[2] + c) | 0;
    s[3] = (s[3] + d) | 0;
    s[4] = (s[4] + e) | 0;
  }
}

// SHA-256 and SHA-224 (FIPS 180-4)
const SHA256_K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const SHA256_IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const SHA224_IV = [0xc1059ed8, 0x367cd507, 0x3070dd17, 0xf70e5939, 0xffc00b31, 0x68581511, 0x64f98fa7, 0xbefa4fa4];

class SHA256Engine implements Engine {
  readonly bigEndian = true;
  readonly state = new Int32Array(8);
  constructor(
    readonly outputSize: number,
    private readonly iv: readonly number[],
  ) {}
  init(): void {
    for (let i = 0; i < 8; i++) this.state[i] = this.iv[i] | 0;
  }
  compress(block: Uint8Array, w: Int32Array): void {
    for (let i = 0; i < 16; i++) {
      const j = i * 4;
      w[i] = (block[j] << 24) | (block[j + 1] << 16) | (block[j + 2] << 8) | block[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15];
      const y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    const s = this.state;
    let a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + SHA256_K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    s[0] = (s[0] + a) | 0;
    s[1] = (s[1] + b) | 0;
    s[2] = (s[2] + c) | 0;
    s[3] = (s[3] + d) | 0;
    s[4] = (s[4] + e) | 0;
    s[5] = (s[5] + f) | 0;
    s[6] = (s[6] + g) | 0;
    s[7] = (s[7] + h) | 0;
  }
}

function engineFor(type: string): Engine | undefined {
  switch (type) {
    case "MD5":
      return new MD5Engine();
    case "SHA1":
      return new SHA1Engine();
    case "SHA256":
      return new SHA256Engine(32, SHA256_IV);
    case "SHA224":
      return new SHA256Engine(28, SHA224_IV);
    default:
      return undefined;
  }
}

const BLOCK = 64;

export class Digest {
  #engine: Engine;
  #block = new Uint8Array(BLOCK);
  #w = new Int32Array(80);
  #used = 0;
  #length = 0; // bytes written since the last reset

  constructor(type: string) {
    const engine = engineFor(type);
    if (!engine) throw new Error("crypt: unsupported digest");
    this.#engine = engine;
    engine.init();
  }

  get blockSize(): number {
    return BLOCK;
  }

  get outputSize(): number {
    return this.#engine.outputSize;
  }

  write(data: Data): void {
    const bytes = bytesOf(data);
    const block = this.#block;
    const engine = this.#engine;
    let used = this.#used;
    for (let i = 0, n = bytes.length; i < n; i++) {
      block[used++] = bytes[i];
      if (used === BLOCK) {
        engine.compress(block, this.#w);
        used = 0;
      }
    }
    this.#used = used;
    this.#length += bytes.length;
  }

  update(data: Data): void {
    this.write(data);
  }

  /** Finishes the hash and returns it; the digest must be reset before it is written again. */
  close(): ArrayBuffer {
    const engine = this.#engine;
    const block = this.#block;
    let used = this.#used;
    const bits = this.#length * 8;
    block[used++] = 0x80;
    if (used > BLOCK - 8) {
      block.fill(0, used);
      engine.compress(block, this.#w);
      used = 0;
    }
    block.fill(0, used);
    const high = Math.floor(bits / 4294967296);
    const low = bits >>> 0;
    if (engine.bigEndian) {
      for (let i = 0; i < 4; i++) {
        block[56 + i] = (high >>> (24 - 8 * i)) & 0xff;
        block[60 + i] = (low >>> (24 - 8 * i)) & 0xff;
      }
    } else {
      for (let i = 0; i < 4; i++) {
        block[56 + i] = (low >>> (8 * i)) & 0xff;
        block[60 + i] = (high >>> (8 * i)) & 0xff;
      }
    }
    engine.compress(block, this.#w);
    const out = new Uint8Array(engine.outputSize);
    const state = engine.state;
    for (let i = 0; i < out.length; i++) {
      const word = state[i >> 2];
      out[i] = engine.bigEndian ? (word >>> (24 - 8 * (i & 3))) & 0xff : (word >>> (8 * (i & 3))) & 0xff;
    }
    this.#used = 0;
    this.#length = 0;
    engine.init();
    return out.buffer;
  }

  reset(): void {
    this.#used = 0;
    this.#length = 0;
    this.#engine.init();
  }

  process(...items: Data[]): ArrayBuffer {
    this.reset();
    for (let i = 0; i < items.length; i++) this.write(items[i]);
    return this.close();
  }
}

export default Object.freeze({ Digest });
