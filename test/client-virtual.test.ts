// MqttClient on the Node lane's virtual clock: the client's Timer and Time come from sim shims, so
// keepalive, dead-link detection and reconnect backoff are checked to the millisecond, while the
// TCP to the broker is real (virtual time stands still while real I/O completes).
//
// What the client does not do is shown by moving virtual time past the moment it would have done it:
// its timers fire inside nodeLane.advance(), and the lane's TCP counts a connection attempt and
// taps each written packet synchronously, so the check right after advance() is exact. Waiting in
// real time is only for events that must come (a CONNACK, a PINGRESP, a refusal), bounded by until().
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { MqttClient, type ClientOptions } from "../mqtt/client.ts";
import { startMosquitto, type Mosquitto } from "./helpers/mosquitto.ts";
import { until } from "./helpers/wait.ts";
import { WireTap, assertRetrySchedule, lineLogger } from "./helpers/virtual-client.ts";

let broker: Mosquitto;
const clients: MqttClient[] = [];
const peers: mqtt.MqttClient[] = [];
let tap: WireTap;

before(async () => {
  broker = await startMosquitto();
  tap = new WireTap(nodeLane.link);
});

after(async () => {
  for (const c of clients) c.end();
  for (const p of peers) await p.endAsync(true);
  await broker.close();
  nodeLane.shutdown();
});

function client(options: Partial<ClientOptions>, logs: string[]): MqttClient {
  const c = new MqttClient({
    host: "127.0.0.1",
    port: options.port ?? broker.port,
    clientId: `v-${clients.length}`,
    random: () => 0.5, // jitter pinned: each delay is 3/4 of its nominal value
    log: lineLogger(logs),
    ...options,
  });
  clients.push(c);
  return c;
}

test("keepalive: PINGREQ after keepalive s of silence; a blackholed link is declared dead at exactly 1.5 x keepalive [MQTT-3.1.2-23, 3.1.2-24]", async () => {
  nodeLane.useVirtualClock();
  tap.packets = [];
  const wire = tap.packets;
  const logs: string[] = [];
  const c = client({ keepalive: 10 }, logs);
  let closed = "";
  c.onClose = (reason) => (closed = reason);
  c.connect();
  await until(() => c.connected, "CONNACK");
  await nodeLane.advance(9999);
  assert.ok(!wire.includes("out:pingreq"), "no PINGREQ before keepalive");
  await nodeLane.advance(1);
  assert.equal(wire.filter((w) => w === "out:pingreq").length, 1, "PINGREQ at keepalive");
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
  c.connect();
  // Nominal delays 1, 2, 4, 8, 8 s; random 0.5 gives 3/4 of each.
  await assertRetrySchedule(c, logs, start, [750, 1500, 3000, 6000, 6000]);
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
  await nodeLane.advance(4999);
  assert.equal(nodeLane.link.stats.connects - start, 1);
  assert.ok(!logs.some((l) => l.includes("connect timeout")), "no timeout before connectTimeout");
  await nodeLane.advance(1);
  assert.ok(logs.some((l) => l.includes("connect timeout")), logs.join("\n"));
  nodeLane.link.blackhole(false);
  await nodeLane.advance(749);
  assert.equal(nodeLane.link.stats.connects - start, 1, "no retry before the backoff (3/4 of 1 s)");
  await nodeLane.advance(1);
  assert.equal(nodeLane.link.stats.connects - start, 2, "retry at the backoff");
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

test("bad credentials: CONNACK code 4 becomes a clear error and a long backoff (refusedMin, doubling), not a hammering loop", async () => {
  nodeLane.useVirtualClock();
  const aedes = await Aedes.createBroker({
    authenticate: (_client, username, _password, done) => {
      if (username === "good") return done(null, true);
      const error = Object.assign(new Error("bad"), { returnCode: 4 as const });
      done(error, null);
    },
  });
  const server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    const logs: string[] = [];
    const c = client({ port, username: "bad", password: "nope", refusedMin: 2000, refusedMax: 60000, reconnectMin: 50 }, logs);
    const refusals: string[] = [];
    c.onRefused = (code, reason) => refusals.push(`${code} ${reason}`);
    const start = nodeLane.link.stats.connects;
    const attempts = () => nodeLane.link.stats.connects - start;
    c.connect();
    await until(() => refusals.length === 1, "the refusal");
    assert.match(refusals[0]!, /^4 .*bad user name or password/);
    // refusedMin 2 s, jitter 3/4: the retry is due at 1500 ms, not at reconnectMin.
    await nodeLane.advance(1499);
    assert.equal(attempts(), 1, "no retry within the refused backoff");
    await nodeLane.advance(1);
    assert.equal(attempts(), 2, "retry when the refused backoff ends");
    await until(() => refusals.length === 2, "the second refusal");
    // doubled: 4 s nominal, 3000 ms with the pinned jitter
    await nodeLane.advance(2999);
    assert.equal(attempts(), 2, "the refused backoff doubles");
    await nodeLane.advance(1);
    assert.equal(attempts(), 3);
    assert.ok(logs.some((l) => l.startsWith("ERROR") && l.includes("refused")), logs.join("\n"));
    assert.ok(!logs.some((l) => l.includes("nope")), "the password never reaches the log");
    c.end();
  } finally {
    await new Promise<void>((r) => aedes.close(() => r()));
    server.close();
  }
});

test("networkDown closes and waits (a virtual minute, 150 x reconnectMax); networkUp reconnects at once; messages published meanwhile go out in order", async () => {
  nodeLane.useVirtualClock();
  const sub = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, protocolVersion: 4, reconnectPeriod: 0 });
  peers.push(sub);
  const got: string[] = [];
  sub.on("message", (_t, p) => got.push(p.toString()));
  await sub.subscribeAsync("net", { qos: 1 });
  const logs: string[] = [];
  const c = client({ reconnectMin: 50, reconnectMax: 400 }, logs);
  c.connect();
  await until(() => c.connected, "CONNACK");
  c.networkDown();
  assert.equal(c.connected, false);
  for (let i = 0; i < 10; i++) assert.ok(c.publish("net", `n${i}`, { qos: 1 }) > 0);
  const before = nodeLane.link.stats.connects;
  await nodeLane.advance(60_000); // 150 times reconnectMax
  assert.equal(nodeLane.link.stats.connects, before, "no attempt while the network is down");
  assert.equal(c.connected, false);
  c.networkUp();
  assert.equal(nodeLane.link.stats.connects, before + 1, "networkUp connects at once, without waiting for a backoff");
  await until(() => got.length === 10, "the held messages");
  assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `n${i}`));
  c.end();
});
