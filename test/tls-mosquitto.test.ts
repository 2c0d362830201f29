// The OneNET client (onenet/client.ts on mqtt/client.ts, over the securesocket shim) against a real
// broker with TLS: mosquitto with a listener configured with cafile/certfile/keyfile (a test CA made by
// openssl, tools/emulator/pki.ts). Reports arrive over TLS at a subscriber (MQTT.js, itself over TLS);
// a device that trusts another CA never gets a client into the broker: mosquitto logs the control
// client that connects afterwards, and never the device.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { chmodSync, readdirSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { OneNetClient } from "../onenet/client.ts";
import { parseConfig } from "../onenet/config.ts";
import { TLS_1_2 } from "../onenet/tls.ts";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { makeTestPki, type TestPki } from "../tools/emulator/pki.ts";
import { freePort, mosquittoPath, startMosquitto, waitForPort, type Mosquitto } from "./helpers/mosquitto.ts";
import { logTo } from "./portable/logger.ts";
import { until } from "./helpers/wait.ts";

const PRODUCT = "MosqTls01";
const DEVICE = "tls-dev";
const KEY = Buffer.alloc(32, 5).toString("base64");
const POST = `$sys/${PRODUCT}/${DEVICE}/thing/property/post`;

let pki: TestPki;
let other: TestPki;
let broker: Mosquitto;
let tlsPort = 0;
const skip = mosquittoPath() === undefined ? "mosquitto is not installed" : false;

before(async () => {
  if (skip) return;
  pki = makeTestPki();
  other = makeTestPki();
  // mosquitto drops to its own user: it must be able to read the files.
  chmodSync(pki.dir, 0o755);
  for (const f of readdirSync(pki.dir)) chmodSync(join(pki.dir, f), 0o644);
  tlsPort = await freePort();
  broker = await startMosquitto({
    extra: [
      "log_type notice",
      `listener ${tlsPort} 127.0.0.1`,
      `cafile ${pki.ca.certPath}`,
      `certfile ${pki.server.chainPath}`,
      `keyfile ${pki.server.keyPath}`,
      "tls_version tlsv1.2",
    ],
  });
  await waitForPort(tlsPort);
  nodeLane.useRealClock();
});
after(async () => {
  await broker?.close();
  pki?.remove();
  other?.remove();
  nodeLane.shutdown();
});

const der = (pem: string): ArrayBuffer => new Uint8Array(new X509Certificate(pem).raw).slice().buffer;

function device(ca: string, lines: string[]): OneNetClient {
  return new OneNetClient({
    config: parseConfig({ product: PRODUCT, device: DEVICE, key: KEY, host: "127.0.0.1", port: String(tlsPort) }),
    epochMs: () => Date.now(),
    pacingMs: 20,
    log: logTo((level, area, message, fields) => lines.push(`${level} ${area}: ${message} ${JSON.stringify(fields ?? {})}`)),
    mqtt: { secure: { protocolVersion: TLS_1_2, certificate: der(ca) }, reconnectMin: 200, reconnectMax: 400 },
  });
}

test("reports over TLS to mosquitto (listener with cafile/certfile/keyfile): the device logs in and a TLS subscriber gets every report", { skip }, async () => {
  const watcher = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, { ca: pki.ca.cert, clientId: "watcher", reconnectPeriod: 0 });
  const got: number[] = [];
  watcher.on("message", (_t, payload) => got.push((JSON.parse(payload.toString()) as { params: { uptime: { value: number } } }).params.uptime.value));
  await watcher.subscribeAsync(POST, { qos: 1 });
  const lines: string[] = [];
  const onenet = device(pki.ca.cert, lines);
  onenet.connect();
  await until(() => onenet.online, "the login over TLS");
  for (let n = 1; n <= 5; n++) onenet.report({ uptime: n });
  await until(() => got.length === 5, "five reports at the subscriber");
  assert.deepEqual(got, [1, 2, 3, 4, 5]);
  assert.ok(!lines.some((l) => l.includes("TLS handshake failed")), lines.join("\n"));
  await until(() => broker.output.join("").includes(`as ${DEVICE}`), "mosquitto logs the device's client");
  onenet.end();
  await watcher.endAsync();
});

test("a device trusting another CA: the handshake fails (one ERROR line per try), and mosquitto never gets its client", { skip }, async () => {
  const lines: string[] = [];
  const onenet = device(other.ca.cert, lines);
  const mark = broker.output.join("").length;
  onenet.connect();
  await until(() => lines.filter((l) => l.startsWith("ERROR mqtt: TLS handshake failed, no CONNECT sent")).length >= 2, "two refused handshakes");
  onenet.end();
  // A client that does get in, after the device's tries: mosquitto's log is in order, so when it shows
  // this one, it has shown everything before it.
  const control = await mqtt.connectAsync(`mqtts://127.0.0.1:${tlsPort}`, { ca: pki.ca.cert, clientId: "control-after", reconnectPeriod: 0 });
  await until(() => broker.output.join("").slice(mark).includes("as control-after"), "mosquitto logs the control client");
  await control.endAsync();
  const log = broker.output.join("").slice(mark);
  assert.ok(!log.includes(`as ${DEVICE}`), `mosquitto got the device's client:\n${log}`);
  assert.ok(!lines.some((l) => / INFO mqtt: connected /.test(l)));
});
