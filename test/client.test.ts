// MqttClient (mqtt/client.ts) in the Node lane (sim shims for socket/timer/time, real clock) against
// real brokers: mosquitto (Debian) and aedes in-process, with MQTT.js as the peer.
// Timing behaviour (keepalive, backoff, networkDown) is in client-virtual.test.ts on the virtual clock.
// Here, "nothing more arrives" is shown with a later message on the same path as the barrier: the
// broker forwards in order per topic [MQTT-4.6.0-5], so anything extra would have come before it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type AddressInfo, type Socket as NetSocket } from "node:net";
import mqtt from "mqtt";
import { Aedes } from "aedes";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { MqttClient, type ClientOptions } from "../mqtt/client.ts";
import { startMosquitto, type Mosquitto } from "./helpers/mosquitto.ts";
import { until } from "./helpers/wait.ts";
import { logTo } from "./portable/logger.ts";

nodeLane.useRealClock();

let broker: Mosquitto;
const clients: MqttClient[] = [];
const peers: mqtt.MqttClient[] = [];

before(async () => {
  broker = await startMosquitto();
});

after(async () => {
  for (const c of clients) c.end();
  for (const p of peers) await p.endAsync(true);
  await broker.close();
  nodeLane.shutdown();
});

const text = (b: Uint8Array): string => Buffer.from(b).toString("utf8");

function client(options: Partial<ClientOptions> & { port: number }, logs?: string[]): MqttClient {
  const c = new MqttClient({
    host: "127.0.0.1",
    clientId: `dev-${Math.random().toString(16).slice(2, 10)}`,
    keepalive: 30,
    reconnectMin: 50,
    reconnectMax: 500,
    log: logTo((level, area, message, fields) =>
      logs?.push(`${level} ${area}: ${message}${fields ? " " + JSON.stringify(fields) : ""}`)),
    ...options,
  });
  clients.push(c);
  return c;
}

async function peer(port: number, options: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const p = await mqtt.connectAsync({ host: "127.0.0.1", port, protocolVersion: 4, reconnectPeriod: 100, ...options });
  peers.push(p);
  return p;
}

async function connected(c: MqttClient): Promise<void> {
  if (!c.connected) {
    c.connect();
    await until(() => c.connected, "CONNACK");
  }
}

test("publishes QoS 0, 1 and 2 to mosquitto; MQTT.js receives each once, in order", async () => {
  const sub = await peer(broker.port);
  const got: Record<number, string[]> = { 0: [], 1: [], 2: [] };
  sub.on("message", (topic, payload, packet) => got[packet.qos].push(payload.toString()));
  for (const q of [0, 1, 2] as const) await sub.subscribeAsync(`t/q${q}`, { qos: q });
  const c = client({ port: broker.port, outboxMessages: 1000, outboxBytes: 100_000 });
  const delivered: number[] = [];
  c.onDelivered = (seq) => delivered.push(seq);
  await connected(c);
  const N = 300;
  for (let i = 0; i < N; i++) for (const q of [0, 1, 2] as const) assert.ok(c.publish(`t/q${q}`, `m${i}`, { qos: q }) > 0);
  const want = Array.from({ length: N }, (_, i) => `m${i}`);
  await until(
    () => got[0].length === N && got[1].length === N && got[2].length === N,
    "all messages at the subscriber",
  ).catch((e: Error) => {
    throw new Error(`${e.message}: got ${got[0].length}/${got[1].length}/${got[2].length} delivered ${delivered.length} outbox ${c.outbox.length} inflight ${c.session.inflight} queued ${c.queuedBytes}`);
  });
  await until(() => delivered.length === 3 * N, "every publish reported delivered");
  for (const q of [0, 1, 2] as const) c.publish(`t/q${q}`, "end", { qos: q });
  await until(() => [0, 1, 2].every((q) => got[q]!.at(-1) === "end"), "the end marker on each topic");
  for (const q of [0, 1, 2]) assert.deepEqual(got[q], [...want, "end"], `QoS ${q}: each once, in order, nothing after`);
  assert.equal(c.outbox.length, 0);
  c.end();
});

