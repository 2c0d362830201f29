// UTF-8 for the shims (XS on the board has no TextEncoder/TextDecoder; the XS lane removes them).
// Lane-neutral, no Node API.

export function utf8Bytes(text: string): Uint8Array {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.codePointAt(i) ?? 0;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (c >= 0x10000) i++;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.codePointAt(i) ?? 0;
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out[o++] = c;
    else if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      out[o++] = 0xe0 | (c >> 12);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
    } else {
      out[o++] = 0xf0 | (c >> 18);
      out[o++] = 0x80 | ((c >> 12) & 63);
      out[o++] = 0x80 | ((c >> 6) & 63);
      out[o++] = 0x80 | (c & 63);
      i++;
    }
  }
  return o === n ? out : out.subarray(0, o);
}

export function utf8Text(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = "";
  let i = start;
  while (i < end) {
    const b = bytes[i];
    let c: number;
    let need: number;
    if (b < 0x80) { c = b; need = 0; }
    else if (b >= 0xc2 && b < 0xe0) { c = b & 31; need = 1; }
    else if (b >= 0xe0 && b < 0xf0) { c = b & 15; need = 2; }
    else if (b >= 0xf0 && b < 0xf5) { c = b & 7; need = 3; }
    else { s += "\ufffd"; i++; continue; }
    let ok = true;
    for (let k = 1; k <= need; k++) {
      const t = i + k < end ? bytes[i + k] : 0;
      if ((t & 0xc0) !== 0x80) { ok = false; break; }
      c = (c << 6) | (t & 63);
    }
    if (!ok) { s += "\ufffd"; i++; continue; }
    s += String.fromCodePoint(c);
    i += need + 1;
  }
  return s;
}
