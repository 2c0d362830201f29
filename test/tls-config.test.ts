// TLS and expiring tokens, the pure parts (Node lane): the `tls` and `tokenTtl` keys and what they
// select (docs/onenet.md "Endpoints", "Token", "TLS"), the OneNET CA resource byte for byte (its
// SHA-256 fingerprint as OneNET publishes it), and the login token made at every connect: et = now +
// tokenTtl while the clock is known (checked by the emulator's own token code, written apart from
// onenet/), the far-future config `et` while it is not, and the MQTT session asking for it anew at
// each CONNECT.
import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Resource from "Resource";
import { CONFIG_KEYS, configSummary, validateConfig } from "../app/config.ts";
import { DEFAULT_ET, ENDPOINTS, parseConfig } from "../onenet/config.ts";
import { OneNetDevice } from "../onenet/device.ts";
import { CA_RESOURCE, onenetTls, TLS_1_2 } from "../onenet/tls.ts";
import { tokenExpiry } from "../onenet/token.ts";
import { Session } from "../mqtt/session.ts";
import type { ConnectPacket } from "../mqtt/packets.ts";
import { verifyToken, type LoginCode } from "../tools/emulator/token.ts";
import { makeCa } from "../tools/emulator/pki.ts";
import { CA_RESOURCE as SIM_CA_RESOURCE } from "../tools/sim/resources.ts";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { logTo } from "./portable/logger.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const ID = { product: "Pr0duct01", device: "dev-1", key: Buffer.alloc(32, 9).toString("base64") };
const ONENET_CA_SHA256 = "7D:E9:BC:4C:1A:ED:01:34:46:67:64:56:78:D4:49:74:12:10:B1:70:49:48:98:38:BF:63:79:53:B3:E9:01:17";

test("tls defaults to 1: mqttstls.heclouds.com:8883; tls=0 selects plain mqtts.heclouds.com:1883; host and port still override", () => {
  const on = parseConfig(ID);
  assert.deepEqual([on.tls, on.host, on.port], [true, "mqttstls.heclouds.com", 8883]);
  assert.deepEqual([on.host, on.port], [ENDPOINTS.tls.host, ENDPOINTS.tls.port]);
  for (const off of ["0", 0, false, "false", "no"]) {
    const c = parseConfig({ ...ID, tls: off });
    assert.deepEqual([c.tls, c.host, c.port], [false, "mqtts.heclouds.com", 1883], String(off));
  }
  const given = parseConfig({ ...ID, tls: "0", host: "10.0.0.5", port: "2883" });
  assert.deepEqual([given.tls, given.host, given.port], [false, "10.0.0.5", 2883]);
  const tlsElsewhere = parseConfig({ ...ID, host: "42.mqttstls.acc.cmcconenet.cn" });
  assert.deepEqual([tlsElsewhere.tls, tlsElsewhere.port], [true, 8883]);
  const bad = validateConfig({ ssid: "s", ...ID, tls: "maybe" });
  assert.ok(!bad.ok && bad.problems.some((p) => p.key === "tls" && p.problem === "not true/false"));
});

test("tokenTtl: default a day, 300..31536000 s, named in one boot line when out of range; both new keys are config keys", () => {
  assert.equal(parseConfig(ID).tokenTtl, 86400);
  assert.equal(parseConfig({ ...ID, tokenTtl: "300" }).tokenTtl, 300);
  assert.equal(parseConfig({ ...ID, tokenTtl: 31536000 }).tokenTtl, 31536000);
  for (const bad of ["299", "31536001", "1.5", "day"]) {
    const r = validateConfig({ ssid: "s", ...ID, tokenTtl: bad });
    assert.ok(!r.ok && r.problems.some((p) => p.key === "tokenTtl" && p.problem === "not an integer in 300..31536000"), bad);
  }
  assert.ok(CONFIG_KEYS.includes("tls") && CONFIG_KEYS.includes("tokenTtl"));
  const ok = validateConfig({ ssid: "s", ...ID, tls: "0" });
  assert.ok(ok.ok);
  const summary = configSummary(ok.config);
  assert.equal(summary.tls, false);
  assert.equal(summary.tokenTtl, 86400);
});

