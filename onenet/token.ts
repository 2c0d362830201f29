// The OneNET device token (the MQTT password), computed on the device from the device key:
//   version=2018-10-31&res=<res>&et=<et>&method=<method>&sign=<sign>
// sign = base64(HMAC-<method>(base64decode(key), et + "\n" + method + "\n" + res + "\n" + version)),
// with `res` and `sign` URL-encoded in the final string (docs/onenet.md, "Token").

import { Digest } from "crypt";
import HMAC from "hmac";
import Base64 from "base64";
import type { TokenMethod } from "./config";

export const TOKEN_VERSION = "2018-10-31";

export interface TokenOptions {
  readonly product: string;
  /** Omit for a product-level key (res = products/{pid}). */
  readonly device?: string;
  /** Device (or product) key, base64. */
  readonly key: string;
  /** Expiry, Unix seconds. */
  readonly et: number;
  readonly method: TokenMethod;
}

/** `products/{pid}/devices/{device}`, or `products/{pid}` for a product-level key. */
export function tokenResource(product: string, device?: string): string {
  return device === undefined ? `products/${product}` : `products/${product}/devices/${device}`;
}

export function stringToSign(et: number, method: TokenMethod, res: string, version = TOKEN_VERSION): string {
  return `${et}\n${method}\n${res}\n${version}`;
}

function digestType(method: TokenMethod): "MD5" | "SHA1" | "SHA256" {
  return method === "md5" ? "MD5" : method === "sha1" ? "SHA1" : "SHA256";
}

/** base64(HMAC-method(base64decode(key), message)). */
export function signature(method: TokenMethod, key: string, message: string): string {
  const mac = new HMAC(new Digest(digestType(method)), Base64.decode(key));
  return Base64.encode(mac.process(message));
}

/**
 * Percent-encodes a token value as the platform expects: everything but ASCII letters, digits and
 * `-_.!~*'()` (so `/`, `+`, `=`, `%`, `&`, `#`, `?` and space are encoded), UTF-8, upper-case hex.
 */
export function urlEncode(value: string): string {
  return encodeURIComponent(value);
}

/**
 * The `et` of a token made at `epochMs`: `ttl` seconds later when the clock is known, else the fixed
 * far-future `fallback` (config `et`), which needs no clock.
 */
export function tokenExpiry(epochMs: number | undefined, ttl: number, fallback: number): number {
  return epochMs === undefined ? fallback : Math.floor(epochMs / 1000) + ttl;
}

/** The complete token string. */
export function token(options: TokenOptions): string {
  const res = tokenResource(options.product, options.device);
  const sign = signature(options.method, options.key, stringToSign(options.et, options.method, res));
  return `version=${TOKEN_VERSION}&res=${urlEncode(res)}&et=${options.et}&method=${options.method}&sign=${urlEncode(sign)}`;
}
