// OneJSON payloads (facts/onenet.md, "Payloads"): what the device sends (property post with the `value`
// wrapper and `time` in ms, event post, set/get replies) and what it receives (post replies, property
// set, property get). UTF-8 through mqtt/utf8 (no TextEncoder on the board).

import { utf8Decode, utf8Encode } from "../mqtt/utf8";
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

function valueJson(identifier: string, value: unknown): string {
  if (!IDENTIFIER.test(identifier)) throw new OneNetError(`onenet: bad identifier ${JSON.stringify(identifier)}`);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new OneNetError(`onenet: ${identifier}: value ${value} is not a finite number`);
    return String(value);
  }
  if (typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  throw new OneNetError(`onenet: ${identifier}: value of type ${typeof value} cannot be reported`);
}

/** Property post: `{"id":…,"version":"1.0","params":{"temp":{"value":23.6,"time":ms}}}`. */
export function propertyPost(id: string, params: { readonly [identifier: string]: unknown }, time?: number): Uint8Array {
  const stamp = time === undefined ? "}" : `,"time":${Math.floor(time)}}`;
  let body = "";
  for (const identifier in params) {
    const value = params[identifier];
    if (value === undefined) continue;
    body += `${body ? "," : ""}"${identifier}":{"value":${valueJson(identifier, value)}${stamp}`;
  }
  if (!body) throw new OneNetError("onenet: property post with no values");
  return utf8Encode(`{"id":"${id}","version":"${ONEJSON_VERSION}","params":{${body}}}`);
}

/** Event post: `{"id":…,"version":"1.0","params":{"alarm":{"value":{…},"time":ms}}}`. */
export function eventPost(id: string, identifier: string, value: { readonly [key: string]: unknown }, time?: number): Uint8Array {
  const stamp = time === undefined ? "" : `,"time":${Math.floor(time)}`;
  return utf8Encode(
    `{"id":"${id}","version":"${ONEJSON_VERSION}","params":{"${identifier}":{"value":${valueJson(identifier, value)}${stamp}}}}`,
  );
}

/** set_reply / get_reply: `{"id":…,"code":200,"msg":"success"[,"data":{…}]}`. */
export function reply(id: string, code: number, msg: string, data?: { readonly [identifier: string]: unknown }): Uint8Array {
  let json = `{"id":${JSON.stringify(id)},"code":${code},"msg":${JSON.stringify(msg)}`;
  if (data !== undefined) {
    let body = "";
    for (const identifier in data) {
      const value = data[identifier];
      if (value === undefined) continue;
      body += `${body ? "," : ""}${JSON.stringify(identifier)}:${valueJson(identifier, value)}`;
    }
    json += `,"data":{${body}}`;
  }
  return utf8Encode(json + "}");
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
