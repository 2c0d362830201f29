// MqttClient on the Node lane's virtual clock: the client's Timer and Time come from sim shims, so
// keepalive, dead-link detection and reconnect backoff are checked to the millisecond, while the
// TCP to mosquitto is real (virtual time stands still while real I/O completes).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { MqttClient, type ClientOptions } from "../mqtt/client.ts";
import { Decoder } from "../mqtt/decode.ts";
import { startMosquitto, type Mosquitto } from "./helpers/mosquitto.ts";
import { until, sleep } from "./helpers/wait.ts";
import { logTo } from "./portable/logger.ts";

let broker: Mosquitto;
const clients: MqttClient[] = [];
/** Control packets on the wire, in order, as "out:pingreq" / "in:pingresp"... */
let wire: string[] = [];
const decoders = new Map<string, Decoder>();

before(async () => {
  broker = await startMosquitto();
  nodeLane.link.onTraffic = (direction, id, bytes) => {
    const key = `${direction}${id}`;
    let d = decoders.get(key);
    if (!d) decoders.set(key, (d = new Decoder({ maxPacketSize: 1 << 20 })));
    for (const p of d.push(bytes.slice())) wire.push(`${direction}:${p.cmd}`);
  };
});

after(async () => {
  for (const c of clients) c.end();
  await broker.close();
  nodeLane.shutdown();
});

function client(options: Partial<ClientOptions>, logs: string[]): MqttClient {
  const c = new MqttClient({
    host: "127.0.0.1",
    port: broker.port,
    clientId: `v-${clients.length}`,
    random: () => 0.5, // jitter pinned: each delay is 3/4 of its nominal value
    log: logTo((level, area, message, fields) => logs.push(`${level} ${area}: ${message}${fields ? " " + JSON.stringify(fields) : ""}`)),
    ...options,
  });
  clients.push(c);
  return c;
}

test("keepalive: PINGREQ after keepalive s of silence; a blackholed link is declared dead at exactly 1.5 x keepalive [MQTT-3.1.2-23, 3.1.2-24]", async () => {
  nodeLane.useVirtualClock();
  wire = [];
  const logs: string[] = [];
  const c = client({ keepalive: 10 }, logs);
  let closed = "";
  c.onClose = (reason) => (closed = reason);
  c.connect();
  await until(() => c.connected, "CONNACK");
  await nodeLane.advance(9999);
  await sleep(50);
  assert.ok(!wire.includes("out:pingreq"), "no PINGREQ before keepalive");
  await nodeLane.advance(1);
  await until(() => wire.includes("in:pingresp"), "PINGREQ answered");
  assert.ok(c.connected);
  // From here the broker's PINGRESP at virtual t = 10000 is the last thing received.
  nodeLane.link.blackhole(true);
  await nodeLane.advance(10000); // PINGREQ goes into the void
  await nodeLane.advance(4999);
  assert.ok(c.connected, "still up just before 1.5 x keepalive");
  await nodeLane.advance(1);
  assert.ok(!c.connected, "dead at 1.5 x keepalive");
  assert.match(closed, /keepalive timeout/);
  assert.ok(logs.some((l) => l.startsWith("WARN") && l.includes("keepalive timeout")), logs.join("\n"));
  nodeLane.link.blackhole(false);
  nodeLane.link.reset();
  c.end();
});

test("reconnect backoff on the clock: 1 s doubling to the cap, jittered by the injected random source", async () => {
  nodeLane.useVirtualClock();
  const logs: string[] = [];
  nodeLane.link.refuse(true);
  const c = client({ reconnectMin: 1000, reconnectMax: 8000 }, logs);
  const start = nodeLane.link.stats.connects;
  const attempts = () => nodeLane.link.stats.connects - start;
  c.connect();
  await until(() => attempts() === 1, "first attempt at once");
  await sleep(20); // the refusal (a microtask in the sim link) schedules the retry
  // Nominal delays 1, 2, 4, 8, 8 s; random 0.5 gives 3/4 of each.
  for (const delay of [750, 1500, 3000, 6000, 6000]) {
    const n = attempts();
    await nodeLane.advance(delay - 1);
    await sleep(20);
    assert.equal(attempts(), n, `no attempt before ${delay} ms`);
    await nodeLane.advance(1);
    await until(() => attempts() === n + 1, `attempt after ${delay} ms`);
    await sleep(20);
  }
  nodeLane.link.refuse(false);
  await nodeLane.advance(6000);
  await until(() => c.connected, "connected once the link accepts");
  c.end();
});

test("no CONNACK (silent broker): connectTimeout closes and retries", async () => {
  nodeLane.useVirtualClock();
  const logs: string[] = [];
  const c = client({ connectTimeout: 5000, reconnectMin: 1000 }, logs);
  nodeLane.link.blackhole(true);
  const start = nodeLane.link.stats.connects;
  c.connect();
  await sleep(20);
  await nodeLane.advance(4999);
  assert.equal(nodeLane.link.stats.connects - start, 1);
  await nodeLane.advance(1);
  assert.ok(logs.some((l) => l.includes("connect timeout")), logs.join("\n"));
  nodeLane.link.blackhole(false);
  await nodeLane.advance(750);
  await until(() => c.connected, "second attempt connects");
  assert.equal(nodeLane.link.stats.connects - start, 2);
  c.end();
});

test("backpressure: with nothing acknowledged the send buffer fills, publish never blocks or throws, the queue holds the rest", async () => {
  nodeLane.useVirtualClock();
  const logs: string[] = [];
  const c = client({ maxInflight: 1000, outboxMessages: 1000, outboxBytes: 1_000_000, keepalive: 0 }, logs);
  c.connect();
  await until(() => c.connected, "CONNACK");
  nodeLane.link.blackhole(true); // nothing is acknowledged: the 5744-byte send space never frees
  const payload = new Uint8Array(200);
  for (let i = 0; i < 500; i++) assert.ok(c.publish("bp", payload, { qos: 1 }) > 0);
  assert.ok(c.queuedBytes > 500 * 200 - 5744, `queued ${c.queuedBytes}`);
  assert.ok(!logs.some((l) => l.includes("write failed")), logs.join("\n"));
  nodeLane.link.blackhole(false);
  nodeLane.link.reset();
  c.end();
});
