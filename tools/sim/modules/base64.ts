// The Moddable `base64` module (the SDK's modules/data/base64), in plain TypeScript for hosts without
// the SDK. Same surface and the same leniency as the native code: `Base64.encode(string | buffer)`
// gives standard base64 with padding (a string is encoded as its UTF-8 bytes);
// `Base64.decode(string)` gives an ArrayBuffer and, like modBase64.c, skips characters outside the
// alphabet and stops at padding. Strict validation is the caller's job (onenet/config.ts does it).

import { bytesOf } from "./crypt.ts";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

function encode(source: string | ArrayBuffer | ArrayBufferView): string {
  const src = bytesOf(source);
  const units: number[] = [];
  let i = 0;
  const n = src.length;
  for (; i + 2 < n; i += 3) {
    const a = src[i], b = src[i + 1], c = src[i + 2];
    units.push(
      ALPHABET.charCodeAt(a >> 2),
      ALPHABET.charCodeAt(((a & 3) << 4) | (b >> 4)),
      ALPHABET.charCodeAt(((b & 15) << 2) | (c >> 6)),
      ALPHABET.charCodeAt(c & 63),
    );
  }
  if (n - i === 2) {
    const a = src[i], b = src[i + 1];
    units.push(ALPHABET.charCodeAt(a >> 2), ALPHABET.charCodeAt(((a & 3) << 4) | (b >> 4)), ALPHABET.charCodeAt((b & 15) << 2), 61);
  } else if (n - i === 1) {
    const a = src[i];
    units.push(ALPHABET.charCodeAt(a >> 2), ALPHABET.charCodeAt((a & 3) << 4), 61, 61);
  }
  let out = "";
  for (let j = 0; j < units.length; j += 1024) out += String.fromCharCode.apply(null, units.slice(j, j + 1024));
  return out;
}

function decode(text: string): ArrayBuffer {
  const out = new Uint8Array(((text.length + 3) >> 2) * 3);
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 61) break; // '=' ends the data
    const v = c < 128 ? VALUES[c] : -1;
    if (v < 0) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.buffer.slice(0, o);
}

const Base64 = Object.freeze({ encode, decode });
export default Base64;
