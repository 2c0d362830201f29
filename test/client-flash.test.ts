// The outbox in flash through the preference shim (tools/sim/modules/preference.ts: NVS rules, write
// and erase counts, failure injection through the named control "flash"), with the client on the
// Node lane's virtual clock against mosquitto. Pins the flash wear budget (a healthy online device
// writes nothing per report; offline each report is written once), that NVS failures ("nvs set fail",
// "nvs erase fail") are survived without losing a message, and that a board re-flashed as another
// device does not replay the old device's messages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { MqttClient, type ClientOptions } from "../mqtt/client.ts";
import { PreferenceStorage } from "../mqtt/storage.ts";
import { Decoder } from "../mqtt/decode.ts";
import { startMosquitto, type Mosquitto } from "./helpers/mosquitto.ts";
import { until } from "./helpers/wait.ts";
import { lineLogger } from "./helpers/virtual-client.ts";

let broker: Mosquitto;
const clients: MqttClient[] = [];
const peers: mqtt.MqttClient[] = [];
/** PUBLISH packets the device wrote, by topic. */
let published: string[] = [];

before(async () => {
  broker = await startMosquitto();
  const decoders = new Map<number, Decoder>();
  nodeLane.link.onTraffic = (direction, id, bytes) => {
    if (direction !== "out") return;
    let d = decoders.get(id);
    if (!d) decoders.set(id, (d = new Decoder()));
    for (const p of d.push(bytes.slice())) if (p.cmd === "publish") published.push(p.topic);
  };
});

after(async () => {
  nodeLane.control("flash", "ok");
  for (const c of clients) c.end();
  for (const p of peers) await p.endAsync(true);
  await broker.close();
  nodeLane.shutdown();
});

interface Wear {
  writes: number;
  erases: number;
  keys: number;
}

/** Writes, erases and keys in use under one preference domain, from the shim's counters. */
function wear(domain: string): Wear {
  const stats = JSON.parse(nodeLane.control("flash", "stats")!) as { keys: Record<string, { writes: number; erases: number }> };
  const out: Wear = { writes: 0, erases: 0, keys: 0 };
  for (const [key, w] of Object.entries(stats.keys)) {
    if (!key.startsWith(`${domain}/`)) continue;
    out.writes += w.writes;
    out.erases += w.erases;
  }
  out.keys = nodeLane.storage.keys(`pref/${domain}/`).length;
  return out;
}

function device(domain: string, options: Partial<ClientOptions>, logs: string[]): MqttClient {
  const c = new MqttClient({
    host: "127.0.0.1",
    port: broker.port,
    clientId: "dev",
    storage: new PreferenceStorage(domain, 16),
    outboxMessages: 16,
    log: lineLogger(logs),
    ...options,
  });
  clients.push(c);
  return c;
}

function counting(c: MqttClient): { delivered: number[] } {
  const state = { delivered: [] as number[] };
  c.onDelivered = (seq) => state.delivered.push(seq);
  return state;
}

/** A device on a fresh virtual clock, started with the network down: what it accepts is offline. */
function offlineDevice(domain: string, logs: string[], options: Partial<ClientOptions> = {}): { c: MqttClient; d: { delivered: number[] } } {
  nodeLane.useVirtualClock();
  const c = device(domain, options, logs);
  const d = counting(c);
  c.networkDown();
  c.connect();
  return { c, d };
}

test("online with a responsive broker: 20 QoS 1 reports, 10 s apart, cost 0 flash writes and 0 erases", async () => {
  nodeLane.useVirtualClock();
  const logs: string[] = [];
  const c = device("wear-on", {}, logs);
  const d = counting(c);
  c.connect();
  await until(() => c.connected, "CONNACK");
  for (let i = 0; i < 20; i++) {
    assert.ok(c.publish("r/wear", `{"temp":${20 + i}}`, { qos: 1 }) > 0);
    await until(() => d.delivered.length === i + 1, `PUBACK ${i + 1}`);
    await nodeLane.advance(10_000);
  }
  assert.deepEqual(wear("wear-on"), { writes: 0, erases: 0, keys: 0 });
  c.end();
});

