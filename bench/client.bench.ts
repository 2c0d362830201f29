// Client throughput, Node lane: 100-byte messages published to a private mosquitto on loopback until
// every one is acknowledged (QoS 1: PUBACK; QoS 2: PUBCOMP), our MqttClient (through the sim socket,
// which models lwIP's 5744-byte send buffer) against MQTT.js (straight on node:net) in the same run,
// alternating, best of three each. Target ratio >= 1.0.
// XS lane beside it: the same client inside the real XS engine (xsnap; host bridges TCP), QoS 1
// throughput against the Node-lane figure, and the heap slots the client holds with a full in-flight
// window (16 QoS 1 messages unacknowledged, link blackholed) against the same client idle, held to
// the board's memory (manifest.json esp32 creation) as every XS lane is by default.
import mqtt from "mqtt";
import type { Report } from "./run.ts";
import { startMosquitto, type Mosquitto } from "../test/helpers/mosquitto.ts";
import { XsLane } from "../tools/sim/xs-lane.ts";

const PAYLOAD = new Uint8Array(100).fill(0x61);
const TOPIC = "bench/$dev/thing/property/post";

export default async function bench(report: Report): Promise<void> {
  // The firmware client imports Moddable specifiers: install the Node lane first.
  await import("../tools/sim/register.ts");
  const { nodeLane } = await import("../tools/sim/node-lane.ts");
  const { MqttClient } = await import("../mqtt/client.ts");
  nodeLane.useRealClock();
  const broker = await startMosquitto();
  try {
    const ours = async (qos: 1 | 2, n: number): Promise<number> => {
      const c = new MqttClient({
        host: "127.0.0.1",
        port: broker.port,
        clientId: `bench-ours-${qos}`,
        keepalive: 60,
        maxInflight: 1000,
        outboxMessages: 2000,
        outboxBytes: 1_000_000,
      });
      c.connect();
      await new Promise<void>((resolve) => (c.onConnect = () => resolve()));
      let sent = 0;
      let done = 0;
      const start = performance.now();
      await new Promise<void>((resolve) => {
        const fill = (): void => {
          while (sent < n && c.publish(TOPIC, PAYLOAD, { qos }) > 0) sent++;
        };
        c.onDelivered = () => {
          if (++done === n) resolve();
          else if (sent < n && (done & 63) === 0) fill();
        };
        c.onDrain = fill;
        fill();
      });
      const rate = n / ((performance.now() - start) / 1000);
      c.end();
      return rate;
    };
    const theirs = async (qos: 1 | 2, n: number): Promise<number> => {
      const c = await mqtt.connectAsync({ host: "127.0.0.1", port: broker.port, protocolVersion: 4, clientId: `bench-mqttjs-${qos}` });
      const payload = Buffer.from(PAYLOAD);
      const start = performance.now();
      await new Promise<void>((resolve, reject) => {
        let done = 0;
        for (let i = 0; i < n; i++) {
          c.publish(TOPIC, payload, { qos }, (error) => {
            if (error) reject(error);
            else if (++done === n) resolve();
          });
        }
      });
      const rate = n / ((performance.now() - start) / 1000);
      await c.endAsync();
      return rate;
    };
    for (const [qos, n] of [[1, 20000], [2, 10000]] as const) {
      await ours(qos, 1000); // warm up both
      await theirs(qos, 1000);
      let best = 0;
      let anchor = 0;
      for (let round = 0; round < 3; round++) {
        best = Math.max(best, await ours(qos, n));
        anchor = Math.max(anchor, await theirs(qos, n));
      }
      report({
        name: `client.qos${qos}.throughput`,
        value: Math.round(best),
        unit: "msgs/s (higher is better)",
        anchor: "MQTT.js 5 publish",
        anchorValue: Math.round(anchor),
      });
      if (qos === 1) await xsLane(report, broker, best);
    }
  } finally {
    await broker.close();
    nodeLane.shutdown();
  }
}

const XS_ENTRY = `
  import { MqttClient } from "./mqtt/client";
  const payload = new Uint8Array(100);
  payload.fill(0x61);
  let client, n = 0, sent = 0, done = 0, qos = 1;
  function fill() { while (sent < n && client.publish("bench/xs", payload, { qos }) > 0) sent++; }
  globalThis.__sim.entry = {
    start(port, maxInflight) {
      client = new MqttClient({ host: "127.0.0.1", port, clientId: "xs-bench-" + maxInflight, keepalive: 60, maxInflight,
        outboxMessages: 1000, outboxBytes: 400000 });
      client.onConnect = () => trace("bench connected");
      client.onDelivered = () => { if (++done === n) trace("bench done"); else if ((done & 31) === 0) fill(); };
      client.onDrain = fill;
      client.connect();
    },
    run(count, q) { n = count; sent = 0; done = 0; qos = q; fill(); },
    publish(count) { for (let i = 0; i < count; i++) client.publish("bench/xs", payload, { qos: 1 }); },
    inflight() { return client.session.inflight; },
  };
`;

async function xsLane(report: Report, broker: Mosquitto, nodeRate: number): Promise<void> {
  // 500 messages in flight hold more than the board's 64 KB: xsnap's own memory for this one.
  const lane = await XsLane.start({ entryCode: XS_ENTRY, boot: false, clock: "real", limits: "none" });
  try {
    await lane.evaluate(`globalThis.__sim.entry.start(${broker.port}, 500)`);
    await lane.waitFor(() => lane.logs.some((l) => l.includes("bench connected")), 20000, "XS client connected");
    const run = async (count: number): Promise<number> => {
      const before = lane.logs.filter((l) => l.includes("bench done")).length;
      const start = performance.now();
      await lane.evaluate(`globalThis.__sim.entry.run(${count}, 1)`);
      await lane.waitFor(() => lane.logs.filter((l) => l.includes("bench done")).length > before, 120000, "XS run");
      return count / ((performance.now() - start) / 1000);
    };
    await run(500);
    let best = 0;
    for (let i = 0; i < 3; i++) best = Math.max(best, await run(5000));
    report({
      name: "xs.client.qos1.throughput",
      value: Math.round(best),
      unit: "msgs/s (higher is better; XS engine, host-bridged TCP)",
      anchor: "client.qos1.throughput (Node lane)",
      anchorValue: Math.round(nodeRate),
    });
  } finally {
    await lane.close();
  }
  // Heap with a full in-flight window: a fresh lane, default window (16), link blackholed so no ack comes.
  const heap = await XsLane.start({ entryCode: XS_ENTRY, boot: false, clock: "real" });
  try {
    await heap.evaluate(`globalThis.__sim.entry.start(${broker.port}, 16)`);
    await heap.waitFor(() => heap.logs.some((l) => l.includes("bench connected")), 20000, "XS client connected");
    const idle = await heap.heapSlots();
    heap.link.blackhole(true);
    await heap.evaluate("globalThis.__sim.entry.publish(16)");
    const { value } = await heap.query("globalThis.__sim.entry.inflight()");
    if (value !== "16") throw new Error(`expected 16 in flight, got ${value}`);
    const full = await heap.heapSlots();
    report({
      name: "xs.client.slots.inflight16",
      value: full,
      unit: "heap slots after GC (lower is better; 16 x 100-byte QoS 1 unacknowledged)",
      anchor: "xs.client.slots.idle (connected, nothing queued)",
      anchorValue: idle,
    });
  } finally {
    await heap.close();
  }
}
