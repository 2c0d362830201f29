// The firmware's configuration: the `key=value` pairs given to mcconfig (read through `mc/config`; the
// same names as flags in the simulator), checked once at boot. Every problem is collected, so one log
// line can name every key to fix; nothing here throws for bad input.
//
// Values arrive as strings from the mcconfig command line and as numbers, booleans or objects from
// manifest "config" sections (a board's manifest may set e.g. `led: {pin: 8, …}`).
//
// Pure (no Moddable module), so it runs unchanged on the board, in both simulator lanes and in tests.
// The OneNET keys are checked by onenet/config.ts's rules, the one definition of their limits.

import { Checker, describeProblems, toInteger, type ConfigProblem, type RawConfig } from "../lib/checker";
import { checkOneNet, DEFAULTS as ONENET_DEFAULTS, hostPattern, LIMITS as ONENET_LIMITS, type OneNetConfig, type TokenMethod } from "../onenet/config";
import { isVersion } from "../onenet/ota";

export { describeProblems, toInteger, type ConfigProblem, type RawConfig };

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
  /** The OneNET keys alone, for the OneNET device. */
  readonly onenet: OneNetConfig;
  /** The running image's version (the build's manifest `config.version`). */
  readonly version: string;
  /** Updates over the air (app/ota.ts): OneNET's HTTP API endpoint and how often to check. */
  readonly ota: OtaConfig;
}

export interface OtaConfig {
  readonly host: string;
  readonly port: number;
  /** HTTPS with OneNET's CA (default: as `tls`). */
  readonly tls: boolean;
  /** Hours between update checks; 0: only at boot and when OneNET says so (ota/inform). */
  readonly checkHours: number;
  /** Seconds a new image has to prove itself (MQTT up, a post answered) before the board goes back. */
  readonly proveSeconds: number;
}

/** OneNET's HTTP API (docs/onenet.md "OTA"). */
export const OTA_ENDPOINT = Object.freeze({ host: "iot-api.heclouds.com", tlsPort: 443, plainPort: 80 } as const);

export type ConfigResult =
  | { readonly ok: true; readonly config: AppConfig }
  | { readonly ok: false; readonly problems: readonly ConfigProblem[] };

/** Defaults for the optional keys (the manifest's "config" section carries the same values). */
export const DEFAULTS = Object.freeze({
  ...ONENET_DEFAULTS,
  loglevel: "info" as LogLevelName,
  version: "1.0.0",
  otaCheck: 24,
  otaProve: 600,
} as const);

/** Every numeric limit of the config, OneNET's included: one definition (onenet/config.ts). */
export const LIMITS = Object.freeze({
  ...ONENET_LIMITS,
  pin: Object.freeze({ min: 0, max: 48 } as const),
  /** Hours between update checks: at most a year. */
  otaCheck: Object.freeze({ min: 0, max: 8760 } as const),
  /** Seconds for a new image to prove itself: long enough for Wi-Fi, SNTP and a login with backoff. */
  otaProve: Object.freeze({ min: 30, max: 86400 } as const),
});

/** Every key the firmware reads from mc/config (the simulator refuses flags outside these and its own). */
export const CONFIG_KEYS: readonly string[] = Object.freeze([
  "ssid", "password", "product", "device", "key", "tls", "host", "port", "interval", "keepalive", "method", "et",
  "tokenTtl", "led", "ledInvert", "sda", "scl", "loglevel", "sntp", "board",
  "version", "otaHost", "otaPort", "otaTls", "otaCheck", "otaProve",
]);

const LEVELS: readonly LogLevelName[] = Object.freeze(["debug", "info", "warn", "error"] as LogLevelName[]);

function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? 2 : 3;
  }
  return n;
}

/** A GPIO number, "none" (no pin), or a board manifest object `{pin: n}`. */
function pin(c: Checker, key: string): number | undefined {
  let value = c.raw[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "object" && "pin" in value) value = (value as { pin: unknown }).pin;
  if (typeof value === "string" && /^(none|off|no|-1)$/i.test(value.trim())) return undefined;
  const n = toInteger(value);
  if (n === undefined || n < LIMITS.pin.min || n > LIMITS.pin.max) {
    return c.fail(key, `not a GPIO number in ${LIMITS.pin.min}..${LIMITS.pin.max} or "none"`);
  }
  return n;
}

/**
 * Checks `raw` (e.g. the `mc/config` object) and fills in defaults. Never throws. (The desktop
 * simulators' manifest section gives `ssid` a default: their Wi-Fi is simulated and joins any name.)
 */
export function validateConfig(raw: RawConfig): ConfigResult {
  const c = new Checker(raw);

  const ssid = c.string("ssid", true) ?? "";
  if (utf8Bytes(ssid) > 32) c.fail("ssid", "longer than 32 bytes");
  const password = c.string("password", false) ?? "";
  if (utf8Bytes(password) > 64) c.fail("password", "longer than 64 bytes");

  const onenet = checkOneNet(c);

  const loglevel = c.choice("loglevel", LEVELS, DEFAULTS.loglevel);
  const sntp = c.matching("sntp", false, hostPattern(), "not a host name or IPv4 address");
  const led = pin(c, "led");
  const ledInvert = c.boolean("ledInvert", false);
  const sda = pin(c, "sda");
  const scl = pin(c, "scl");
  if ((sda === undefined) !== (scl === undefined) && !c.failed("sda") && !c.failed("scl")) {
    c.fail(sda === undefined ? "sda" : "scl", "give both sda and scl, or neither");
  }

  let version = c.string("version", false) ?? DEFAULTS.version;
  if (!isVersion(version)) version = c.fail("version", "not a version (1..64 printable ASCII characters, no spaces)") ?? DEFAULTS.version;
  const otaHost = c.matching("otaHost", false, hostPattern(), "not a host name or IPv4 address") ?? OTA_ENDPOINT.host;
  const otaTls = c.boolean("otaTls", onenet?.tls ?? DEFAULTS.tls);
  const otaPort = c.integer("otaPort", LIMITS.port, otaTls ? OTA_ENDPOINT.tlsPort : OTA_ENDPOINT.plainPort);
  const checkHours = c.integer("otaCheck", LIMITS.otaCheck, DEFAULTS.otaCheck);
  const proveSeconds = c.integer("otaProve", LIMITS.otaProve, DEFAULTS.otaProve);
  const ota: OtaConfig = { host: otaHost, port: otaPort, tls: otaTls, checkHours, proveSeconds };

  if (c.problems.length > 0 || onenet === undefined) return { ok: false, problems: c.problems };
  return { ok: true, config: { ...onenet, ssid, password, led, ledInvert, sda, scl, loglevel, sntp, onenet, version, ota } };
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
    tls: config.tls,
    host: config.host,
    port: config.port,
    interval: config.interval,
    keepalive: config.keepalive,
    method: config.method,
    et: config.et,
    tokenTtl: config.tokenTtl,
    led: config.led === undefined ? "none" : config.led,
    sda: config.sda,
    scl: config.scl,
    loglevel: config.loglevel,
    version: config.version,
    otaHost: config.ota.host,
    otaPort: config.ota.port,
    otaTls: config.ota.tls,
    otaCheck: config.ota.checkHours,
    otaProve: config.ota.proveSeconds,
  };
}
