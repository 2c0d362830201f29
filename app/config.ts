// The firmware's configuration: the `key=value` pairs given to mcconfig (read through `mc/config`; the
// same names as flags in the simulator), checked once at boot. Every problem is collected, so one log
// line can name every key to fix; nothing here throws for bad input.
//
// Values arrive as strings from the mcconfig command line and as numbers, booleans or objects from
// manifest "config" sections (a board's manifest may set e.g. `led: {pin: 8, …}`).
//
// Pure (no Moddable module), so it runs unchanged on the board, in both simulator lanes and in tests.
// The OneNET keys are finally parsed by onenet/config.ts, so both agree on every default and limit.

import { ConfigError } from "../onenet/errors";
import { DEFAULTS as ONENET_DEFAULTS, parseConfig, type OneNetConfig, type TokenMethod } from "../onenet/config";

export type Method = TokenMethod;
export type LogLevelName = "debug" | "info" | "warn" | "error";

/** The app's configuration: the OneNET keys (onenet/config.ts) plus Wi-Fi, LED, I2C and logging. */
export interface AppConfig extends OneNetConfig {
  /** Wi-Fi network name (1..32 bytes). */
  readonly ssid: string;
  /** Wi-Fi passphrase ("" for an open network). Secret. */
  readonly password: string;
  /** GPIO of the LED driven by the writable `led` property; undefined when there is none. */
  readonly led: number | undefined;
  /** True when the LED lights with the pin low (many boards wire it to 3V3). */
  readonly ledInvert: boolean;
  /** I2C pins for the sensor bus; undefined leaves the board default. */
  readonly sda: number | undefined;
  readonly scl: number | undefined;
  readonly loglevel: LogLevelName;
  /** Time server the board asks once Wi-Fi is up; undefined leaves the platform's default. */
  readonly sntp: string | undefined;
  /** The same values as parsed by onenet/config.ts, for the OneNET device. */
  readonly onenet: OneNetConfig;
}

export interface ConfigProblem {
  readonly key: string;
  /** What is wrong, without the value itself (it may be a secret). */
  readonly problem: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: AppConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

export type RawConfig = { readonly [key: string]: unknown };

/** Defaults for the optional keys (the manifest's "config" section carries the same values). */
export const DEFAULTS = Object.freeze({
  host: ONENET_DEFAULTS.host,
  port: ONENET_DEFAULTS.port,
  interval: ONENET_DEFAULTS.interval,
  keepalive: ONENET_DEFAULTS.keepalive,
  method: ONENET_DEFAULTS.method,
  et: ONENET_DEFAULTS.et,
  loglevel: "info" as LogLevelName,
} as const);



// Frozen (deeply) so that XS keeps them in flash when the module is preloaded.
export const LIMITS = Object.freeze({
  interval: Object.freeze({ min: 1, max: 86400 } as const),
  keepalive: Object.freeze({ min: 10, max: 1800 } as const),
  port: Object.freeze({ min: 1, max: 65535 } as const),
  pin: Object.freeze({ min: 0, max: 48 } as const),
  et: Object.freeze({ min: 1, max: 2147483647 } as const),
});

/** The keys that must be given (no default can be right for them). */
export const REQUIRED = Object.freeze(["ssid", "product", "device", "key"] as const);

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? 2 : 3;
  }
  return n;
}

const INTEGER = /^-?\d{1,10}$/;

