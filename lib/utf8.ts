// UTF-8 without TextEncoder/TextDecoder, which the board's XS build does not include by default.
// Strict in both directions: lone surrogates cannot be encoded, and ill-formed input (overlong forms,
// surrogate code points, values past U+10FFFF, truncated sequences) cannot be decoded [MQTT-1.5.3-1].

// One native regex answers for plain ASCII, where on XS a loop costs ~25 computrons a character. It
// looks for what should not be there, so on good input it does not match (see docs/moddable.md: a
// preloaded RegExp that matches can crash XS).
const NON_ASCII = /[^\u0000-\u007f]/;

/** Byte length of `s` in UTF-8, or -1 when `s` holds a lone surrogate (not encodable). */
export function utf8Length(s: string): number {
  if (!NON_ASCII.test(s)) return s.length;
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

// Decoding builds the string from UTF-16 code units gathered in a scratch array, a chunk at a time,
// so no per-character string concatenation happens. The chunk stays small because apply pushes every
// unit onto the XS stack, which holds 512 slots on the board. The scratch array belongs to the
// caller (a decoder that decodes often keeps one), never to this module: modules are preloaded into
// flash, where an array would be read-only.
const CHUNK = 64;

function flush(result: string, units: number[], count: number): string {
  units.length = count;
  return result + String.fromCharCode.apply(null, units);
}

const isContinuation = (b: number): boolean => (b & 0xc0) === 0x80;

/** Why the sequence at bytes[i] is ill-formed; only called on the error path. */
function invalidReason(bytes: Uint8Array, i: number, end: number, offset: number): string {
  const b = bytes[i];
  const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
  if (b >= 0xc2 && b <= 0xf4 && i + size > end) return `truncated UTF-8 sequence at byte ${offset}`;
  if (b === 0xed && i + 1 < end && bytes[i + 1] >= 0xa0) return `UTF-8 encoded surrogate at byte ${offset}`;
  if (b >= 0xf0 && b <= 0xf4 && i + 1 < end && (b === 0xf4 ? bytes[i + 1] >= 0x90 : b === 0xf0 && bytes[i + 1] < 0x90)) {
    return b === 0xf4 ? `UTF-8 code point out of range at byte ${offset}` : `overlong UTF-8 at byte ${offset}`;
  }
  if (b === 0xc0 || b === 0xc1 || (b === 0xe0 && i + 1 < end && bytes[i + 1] < 0xa0)) return `overlong UTF-8 at byte ${offset}`;
  return `ill-formed UTF-8 at byte ${offset}`;
}

/**
 * Decodes bytes[start, end) as UTF-8. Ill-formed input throws a RangeError naming its offset, or,
 * with `replace`, becomes U+FFFD for each byte that starts no well-formed sequence. `units` is
 * scratch space for up to 64 code units; a caller that decodes often passes its own to spare an
 * allocation per call.
 */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length, replace = false, units: number[] = []): string {
  let result = "";
  let count = 0;
  let i = start;
  while (i < end) {
    const b = bytes[i];
    let cp = -1;
    let size = 1;
    if (b < 0x80) {
      cp = b;
    } else if (b >= 0xc2 && b <= 0xdf) {
      if (i + 1 < end && isContinuation(bytes[i + 1])) {
        cp = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
        size = 2;
      }
    } else if (b >= 0xe0 && b <= 0xef) {
      if (i + 2 < end && isContinuation(bytes[i + 1]) && isContinuation(bytes[i + 2])) {
        const c = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
        if (c >= 0x800 && (c < 0xd800 || c > 0xdfff)) {
          cp = c;
          size = 3;
        }
      }
    } else if (b >= 0xf0 && b <= 0xf4) {
      if (i + 3 < end && isContinuation(bytes[i + 1]) && isContinuation(bytes[i + 2]) && isContinuation(bytes[i + 3])) {
        const c = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
        if (c >= 0x10000 && c <= 0x10ffff) {
          cp = c;
          size = 4;
        }
      }
    }
    if (cp < 0) {
      if (!replace) throw new RangeError(invalidReason(bytes, i, end, i - start));
      cp = 0xfffd;
    }
    i += size;
    if (count >= CHUNK - 1) {
      result = flush(result, units, count);
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
  return count === 0 ? result : flush(result, units, count);
}
