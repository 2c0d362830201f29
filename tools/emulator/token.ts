// OneNET device token ("2018-10-31" security scheme), written from docs/onenet.md with
// node:crypto, independently of the firmware's onenet/ implementation so each checks the other.
//
//   version=2018-10-31&res=<res>&et=<et>&method=<method>&sign=<sign>
//   sign = base64(HMAC-<method>(base64decode(key), et + "\n" + method + "\n" + res + "\n" + version))
//   res and sign are URL-encoded in the final string.
import { createHmac, timingSafeEqual } from "node:crypto";

export const TOKEN_VERSION = "2018-10-31";
export type TokenMethod = "md5" | "sha1" | "sha256";
const METHODS: readonly string[] = ["md5", "sha1", "sha256"];

/** OneNET's URL encoding for token values: everything but unreserved characters is %XX-escaped. */
export function tokenEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

export function tokenSignature(key: string, res: string, et: number | string, method: TokenMethod): string {
  const message = `${et}\n${method}\n${res}\n${TOKEN_VERSION}`;
  return createHmac(method, Buffer.from(key, "base64")).update(message, "utf8").digest("base64");
}

export interface TokenInput {
  key: string;
  res: string;
  et: number;
  method?: TokenMethod;
}

export function makeToken({ key, res, et, method = "sha256" }: TokenInput): string {
  const sign = tokenSignature(key, res, et, method);
  return `version=${TOKEN_VERSION}&res=${tokenEncode(res)}&et=${et}&method=${method}&sign=${tokenEncode(sign)}`;
}

/** Platform device-log codes for login failures (docs/onenet.md, "Bad credentials"). */
export const LOGIN_CODES = {
  1101: "empty argument",
  1103: "invalid token",
  1104: "token expired",
  1106: "signature mismatch",
  1107: "device not found",
  1110: "unsupported method",
  1111: "bad version",
  1114: "clientId/username do not match res",
} as const;
export type LoginCode = keyof typeof LOGIN_CODES;

export interface ParsedToken {
  version: string;
  res: string;
  et: string;
  method: string;
  sign: string;
}

/**
 * Decode one query value the way a servlet-style decoder does: %XX escapes are decoded and a raw '+'
 * becomes a space. So a token whose sign was not URL-encoded ('+' left raw) fails the signature
 * check, as makers report for the real platform. Returns undefined for a broken escape.
 */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

export function parseToken(token: string): ParsedToken | undefined {
  const fields = new Map<string, string>();
  for (const part of token.split("&")) {
    const eq = part.indexOf("=");
    if (eq <= 0) return undefined;
    const name = part.slice(0, eq);
    const value = formDecode(part.slice(eq + 1));
    if (value === undefined || fields.has(name)) return undefined;
    fields.set(name, value);
  }
  const version = fields.get("version");
  const res = fields.get("res");
  const et = fields.get("et");
  const method = fields.get("method");
  const sign = fields.get("sign");
  if (version === undefined || res === undefined || et === undefined || method === undefined || sign === undefined) {
    return undefined;
  }
  return { version, res, et, method, sign };
}

export interface VerifyInput {
  token: string | undefined;
  product: string | undefined; // MQTT username
  device: string; // MQTT clientId
  /** Key for this product/device at the level the token's res names; undefined when unknown. */
  keyFor(level: "device" | "product", product: string, device: string): string | undefined;
  nowSeconds: number;
}

export type VerifyResult = { ok: true; level: "device" | "product"; method: TokenMethod } | { ok: false; code: LoginCode };

export function verifyToken(input: VerifyInput): VerifyResult {
  const { token, product, device } = input;
  if (!token || !product || !device) return { ok: false, code: 1101 };
  const t = parseToken(token);
  if (!t) return { ok: false, code: 1103 };
  if (t.version !== TOKEN_VERSION) return { ok: false, code: 1111 };
  if (!METHODS.includes(t.method)) return { ok: false, code: 1110 };
  if (!/^\d{1,10}$/.test(t.et)) return { ok: false, code: 1103 };
  if (Number(t.et) < input.nowSeconds) return { ok: false, code: 1104 };
  let level: "device" | "product";
  if (t.res === `products/${product}/devices/${device}`) level = "device";
  else if (t.res === `products/${product}`) level = "product";
  else return { ok: false, code: 1114 };
  if (input.keyFor("device", product, device) === undefined) return { ok: false, code: 1107 };
  const key = input.keyFor(level, product, device);
  if (key === undefined) return { ok: false, code: 1106 };
  const method = t.method as TokenMethod;
  const expected = Buffer.from(tokenSignature(key, t.res, t.et, method));
  const got = Buffer.from(t.sign);
  if (expected.length !== got.length || !timingSafeEqual(expected, got)) return { ok: false, code: 1106 };
  return { ok: true, level, method };
}
