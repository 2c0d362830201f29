// UTF-8 for the shims, lenient as the board's socket is with strings: a lone surrogate is written as
// U+FFFD and ill-formed bytes read back as U+FFFD. The work is mqtt/utf8.ts's (no Node API).
import { utf8Decode, utf8Encode } from "../../../lib/utf8.ts";

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function utf8Bytes(text: string): Uint8Array {
  return utf8Encode(text.replace(LONE_SURROGATE, "\ufffd"));
}

export function utf8Text(bytes: Uint8Array, start = 0, end = bytes.length): string {
  return utf8Decode(bytes, start, end, true);
}