/** An integer from a number or a decimal string; undefined when it is neither. */
export function toInteger(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
  if (typeof value === "string" && INTEGER.test(value.trim())) return parseInt(value.trim(), 10);
  return undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const PRODUCT = /^[A-Za-z0-9_-]{1,64}$/;
// OneNET device names: letters, digits and - _ . @ (the name is a topic level and the clientId).
const DEVICE = /^[A-Za-z0-9_.@-]{1,64}$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;
const NO_LED = /^(none|off|no|-1)$/i;

class Checker {
  readonly problems: ConfigProblem[] = [];
  constructor(readonly raw: RawConfig) {}

  fail(key: string, problem: string): undefined {
    this.problems.push({ key, problem });
    return undefined;
  }

  string(key: string, required: boolean): string | undefined {
    const value = this.raw[key];
    if (!present(value)) return required ? this.fail(key, "missing") : undefined;
    if (typeof value !== "string") return this.fail(key, "not a string");
    return value;
  }

  integer(key: string, min: number, max: number, fallback: number): number;
  integer(key: string, min: number, max: number, fallback: undefined): number | undefined;
  integer(key: string, min: number, max: number, fallback: number | undefined): number | undefined {
    const value = this.raw[key];
    if (!present(value)) return fallback;
    const n = toInteger(value);
    if (n === undefined || n < min || n > max) {
      this.fail(key, `not an integer in ${min}..${max}`);
      return fallback;
    }
    return n;
  }

  /** A GPIO number, "none" (no pin), or a board manifest object `{pin: n}`. */
  pin(key: string): number | undefined {
    let value = this.raw[key];
    if (!present(value)) return undefined;
    if (typeof value === "object" && value !== null && "pin" in value) value = (value as { pin: unknown }).pin;
    if (typeof value === "string" && NO_LED.test(value.trim())) return undefined;
    const n = toInteger(value);
    if (n === undefined || n < LIMITS.pin.min || n > LIMITS.pin.max) {
      return this.fail(key, `not a GPIO number in ${LIMITS.pin.min}..${LIMITS.pin.max} or "none"`);
    }
    return n;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw[key];
    if (!present(value)) return fallback;
    if (value === true || value === 1 || value === "1" || value === "true" || value === "yes") return true;
    if (value === false || value === 0 || value === "0" || value === "false" || value === "no") return false;
    this.fail(key, "not true/false");
    return fallback;
  }
}

/** Checks `raw` (e.g. the `mc/config` object) and fills in defaults. Never throws. */
export function validateConfig(raw: RawConfig): ConfigResult {
  const c = new Checker(raw);

  const ssid = c.string("ssid", true);
  if (ssid !== undefined && utf8Bytes(ssid) > 32) c.fail("ssid", "longer than 32 bytes");

  const password = c.string("password", false) ?? "";
  if (utf8Bytes(password) > 64) c.fail("password", "longer than 64 bytes");

  const product = c.string("product", true);
  if (product !== undefined && !PRODUCT.test(product)) c.fail("product", "not a OneNET product id (letters, digits, _ -)");

  const device = c.string("device", true);
  if (device !== undefined && !DEVICE.test(device)) {
    c.fail("device", "not a OneNET device name (1..64 of letters, digits, _ - . @)");
  }

  const key = c.string("key", true);
  if (key !== undefined && (key.length < 4 || !BASE64.test(key))) c.fail("key", "not base64 (copy the device key from the OneNET console)");

  const host = c.string("host", false) ?? DEFAULTS.host;
  if (!HOST.test(host)) c.fail("host", "not a host name or IPv4 address");

  const port = c.integer("port", LIMITS.port.min, LIMITS.port.max, DEFAULTS.port);
  const interval = c.integer("interval", LIMITS.interval.min, LIMITS.interval.max, DEFAULTS.interval);
  const keepalive = c.integer("keepalive", LIMITS.keepalive.min, LIMITS.keepalive.max, DEFAULTS.keepalive);
  const et = c.integer("et", LIMITS.et.min, LIMITS.et.max, DEFAULTS.et);

  let method: Method = DEFAULTS.method;
  const m = c.string("method", false);
  if (m !== undefined) {
    const lower = m.toLowerCase();
    if (lower === "md5" || lower === "sha1" || lower === "sha256") method = lower;
    else c.fail("method", "not md5, sha1 or sha256");
  }

  let loglevel: LogLevelName = DEFAULTS.loglevel;
  const l = c.string("loglevel", false);
  if (l !== undefined) {
    const lower = l.toLowerCase();
    if (lower === "debug" || lower === "info" || lower === "warn" || lower === "error") loglevel = lower;
    else c.fail("loglevel", "not debug, info, warn or error");
  }

  const sntp = c.string("sntp", false);
  if (sntp !== undefined && !HOST.test(sntp)) c.fail("sntp", "not a host name or IPv4 address");

  const led = c.pin("led");
  const ledInvert = c.boolean("ledInvert", false);
  const sda = c.pin("sda");
  const scl = c.pin("scl");
  if ((sda === undefined) !== (scl === undefined) && c.problems.every((p) => p.key !== "sda" && p.key !== "scl")) {
    c.fail(sda === undefined ? "sda" : "scl", "give both sda and scl, or neither");
  }

  if (c.problems.length > 0 || ssid === undefined || product === undefined || device === undefined || key === undefined) {
    return { ok: false, problems: c.problems };
  }
  let onenet: OneNetConfig;
  try {
    // The values as normalised here (trimmed, method in lower case), through the OneNET rules.
    onenet = parseConfig({ product, device, key, host, port, interval, keepalive, method, et });
  } catch (e) {
    // A rule of onenet/config.ts this module does not know: report it the same way.
    const key = e instanceof ConfigError ? e.key : "config";
    const problem = e instanceof Error ? e.message.replace(/^onenet config: [^:]*: /, "") : String(e);
    return { ok: false, problems: [{ key, problem }] };
  }
  return {
    ok: true,
    config: {
      ssid, password, product, device, key, host, port, interval, keepalive, method, et,
      led, ledInvert, sda, scl, loglevel, sntp, onenet,
    },
  };
}

/**
 * The fields of the boot banner's config summary. `password` and `key` print as *** (the log masks
 * those names whatever the value); `open` says whether the Wi-Fi has no passphrase.
 */
export function configSummary(config: AppConfig): { readonly [name: string]: string | number | boolean | undefined } {
  return {
    ssid: config.ssid,
    password: "set",
    open: config.password === "",
    product: config.product,
    device: config.device,
    key: "set",
    host: config.host,
    port: config.port,
    interval: config.interval,
    keepalive: config.keepalive,
    method: config.method,
    et: config.et,
    led: config.led === undefined ? "none" : config.led,
    sda: config.sda,
    scl: config.scl,
    loglevel: config.loglevel,
  };
}

/**
 * One text naming every bad key and what is wrong with it, e.g.
 * `ssid (missing); key (not base64 …); port (not an integer in 1..65535)`. Values are never shown.
 */
export function describeProblems(problems: readonly ConfigProblem[]): string {
  let text = "";
  for (const p of problems) text += (text ? "; " : "") + p.key + " (" + p.problem + ")";
  return text;
}
