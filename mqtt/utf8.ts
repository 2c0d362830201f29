// UTF-8 without TextEncoder/TextDecoder, which the board's XS build does not include by default.
// Strict in both directions: lone surrogates cannot be encoded, and ill-formed input (overlong forms,
// surrogate code points, values past U+10FFFF, truncated sequences) cannot be decoded [MQTT-1.5.3-1].

// One native regex answers for plain ASCII, where on XS a loop costs ~25 computrons a character.
const ASCII_ONLY = /^[\u0000-\u007f]*$/;

/** Byte length of `s` in UTF-8, or -1 when `s` holds a lone surrogate (not encodable). */
export function utf8Length(s: string): number {
  if (ASCII_ONLY.test(s)) return s.length;
  let length = 0;
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c < 0xd800 || c > 0xdfff) length += 3;
    else if (c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d < 0xdc00 || d > 0xdfff) return -1;
      i++;
      length += 4;
    } else return -1;
  }
  return length;
}

/** Writes `s` (well-formed: check with utf8Length first) at `offset`; returns the offset after it. */
export function utf8Write(s: string, into: Uint8Array, offset: number): number {
  for (let i = 0, n = s.length; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      into[offset++] = c;
    } else if (c < 0x800) {
      into[offset++] = 0xc0 | (c >> 6);
      into[offset++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      into[offset++] = 0xe0 | (c >> 12);
      into[offset++] = 0x80 | ((c >> 6) & 0x3f);
      into[offset++] = 0x80 | (c & 0x3f);
    } else {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      into[offset++] = 0xf0 | (c >> 18);
      into[offset++] = 0x80 | ((c >> 12) & 0x3f);
      into[offset++] = 0x80 | ((c >> 6) & 0x3f);
      into[offset++] = 0x80 | (c & 0x3f);
    }
  }
  return offset;
}

/** UTF-8 bytes of `s`; throws RangeError for a lone surrogate. */
export function utf8Encode(s: string): Uint8Array {
  const length = utf8Length(s);
  if (length < 0) throw new RangeError("string has a lone surrogate, not encodable as UTF-8");
  const bytes = new Uint8Array(length);
  utf8Write(s, bytes, 0);
  return bytes;
}

// Decoding builds the string from UTF-16 code units gathered in this scratch array, a chunk at a
// time, so no per-character string concatenation happens. The chunk stays small because apply
// pushes every unit onto the XS stack, which holds 512 slots on the board.
const CHUNK = 64;
const units: number[] = [];

function flush(result: string, count: number): string {
  units.length = count;
  return result + String.fromCharCode.apply(null, units);
}

/** Decodes bytes[start, end) as UTF-8; throws RangeError naming the offset of ill-formed input. */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let result = "";
  let count = 0;
  let i = start;
  while (i < end) {
    const b = bytes[i];
    let cp: number;
    if (b < 0x80) {
      cp = b;
      i += 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
      if (i + 1 >= end) throw new RangeError(`truncated UTF-8 sequence at byte ${i - start}`);
      const b1 = bytes[i + 1];
      if ((b1 & 0xc0) !== 0x80) throw new RangeError(`ill-formed UTF-8 at byte ${i - start}`);
      cp = ((b & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      if (i + 2 >= end) throw new RangeError(`truncated UTF-8 sequence at byte ${i - start}`);
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) throw new RangeError(`ill-formed UTF-8 at byte ${i - start}`);
      cp = ((b & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      if (cp < 0x800) throw new RangeError(`overlong UTF-8 at byte ${i - start}`);
      if (cp >= 0xd800 && cp <= 0xdfff) throw new RangeError(`UTF-8 encoded surrogate at byte ${i - start}`);
      i += 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      if (i + 3 >= end) throw new RangeError(`truncated UTF-8 sequence at byte ${i - start}`);
      const b1 = bytes[i + 1];
      const b2 = bytes[i + 2];
      const b3 = bytes[i + 3];
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) {
        throw new RangeError(`ill-formed UTF-8 at byte ${i - start}`);
      }
      cp = ((b & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) throw new RangeError(`UTF-8 code point out of range at byte ${i - start}`);
      i += 4;
    } else {
      throw new RangeError(`ill-formed UTF-8 at byte ${i - start}`);
    }
    if (count >= CHUNK - 1) {
      result = flush(result, count);
      count = 0;
    }
    if (cp < 0x10000) {
      units[count++] = cp;
    } else {
      cp -= 0x10000;
      units[count++] = 0xd800 | (cp >> 10);
      units[count++] = 0xdc00 | (cp & 0x3ff);
    }
  }
  return count === 0 ? result : flush(result, count);
}
