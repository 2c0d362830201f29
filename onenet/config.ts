// OneNET configuration: the mcconfig `key=value` entries (the simulator takes the same flags), checked
// once at boot. Every limit here is the platform's (docs/onenet.md) and is the one definition used by
// the app's config validation, the thing model, property sets and the emulator.

import { Checker, type RawConfig } from "../lib/checker";
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
  /** MQTT over TLS (server certificate checked against OneNET's CA); false: plain TCP. */
  readonly tls: boolean;
  /** Report period, seconds. */
  readonly interval: number;
  /** MQTT keepalive, seconds. */
  readonly keepalive: number;
  /** Token signature method. */
  readonly method: TokenMethod;
  /** Token expiry, Unix seconds, used while the clock is unknown (a far-future fixed `et`). */
  readonly et: number;
  /** Lifetime of a token made while the clock is known, seconds: et = now + tokenTtl at each login. */
  readonly tokenTtl: number;
}

/** 2038-01-01T00:00:00Z: far in the future, below 2^31, so no clock is needed to make a valid token. */
export const DEFAULT_ET = 2145916800;

/** OneNET's MQTT endpoints (docs/onenet.md, "Endpoints"): `host` and `port` default to one of them. */
export const ENDPOINTS = Object.freeze({
  tls: Object.freeze({ host: "mqttstls.heclouds.com", port: 8883 } as const),
  plain: Object.freeze({ host: "mqtts.heclouds.com", port: 1883 } as const),
});

/**
 * A day: a token that leaks (a captured CONNECT, a debug dump) opens the device's login for at most
 * that long; a new one is made at every connect, so the lifetime costs nothing on the wire, and a day
 * leaves ample room for clock drift between SNTP updates (docs/onenet.md, "Token").
 */
export const DEFAULT_TOKEN_TTL = 86400;

export const DEFAULTS = Object.freeze({
  tls: true,
  host: ENDPOINTS.tls.host,
  port: ENDPOINTS.tls.port,
  interval: 10,
  keepalive: 60,
  method: "sha256" as TokenMethod,
  et: DEFAULT_ET,
  tokenTtl: DEFAULT_TOKEN_TTL,
} as const);

// Frozen (deeply) so that XS keeps them in flash when the module is preloaded.
export const LIMITS = Object.freeze({
  /** Report period, s: at least 1 (the platform's uplink rate), at most a day. */
  interval: Object.freeze({ min: 1, max: 86400 } as const),
  /** The platform accepts 10..1800 s. */
  keepalive: Object.freeze({ min: 10, max: 1800 } as const),
  port: Object.freeze({ min: 1, max: 65535 } as const),
  /** Token expiry: other code reads it as a signed 32-bit number. */
  et: Object.freeze({ min: 1, max: 2147483647 } as const),
  /**
   * Token lifetime, s: at least 5 minutes (it must outlive the connect, up to 30 s, and minutes of
   * clock error), at most a year.
   */
  tokenTtl: Object.freeze({ min: 300, max: 31536000 } as const),
});

export const METHODS: readonly TokenMethod[] = Object.freeze(["md5", "sha1", "sha256"] as TokenMethod[]);

// The patterns are made when a check runs (boot), not at module level: a preloaded module's RegExp
// lives in flash, and one that matches can crash XS when the collector runs while it builds its
// result (docs/moddable.md).
/** A host name or an IPv4 address. */
export function hostPattern(): RegExp {
  return /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
}

/** True when `s` is canonical base64 (RFC 4648 alphabet, padded, no whitespace) of at least one byte. */
export function isBase64(s: string): boolean {
  return s.length >= 4 && /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s);
}

/** Checks the OneNET keys into `c` (problems collected there); the config when every key is good. */
export function checkOneNet(c: Checker): OneNetConfig | undefined {
  const product = c.matching("product", true, /^[A-Za-z0-9_-]{1,64}$/, "not a OneNET product id (1..64 letters, digits, _ -)");
  const device = c.matching("device", true, /^[A-Za-z0-9_.@-]{1,64}$/, /* a topic level and the clientId */ "not a OneNET device name (1..64 of letters, digits, _ - . @)");
  const key = c.string("key", true);
  if (key !== undefined && !isBase64(key)) c.fail("key", "not base64 (copy the device key from the OneNET console)");
  const tls = c.boolean("tls", DEFAULTS.tls);
  const endpoint = tls ? ENDPOINTS.tls : ENDPOINTS.plain;
  const host = c.matching("host", false, hostPattern(), "not a host name or IPv4 address") ?? endpoint.host;
  const port = c.integer("port", LIMITS.port, endpoint.port);
  const interval = c.integer("interval", LIMITS.interval, DEFAULTS.interval);
  const keepalive = c.integer("keepalive", LIMITS.keepalive, DEFAULTS.keepalive);
  const et = c.integer("et", LIMITS.et, DEFAULTS.et);
  const tokenTtl = c.integer("tokenTtl", LIMITS.tokenTtl, DEFAULTS.tokenTtl);
  const method = c.choice("method", METHODS, DEFAULTS.method);
  if (product === undefined || device === undefined || key === undefined) return undefined;
  for (const name of ["product", "device", "key", "tls", "host", "port", "interval", "keepalive", "et", "tokenTtl", "method"]) {
    if (c.failed(name)) return undefined;
  }
  return { product, device, key, host, port, tls, interval, keepalive, method, et, tokenTtl };
}

/** Validates and completes a config source. Throws ConfigError naming the first bad key (never its value). */
export function parseConfig(source: RawConfig): OneNetConfig {
  const c = new Checker(source);
  const config = checkOneNet(c);
  if (config === undefined || c.problems.length > 0) {
    const first = c.problems[0];
    throw new ConfigError(first.key, first.problem);
  }
  return config;
}
