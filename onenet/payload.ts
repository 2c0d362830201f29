// OneJSON payloads (facts/onenet.md, "Payloads"): what the device sends (property post with the `value`
// wrapper and `time` in ms, event post, set/get replies) and what it receives (post replies, property
// set, property get). UTF-8 through mqtt/utf8 (no TextEncoder on the board).

import { utf8Decode, utf8Encode, utf8Length, utf8Write } from "../lib/utf8";
import { OneNetError, PayloadError } from "./errors";

export const ONEJSON_VERSION = "1.0";

/** Reply codes the platform uses, with what they mean (OneNET device log codes). */
export const REPLY_CODES: { readonly [code: number]: string } = {
  200: "success",
  100: "device refused",
  301: "bad JSON (payload format)",
  302: "data type error",
  305: "no thing model",
  309: "identifier does not exist",
  312: "invalid message id",
  313: "bad request",
  1027: "bad set_reply",
};

export function replyMeaning(code: number): string {
  return REPLY_CODES[code] ?? "unknown code";
}

/** Per-boot message ids: "1", "2", … (decimal strings of at most 13 digits, as the platform wants). */
export class IdCounter {
  #last = 0;
  next(): string {
    this.#last = this.#last >= 9999999999999 ? 1 : this.#last + 1;
    return String(this.#last);
  }
  get last(): number {
    return this.#last;
  }
}

const IDENTIFIER = /^[A-Za-z0-9_$]{1,64}$/;

// Payloads are written straight into bytes: constant pieces are UTF-8 encoded once (per identifier,
// `"temp":{"value":`), and only the variable ASCII parts (ids, numbers, the time) are written a
// character at a time. In XS this costs a fraction of building the JSON string and encoding it.
const enc = (s: string): Uint8Array => utf8Encode(s);
const B_ID = enc('{"id":"');
const B_VERSION_PARAMS = enc(`","version":"${ONEJSON_VERSION}","params":{`);
const B_TIME = enc(',"time":');
const B_TRUE = enc("true");
const B_FALSE = enc("false");
const B_CODE = enc(',"code":');
const B_MSG = enc(',"msg":');
const B_DATA = enc(',"data":{');
const B_VALUE = enc('":{"value":');

class Writer {
  buf = new Uint8Array(256);
  n = 0;
  ensure(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.n));
    this.buf = grown;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  byte(c: number): void {
    this.ensure(1);
    this.buf[this.n++] = c;
  }
  /** Only for strings known to be ASCII (digits, ids checked by IDENTIFIER, number forms). */
  ascii(s: string): void {
    const len = s.length;
    this.ensure(len);
    const buf = this.buf;
    let n = this.n;
    for (let i = 0; i < len; i++) buf[n++] = s.charCodeAt(i);
    this.n = n;
  }
  text(s: string): void {
    const len = utf8Length(s);
    if (len < 0) throw new OneNetError("onenet: string with a lone surrogate cannot be sent");
    this.ensure(len);
    this.n = utf8Write(s, this.buf, this.n);
  }
  take(): Uint8Array {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

// The writer and the key cache are made on first use, not at module load: objects made while a
// module is preloaded live read-only in flash (a preloaded Map refuses set, a buffer refuses writes).
let sharedWriter: Writer | undefined;
function theWriter(): Writer {
  return sharedWriter ?? (sharedWriter = new Writer());
}

// `"temp":{"value":` per identifier, encoded once (bounded: identifiers outside the cache are encoded each time)
let keyCache: Map<string, Uint8Array> | undefined;
function keyValue(identifier: string): Uint8Array {
  if (keyCache === undefined) keyCache = new Map();
  let b = keyCache.get(identifier);
  if (b === undefined) {
    b = new Uint8Array(1 + identifier.length + B_VALUE.length);
    b[0] = 0x22;
    for (let i = 0; i < identifier.length; i++) b[1 + i] = identifier.charCodeAt(i);
    b.set(B_VALUE, 1 + identifier.length);
    if (keyCache.size < 32) keyCache.set(identifier, b);
  }
  return b;
}

function checkIdentifier(identifier: string): void {
  if (!IDENTIFIER.test(identifier)) throw new OneNetError(`onenet: bad identifier ${JSON.stringify(identifier)}`);
}

function writeValue(w: Writer, identifier: string, value: unknown): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new OneNetError(`onenet: ${identifier}: value ${value} is not a finite number`);
    w.ascii(String(value));
  } else if (typeof value === "boolean") w.bytes(value ? B_TRUE : B_FALSE);
  else if (typeof value === "string" || (typeof value === "object" && value !== null)) w.text(JSON.stringify(value));
  else throw new OneNetError(`onenet: ${identifier}: value of type ${typeof value} cannot be reported`);
}

function writeId(w: Writer, id: string): void {
  w.bytes(B_ID);
  if (/^[0-9]{1,13}$/.test(id)) w.ascii(id);
  else w.text(JSON.stringify(id).slice(1, -1));
}

