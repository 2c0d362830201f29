// The app shell's pure parts in the Node lane: the log line format and secret masking (DESIGN.md
// "Conventions": `<uptime ms> <LEVEL> <area>: message key=value …`, secrets never in a line), config
// validation (DESIGN.md: missing or malformed keys named in one line; docs/onenet.md limits: keepalive
// 10..1800, et <= 2147483647, method md5/sha1/sha256), and the per-platform module pairs having the
// same exports (manifest.json swaps them by platform).
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, formatLine, isSecretName, Log, mask, MASK, parseLevel } from "../lib/log.ts";
import { configSummary, describeProblems, toInteger, validateConfig, DEFAULTS, type AppConfig } from "../app/config.ts";
import { DEFAULT_ET, parseConfig } from "../onenet/config.ts";
import { ConfigError } from "../onenet/errors.ts";
import { CONNACK_HINTS } from "../app/hints.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const LINE = /^\d+ (DEBUG|INFO|WARN|ERROR) [a-z][a-z0-9-]*: \S.*$/;

const GOOD = {
  ssid: "home-net",
  password: "wifi-pass-123",
  product: "EJyXIoGn8p",
  device: "test",
  key: "l3Vdt0EVyzPFR3kZs2XpQzn5v3Ht2VlvATmXxV0zdak=",
};

let lines: string[] = [];
let now = 0;
let logger: Log;
beforeEach(() => {
  lines = [];
  now = 0;
  logger = new Log({ write: (l) => lines.push(l), ticks: () => now });
});

test("log line format: `<uptime ms> <LEVEL> <area>: message key=value …`, one line per event", () => {
  now = 1234.7;
  logger.info("wifi", "up", { ip: "192.168.4.2", rssi: -58 });
  now = 2000;
  logger.warn("mqtt", "connection closed", { reason: "peer closed", queued: 0 });
  logger.error("app", "line\nbreak", { ok: false, missing: undefined, nil: null });
  assert.deepEqual(lines, [
    "1234 INFO wifi: up ip=192.168.4.2 rssi=-58",
    '2000 WARN mqtt: connection closed reason="peer closed" queued=0',
    "2000 ERROR app: line break ok=false",
  ]);
  for (const l of lines) assert.match(l, LINE);
});

test("values that would break key=value parsing are quoted: spaces, quotes, '=', empty, non-ASCII", () => {
  assert.equal(formatLine(0, "INFO", "a", "m", { s: "", q: 'say "hi"', e: "a=b", u: "温度", t: "tab\there" }),
    '0 INFO a: m s="" q="say \\"hi\\"" e="a=b" u="温度" t="tab\\there"');
});

test("secret field names are always masked, whatever the value", () => {
  for (const name of ["password", "key", "token", "sign", "secret", "psk", "wifi_password", "device-key", "deviceKey", "apiToken", "PASSWORD"]) {
    assert.ok(isSecretName(name), name);
  }
  for (const name of ["keepalive", "monkey", "signal", "rssi", "method", "keys", "topic"]) assert.ok(!isSecretName(name), name);
  logger.info("config", "ok", { ssid: "home", password: GOOD.password, key: GOOD.key, deviceKey: "abc" });
  assert.equal(lines[0], `0 INFO config: ok ssid=home password=${MASK} key=${MASK} deviceKey=${MASK}`);
});

test("registered secrets are blanked anywhere in a line, message text included", () => {
  logger.secret(GOOD.key);
  logger.secret(GOOD.password);
  logger.secret("abc"); // too short to register: would garble ordinary text
  logger.info("mqtt", `token for ${GOOD.key} with wifi ${GOOD.password}`, { note: `x${GOOD.password}y`, abc: "abc" });
  assert.equal(lines[0], `0 INFO mqtt: token for ${MASK} with wifi ${MASK} note=x${MASK}y abc=abc`);
  assert.ok(!lines[0].includes(GOOD.key) && !lines[0].includes(GOOD.password));
});