test("subscribes; MQTT.js publishes QoS 0/1/2; each arrives once; unsubscribe stops delivery", async () => {
  const c = client({ port: broker.port });
  const got: string[] = [];
  const fence: string[] = [];
  c.onMessage = (topic, payload, packet) => (topic === "fence" ? fence : got).push(`${topic}:${packet.qos}:${text(payload)}`);
  await connected(c);
  let granted: number[] = [];
  c.subscribe([{ topic: "in/#", qos: 2 }, { topic: "fence", qos: 1 }], undefined, (g) => (granted = g as number[]));
  await until(() => granted.length === 2, "SUBACK");
  assert.deepEqual(granted, [2, 1]);
  const pub = await peer(broker.port);
  for (let i = 0; i < 50; i++) for (const q of [0, 1, 2] as const) await pub.publishAsync(`in/${q}`, `v${i}`, { qos: q });
  await until(() => got.length === 150, "150 messages");
  for (const q of [0, 1, 2]) {
    assert.deepEqual(
      got.filter((g) => g.startsWith(`in/${q}:`)),
      Array.from({ length: 50 }, (_, i) => `in/${q}:${q}:v${i}`),
    );
  }
  let unsubscribed = false;
  c.unsubscribe("in/#", () => (unsubscribed = true));
  await until(() => unsubscribed, "UNSUBACK");
  await pub.publishAsync("in/0", "late", { qos: 1 });
  await pub.publishAsync("fence", "after late", { qos: 1 }); // same publisher, same subscriber connection: after "late"
  await until(() => fence.length === 1, "the fence message");
  assert.equal(got.length, 150, `nothing on in/# after UNSUBACK: ${got.slice(150).join(",")}`);
  c.end();
});

test("write queue honours backpressure: 2000 x 1 KB at once never trips the all-or-nothing write, order kept", async () => {
  const sub = await peer(broker.port);
  const got: number[] = [];
  sub.on("message", (_t, payload) => got.push(payload.readUInt32BE(0)));
  await sub.subscribeAsync("bulk", { qos: 0 });
  const logs: string[] = [];
  const c = client({ port: broker.port, outboxMessages: 5000, outboxBytes: 4_000_000, maxInflight: 1000 }, logs);
  await connected(c);
  const payload = new Uint8Array(1024);
  let maxQueued = 0;
  for (let i = 0; i < 2000; i++) {
    payload[0] = i >>> 24;
    payload[1] = (i >>> 16) & 0xff;
    payload[2] = (i >>> 8) & 0xff;
    payload[3] = i & 0xff;
    assert.ok(c.publish("bulk", payload.slice(), { qos: 1 }) > 0);
    maxQueued = Math.max(maxQueued, c.queuedBytes);
  }
  assert.ok(maxQueued > 5744, `the queue held more than the socket's send space (${maxQueued})`);
  await until(() => got.length === 2000, "2000 messages", 60000);
  assert.deepEqual(got, Array.from({ length: 2000 }, (_, i) => i));
  assert.ok(!logs.some((l) => l.includes("write failed")), logs.join("\n"));
  c.end();
});

test("aedes in-process: QoS 1 and 2 both ways with MQTT.js as the peer", async () => {
  const aedes = await Aedes.createBroker();
  const server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    const other = await peer(port);
    const atPeer: string[] = [];
    other.on("message", (t, p) => atPeer.push(`${t}:${p.toString()}`));
    await other.subscribeAsync("up/#", { qos: 2 });
    const c = client({ port });
    const atDevice: string[] = [];
    c.onMessage = (t, p) => atDevice.push(`${t}:${text(p)}`);
    await connected(c);
    let subscribed = false;
    c.subscribe("down/#", { qos: 2 }, () => (subscribed = true));
    await until(() => subscribed, "SUBACK");
    for (let i = 0; i < 100; i++) c.publish(`up/${i % 2 ? 2 : 1}`, `u${i}`, { qos: i % 2 ? 2 : 1 });
    for (let i = 0; i < 100; i++) await other.publishAsync(`down/${i % 2 ? 2 : 1}`, `d${i}`, { qos: i % 2 ? 2 : 1 });
    // An end marker last on each topic and direction: once all four are in, nothing else is on its way.
    for (const q of [1, 2] as const) {
      c.publish(`up/${q}`, "end", { qos: q });
      await other.publishAsync(`down/${q}`, "end", { qos: q });
    }
    const ends = (list: string[]): number => list.filter((x) => x.endsWith(":end")).length;
    await until(() => ends(atPeer) === 2 && ends(atDevice) === 2, "both directions, up to the end markers");
    assert.equal(atPeer.length, 102, "each upward message once");
    assert.equal(atDevice.length, 102, "each downward message once");
    // Order holds per topic (aedes forwards QoS 2 at PUBREL, QoS 1 at PUBLISH) [MQTT-4.6.0-5].
    for (const [list, dir, p] of [[atPeer, "up", "u"], [atDevice, "down", "d"]] as const) {
      for (const q of [1, 2]) {
        assert.deepEqual(
          list.filter((x) => x.startsWith(`${dir}/${q}:`)),
          [...Array.from({ length: 100 }, (_, i) => i).filter((i) => (i % 2 ? 2 : 1) === q).map((i) => `${dir}/${q}:${p}${i}`), `${dir}/${q}:end`],
        );
      }
    }
    c.end();
  } finally {
    await new Promise<void>((r) => aedes.close(() => r()));
    server.close();
  }
});