/** Property post: `{"id":…,"version":"1.0","params":{"temp":{"value":23.6,"time":ms}}}`. */
export function propertyPost(id: string, params: { readonly [identifier: string]: unknown }, time?: number): Uint8Array {
  const w = theWriter();
  w.n = 0;
  const stamp = time === undefined ? "" : String(Math.floor(time));
  let count = 0;
  try {
    writeId(w, id);
    w.bytes(B_VERSION_PARAMS);
    for (const identifier in params) {
      const value = params[identifier];
      if (value === undefined) continue;
      checkIdentifier(identifier);
      if (count++ > 0) w.byte(0x2c);
      w.bytes(keyValue(identifier));
      writeValue(w, identifier, value);
      if (stamp) {
        w.bytes(B_TIME);
        w.ascii(stamp);
      }
      w.byte(0x7d);
    }
    if (count === 0) throw new OneNetError("onenet: property post with no values");
    w.byte(0x7d);
    w.byte(0x7d);
    return w.take();
  } finally {
    w.n = 0;
  }
}

/** Event post: `{"id":…,"version":"1.0","params":{"alarm":{"value":{…},"time":ms}}}`. */
export function eventPost(id: string, identifier: string, value: { readonly [key: string]: unknown }, time?: number): Uint8Array {
  checkIdentifier(identifier);
  const w = theWriter();
  w.n = 0;
  try {
    writeId(w, id);
    w.bytes(B_VERSION_PARAMS);
    w.bytes(keyValue(identifier));
    writeValue(w, identifier, value);
    if (time !== undefined) {
      w.bytes(B_TIME);
      w.ascii(String(Math.floor(time)));
    }
    w.byte(0x7d);
    w.byte(0x7d);
    w.byte(0x7d);
    return w.take();
  } finally {
    w.n = 0;
  }
}

/** set_reply / get_reply: `{"id":…,"code":200,"msg":"success"[,"data":{…}]}`. */
export function reply(id: string, code: number, msg: string, data?: { readonly [identifier: string]: unknown }): Uint8Array {
  const w = theWriter();
  w.n = 0;
  try {
    writeId(w, id);
    w.byte(0x22);
    w.bytes(B_CODE);
    w.ascii(String(Math.floor(code)));
    w.bytes(B_MSG);
    w.text(JSON.stringify(msg));
    if (data !== undefined) {
      w.bytes(B_DATA);
      let count = 0;
      for (const identifier in data) {
        const value = data[identifier];
        if (value === undefined) continue;
        checkIdentifier(identifier);
        if (count++ > 0) w.byte(0x2c);
        w.byte(0x22);
        w.ascii(identifier);
        w.byte(0x22);
        w.byte(0x3a);
        writeValue(w, identifier, value);
      }
      w.byte(0x7d);
    }
    w.byte(0x7d);
    return w.take();
  } finally {
    w.n = 0;
  }
}

function parseObject(bytes: Uint8Array): { readonly [key: string]: unknown } {
  let text: string;
  try {
    text = utf8Decode(bytes);
  } catch {
    throw new PayloadError("payload is not UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PayloadError("payload is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PayloadError("payload is not a JSON object");
  return value as { readonly [key: string]: unknown };
}

function idOf(o: { readonly [key: string]: unknown }): string {
  const id = o.id;
  if (typeof id === "string" && id.length > 0) return id;
  if (typeof id === "number" && Number.isInteger(id)) return String(id);
  throw new PayloadError("payload has no id");
}

export interface Reply {
  readonly id: string;
  readonly code: number;
  readonly msg: string;
}

/** A post reply from the platform: `{"id":"123","code":200,"msg":"success"}`. */
export function parseReply(bytes: Uint8Array): Reply {
  const o = parseObject(bytes);
  const id = idOf(o);
  const code = typeof o.code === "number" ? o.code : typeof o.code === "string" ? Number(o.code) : NaN;
  if (!Number.isInteger(code)) throw new PayloadError(`reply ${id} has no code`);
  return { id, code, msg: typeof o.msg === "string" ? o.msg : "" };
}

export interface SetRequest {
  readonly id: string;
  readonly params: { readonly [identifier: string]: unknown };
}

/** A property set: `{"id":"123","version":"1.0","params":{"interval":30,"led":true}}` (no `value` wrapper). */
export function parseSet(bytes: Uint8Array): SetRequest {
  const o = parseObject(bytes);
  const id = idOf(o);
  const params = o.params;
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new PayloadError(`set ${id}: params is not an object`);
  }
  return { id, params: params as { readonly [identifier: string]: unknown } };
}

export interface GetRequest {
  readonly id: string;
  readonly params: readonly string[];
}

/** A property get: `{"id":"123","version":"1.0","params":["temp","humi"]}`. */
export function parseGet(bytes: Uint8Array): GetRequest {
  const o = parseObject(bytes);
  const id = idOf(o);
  const params = o.params;
  if (!Array.isArray(params) || !params.every((p) => typeof p === "string")) {
    throw new PayloadError(`get ${id}: params is not an array of identifiers`);
  }
  return { id, params: params as string[] };
}

/** The id of a payload (used to answer a request whose body is otherwise wrong), or undefined. */
export function peekId(bytes: Uint8Array): string | undefined {
  try {
    return idOf(parseObject(bytes));
  } catch {
    return undefined;
  }
}