test("level filter, parseLevel, mask(), describe(), and a throwing sink never reaches the caller", () => {
  logger.level = "WARN";
  logger.info("a", "hidden");
  logger.warn("a", "shown");
  logger.log("DEBUG", "a", "hidden");
  assert.deepEqual(lines, ["0 WARN a: shown"]);
  assert.equal(parseLevel("debug"), "DEBUG");
  assert.equal(parseLevel("Warn"), "WARN");
  assert.equal(parseLevel("verbose"), undefined);
  assert.equal(mask("x"), MASK);
  assert.equal(mask(""), "(empty)");
  assert.equal(describe(new RangeError("bad")), "RangeError: bad");
  assert.equal(describe("plain"), "plain");
  const broken = new Log({ write: () => { throw new Error("serial gone"); } });
  assert.doesNotThrow(() => broken.error("a", "still fine"));
});

test("a complete config validates, with the documented defaults", () => {
  const r = validateConfig(GOOD);
  assert.ok(r.ok);
  const c: AppConfig = r.config;
  assert.equal(c.host, "mqttstls.heclouds.com");
  assert.equal(c.port, 8883);
  assert.equal(c.tls, true);
  assert.equal(c.interval, DEFAULTS.interval);
  assert.equal(c.keepalive, 60);
  assert.equal(c.method, "sha256");
  assert.equal(c.et, DEFAULT_ET);
  assert.equal(c.led, undefined);
  assert.equal(c.loglevel, "info");
  assert.deepEqual(c.onenet, { product: GOOD.product, device: GOOD.device, key: GOOD.key, host: c.host, port: 8883, tls: true, interval: c.interval, keepalive: 60, method: "sha256", et: DEFAULT_ET, tokenTtl: 86400 });
  // mcconfig passes strings; manifest "config" passes numbers
  const s = validateConfig({ ...GOOD, port: "8883", interval: 30, keepalive: "1800", method: "MD5", et: "2147483647", led: "2", sda: 21, scl: "22", loglevel: "DEBUG" });
  assert.ok(s.ok);
  assert.equal(s.config.port, 8883);
  assert.equal(s.config.interval, 30);
  assert.equal(s.config.keepalive, 1800);
  assert.equal(s.config.method, "md5");
  assert.equal(s.config.et, 2147483647);
  assert.equal(s.config.led, 2);
  assert.equal(s.config.sda, 21);
  assert.equal(s.config.scl, 22);
  assert.equal(s.config.loglevel, "debug");
  // an open network has no password
  const open = validateConfig({ ...GOOD, password: undefined });
  assert.ok(open.ok && open.config.password === "");
});

test("led: a GPIO number, \"none\", or a board manifest object {pin} (SDK targets set config.led that way)", () => {
  const pin = (led: unknown) => {
    const r = validateConfig({ ...GOOD, led });
    return r.ok ? r.config.led : "invalid";
  };
  assert.equal(pin(5), 5);
  assert.equal(pin("none"), undefined);
  assert.equal(pin("-1"), undefined);
  assert.equal(pin({ pin: 8, rainbow: true }), 8);
  assert.equal(pin(49), "invalid");
  assert.equal(pin("led"), "invalid");
});

test("every missing or malformed key is named in one problem list; values (secrets) never appear", () => {
  const r = validateConfig({
    password: "p".repeat(65), key: "not base64!", port: "99999", interval: "0", keepalive: "5", method: "sha512",
    et: "2147483648", led: "x", sda: "21", loglevel: "loud", host: "bad host",
  });
  assert.ok(!r.ok);
  const keys = r.problems.map((p) => p.key);
  assert.deepEqual(keys.sort(), ["device", "et", "host", "interval", "keepalive", "key", "led", "loglevel", "method", "password", "port", "product", "scl", "ssid"].sort());
  const text = describeProblems(r.problems);
  assert.match(text, /ssid \(missing\)/);
  assert.match(text, /port \(not an integer in 1\.\.65535\)/);
  assert.match(text, /keepalive \(not an integer in 10\.\.1800\)/);
  assert.match(text, /scl \(give both sda and scl, or neither\)/);
  assert.ok(!text.includes("not base64!") && !text.includes("ppppp"), "values are not echoed");
});

