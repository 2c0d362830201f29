// Client throughput, Node lane: 100-byte messages published to a private mosquitto on loopback until
// every one is acknowledged (QoS 1: PUBACK; QoS 2: PUBCOMP), our MqttClient (through the sim socket,
// which models lwIP's 5744-byte send buffer) against MQTT.js (straight on node:net) in the same run,
// alternating, best of three each. Target ratio >= 1.0.
import mqtt from "mqtt";
import type { Report } from "./run.ts";
import { startMosquitto } from "../test/helpers/mosquitto.ts";

const PAYLOAD = new Uint8Array(100).fill(0x61);
const TOPIC = "bench/$dev/thing/property/post";

export default async function bench(report: Report): Promise<void> {
  // The firmware client imports Moddable specifiers: install the Node lane first.
  await import("../sim/register.ts");
  const { nodeLane } = await import("../sim/node-lane.ts");
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
    }
  } finally {
    await broker.close();
    nodeLane.shutdown();
  }
}