test("offline: each accepted report is written once, and erased once when the broker has it", async () => {
  const logs: string[] = [];
  const { c, d } = offlineDevice("wear-off", logs);
  for (let i = 0; i < 5; i++) assert.ok(c.publish("r/wear", `off${i}`, { qos: 1 }) > 0);
  assert.deepEqual(wear("wear-off"), { writes: 5, erases: 0, keys: 5 });
  c.networkUp();
  await until(() => d.delivered.length === 5, "the five PUBACKs");
  assert.deepEqual(wear("wear-off"), { writes: 5, erases: 5, keys: 0 });
  c.end();
});

test("an erase that fails at PUBACK (nvs erase fail) does not crash the client: warned, delivered, erased at the retry", async () => {
  const logs: string[] = [];
  const { c, d } = offlineDevice("fail-del", logs);
  for (let i = 0; i < 3; i++) c.publish("r/fail", `d${i}`, { qos: 1 });
  assert.equal(wear("fail-del").keys, 3);
  nodeLane.control("flash", "fail delete");
  c.networkUp();
  await until(() => d.delivered.length === 3, "the PUBACKs");
  assert.ok(c.connected, "still connected");
  assert.equal(c.outbox.length, 0, "the messages are done");
  assert.ok(logs.some((l) => l.startsWith("WARN") && l.includes("erase failed")), logs.join("\n"));
  assert.equal(wear("fail-del").keys, 3, "the records wait for the retry");
  nodeLane.control("flash", "ok");
  await nodeLane.advance(5000);
  assert.equal(wear("fail-del").keys, 0, "erased at the retry");
  assert.ok(logs.some((l) => l.includes("storage works again")), logs.join("\n"));
  c.end();
});

test("writes that fail (nvs set fail) keep every accepted message in memory: all delivered, stored once flash works", async () => {
  const sub = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, protocolVersion: 4 });
  peers.push(sub);
  const got: string[] = [];
  sub.on("message", (_t, p) => got.push(p.toString()));
  await sub.subscribeAsync("r/set", { qos: 1 });
  const logs: string[] = [];
  const { c } = offlineDevice("fail-set", logs);
  nodeLane.control("flash", "fail set");
  for (let i = 0; i < 4; i++) assert.ok(c.publish("r/set", `s${i}`, { qos: 1 }) > 0, "accepted while flash fails");
  assert.equal(wear("fail-set").keys, 0);
  assert.equal(logs.filter((l) => l.includes("write failed")).length, 1, "one warning, not one per message");
  nodeLane.control("flash", "ok");
  await nodeLane.advance(5000);
  assert.equal(wear("fail-set").keys, 4, "stored at the retry");
  c.networkUp();
  await until(() => got.length === 4, "every message at the subscriber");
  assert.deepEqual(got, ["s0", "s1", "s2", "s3"]);
  c.end();
});

test("re-flashed as another product: the old product's stored messages are not sent, the count is logged once", async () => {
  const logsA: string[] = [];
  const { c: a } = offlineDevice("ident", logsA, { username: "productA" });
  for (let i = 0; i < 3; i++) a.publish("$sys/productA/dev/thing/property/post", `a${i}`, { qos: 1 });
  assert.equal(wear("ident").keys, 3);
  a.end();
  // Reboot with the same flash, now product B.
  const logsB: string[] = [];
  const b = device("ident", { username: "productB" }, logsB);
  assert.equal(b.outbox.length, 0);
  const lines = logsB.filter((l) => l.includes("another device identity"));
  assert.equal(lines.length, 1, logsB.join("\n"));
  assert.match(lines[0], /count=3/);
  assert.equal(wear("ident").keys, 0, "the old records are erased");
  published = [];
  b.connect();
  await until(() => b.connected, "CONNACK");
  await nodeLane.advance(10_000);
  assert.deepEqual(published, [], "nothing published for the old product");
  b.end();
});
