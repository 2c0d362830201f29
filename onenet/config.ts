// OneNET configuration: the mcconfig `key=value` entries (the simulator takes the same flags), checked
// once at boot. A bad or missing value throws ConfigError naming the key; the device key's value never
// appears in a message.

import { ConfigError } from "./errors";

export type TokenMethod = "md5" | "sha1" | "sha256";

export interface OneNetConfig {
  /** Product id (the MQTT username). */
  readonly product: string;
  /** Device name (the MQTT client id). */
  readonly device: string;
  /** Device key, base64, as shown in the OneNET console. Secret. */
  readonly key: string;
  readonly host: string;
  readonly port: number;
  /** Report period, seconds. */
  readonly interval: number;
  /** MQTT keepalive, seconds; the platform accepts 10..1800. */
  readonly keepalive: number;
  /** Token signature method. */
  readonly method: TokenMethod;
  /** Token expiry, Unix seconds; at most 2147483647. */
  readonly et: number;
}

/** 2038-01-01T00:00:00Z: far in the future, below 2^31, so no clock is needed to make a valid token. */
export const DEFAULT_ET = 2145916800;

export const DEFAULTS = {
  host: "mqtts.heclouds.com",
  port: 1883,
  interval: 10,
  keepalive: 60,
  method: "sha256" as TokenMethod,
  et: DEFAULT_ET,
} as const;

export const KEEPALIVE_MIN = 10;
export const KEEPALIVE_MAX = 1800;
export const INTERVAL_MIN = 1;
export const INTERVAL_MAX = 86400;

type Source = { readonly [key: string]: string | number | boolean | undefined };

function text(source: Source, key: string, fallback?: string): string {
  const raw = source[key];
  if (raw === undefined || raw === "") {
    if (fallback === undefined) throw new ConfigError(key, "missing");
    return fallback;
  }
  if (typeof raw !== "string") throw new ConfigError(key, "must be a string");
  return raw;
}

function integer(source: Source, key: string, fallback: number, min: number, max: number): number {
  const raw = source[key];
  let value: number;
  if (raw === undefined || raw === "") value = fallback;
  else if (typeof raw === "number") value = raw;
  else if (typeof raw === "string" && /^[0-9]{1,10}$/.test(raw)) value = Number(raw);
  else throw new ConfigError(key, "must be a whole number");
  if (!Number.isInteger(value)) throw new ConfigError(key, "must be a whole number");
  if (value < min || value > max) throw new ConfigError(key, `must be within ${min}..${max}, got ${value}`);
  return value;
}

/** True when `s` is canonical base64 (RFC 4648 alphabet, padded, no whitespace) of at least one byte. */
export function isBase64(s: string): boolean {
  return s.length >= 4 && s.length % 4 === 0 && /^[A-Za-z0-9+/]+(?:={0,2})$/.test(s) && !/=[^=]/.test(s);
}

/** Validates and completes a config source (mc/config or simulator flags). Throws ConfigError. */
export function parseConfig(source: Source): OneNetConfig {
  const product = text(source, "product");
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(product)) {
    throw new ConfigError("product", "must be 1..64 letters, digits, '_' or '-' (the product id from the console)");
  }
  const device = text(source, "device");
  if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(device)) {
    throw new ConfigError("device", "must be 1..64 letters, digits, '_', '-', '.' or '@' (the device name)");
  }
  const key = text(source, "key");
  if (!isBase64(key)) throw new ConfigError("key", "must be the device key in base64 (value not shown)");
  const host = text(source, "host", DEFAULTS.host);
  if (host.length > 253 || !/^[A-Za-z0-9.:-]+$/.test(host)) throw new ConfigError("host", "must be a host name or an IP address");
  const port = integer(source, "port", DEFAULTS.port, 1, 65535);
  const interval = integer(source, "interval", DEFAULTS.interval, INTERVAL_MIN, INTERVAL_MAX);
  const keepalive = integer(source, "keepalive", DEFAULTS.keepalive, KEEPALIVE_MIN, KEEPALIVE_MAX);
  const method = text(source, "method", DEFAULTS.method);
  if (method !== "md5" && method !== "sha1" && method !== "sha256") {
    throw new ConfigError("method", `must be md5, sha1 or sha256, got ${JSON.stringify(method)}`);
  }
  const et = integer(source, "et", DEFAULTS.et, 1, 2147483647);
  return { product, device, key, host, port, interval, keepalive, method, et };
}