test("validateConfig agrees with onenet/config.ts's parseConfig at every boundary of the OneNET keys: what parseConfig rejects is rejected under the same key, what it accepts is accepted with the same values", () => {
  // So no config passes validation at boot only to be refused by the OneNET layer, and no valid one
  // is turned away at boot. Both parsers get the same canonical input.
  const ONENET = { product: GOOD.product, device: GOOD.device, key: GOOD.key };
  const cases: Record<string, readonly (string | number)[]> = {
    product: ["a", "a".repeat(64), "a".repeat(65), "a b", "A-_9", "温度"],
    device: ["a.b@c-_", "a".repeat(64), "a".repeat(65), "a/b", "a+b", "a#"],
    key: ["AAAA", "AAA", "AA==", "AAA=", "A===", "AAAA=", "AA=A", "AAAAAA==", "not base64!"],
    host: ["1.2.3.4", "example.com", "a".repeat(253), "a".repeat(254), "bad host", "a_b", "::1", "-a", "a.", ".a"],
    port: ["0", "1", "65535", "65536", "1.5", 1883],
    interval: ["0", "1", "86400", "86401", 30],
    keepalive: ["9", "10", "1800", "1801", 60],
    method: ["md5", "sha1", "sha256", "sha512", "hmac"],
    et: ["0", "1", "2147483647", "2147483648", 1],
  };
  // Hosts validateConfig may refuse even if parseConfig takes them (IPv6 literals, a leading or
  // trailing '.' or '-'): stricter at boot is safe; the reverse would fail late.
  const appStricter: Record<string, readonly string[]> = { host: ["::1", "-a", "a.", ".a"] };
  let accepted = 0;
  let rejected = 0;
  for (const [name, values] of Object.entries(cases)) {
    for (const value of values) {
      const label = `${name}=${JSON.stringify(value)}`;
      let onenet: ReturnType<typeof parseConfig> | undefined;
      let onenetKey: string | undefined;
      try {
        onenet = parseConfig({ ...ONENET, [name]: value });
      } catch (e) {
        assert.ok(e instanceof ConfigError, `${label}: parseConfig throws ConfigError`);
        onenetKey = e.key;
      }
      const app = validateConfig({ ...GOOD, [name]: value });
      if (onenet === undefined) {
        rejected++;
        assert.ok(!app.ok, `${label}: parseConfig rejects it, so validateConfig must`);
        assert.deepEqual(app.problems.map((p) => p.key), [onenetKey], `${label}: the same key is named`);
      } else if (!app.ok && (appStricter[name] ?? []).includes(value as string)) {
        assert.deepEqual(app.problems.map((p) => p.key), [name], `${label}: refused at boot under its own key`);
      } else {
        accepted++;
        assert.ok(app.ok, `${label}: parseConfig accepts it, so validateConfig must: ${app.ok ? "" : describeProblems(app.problems)}`);
        assert.deepEqual(app.config.onenet, onenet, `${label}: both parse it to the same values`);
      }
    }
  }
  assert.ok(accepted > 20 && rejected > 20, `both sides of every boundary covered (${accepted} accepted, ${rejected} rejected)`);
});

test("toInteger: decimal integers only (trimmed), no sign '+', no fractions", () => {
  assert.equal(toInteger("+5"), undefined);
  assert.equal(toInteger(" 7 "), 7);
  assert.equal(toInteger(7.5), undefined);
  assert.equal(toInteger("-3"), -3);
});

test("config summary for the boot banner shows no secret once logged", () => {
  const r = validateConfig(GOOD);
  assert.ok(r.ok);
  logger.info("config", "ok", configSummary(r.config));
  assert.ok(!lines[0].includes(GOOD.password) && !lines[0].includes(GOOD.key));
  assert.match(lines[0], /ssid=home-net password=\*\*\* open=false product=EJyXIoGn8p device=test key=\*\*\* /);
});

test("one firmware version: manifest config.version = the config default = package.json; CONNACK hints cover the refusal codes 1..5 [MQTT-3.2.2.3]", () => {
  const pkg = JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { version: string };
  const manifest = JSON.parse(readFileSync(`${root}manifest.json`, "utf8")) as { config: { version: string } };
  assert.equal(manifest.config.version, pkg.version);
  assert.equal(DEFAULTS.version, pkg.version);
  for (let code = 1; code <= 5; code++) assert.ok(CONNACK_HINTS[code], `hint for ${code}`);
  assert.match(CONNACK_HINTS[4], /1106 signature mismatch/);
});

