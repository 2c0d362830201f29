// OneJSON payloads (docs/onenet.md, "Payloads"): what the device sends (property post with the `value`
// wrapper and `time` in ms, event post, set/get replies) and what it receives (post replies, property
// set, property get), with UTF-8 done by the device's natives (ArrayBuffer.fromString,
// String.fromArrayBuffer).

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

/**
 * Message ids: decimal strings of at most 13 digits, as the platform wants. Given the boot's number
 * (strictly increasing across reboots, store/ring.ts), ids are `boot × 10^6 + n`: unique across reboots,
 * so a reply to a message sent before a reboot is never matched to a new one; n wraps after 999,999
 * messages (11 days at 1 message/s, long after any reply could still come). Without one: 1, 2, ….
 */
export class IdCounter {
  #last = 0;
  readonly #base: number;
  readonly #wrap: number;
  constructor(boot?: number) {
    this.#base = boot === undefined ? 0 : (Math.floor(boot) % 10_000_000) * 1_000_000;
    this.#wrap = boot === undefined ? 9999999999999 : 999_999;
  }
  next(): string {
    this.#last = this.#last >= this.#wrap ? 1 : this.#last + 1;
    return String(this.#base + this.#last);
  }
  get last(): number {
    return this.#base + this.#last;
  }
}

// Module-level RegExps here look for what must not be there: they do not match good input, which
// keeps them clear of the XS crash with a matching preloaded RegExp (docs/moddable.md).
const NOT_IDENTIFIER = /[^A-Za-z0-9_$]/;

/** True for an identifier the thing model can have (letters, digits, _ and $, at most 64). */
export function isIdentifier(identifier: string): boolean {
  return identifier.length >= 1 && identifier.length <= 64 && !NOT_IDENTIFIER.test(identifier);
}

// Payloads are serialised by the engine (JSON.stringify, then the device's native
// ArrayBuffer.fromString): a fraction of any byte writer in JavaScript (measured in XS: bench
// `xs.onenet.post.encode`), with no state in this module. The property post, sent every report, is
// the exception: its entries are joined as text, which costs less than an object per identifier and
// gives the same bytes (identifiers need no escaping, values are written by the engine's own
// conversions).

function checkIdentifier(identifier: string): void {
  if (!isIdentifier(identifier)) throw new OneNetError(`onenet: bad identifier ${JSON.stringify(identifier)}`);
}

function checkValue(identifier: string, value: unknown): void {
  if (reportable(value)) return;
  const type = typeof value;
  if (type === "number") throw new OneNetError(`onenet: ${identifier}: value ${String(value)} is not a finite number`);
  throw new OneNetError(`onenet: ${identifier}: value of type ${type} cannot be reported`);
}

/** True for a value checkValue accepts: a finite number, a boolean, a string or an object. */
function reportable(value: unknown): boolean {
  const type = typeof value;
  if (type === "number") return Number.isFinite(value);
  return type === "boolean" || type === "string" || (type === "object" && value !== null);
}

function bytesOf(message: object): Uint8Array {
  return new Uint8Array(ArrayBuffer.fromString(JSON.stringify(message)));
}

/** The property post's JSON up to the first identifier: `{"id":"` + id + POST_HEAD (ids are digits: nothing to escape). */
export const POST_HEAD = '","version":"1.0","params":{';

/**
 * What closes one identifier's entry: `,"time":ms}` or `}`. JSON.stringify for the time, as the
 * engine writes it in a whole message (a NaN time is `null` there too).
 */
export function entryEnd(time: number | undefined): string {
  return time === undefined ? "}" : ',"time":' + JSON.stringify(Math.floor(time)) + "}";
}

/**
 * Property post: `{"id":…,"version":"1.0","params":{"temp":{"value":23.6,"time":ms}}}`. Written as
 * text, entry by entry, byte for byte what JSON.stringify of the nested objects makes (a test holds
 * the two equal), without the object per identifier: identifiers are checked to need no escaping,
 * numbers are written by the same conversion, anything else by JSON.stringify.
 */
export function propertyPost(id: string, params: { readonly [identifier: string]: unknown }, time?: number): Uint8Array {
  const end = entryEnd(time);
  let body = "";
  for (const identifier in params) {
    const value = params[identifier];
    if (value === undefined) continue;
    // The common case checked inline (on XS a call costs as much as a check); the errors come from
    // the functions that explain them.
    if (!isIdentifier(identifier)) checkIdentifier(identifier);
    if (typeof value === "number") {
      if (!Number.isFinite(value)) checkValue(identifier, value);
      body += (body === "" ? '"' : ',"') + identifier + '":{"value":' + value + end;
    } else {
      if (!reportable(value)) checkValue(identifier, value);
      body += (body === "" ? '"' : ',"') + identifier + entryText(value, time, end);
    }
  }
  if (body === "") throw new OneNetError("onenet: property post with no values");
  return new Uint8Array(ArrayBuffer.fromString('{"id":"' + id + POST_HEAD + body + "}}"));
}

/** `":{"value":…}` for a value that is not a number, as JSON.stringify writes it in the whole message. */
export function entryText(value: unknown, time: number | undefined, end: string): string {
  const json = JSON.stringify(value);
  // a toJSON that gives nothing: the engine leaves `value` out of the entry
  if (json === undefined) return '":' + JSON.stringify(time === undefined ? {} : { time: Math.floor(time) });
  return '":{"value":' + json + end;
}

/** Event post: `{"id":…,"version":"1.0","params":{"alarm":{"value":{…},"time":ms}}}`. */
export function eventPost(id: string, identifier: string, value: { readonly [key: string]: unknown }, time?: number): Uint8Array {
  checkIdentifier(identifier);
  checkValue(identifier, value);
  const params: { [identifier: string]: { value: unknown; time?: number } } = {};
  params[identifier] = time === undefined ? { value } : { value, time: Math.floor(time) };
  return bytesOf({ id, version: ONEJSON_VERSION, params });
}

/** set_reply / get_reply: `{"id":…,"code":200,"msg":"success"[,"data":{…}]}`. */
export function reply(id: string, code: number, msg: string, data?: { readonly [identifier: string]: unknown }): Uint8Array {
  if (data === undefined) return bytesOf({ id, code: Math.floor(code), msg });
  const out: { [identifier: string]: unknown } = {};
  for (const identifier in data) {
    const value = data[identifier];
    if (value === undefined) continue;
    checkIdentifier(identifier);
    checkValue(identifier, value);
    out[identifier] = value;
  }
  return bytesOf({ id, code: Math.floor(code), msg, data: out });
}

/**
 * Limits on a downlink before it is parsed, sized for the board (~80 KB of heap, a 512-slot stack):
 * OneNET's downlinks (post replies, property set and get) are a few hundred bytes, and their JSON is
 * three levels deep. A deeply nested array overflows the XS stack inside JSON.parse, an abort no
 * try/catch can catch, so depth is checked first, on the bytes.
 */
export const DOWNLINK_LIMITS = Object.freeze({ bytes: 4096, depth: 8 });

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/** Nesting depth of the JSON in `bytes` (brackets inside strings are not counted). */
function depthOf(bytes: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** Count of `{` and `[` bytes, stopping past `limit` (a cheap bound: depth never exceeds it). */
function openings(bytes: Uint8Array, limit: number): number {
  let n = 0;
  let at = bytes.indexOf(OPEN_BRACE);
  while (at >= 0 && n <= limit) {
    n++;
    at = bytes.indexOf(OPEN_BRACE, at + 1);
  }
  at = bytes.indexOf(OPEN_BRACKET);
  while (at >= 0 && n <= limit) {
    n++;
    at = bytes.indexOf(OPEN_BRACKET, at + 1);
  }
  return n;
}

/** Count of `{` and `[` in `text`, stopping past `limit` (string indexOf: one native call each). */
function openingsIn(text: string, limit: number): number {
  let n = 0;
  let at = text.indexOf("{");
  while (at >= 0 && n <= limit) {
    n++;
    at = text.indexOf("{", at + 1);
  }
  at = text.indexOf("[");
  while (at >= 0 && n <= limit) {
    n++;
    at = text.indexOf("[", at + 1);
  }
  return n;
}

function parseObject(bytes: Uint8Array): { readonly [key: string]: unknown } {
  const limits = DOWNLINK_LIMITS;
  if (bytes.length > limits.bytes) throw new PayloadError(`payload of ${bytes.length} bytes is over ${limits.bytes}`);
  // The text first (a copy of a view's bytes is ArrayBuffer.slice, which XS meters by the call, not
  // by the byte), then the depth bound on it, where counting brackets is a native call per bracket
  // (on the bytes XS meters indexOf by the byte): a bracket is one byte in UTF-8 as in the text.
  let text: string | undefined;
  try {
    const buffer = bytes.buffer as ArrayBuffer;
    const offset = bytes.byteOffset;
    const length = bytes.length;
    text = String.fromArrayBuffer(offset === 0 && length === buffer.byteLength ? buffer : buffer.slice(offset, offset + length));
  } catch {
    text = undefined;
  }
  // Too deep is refused before not UTF-8, as always; only a payload with many brackets is scanned
  // byte by byte.
  const many = text === undefined ? openings(bytes, limits.depth) > limits.depth : openingsIn(text, limits.depth) > limits.depth;
  if (many && depthOf(bytes, limits.depth) > limits.depth) throw new PayloadError(`payload nested deeper than ${limits.depth}`);
  if (text === undefined) throw new PayloadError("payload is not UTF-8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PayloadError("payload is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PayloadError("payload is not a JSON object");
  return value as { readonly [key: string]: unknown };
}

/** Message ids the platform sends: decimal digits, at most 13 (a longer one is refused, not echoed). */
const NOT_DIGIT = /[^0-9]/;

function idOf(o: { readonly [key: string]: unknown }): string {
  const id = o.id;
  if (typeof id === "string" && id.length >= 1 && id.length <= 13 && !NOT_DIGIT.test(id)) return id;
  if (typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= 9999999999999) return String(id);
  throw new PayloadError("payload has no valid id (1..13 digits)");
}

export interface Reply {
  readonly id: string;
  readonly code: number;
  readonly msg: string;
}

/** A post reply from the platform: `{"id":"123","code":200,"msg":"success"}`. */
export function parseReply(bytes: Uint8Array): Reply {
  return parseReplyInto(bytes, { id: "", code: 0, msg: "" });
}

/** parseReply into `into` (the device's own, reused: a reply a report allocates nothing for); returns it. */
export function parseReplyInto(bytes: Uint8Array, into: { id: string; code: number; msg: string }): Reply {
  const o = parseObject(bytes);
  const id = idOf(o);
  const code = typeof o.code === "number" ? o.code : typeof o.code === "string" ? Number(o.code) : NaN;
  if (!Number.isInteger(code)) throw new PayloadError(`reply ${id} has no code`);
  into.id = id;
  into.code = code;
  into.msg = typeof o.msg === "string" ? o.msg : "";
  return into;
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
    throw new PayloadError(`set ${id}: params is not an object`, id);
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
    throw new PayloadError(`get ${id}: params is not an array of identifiers`, id);
  }
  return { id, params: params as string[] };
}

/** One identifier's back-filled values for a history post, oldest first. */
export interface HistorySeries {
  readonly identifier: string;
  count: number;
  readonly values: Float64Array;
  readonly times: Float64Array;
}

/** Values per identifier the platform takes in one history post. */
export const HISTORY_MAX_VALUES = 100;

const HISTORY_HEAD = '","version":"1.0","params":[{"properties":{';

/** Bytes the JSON of one history value takes: `{"value":V,"time":T},`. */
export function historyValueBytes(value: number, time: number): number {
  return 20 + String(value).length + String(time).length;
}

function put(out: Uint8Array, at: number, text: string): number {
  if (at + text.length > out.length) throw new OneNetError(`onenet: history post over ${out.length} bytes`);
  for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
  return at + text.length;
}

/**
 * History post (`thing/history/post`): `{"id":…,"version":"1.0","params":[{"properties":{"temp":[{"value":23.6,"time":ms},…]}}]}`.
 * Written as ASCII straight into `scratch` (preallocated by the caller: a batch's JSON is several KB,
 * built without the thousand small objects JSON.stringify would need); returns a copy of the bytes.
 */
export function historyPost(id: string, series: readonly HistorySeries[], scratch: Uint8Array): Uint8Array {
  let at = put(scratch, 0, '{"id":"');
  at = put(scratch, at, id);
  at = put(scratch, at, HISTORY_HEAD);
  let first = true;
  for (let s = 0; s < series.length; s++) {
    const { identifier, count, values, times } = series[s];
    if (count === 0) continue;
    checkIdentifier(identifier);
    if (count > HISTORY_MAX_VALUES) throw new OneNetError(`onenet: history: ${count} values of ${identifier}, the platform takes ${HISTORY_MAX_VALUES}`);
    at = put(scratch, at, first ? '"' : ',"');
    first = false;
    at = put(scratch, at, identifier);
    at = put(scratch, at, '":[');
    for (let i = 0; i < count; i++) {
      const value = values[i];
      const time = times[i];
      if (!Number.isFinite(value)) throw new OneNetError(`onenet: ${identifier}: value ${String(value)} is not a finite number`);
      if (!(Number.isInteger(time) && time > 0)) throw new OneNetError(`onenet: ${identifier}: history time ${String(time)} is not epoch ms`);
      at = put(scratch, at, i === 0 ? '{"value":' : ',{"value":');
      at = put(scratch, at, String(value));
      at = put(scratch, at, ',"time":');
      at = put(scratch, at, String(time));
      at = put(scratch, at, "}");
    }
    at = put(scratch, at, "]");
  }
  if (first) throw new OneNetError("onenet: history post with no values");
  at = put(scratch, at, "}}]}");
  return scratch.slice(0, at);
}