test("malformed bytes from the broker: ProtocolError closes the link with the reason logged, then reconnects; valid packets ahead of it in the same read are still delivered", async () => {
  let connections = 0;
  const sockets: NetSocket[] = [];
  const server = createServer((s) => {
    connections++;
    sockets.push(s);
    s.once("data", () => s.write(Buffer.from([0x20, 0x02, 0x00, 0x00]))); // CONNACK accepted
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  try {
    const logs: string[] = [];
    const c = client({ port }, logs);
    let closes = 0;
    const messages: string[] = [];
    c.onClose = () => closes++;
    c.onMessage = (topic, payload) => messages.push(`${topic}:${Buffer.from(payload).toString()}@close${closes}`);
    c.connect();
    await until(() => c.connected, "the first CONNACK");
    // Once the client is connected: a PUBLISH with QoS 3 (malformed [MQTT-3.3.1-4]) and, ahead of it
    // in the same write, a valid QoS 0 PUBLISH (topic "a", payload "hi").
    sockets[0]!.write(Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61, 0x68, 0x69, 0x36, 0x02, 0x00, 0x00]));
    await until(() => connections === 2 && c.connected, "the reconnect");
    assert.equal(closes, 1);
    assert.deepEqual(messages, ["a:hi@close0"], "the valid PUBLISH ahead of the bad packet was delivered before the close");
    assert.ok(logs.some((l) => l.startsWith("ERROR") && l.includes("malformed")), logs.join("\n"));
    c.end();
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test("large messages go whole, topic once (anchor: large messages dropped or split); an inbound packet over maxPacketSize is refused loudly", async () => {
  const sub = await peer(broker.port);
  const got: Buffer[] = [];
  sub.on("message", (topic, payload) => {
    if (topic === "big/up") got.push(payload);
  });
  await sub.subscribeAsync("big/up", { qos: 1 });
  const logs: string[] = [];
  const c = client({ port: broker.port, outboxBytes: 1_000_000, maxPacketSize: 16384 }, logs);
  let closes = 0;
  c.onClose = () => closes++;
  const small: string[] = [];
  c.onMessage = (topic, payload) => small.push(`${topic}:${payload.length}`);
  await connected(c);
  const big = new Uint8Array(200_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  assert.ok(c.publish("big/up", big, { qos: 1 }) > 0);
  await until(() => got.length === 1, "the 200 KB message");
  assert.ok(Buffer.from(big).equals(got[0]), "arrived byte for byte");
  let subscribed = false;
  c.subscribe("big/down", { qos: 0 }, () => (subscribed = true));
  await until(() => subscribed, "SUBACK");
  await sub.publishAsync("big/down", Buffer.alloc(20_000), { qos: 0 }); // over the 16384-byte limit
  await until(() => closes === 1, "the link closed on the oversized packet");
  assert.ok(logs.some((l) => l.startsWith("ERROR") && l.includes("malformed")), logs.join("\n"));
  await until(() => c.connected, "reconnected");
  await sub.publishAsync("big/down", Buffer.alloc(1000), { qos: 0 });
  await until(() => small.length === 1, "a message within the limit");
  assert.deepEqual(small, ["big/down:1000"]);
  c.end();
});

test("publish copies the payload: the app may reuse its buffer at once (Moddable style preallocation)", async () => {
  const sub = await peer(broker.port);
  const got: string[] = [];
  sub.on("message", (_t, p) => got.push(p.toString()));
  await sub.subscribeAsync("reuse", { qos: 1 });
  const c = client({ port: broker.port });
  c.networkDown(); // queue while offline, so the bytes sit in the outbox a while
  c.connect();
  const buffer = new Uint8Array(3);
  for (let i = 0; i < 5; i++) {
    buffer.set([0x61 + i, 0x61 + i, 0x61 + i]);
    c.publish("reuse", buffer, { qos: 1 });
    c.publish("reuse", buffer.buffer, { qos: 1 });
  }
  buffer.fill(0x7a);
  c.networkUp();
  await until(() => got.length === 10, "10 messages");
  assert.deepEqual(got, ["aaa", "aaa", "bbb", "bbb", "ccc", "ccc", "ddd", "ddd", "eee", "eee"]);
  c.end();
});
