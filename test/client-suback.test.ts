// A subscription the broker refuses (SUBACK 0x80) must not cut the device's downlink until reboot:
// aedes refuses a filter a number of times, then grants it; the client, on the Node lane's virtual
// clock, asks again with backoff, keeps asking across reconnects, and commands then arrive.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type AddressInfo } from "node:net";
import { Aedes } from "aedes";
import mqtt from "mqtt";
import { nodeLane } from "../tools/sim/node-lane.ts";
import { MqttClient } from "../mqtt/client.ts";
import { until } from "./helpers/wait.ts";
import { lineLogger } from "./helpers/virtual-client.ts";

let aedes: Aedes;
let server: Server;
let port = 0;
/** How many more times the broker refuses "cmd/#"; each SUBSCRIBE of it is counted. */
let refusals = 0;
let asked = 0;
const clients: MqttClient[] = [];

before(async () => {
  aedes = await Aedes.createBroker({
    authorizeSubscribe: (_client, sub, done) => {
      if (sub.topic !== "cmd/#") return done(null, sub);
      asked++;
      if (refusals > 0) {
        refusals--;
        return done(null, null); // SUBACK 0x80 [MQTT-3.9.3]
      }
      done(null, sub);
    },
  });
  server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  for (const c of clients) c.end();
  await new Promise<void>((r) => aedes.close(() => r()));
  server.close();
  nodeLane.shutdown();
});

function device(logs: string[]): { c: MqttClient; commands: string[] } {
  const c = new MqttClient({
    host: "127.0.0.1",
    port,
    clientId: `suback-${clients.length}`,
    keepalive: 0,
    random: () => 0.5, // jitter pinned: each delay is 3/4 of its nominal value
    subscribeRetryMin: 4000,
    log: lineLogger(logs),
  });
  clients.push(c);
  const commands: string[] = [];
  c.onMessage = (topic, payload) => commands.push(`${topic}:${Buffer.from(payload).toString()}`);
  return { c, commands };
}

/** A connected device that asked for "cmd/#" while the broker refuses it `times` times; returns after the first refusal. */
async function refusedDevice(times: number): Promise<{ c: MqttClient; commands: string[]; logs: string[]; refused: () => number }> {
  nodeLane.useVirtualClock();
  refusals = times;
  asked = 0;
  const logs: string[] = [];
  const { c, commands } = device(logs);
  c.connect();
  await until(() => c.connected, "CONNACK");
  c.subscribe("cmd/#", { qos: 0 });
  const refused = () => logs.filter((l) => l.includes("subscription refused")).length;
  await until(() => refused() >= 1, "the first refusal");
  return { c, commands, logs, refused };
}

async function command(topic: string, text: string): Promise<void> {
  const pub = await mqtt.connectAsync({ host: "127.0.0.1", port, protocolVersion: 4, reconnectPeriod: 0 });
  await pub.publishAsync(topic, text, { qos: 0 });
  await pub.endAsync();
}

test("refused twice, then granted: asked again after 3 s and 6 s (backoff, each refusal logged), then commands arrive", async () => {
  const { c, commands, logs, refused } = await refusedDevice(2);
  // Nominal 4 s then 8 s, at 3/4.
  for (const [i, delay] of [3000, 6000].entries()) {
    await nodeLane.advance(delay - 1);
    assert.equal(asked, i + 1, `not asked again before ${delay} ms`);
    await nodeLane.advance(1);
    await until(() => asked === i + 2, `asked again at ${delay} ms`);
    if (i === 0) await until(() => refused() >= 2, "the second refusal logged");
  }
  await until(() => logs.some((l) => l.includes("granted after refusals")), "the grant");
  await command("cmd/led", "on");
  await until(() => commands.includes("cmd/led:on"), "the command through the granted subscription");
  assert.equal(refused(), 2);
  c.end();
});

test("refused, then the connection drops: the refused filter is restored on the new connection and granted there", async () => {
  const { c, commands } = await refusedDevice(1);
  nodeLane.link.reset(); // before the retry is due
  await until(() => !c.connected, "the drop");
  await nodeLane.advance(1000); // the reconnect (750 ms)
  await until(() => c.connected && asked === 2, "reconnected and the filter restored");
  await command("cmd/fan", "off");
  await until(() => commands.includes("cmd/fan:off"), "the command after the reconnect");
  c.end();
});