test("the CA resource is OneNET's MQTTS CA byte for byte: fingerprint, subject, RSA-2048, 2019-05-29 .. 2049-05-21", () => {
  const der = readFileSync(`${root}certs/onenet-ca.der`);
  const ca = new X509Certificate(der);
  assert.equal(ca.fingerprint256, ONENET_CA_SHA256);
  assert.equal(ca.subject, "C=CN\nO=CMIOT\nCN=OneNET MQTTS");
  assert.equal(ca.issuer, ca.subject, "self-signed");
  assert.equal(ca.ca, true);
  assert.equal(ca.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.equal(new Date(ca.validFrom).toISOString().slice(0, 10), "2019-05-29");
  assert.equal(new Date(ca.validTo).toISOString().slice(0, 10), "2049-05-21");
  // What the firmware loads (onenet/tls.ts, through the manifest's "resources") is that file.
  assert.equal(CA_RESOURCE, SIM_CA_RESOURCE, "the resource sim ca= replaces is the one the firmware loads");
  const secure = onenetTls();
  assert.equal(secure.protocolVersion, TLS_1_2);
  assert.ok(secure.certificate instanceof ArrayBuffer);
  assert.deepEqual(Buffer.from(secure.certificate), der);
  assert.deepEqual(Buffer.from(new Resource(CA_RESOURCE).slice(0)), der);
  assert.throws(() => new Resource("missing.der"), /Resource not found/);
});

test("the sim-only ca=<PEM file> replaces the CA resource with that certificate's DER (npm start gives the emulator's test CA)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tls-config-"));
  const other = new X509Certificate(makeCa(dir).cert);
  const file = join(dir, "ca.pem");
  try {
    nodeLane.setConfig({ ca: file });
    assert.deepEqual(Buffer.from(new Resource(CA_RESOURCE).slice(0)), other.raw, "PEM in, DER out");
    writeFileSync(file, "not a certificate");
    assert.throws(() => new Resource(CA_RESOURCE), /ca=.*: not a PEM or DER certificate/);
  } finally {
    nodeLane.setConfig({});
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A device whose clock the test sets (undefined: unknown), with its log lines collected. */
function deviceAt(config: ReturnType<typeof parseConfig>) {
  let epoch: number | undefined;
  const lines: string[] = [];
  const device = new OneNetDevice({
    config,
    link: { publish() {}, subscribe() {} },
    epochMs: () => epoch,
    log: logTo((level, _area, message) => lines.push(`${level} ${message}`)),
  });
  return { device, lines, set: (ms: number | undefined) => (epoch = ms) };
}

const keyFor = (): string => ID.key;
function verdict(password: Uint8Array, nowSeconds: number): true | LoginCode {
  const r = verifyToken({ token: Buffer.from(password).toString("utf8"), product: ID.product, device: ID.device, keyFor, nowSeconds });
  return r.ok ? true : r.code;
}
const etOf = (password: Uint8Array): number => Number(new URLSearchParams(Buffer.from(password).toString("utf8")).get("et"));

test("a token made at t (clock known) expires at t + tokenTtl: the platform's check accepts it until then and answers 1104 after", () => {
  const { device, lines, set } = deviceAt(parseConfig({ ...ID, tokenTtl: "3600" }));
  const t = 1_795_000_000_123; // ms
  set(t);
  const password = device.password();
  assert.equal(etOf(password), Math.floor(t / 1000) + 3600);
  assert.equal(device.tokenEt, Math.floor(t / 1000) + 3600);
  assert.equal(device.tokenShortLived, true);
  assert.equal(verdict(password, Math.floor(t / 1000)), true);
  assert.equal(verdict(password, Math.floor(t / 1000) + 3600), true, "valid through its et second");
  assert.equal(verdict(password, Math.floor(t / 1000) + 3601), 1104, "token expired");
  assert.deepEqual(lines, [`INFO login tokens expire 3600 s after each connect (et=${Math.floor(t / 1000) + 3600})`]);
  assert.equal(tokenExpiry(t, 3600, DEFAULT_ET), Math.floor(t / 1000) + 3600);
});

test("every connect gets a fresh token: a reconnect after the first one expired carries a new et the platform accepts", () => {
  const { device, lines, set } = deviceAt(parseConfig({ ...ID, tokenTtl: "300" }));
  const t = 1_795_000_000_000;
  set(t);
  const first = device.password();
  set(t + 301_000);
  const second = device.password();
  assert.equal(verdict(first, (t + 301_000) / 1000), 1104);
  assert.equal(verdict(second, (t + 301_000) / 1000), true);
  assert.equal(etOf(second), (t + 301_000) / 1000 + 300);
  assert.equal(lines.length, 1, "said once, not at every connect");
});

test("clock unknown: the far-future config et (no clock needed), said once; tokens expire again once the clock is set", () => {
  const { device, lines, set } = deviceAt(parseConfig(ID));
  set(undefined);
  assert.equal(etOf(device.password()), DEFAULT_ET);
  assert.equal(etOf(device.password()), DEFAULT_ET);
  assert.equal(device.tokenShortLived, false);
  assert.deepEqual(lines, [`WARN clock unknown: login token with the far-future et=${DEFAULT_ET} (config et) until the clock is set`]);
  const custom = deviceAt(parseConfig({ ...ID, et: "2000000000" }));
  custom.set(undefined);
  assert.equal(etOf(custom.device.password()), 2000000000);
  set(1_795_000_000_000);
  assert.equal(etOf(device.password()), 1_795_000_000 + 86400);
  assert.equal(lines.length, 2);
  assert.match(lines[1], /^INFO login tokens expire 86400 s after each connect/);
  // connectOptions() (the login as the platform's rules check it) carries a token for now too.
  assert.equal(etOf(device.connectOptions().password), 1_795_000_000 + 86400);
});

test("the MQTT session asks a password function at every CONNECT [MQTT-3.1.2-9: the password field carries it]", () => {
  let n = 0;
  const session = new Session({ clientId: "c", username: "u", password: () => Uint8Array.of(++n), reconnectMin: 10, reconnectMax: 10, random: () => 0.99 });
  const connects: ConnectPacket[] = [];
  const drain = (): void => {
    for (let p = session.pollTransmit(); p; p = session.pollTransmit()) if (p.cmd === "connect") connects.push(p as ConnectPacket);
    while (session.pollEvent()) {}
  };
  session.start(0);
  drain();
  session.transportUp(1);
  drain();
  session.transportDown(2, "lost");
  drain();
  session.handleTimeout(20);
  drain();
  session.transportUp(21);
  drain();
  assert.deepEqual(connects.map((c) => Array.from(c.password as Uint8Array)), [[1], [2]]);
});
